package dev.forja.training.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * How the next token is picked from the logits: greedy at temperature 0; otherwise softmax at the
 * temperature, restricted to the {@code topK} most likely tokens (0: all) and then to the smallest
 * set whose probability reaches {@code topP} (1: all).
 */
public record Sampling(double temperature, int topK, double topP) {
  public Sampling {
    if (temperature < 0) {
      throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("--top-k must be >= 0 (0: no limit), got " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
    }
  }

  public int sample(float[] logits, SplittableRandom rng) {
    int v = logits.length;
    if (temperature == 0) {
      int best = 0;
      for (int i = 1; i < v; i++) {
        if (logits[i] > logits[best]) {
          best = i;
        }
      }
      return best;
    }
    Integer[] order = new Integer[v];
    for (int i = 0; i < v; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
    int keep = topK > 0 ? Math.min(topK, v) : v;
    double max = logits[order[0]];
    double[] p = new double[keep];
    double sum = 0;
    for (int i = 0; i < keep; i++) {
      p[i] = Math.exp((logits[order[i]] - max) / temperature);
      sum += p[i];
    }
    double cumulative = 0;
    int cut = keep;
    for (int i = 0; i < keep; i++) {
      cumulative += p[i] / sum;
      if (cumulative >= topP) {
        cut = i + 1;
        break;
      }
    }
    double total = 0;
    for (int i = 0; i < cut; i++) {
      total += p[i];
    }
    double r = rng.nextDouble() * total;
    for (int i = 0; i < cut; i++) {
      r -= p[i];
      if (r <= 0) {
        return order[i];
      }
    }
    return order[cut - 1];
  }
}
