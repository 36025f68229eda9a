package dev.forja.training.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.eval.Bleu;
import dev.forja.eval.Chrf;
import dev.forja.eval.Rouge;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.ChatTemplate;
import dev.forja.training.generate.Generator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One example of a task through one model: the per-example record (what was asked, what the model
 * did, its scores and the statistics the corpus scores sum). Deterministic: greedy decoding, no
 * sampling, so the driver and any executor give the same record.
 */
public final class TaskEval {
  static final ObjectMapper JSON = new ObjectMapper();

  private TaskEval() {}

  /** The record of {@code item} (JSON); a skipped example has {@code "skipped": reason}. */
  public static String run(
      EvalModel model, EvalSuite.Task task, EvalSuite.Overflow overflow, Examples.Item item) {
    JsonNode ex;
    try {
      ex = JSON.readTree(item.json());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    ObjectNode out = JSON.createObjectNode();
    out.put("index", item.index());
    out.put("id", item.id());
    long t0 = System.nanoTime();
    switch (task.type()) {
      case PERPLEXITY -> perplexity(model, task, ex, out);
      case GENERATION -> generation(model, task, overflow, ex, out);
      case MULTIPLE_CHOICE -> multipleChoice(model, task, overflow, ex, out);
      case LATENCY -> throw new IllegalArgumentException("latency runs in the driver");
    }
    out.put("seconds", (System.nanoTime() - t0) / 1e9);
    return out.toString();
  }

  // ---- perplexity ----

  /**
   * A document's summed negative log-likelihood with a sliding window: the text's tokens after the
   * model's prefix token (BOS, else EOS, so every token of the text is scored; without either the
   * first token is context only); windows of {@code window} tokens moving by {@code stride}, each
   * scoring only the tokens no earlier window scored, with everything before them in the window as
   * context (transformers' "perplexity of fixed-length models" procedure, with exact sums).
   */
  static void perplexity(EvalModel m, EvalSuite.Task task, JsonNode ex, ObjectNode out) {
    int[] ids;
    long bytes = 0;
    if (ex.has("ids")) { // token shards: the stream as it is, its first token context only
      ids = new int[ex.get("ids").size()];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = ex.get("ids").get(i).asInt();
        bytes += i == 0 ? 0 : m.tokenizer().tokenBytes(ids[i]).length;
      }
    } else {
      String text = ex.get("text").asText();
      bytes = text.getBytes(StandardCharsets.UTF_8).length;
      ids = withPrefix(m, m.tokenizer().encode(text));
    }
    int window = windowOf(m, task);
    int stride = task.stride() > 0 ? Math.min(task.stride(), window) : Math.max(1, window / 2);
    double nll = 0;
    int scored = 0;
    int windows = 0;
    int prevEnd = 0;
    for (int begin = 0; begin < ids.length; begin += stride) {
      int end = Math.min(begin + window, ids.length);
      int from = Math.max(prevEnd, begin + 1) - begin;
      if (from < end - begin) {
        nll -= m.logLikelihood(Arrays.copyOfRange(ids, begin, end), from);
        scored += end - begin - from;
        windows++;
      }
      prevEnd = end;
      if (end == ids.length) {
        break;
      }
    }
    out.put("tokens", scored);
    out.put("bytes", bytes);
    out.put("nll", nll);
    out.put("windows", windows);
  }

  /** The model's prefix token and {@code body}, or {@code body} where the model has none. */
  private static int[] withPrefix(EvalModel m, int[] body) {
    int prefix = m.prefixToken();
    if (prefix < 0) {
      return body;
    }
    int[] ids = new int[body.length + 1];
    ids[0] = prefix;
    System.arraycopy(body, 0, ids, 1, body.length);
    return ids;
  }

  /** The window: the task's, else the model's context, in tokens (at most the context). */
  static int windowOf(EvalModel m, EvalSuite.Task task) {
    int ctx = m.config().contextLength();
    return Math.max(2, task.window() > 0 ? Math.min(task.window(), ctx) : ctx);
  }

  // ---- generation ----

