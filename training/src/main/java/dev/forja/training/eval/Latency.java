package dev.forja.training.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.training.generate.Generator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A latency task, in the driver (timings want a machine to themselves): for each prompt length,
 * time to first token (the prompt fed through the key/value-cache decoder and the first token
 * chosen) and decode speed (tokens per second over the following tokens), each the median of {@code
 * repeats} runs after one warm-up, batch 1, greedy. Prompts are fixed pseudo-random ordinary
 * tokens, the same for every model with the same vocabulary.
 */
final class Latency {
  private Latency() {}

  static List<String> measure(EvalModel m, EvalSuite.Task t) {
    List<String> rows = new ArrayList<>();
    int ctx = m.config().contextLength();
    Generator g = m.generator();
    for (int length : t.promptLengths()) {
      ObjectNode row = TaskEval.JSON.createObjectNode();
      row.put("prompt_tokens", length);
      int steps = Math.min(t.newTokens(), ctx - length);
      if (steps < 2) {
        row.put("skipped", "prompt-too-long");
        rows.add(row.toString());
        continue;
      }
      int[] prompt = prompt(m, length);
      double[] first = new double[t.repeats()];
      double[] speed = new double[t.repeats()];
      for (int r = -1; r < t.repeats(); r++) {
        g.reset();
        long t0 = System.nanoTime();
        int id = TaskEval.argmax(g.feed(prompt).toFloatVector());
        long t1 = System.nanoTime();
        for (int k = 1; k < steps; k++) {
          id = TaskEval.argmax(g.next(id).toFloatVector());
        }
        long t2 = System.nanoTime();
        if (r >= 0) {
          first[r] = (t1 - t0) / 1e6;
          speed[r] = (steps - 1) / ((t2 - t1) / 1e9);
        }
      }
      row.put("new_tokens", steps);
      row.put("first_token_ms", median(first));
      row.put("decode_tokens_per_s", median(speed));
      rows.add(row.toString());
    }
    return rows;
  }

  private static int[] prompt(EvalModel m, int length) {
    SplittableRandom rng = new SplittableRandom(length);
    int vocab = m.config().vocabSize();
    int[] ids = new int[length];
    for (int i = 0; i < length; i++) {
      int id;
      do {
        id = rng.nextInt(vocab);
      } while (id < m.tokenizer().vocabSize() && m.tokenizer().isSpecial(id));
      ids[i] = id;
    }
    return ids;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  static List<Evaluation.Metric> metrics(
      String model, EvalSuite.Task t, List<String> rows, Evaluation.ModelInfo info) {
    List<Evaluation.Metric> out = new ArrayList<>();
    String type = t.type().key();
    for (String s : rows) {
      JsonNode r;
      try {
        r = TaskEval.JSON.readTree(s);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      if (r.has("skipped")) {
        continue;
      }
      int len = r.get("prompt_tokens").asInt();
      out.add(
          new Evaluation.Metric(
              model,
              t.name(),
              type,
              "first_token_ms@" + len,
              r.get("first_token_ms").asDouble(),
              null,
              null,
              t.repeats(),
              false));
      out.add(
          new Evaluation.Metric(
              model,
              t.name(),
              type,
              "decode_tokens_per_s@" + len,
              r.get("decode_tokens_per_s").asDouble(),
              null,
              null,
              t.repeats(),
              true));
    }
    out.add(
        new Evaluation.Metric(
            model,
            t.name(),
            type,
            "size_on_disk_mb",
            info.diskBytes() / 1048576.0,
            null,
            null,
            1,
            false));
    out.add(
        new Evaluation.Metric(
            model,
            t.name(),
            type,
            "memory_mb",
            (info.memoryBytes() + info.kvCacheBytes()) / 1048576.0,
            null,
            null,
            1,
            false));
    out.add(
        new Evaluation.Metric(
            model, t.name(), type, "context_length", info.contextLength(), null, null, 1, true));
    return out;
  }
}
