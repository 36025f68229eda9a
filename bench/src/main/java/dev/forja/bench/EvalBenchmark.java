package dev.forja.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.eval.Bleu;
import dev.forja.eval.Chrf;
import dev.forja.eval.Rouge;
import dev.forja.prep.corpus.InstructionSet;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The evaluation benchmarks: generation prompts per second through {@code forja eval} (in the
 * driver, and spread over 1 and 2 Spark workers), and scoring speed (corpus BLEU, chrF, ROUGE) on
 * many sentence pairs, written out so that sacreBLEU and torchmetrics can score the same pairs.
 */
final class EvalBenchmark {
  private static final ObjectMapper JSON = new ObjectMapper();

  private EvalBenchmark() {}

  /** Held-out prompts of the generated instruction set as a generation task's JSONL. */
  static void writePrompts(Path file, int n) throws IOException {
    StringBuilder b = new StringBuilder();
    for (InstructionSet.Example e : InstructionSet.languageOfSentence(n, true)) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("prompt", e.prompt());
      m.put("references", List.of(e.completion()));
      b.append(JSON.writeValueAsString(m)).append('\n');
    }
    Files.writeString(file, b);
  }

  /**
   * {@code n} hypothesis/reference pairs from real English text: sentences of the machine's licence
   * texts as references, each with a hypothesis made by dropping, swapping and replacing words
   * (deterministic).
   */
  static List<String[]> pairs(List<String> texts, int n) {
    List<String> sentences = new ArrayList<>();
    for (String t : texts) {
      for (String s : t.replace('\n', ' ').split("(?<=[.!?;])\\s+")) {
        String x = s.strip().replaceAll("\\s+", " ");
        if (x.split(" ").length >= 5 && x.length() < 400) {
          sentences.add(x);
        }
      }
    }
    if (sentences.isEmpty()) {
      throw new IllegalStateException("no sentences in the input texts");
    }
    Random r = new Random(17);
    String[] words = {"model", "the", "data", "Spark", "training", "of", "license"};
    List<String[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      String ref = sentences.get(i % sentences.size());
      List<String> w = new ArrayList<>(Arrays.asList(ref.split(" ")));
      int edits = 1 + r.nextInt(4);
      for (int e = 0; e < edits && w.size() > 2; e++) {
        int k = r.nextInt(w.size());
        switch (r.nextInt(3)) {
          case 0 -> w.remove(k);
          case 1 -> java.util.Collections.swap(w, k, r.nextInt(w.size()));
          default -> w.set(k, words[r.nextInt(words.length)]);
        }
      }
      out.add(new String[] {String.join(" ", w), ref});
    }
    return out;
  }

  static void writePairs(Path file, List<String[]> pairs) throws IOException {
    try (var w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (String[] p : pairs) {
        w.write(JSON.writeValueAsString(Map.of("hyp", p[0], "ref", p[1])));
        w.write('\n');
      }
    }
  }

  /** Scores and seconds (median of {@code rounds} after a warm-up) of each scorer, as JSON. */
  static Map<String, Object> score(List<String[]> pairs, int rounds, PrintWriter out) {
    List<String> hyps = pairs.stream().map(p -> p[0]).toList();
    List<List<String>> refs = List.of(pairs.stream().map(p -> p[1]).toList());
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("pairs", pairs.size());
    time("bleu", rounds, result, out, () -> Bleu.corpus(hyps, refs).score());
    time("chrf", rounds, result, out, () -> Chrf.corpus(hyps, refs));
    time(
        "rouge",
        rounds,
        result,
        out,
        () -> {
          double f = 0;
          for (String[] p : pairs) {
            f += Rouge.n(1, p[1], p[0]).fmeasure();
            f += Rouge.n(2, p[1], p[0]).fmeasure();
            f += Rouge.l(p[1], p[0]).fmeasure();
          }
          return f / (3.0 * pairs.size()); // mean of ROUGE-1, -2 and -L F1
        });
    return result;
  }

  private static void time(
      String name,
      int rounds,
      Map<String, Object> result,
      PrintWriter out,
      java.util.function.DoubleSupplier body) {
    double value = body.getAsDouble(); // warm-up
    double[] s = new double[rounds];
    for (int i = 0; i < rounds; i++) {
      long t0 = System.nanoTime();
      value = body.getAsDouble();
      s[i] = (System.nanoTime() - t0) / 1e9;
    }
    Arrays.sort(s);
    double median = s[rounds / 2];
    result.put(name, value);
    result.put(name + "_seconds", median);
    out.printf(
        Locale.ROOT, "  %-6s %10.4f in %.3f s (median of %d)%n", name, value, median, rounds);
    out.flush();
  }
}
