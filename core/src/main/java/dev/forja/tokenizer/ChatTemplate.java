package dev.forja.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model's chat template (the Jinja {@code chat_template} of its {@code tokenizer_config.json})
 * rendered as transformers' {@code apply_chat_template(..., tokenize=False)} renders it, with
 * Jinjava: blocks trimmed and left-stripped, the variables {@code messages}, {@code
 * add_generation_prompt} and the special tokens ({@code bos_token}, {@code eos_token}, ...), and
 * {@code raise_exception(message)}. A template that fails names its line.
 */
public final class ChatTemplate {
  /** One turn: {@code system}, {@code user}, {@code assistant} (or another role the model uses). */
  public record Message(String role, String content) {}

  /** A template that cannot render a conversation; {@link #line()} is 0 when unknown. */
  public static final class TemplateException extends RuntimeException {
    private final int line;

    TemplateException(String message, int line) {
      super(message);
      this.line = line;
    }

    public int line() {
      return line;
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Jinjava JINJA = jinjava();

  private final String template;
  private final Map<String, String> tokens;

  /**
   * {@code template}: Jinja source; {@code tokens}: the special tokens by variable name ({@code
   * bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token}).
   */
  public ChatTemplate(String template, Map<String, String> tokens) {
    this.template = template;
    this.source = applyWhitespaceControl(template);
    this.tokens = Map.copyOf(tokens);
  }

  private final String source; // what Jinjava renders

  /**
   * Applies Jinja's whitespace control ({@code {{-}, {@code -}}}, {@code {%-}, {@code -%}}, {@code
   * {#-}, {@code -#}}: the whitespace of the literal text before or after the tag removed) and
   * drops the dashes: Jinjava honours them on statements but not on expressions, which most chat
   * templates use. Text inside tags, string literals included, is left as it is.
   */
  static String applyWhitespaceControl(String t) {
    StringBuilder out = new StringBuilder(t.length());
    int i = 0;
    boolean stripNext = false;
    while (i < t.length()) {
      int open = nextTag(t, i);
      String text = t.substring(i, open < 0 ? t.length() : open);
      if (stripNext) {
        text = text.stripLeading();
      }
      if (open < 0) {
        out.append(text);
        break;
      }
      char kind = t.charAt(open + 1);
      boolean stripBefore = open + 2 < t.length() && t.charAt(open + 2) == '-';
      if (stripBefore) {
        text = text.stripTrailing();
      }
      out.append(text);
      String close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
      int end = closeOf(t, open + 2, close, kind != '#');
      if (end < 0) { // unterminated: let Jinjava report it
        out.append(t, open, t.length());
        break;
      }
      boolean stripAfter = end > open + 2 && t.charAt(end - 1) == '-';
      out.append('{').append(kind);
      out.append(t, open + (stripBefore ? 3 : 2), stripAfter ? end - 1 : end);
      out.append(close);
      stripNext = stripAfter;
      i = end + 2;
    }
    return out.toString();
  }

  private static int nextTag(String t, int from) {
    for (int i = t.indexOf('{', from); i >= 0 && i + 1 < t.length(); i = t.indexOf('{', i + 1)) {
      char c = t.charAt(i + 1);
      if (c == '{' || c == '%' || c == '#') {
        return i;
      }
    }
    return -1;
  }

  /** Where {@code close} ends the tag begun before {@code from}, skipping quoted strings. */
  private static int closeOf(String t, int from, String close, boolean quotes) {
    char quote = 0;
    for (int i = from; i < t.length(); i++) {
      char c = t.charAt(i);
      if (quote != 0) {
        if (c == '\\') {
          i++;
        } else if (c == quote) {
          quote = 0;
        }
      } else if (quotes && (c == '\'' || c == '"')) {
        quote = c;
      } else if (t.startsWith(close, i)) {
        return i;
      }
    }
    return -1;
  }

  private static Jinjava jinjava() {
    Jinjava j =
        new Jinjava(
            JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                .build());
    j.getGlobalContext()
        .registerFunction(
            new ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
    return j;
  }

  /** The {@code raise_exception} that templates call to refuse a conversation. */
  public static String raiseException(String message) {
    throw new IllegalArgumentException(message);
  }

  /**
   * The chat template of a {@code tokenizer_config.json}, with its special tokens (a string, or an
   * object with {@code content}); empty when it has none. A template given as a list of named
   * templates is taken by its {@code default} entry.
   */
  public static Optional<ChatTemplate> fromTokenizerConfig(String json, String where) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new TokenizerException(where + " is not valid JSON: " + e.getMessage(), e);
    }
    JsonNode t = root.path("chat_template");
    String text = null;
    if (t.isTextual()) {
      text = t.asText();
    } else if (t.isArray()) {
      for (JsonNode named : t) {
        if ("default".equals(named.path("name").asText())) {
          text = named.path("template").asText();
        }
      }
    }
    if (text == null || text.isEmpty()) {
      return Optional.empty();
    }
    Map<String, String> tokens = new LinkedHashMap<>();
    for (String name : List.of("bos_token", "eos_token", "pad_token", "unk_token")) {
      JsonNode v = root.path(name);
      String s =
          v.isTextual()
              ? v.asText()
              : v.path("content").isTextual() ? v.path("content").asText() : null;
      if (s != null) {
        tokens.put(name, s);
      }
    }
    return Optional.of(new ChatTemplate(text, tokens));
  }

  public String template() {
    return template;
  }

  /** The special token bound to {@code name} ({@code eos_token}, ...), or null. */
  public String token(String name) {
    return tokens.get(name);
  }

  /**
   * The conversation as text; {@code addGenerationPrompt} appends what opens the assistant's next
   * turn.
   */
  public String render(List<Message> messages, boolean addGenerationPrompt) {
    Map<String, Object> ctx = new LinkedHashMap<>();
    // the values a template sees when transformers renders it
    for (String name : List.of("bos_token", "eos_token", "pad_token", "unk_token")) {
      ctx.put(name, tokens.getOrDefault(name, ""));
    }
    List<Map<String, Object>> ms = new ArrayList<>(messages.size());
    for (Message m : messages) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("role", m.role());
      o.put("content", m.content());
      ms.add(o);
    }
    ctx.put("messages", ms);
    ctx.put("add_generation_prompt", addGenerationPrompt);
    ctx.put("tools", null);
    ctx.put("documents", null);
    RenderResult r;
    try {
      r = JINJA.renderForResult(source, ctx);
    } catch (RuntimeException e) {
      throw new TemplateException("the chat template fails: " + rootMessage(e), 0);
    }
    for (TemplateError e : r.getErrors()) {
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        int line = e.getLineno();
        throw new TemplateException(
            "the chat template fails"
                + (line > 0 ? " at line " + line : "")
                + ": "
                + message(e)
                + (line > 0 ? " (" + line(line).strip() + ")" : ""),
            Math.max(line, 0));
      }
    }
    return r.getOutput();
  }

  private String line(int n) {
    String[] lines = source.split("\n", -1);
    return n >= 1 && n <= lines.length ? lines[n - 1] : "";
  }

  private static String message(TemplateError e) {
    Throwable t = e.getException();
    if (t != null) {
      String root = rootMessage(t);
      if (root != null && !root.isEmpty()) {
        return root;
      }
    }
    return e.getMessage();
  }

  private static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return c.getMessage();
  }
}