  static void generation(
      EvalModel m, EvalSuite.Task task, EvalSuite.Overflow overflow, JsonNode ex, ObjectNode out) {
    String prompt = promptText(m, task.chatTemplate(), ex);
    int[] ids = encode(m, prompt, usesTemplate(m, task.chatTemplate(), ex));
    List<String> refs = new ArrayList<>();
    ex.get("references").forEach(r -> refs.add(r.asText()));
    out.put("prompt", prompt);
    out.set("references", JSON.valueToTree(refs));
    int room = m.config().contextLength() - task.maxNewTokens();
    if (ids.length > room) {
      if (overflow == EvalSuite.Overflow.SKIP || room < 1) {
        out.put("skipped", "prompt-too-long");
        out.put("prompt_tokens", ids.length);
        return;
      }
      out.put("truncated", ids.length - room);
      ids = Arrays.copyOfRange(ids, ids.length - room, ids.length);
    }
    Greedy g = greedy(m, ids, task.maxNewTokens(), task.stop());
    out.put("generation", g.text());
    out.put("prompt_tokens", ids.length);
    out.put("generated_tokens", g.tokens());
    out.put("first_token_seconds", g.firstTokenSeconds());
    ObjectNode scores = out.putObject("scores");
    ObjectNode stats = out.putObject("stats");
    for (String metric : task.metrics()) {
      switch (metric) {
        case "exact-match" ->
            scores.put("exact_match", exactMatch(g.text(), refs, task.normalize()) ? 1.0 : 0.0);
        case "bleu" -> {
          Bleu.Stats s = Bleu.stats(g.text(), refs);
          scores.put("bleu", Bleu.sentence(g.text(), refs).score());
          ArrayNode a = stats.putArray("bleu");
          for (long v : s.matches()) {
            a.add(v);
          }
          for (long v : s.totals()) {
            a.add(v);
          }
          a.add(s.hypLength());
          a.add(s.refLength());
        }
        case "chrf" -> {
          long[] s = Chrf.best(g.text(), refs);
          scores.put("chrf", Chrf.fScore(s));
          ArrayNode a = stats.putArray("chrf");
          for (long v : s) {
            a.add(v);
          }
        }
        case "rouge" -> {
          boolean stem = task.stemmer();
          rouge(scores, "rouge1", Rouge.best(refs, g.text(), (t, p) -> Rouge.n(1, t, p, stem)));
          rouge(scores, "rouge2", Rouge.best(refs, g.text(), (t, p) -> Rouge.n(2, t, p, stem)));
          rouge(scores, "rougeL", Rouge.best(refs, g.text(), (t, p) -> Rouge.l(t, p, stem)));
          rouge(scores, "rougeLsum", Rouge.best(refs, g.text(), (t, p) -> Rouge.lsum(t, p, stem)));
        }
        default -> throw new IllegalArgumentException("unknown metric " + metric);
      }
    }
  }

  private static void rouge(ObjectNode scores, String name, Rouge.Score s) {
    scores.put(name, s.fmeasure());
    scores.put(name + "_precision", s.precision());
    scores.put(name + "_recall", s.recall());
  }

  static Bleu.Stats bleuStats(JsonNode a) {
    long[] m = new long[Bleu.ORDER];
    long[] t = new long[Bleu.ORDER];
    for (int i = 0; i < Bleu.ORDER; i++) {
      m[i] = a.get(i).asLong();
      t[i] = a.get(Bleu.ORDER + i).asLong();
    }
    return new Bleu.Stats(m, t, a.get(2 * Bleu.ORDER).asLong(), a.get(2 * Bleu.ORDER + 1).asLong());
  }

  /** Equal to a reference after trimming (and, normalised, lower-cased without punctuation). */
  static boolean exactMatch(String generation, List<String> refs, boolean normalize) {
    String g = normal(generation, normalize);
    return refs.stream().anyMatch(r -> normal(r, normalize).equals(g));
  }

  private static String normal(String s, boolean normalize) {
    String t = s.strip();
    if (normalize) {
      t = t.toLowerCase(Locale.ROOT).replaceAll("\\p{P}+", "").replaceAll("\\s+", " ").strip();
    }
    return t;
  }

  private static boolean usesTemplate(EvalModel m, String setting, JsonNode ex) {
    return setting.equals("auto") && m.chatTemplate().isPresent();
  }

  /**
   * The text the model continues: the chat template's rendering (with the generation prompt) where
   * the model has a template and the task allows it; otherwise the prompt itself, or a plain "role:
   * content" transcript ending in "assistant:" (as {@code forja sft-data} writes conversations for
   * a model without a template).
   */
  static String promptText(EvalModel m, String setting, JsonNode ex) {
    List<ChatTemplate.Message> messages = new ArrayList<>();
    if (ex.has("messages")) {
      ex.get("messages")
          .forEach(
              x ->
                  messages.add(
                      new ChatTemplate.Message(x.get("role").asText(), x.get("content").asText())));
    } else {
      messages.add(new ChatTemplate.Message("user", ex.path("prompt").asText()));
    }
    Optional<ChatTemplate> t = setting.equals("auto") ? m.chatTemplate() : Optional.empty();
    if (t.isPresent()) {
      return t.get().render(messages, true);
    }
    if (!ex.has("messages")) {
      return ex.get("prompt").asText();
    }
    StringBuilder b = new StringBuilder();
    for (ChatTemplate.Message x : messages) {
      b.append(x.role()).append(": ").append(x.content()).append("\n");
    }
    return b.append("assistant: ").toString();
  }

  private static int[] encode(EvalModel m, String text, boolean specials) {
    BpeTokenizer tok = m.tokenizer();
    return specials ? tok.encodeWithSpecials(text) : tok.encode(text);
  }

  /** A greedy continuation. */
  record Greedy(String text, int tokens, double firstTokenSeconds) {}

