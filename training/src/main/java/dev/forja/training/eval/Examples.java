package dev.forja.training.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.TokenShards;
import dev.forja.storage.Storage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A task's examples read from its data file, each checked for what the task needs: a line that is
 * not a JSON object, or lacks a prompt, references, choices or a valid answer, is set aside with
 * its line number and reason (and counted), never fatal.
 *
 * <p>Formats. Perplexity: a {@code .jsonl} file of {@code {"text": ...}}, a text file (one document
 * per non-empty line), or a {@code forja tokenize} output (its validation split). Generation: JSONL
 * {@code {"prompt": ...}} or {@code {"messages": [{"role", "content"}, ...]}}, with {@code
 * "references": [...]} (or {@code "reference"}, or an SFT example's {@code "completion"}). Multiple
 * choice: JSONL {@code {"context" | "prompt" | "question": ..., "choices": [...], "answer": index
 * or the choice's text}}. An {@code "id"} is kept where given.
 */
public final class Examples {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One usable example: its index among the usable ones, its id and the checked fields. */
  public record Item(int index, String id, String json) implements Serializable {}

  /** A line set aside. */
  public record Problem(long line, String reason, String detail, String text)
      implements Serializable {}

  /** Tokens per example of a perplexity task on token shards. */
  public static final int SHARD_SEGMENT = 2048;

  /**
   * The usable examples and the problems; {@code tokenizerHash}: for token shards, the tokenizer
   * they were made with (null for text).
   */
  public record Read(List<Item> items, List<Problem> problems, String tokenizerHash) {
    Read(List<Item> items, List<Problem> problems) {
      this(items, problems, null);
    }

    public Map<String, Long> counts() {
      Map<String, Long> out = new LinkedHashMap<>();
      problems.forEach(p -> out.merge(p.reason(), 1L, Long::sum));
      return out;
    }
  }

  private Examples() {}

  public static Read read(Storage storage, EvalSuite.Task task) throws IOException {
    List<Item> items = new ArrayList<>();
    List<Problem> problems = new ArrayList<>();
    if (!storage.exists(task.data())) {
      throw new IllegalArgumentException(
          "task " + task.name() + ": its data " + task.data() + " does not exist");
    }
    if (task.type() == EvalSuite.Type.PERPLEXITY
        && storage.exists(Storage.resolve(task.data(), ShardFormat.MANIFEST))) {
      return shards(storage, task);
    }
    boolean jsonl = task.type() != EvalSuite.Type.PERPLEXITY || isJsonl(task.data());
    try (BufferedReader in =
        new BufferedReader(
            new InputStreamReader(storage.open(task.data()), StandardCharsets.UTF_8))) {
      String line;
      long number = 0;
      while ((line = in.readLine()) != null) {
        number++;
        if (line.isBlank()) {
          continue;
        }
        if (task.limit() > 0 && items.size() >= task.limit()) {
          break;
        }
        if (!jsonl) {
          ObjectNode o = JSON.createObjectNode().put("text", line);
          items.add(new Item(items.size(), "line-" + number, o.toString()));
          continue;
        }
        JsonNode n;
        try {
          n = JSON.readTree(line);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
          problems.add(
              new Problem(
                  number,
                  "malformed-json",
                  e.getOriginalMessage() == null ? "not JSON" : e.getOriginalMessage(),
                  clip(line)));
          continue;
        }
        if (n == null || !n.isObject()) {
          problems.add(new Problem(number, "malformed-json", "not a JSON object", clip(line)));
          continue;
        }
        String id = n.path("id").isValueNode() ? n.get("id").asText() : "line-" + number;
        String problem = check(task.type(), (ObjectNode) n);
        if (problem != null) {
          String[] rp = problem.split(": ", 2);
          problems.add(new Problem(number, rp[0], rp[1], clip(line)));
          continue;
        }
        items.add(new Item(items.size(), id, n.toString()));
      }
    }
    return new Read(items, problems);
  }

  /**
   * A perplexity task on {@code forja tokenize} output: its validation split, in consecutive
   * segments of {@value #SHARD_SEGMENT} tokens (each an example; the sliding window runs within a
   * segment).
   */
  private static Read shards(Storage storage, EvalSuite.Task task) throws IOException {
    List<Item> items = new ArrayList<>();
    try (TokenShards shards = TokenShards.open(storage, task.data(), TokenShards.Verify.SIZES)) {
      TokenShards.SplitReader split = shards.split(ShardFormat.VALIDATION);
      long total = split.tokens();
      int[] buf = new int[SHARD_SEGMENT];
      for (long off = 0; off + 2 <= total; off += SHARD_SEGMENT) {
        if (task.limit() > 0 && items.size() >= task.limit()) {
          break;
        }
        int n = (int) Math.min(SHARD_SEGMENT, total - off);
        split.read(off, buf, n);
        ObjectNode o = JSON.createObjectNode();
        var a = o.putArray("ids");
        for (int i = 0; i < n; i++) {
          a.add(buf[i]);
        }
        items.add(new Item(items.size(), "tokens-" + off, o.toString()));
      }
      return new Read(items, List.of(), shards.manifest().tokenizerHash());
    }
  }

  private static boolean isJsonl(URI data) {
    String p = data.getPath() == null ? "" : data.getPath();
    return p.endsWith(".jsonl") || p.endsWith(".json");
  }

  private static String clip(String s) {
    return s.length() > 400 ? s.substring(0, 400) + "…" : s;
  }

  /** "reason: detail" when {@code n} cannot be used for {@code type}, else null (normalises n). */
  static String check(EvalSuite.Type type, ObjectNode n) {
    switch (type) {
      case PERPLEXITY -> {
        if (!n.path("text").isTextual()) {
          return "no-text: expected a \"text\" field";
        }
      }
      case GENERATION -> {
        if (!n.path("prompt").isTextual() && !n.path("messages").isArray()) {
          return "no-prompt: expected \"prompt\" (text) or \"messages\" (role, content)";
        }
        if (n.has("messages")) {
          for (JsonNode m : n.get("messages")) {
            if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
              return "bad-message: each message needs text fields \"role\" and \"content\"";
            }
          }
        }
        JsonNode refs =
            n.has("references")
                ? n.get("references")
                : n.has("reference") ? n.get("reference") : n.get("completion");
        List<String> list = new ArrayList<>();
        if (refs != null && refs.isTextual()) {
          list.add(refs.asText());
        } else if (refs != null && refs.isArray()) {
          for (JsonNode r : refs) {
            if (r.isTextual()) {
              list.add(r.asText());
            }
          }
        }
        if (list.isEmpty()) {
          return "no-references: expected \"references\": a non-empty list of texts";
        }
        n.remove("reference");
        n.remove("completion");
        n.set("references", JSON.valueToTree(list));
      }
      case MULTIPLE_CHOICE -> {
        JsonNode ctx =
            n.has("context")
                ? n.get("context")
                : n.has("prompt") ? n.get("prompt") : n.get("question");
        if (ctx == null || !ctx.isTextual()) {
          return "no-context: expected \"context\", \"prompt\" or \"question\" (text)";
        }
        JsonNode choices = n.path("choices");
        if (!choices.isArray() || choices.size() < 2) {
          return "no-choices: expected \"choices\": a list of two or more texts";
        }
        List<String> cs = new ArrayList<>();
        for (JsonNode c : choices) {
          if (!c.isTextual()) {
            return "no-choices: every choice must be text";
          }
          cs.add(c.asText());
        }
        JsonNode a = n.path("answer");
        int answer = -1;
        if (a.canConvertToInt() && !a.isTextual()) {
          answer = a.asInt();
        } else if (a.isTextual()) {
          answer = cs.indexOf(a.asText());
        }
        if (answer < 0 || answer >= cs.size()) {
          return "bad-answer: \"answer\" must be a choice's index (0 to "
              + (cs.size() - 1)
              + ") or its text";
        }
        n.put("context", ctx.asText());
        n.put("answer", answer);
      }
      case LATENCY -> {}
    }
    return null;
  }
}
