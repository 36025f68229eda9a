package dev.forja.prep.sft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.shard.ShardFormat;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.ChatTemplate;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One JSON line to the tokens of one training example and which of them are trained. Three shapes
 * are read: {@code {"prompt", "completion"}}, {@code {"messages": [{"role", "content"}, ...]}}
 * (OpenAI) and {@code {"conversations": [{"from", "value"}, ...]}} (ShareGPT: human, gpt, system).
 *
 * <p>With a chat template, the conversation is rendered as transformers renders it, and each
 * assistant turn is found as what rendering it adds to the prompt rendered up to it with the
 * generation prompt: the turn's text, its end-of-turn token and what the template puts after it are
 * trained, the rest is not (unless {@code sft.train-on-inputs}). A prompt and completion are a user
 * turn and an assistant turn. Without a template: the prompt, then the completion and EOS
 * (trained); a conversation as {@code role: content} lines, each assistant turn ending in EOS. An
 * assistant turn that holds no special token gets EOS appended, so that the model learns to stop.
 *
 * <p>Never throws for bad data: each problem is an {@link Outcome} with a reason (quarantined by
 * the job).
 */
public final class SftEncoder {
  /** Roles a conversation may hold. */
  public static final Set<String> ROLES = Set.of("system", "user", "assistant");

  private static final Map<String, String> SHAREGPT =
      Map.of(
          "human",
          "user",
          "user",
          "user",
          "gpt",
          "assistant",
          "assistant",
          "assistant",
          "system",
          "system");

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * What became of one line: {@code ids} and {@code trained} (per token) when encoded, else a
   * quarantine {@code reason} and {@code detail}; {@code truncated} when cut to the row length.
   */
  public record Outcome(
      String id, int[] ids, boolean[] trained, boolean truncated, String reason, String detail) {
    static Outcome problem(String id, String reason, String detail) {
      return new Outcome(id, null, null, false, reason, detail);
    }

    public boolean ok() {
      return reason == null;
    }

    public int trainedTokens() {
      int n = 0;
      for (boolean b : trained) {
        n += b ? 1 : 0;
      }
      return n;
    }

    /** The per-token flag bytes ({@link ShardFormat#LOSS}; the first token starts the example). */
    public byte[] flags() {
      byte[] f = new byte[ids.length];
      for (int i = 0; i < f.length; i++) {
        f[i] = (byte) ((trained[i] ? ShardFormat.LOSS : 0) | (i == 0 ? ShardFormat.START : 0));
      }
      return f;
    }
  }

  private final BpeTokenizer tokenizer;
  private final ChatTemplate template; // null: plain
  private final SftConfig config;
  private final int eos;

  public SftEncoder(BpeTokenizer tokenizer, ChatTemplate template, int eos, SftConfig config) {
    this.tokenizer = tokenizer;
    this.template = template;
    this.eos = eos;
    this.config = config;
  }

  /** Encodes one JSON line; {@code fallbackId} names it when it has no {@code id} field. */
  public Outcome encode(String line, String fallbackId) {
    JsonNode root;
    try {
      root = JSON.readTree(line);
    } catch (IOException e) {
      String m =
          e.getMessage() == null ? "malformed" : e.getMessage().lines().findFirst().orElse("");
      return Outcome.problem(fallbackId, "malformed-json", m);
    }
    if (root == null || !root.isObject()) {
      return Outcome.problem(fallbackId, "malformed-json", "not a JSON object");
    }
    String id = root.path("id").isValueNode() ? root.path("id").asText() : fallbackId;
    List<ChatTemplate.Message> messages = new ArrayList<>();
    boolean conversation;
    if (root.has("messages") || root.has("conversations")) {
      conversation = true;
      boolean sharegpt = !root.has("messages");
      JsonNode list = sharegpt ? root.get("conversations") : root.get("messages");
      if (!list.isArray() || list.isEmpty()) {
        return Outcome.problem(id, "bad-message", "'messages' must be a non-empty list of turns");
      }
      int i = 0;
      for (JsonNode m : list) {
        JsonNode role = m.path(sharegpt ? "from" : "role");
        JsonNode content = m.path(sharegpt ? "value" : "content");
        if (!role.isTextual() || !content.isTextual()) {
          return Outcome.problem(
              id,
              "bad-message",
              "turn "
                  + i
                  + " needs text fields '"
                  + (sharegpt ? "from" : "role")
                  + "' and '"
                  + (sharegpt ? "value" : "content")
                  + "'");
        }
        String r = sharegpt ? SHAREGPT.get(role.asText()) : role.asText();
        if (r == null || !ROLES.contains(r)) {
          return Outcome.problem(
              id,
              "unknown-role",
              "turn "
                  + i
                  + " has role '"
                  + role.asText()
                  + "'; known: "
                  + ROLES
                  + (sharegpt ? " (ShareGPT: human, gpt, system)" : ""));
        }
        messages.add(new ChatTemplate.Message(r, content.asText()));
        i++;
      }
    } else if (root.path("prompt").isTextual() && root.path("completion").isTextual()) {
      conversation = false;
      messages.add(new ChatTemplate.Message("user", root.get("prompt").asText()));
      messages.add(new ChatTemplate.Message("assistant", root.get("completion").asText()));
    } else {
      return Outcome.problem(
          id,
          "not-an-example",
          "expected {\"prompt\", \"completion\"} text fields, or \"messages\" (role, content) or"
              + " \"conversations\" (from, value)");
    }
    if (messages.stream().noneMatch(m -> m.role().equals("assistant"))) {
      return Outcome.problem(id, "no-assistant-turn", "the conversation has nothing to learn");
    }
    List<String> texts = new ArrayList<>();
    List<Boolean> turns = new ArrayList<>();
    if (template != null) {
      String problem = render(messages, texts, turns);
      if (problem != null) {
        return Outcome.problem(id, "template-error", problem);
      }
    } else {
      plain(messages, conversation, texts, turns);
    }
    return tokens(id, texts, turns);
  }