  /**
   * Greedy decoding of up to {@code max} tokens after {@code prompt}: stops at the model's
   * end-of-sequence token or where the text reaches a stop string (cut there).
   */
  static Greedy greedy(EvalModel m, int[] prompt, int max, List<String> stop) {
    var gen = m.generator();
    gen.reset();
    long t0 = System.nanoTime();
    float[] logits = gen.feed(prompt).toFloatVector();
    double first = 0;
    int eos = m.specials().eos() == null ? -1 : m.specials().eos();
    int[] out = new int[max];
    int n = 0;
    String text = "";
    while (n < max) {
      int id = argmax(logits);
      if (n == 0) {
        first = (System.nanoTime() - t0) / 1e9;
      }
      if (id == eos) {
        break;
      }
      out[n++] = id;
      text = Generator.continuation(m.tokenizer(), prompt, Arrays.copyOf(out, n));
      int cut = firstStop(text, stop);
      if (cut >= 0) {
        text = text.substring(0, cut);
        break;
      }
      if (gen.position() >= m.config().contextLength()) {
        break;
      }
      logits = gen.next(id).toFloatVector();
    }
    return new Greedy(text, n, first);
  }

  private static int firstStop(String text, List<String> stop) {
    int best = -1;
    for (String s : stop) {
      int i = text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
      }
    }
    return best;
  }

  static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  // ---- multiple choice ----

  /**
   * Each choice's log-likelihood after the context, as lm-evaluation-harness scores it: the
   * context's trailing spaces move to the continuation ({@code delimiter + choice}), the whole text
   * is encoded and the continuation's tokens are what the whole adds to the context's encoding; an
   * empty context is the prefix token. Too long for the context: the oldest tokens go (or the
   * example is skipped). {@code acc} takes the highest log-likelihood, {@code acc_norm} the highest
   * per character of the choice.
   */
  static void multipleChoice(
      EvalModel m, EvalSuite.Task task, EvalSuite.Overflow overflow, JsonNode ex, ObjectNode out) {
    String context = ex.get("context").asText();
    if (task.chatTemplate().equals("auto") && m.chatTemplate().isPresent()) {
      context =
          m.chatTemplate().get().render(List.of(new ChatTemplate.Message("user", context)), true);
    }
    List<String> choices = new ArrayList<>();
    ex.get("choices").forEach(c -> choices.add(c.asText()));
    int answer = ex.get("answer").asInt();
    out.put("context", context);
    out.set("choices", JSON.valueToTree(choices));
    out.put("answer", answer);
    double[] ll = new double[choices.size()];
    double[] norm = new double[choices.size()];
    int limit = m.config().contextLength() + 1;
    int truncated = 0;
    for (int c = 0; c < choices.size(); c++) {
      int[][] pair = lmEvalPair(m, context, task.targetDelimiter() + choices.get(c));
      int[] ctx = pair[0];
      int[] cont = pair[1];
      int[] whole = Arrays.copyOf(ctx, ctx.length + cont.length);
      System.arraycopy(cont, 0, whole, ctx.length, cont.length);
      int from = ctx.length;
      if (whole.length > limit) {
        if (overflow == EvalSuite.Overflow.SKIP || cont.length >= limit) {
          out.put("skipped", "prompt-too-long");
          return;
        }
        truncated = Math.max(truncated, whole.length - limit);
        from -= whole.length - limit;
        whole = Arrays.copyOfRange(whole, whole.length - limit, whole.length);
      }
      ll[c] = m.logLikelihood(whole, from);
      norm[c] = ll[c] / Math.max(1, choices.get(c).length());
    }
    if (truncated > 0) {
      out.put("truncated", truncated);
    }
    int pred = argmax(ll);
    int predNorm = argmax(norm);
    out.set("loglikelihoods", JSON.valueToTree(ll));
    out.put("prediction", pred);
    out.put("prediction_norm", predNorm);
    ObjectNode scores = out.putObject("scores");
    scores.put("acc", pred == answer ? 1.0 : 0.0);
    scores.put("acc_norm", predNorm == answer ? 1.0 : 0.0);
  }

  static int argmax(double[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  /** lm-evaluation-harness's context and continuation tokens. */
  static int[][] lmEvalPair(EvalModel m, String context, String continuation) {
    int spaces = context.length() - context.stripTrailing().length();
    if (spaces > 0) {
      continuation = context.substring(context.length() - spaces) + continuation;
      context = context.substring(0, context.length() - spaces);
    }
    BpeTokenizer tok = m.tokenizer();
    if (context.isEmpty()) {
      int prefix = m.prefixToken();
      if (prefix < 0) {
        throw new IllegalArgumentException(
            "an empty context needs a BOS or EOS token, which " + m.name() + " lacks");
      }
      return new int[][] {{prefix}, tok.encodeWithSpecials(continuation)};
    }
    int[] whole = tok.encodeWithSpecials(context + continuation);
    int[] ctx = tok.encodeWithSpecials(context);
    int[] cont = Arrays.copyOfRange(whole, Math.min(ctx.length, whole.length), whole.length);
    return new int[][] {ctx, cont};
  }
}
