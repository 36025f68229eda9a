package dev.forja.bench;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.PreTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Single-thread encode throughput with GPT-2's vocabulary, Forja against jtokkit, on the same
 * documents, after checking that both give identical ids. GPT-2's ranks come from jtokkit's own
 * {@code r50k_base.tiktoken}, so both encode with exactly the same vocabulary.
 */
public final class TokenizerBenchmark {
  /** Results in MB/s (10^6 bytes of UTF-8 text per second). */
  public record Result(
      long bytes, long tokens, int documents, double forjaCold, double forjaWarm, double jtokkit) {
    public double ratio() {
      return forjaCold / jtokkit;
    }
  }

  private TokenizerBenchmark() {}

  /** GPT-2's tokenizer built from the ranks jtokkit ships. */
  public static BpeTokenizer gpt2() throws IOException {
    try (InputStream in =
        Encoding.class.getResourceAsStream("/com/knuddels/jtokkit/r50k_base.tiktoken")) {
      String ranks = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      return TokenizerFiles.fromTiktoken(
          ranks, PreTokenizer.Pattern.GPT2, Map.of("<|endoftext|>", 50256));
    }
  }

  public static Result run(List<String> docs, int rounds, PrintWriter log) throws IOException {
    Encoding jt = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    long bytes = 0;
    long tokens = 0;
    BpeTokenizer check = gpt2();
    for (String d : docs) {
      bytes += d.getBytes(StandardCharsets.UTF_8).length;
      int[] ours = check.encode(d);
      int[] theirs = jt.encodeOrdinary(d).toArray();
      if (!Arrays.equals(ours, theirs)) {
        throw new IllegalStateException(
            "ids differ from jtokkit's on a document starting: "
                + d.substring(0, Math.min(80, d.length())));
      }
      tokens += ours.length;
    }
    log.printf(
        Locale.ROOT,
        "Identical ids on %,d documents (%,d bytes, %,d tokens).%n",
        docs.size(),
        bytes,
        tokens);
    List<Double> cold = new ArrayList<>();
    List<Double> warm = new ArrayList<>();
    List<Double> ref = new ArrayList<>();
    long sink = 0;
    for (int r = 0; r < rounds + 1; r++) {
      BpeTokenizer fresh = gpt2(); // a new tokenizer: its pre-token cache starts empty
      long t0 = System.nanoTime();
      for (String d : docs) {
        sink += fresh.encode(d).length;
      }
      long t1 = System.nanoTime();
      for (String d : docs) {
        sink += fresh.encode(d).length;
      }
      long t2 = System.nanoTime();
      for (String d : docs) {
        IntArrayList ids = jt.encodeOrdinary(d);
        sink += ids.size();
      }
      long t3 = System.nanoTime();
      if (r > 0) { // round 0 warms up the JIT
        cold.add(bytes / 1e6 / ((t1 - t0) / 1e9));
        warm.add(bytes / 1e6 / ((t2 - t1) / 1e9));
        ref.add(bytes / 1e6 / ((t3 - t2) / 1e9));
        log.printf(
            Locale.ROOT,
            "  round %d: forja %.1f MB/s (cold cache), %.1f MB/s (warm); jtokkit %.1f MB/s%n",
            r,
            cold.get(cold.size() - 1),
            warm.get(warm.size() - 1),
            ref.get(ref.size() - 1));
        log.flush();
      }
    }
    if (sink == 42) {
      log.println();
    }
    return new Result(bytes, tokens, docs.size(), median(cold), median(warm), median(ref));
  }

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(Double::compare);
    return s.get(s.size() / 2);
  }
}