  /**
   * Pieces of the rendered conversation and whether each is an assistant turn; null, or the
   * problem.
   */
  private String render(
      List<ChatTemplate.Message> messages, List<String> texts, List<Boolean> turns) {
    String done = "";
    try {
      for (int i = 0; i < messages.size(); i++) {
        if (!messages.get(i).role().equals("assistant")) {
          continue;
        }
        String open = template.render(messages.subList(0, i), true);
        String closed = template.render(messages.subList(0, i + 1), false);
        if (!open.startsWith(done) || !closed.startsWith(open)) {
          return "the template does not render the conversation up to turn "
              + i
              + " as a prefix of the whole: the assistant's tokens cannot be told apart";
        }
        texts.add(open.substring(done.length()));
        turns.add(false);
        texts.add(closed.substring(open.length()));
        turns.add(true);
        done = closed;
      }
      String all = template.render(messages, false);
      if (!all.startsWith(done)) {
        return "the template renders the whole conversation differently from its turns";
      }
      texts.add(all.substring(done.length()));
      turns.add(false);
    } catch (ChatTemplate.TemplateException e) {
      return e.getMessage();
    }
    return null;
  }

  private void plain(
      List<ChatTemplate.Message> messages,
      boolean conversation,
      List<String> texts,
      List<Boolean> turns) {
    if (!conversation) {
      texts.add(messages.get(0).content());
      turns.add(false);
      texts.add(messages.get(1).content());
      turns.add(true);
      return;
    }
    for (ChatTemplate.Message m : messages) {
      boolean assistant = m.role().equals("assistant");
      texts.add(m.role() + ": " + (assistant ? "" : m.content() + "\n"));
      turns.add(false);
      if (assistant) {
        texts.add(m.content());
        turns.add(true);
      }
    }
  }

  private Outcome tokens(String id, List<String> texts, List<Boolean> turns) {
    List<Integer> ids = new ArrayList<>();
    List<Boolean> mask = new ArrayList<>();
    for (int p = 0; p < texts.size(); p++) {
      int[] piece = tokenizer.encodeWithSpecials(texts.get(p));
      boolean turn = turns.get(p);
      for (int x : piece) {
        ids.add(x);
        mask.add(turn || config.trainOnInputs());
      }
      if (turn && !holdsSpecial(piece)) { // the model must learn to stop
        ids.add(eos);
        mask.add(true);
      }
    }
    boolean truncated = false;
    int n = ids.size();
    if (n > config.sequenceLength()) {
      if (config.overlong().equals("drop")) {
        return Outcome.problem(
            id,
            "too-long",
            n
                + " tokens, longer than a row of "
                + config.sequenceLength()
                + " (sft.sequence-length;"
                + " sft.overlong=truncate keeps the first tokens)");
      }
      n = config.sequenceLength();
      truncated = true;
    }
    int[] out = new int[n];
    boolean[] tr = new boolean[n];
    boolean any = false;
    for (int i = 0; i < n; i++) {
      out[i] = ids.get(i);
      tr[i] = mask.get(i);
      any |= tr[i] && i > 0;
    }
    if (!any) {
      return Outcome.problem(
          id,
          truncated ? "too-long" : "nothing-trained",
          truncated
              ? "no trained token left within the row of " + config.sequenceLength()
              : "no token is trained");
    }
    return new Outcome(id, out, tr, truncated, null, null);
  }

  private boolean holdsSpecial(int[] piece) {
    for (int x : piece) {
      if (x == eos || tokenizer.isSpecial(x)) {
        return true;
      }
    }
    return false;
  }
}
