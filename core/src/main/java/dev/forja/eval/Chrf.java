package dev.forja.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * chrF as sacreBLEU 2.x computes it by default ({@code chrF2}: character n-grams of orders 1 to 6,
 * whitespace removed, beta 2, no word n-grams): for each sentence the statistics of the reference
 * that scores best, summed over the corpus; precision and recall averaged over the orders that both
 * sides have, then their F-beta.
 */
public final class Chrf {
  public static final int ORDER = 6;
  public static final double BETA = 2;

  private Chrf() {}

  /** Corpus chrF (0-100); {@code refs.get(k).get(i)} is reference k of hypothesis i. */
  public static double corpus(List<String> hyps, List<List<String>> refs) {
    if (refs.isEmpty()) {
      throw new IllegalArgumentException("chrF needs at least one reference per hypothesis");
    }
    long[] total = new long[3 * ORDER];
    for (int i = 0; i < hyps.size(); i++) {
      List<String> mine = new ArrayList<>();
      for (List<String> r : refs) {
        mine.add(r.get(i));
      }
      long[] s = best(hyps.get(i), mine);
      for (int k = 0; k < total.length; k++) {
        total[k] += s[k];
      }
    }
    return fScore(total);
  }

  /** Sentence chrF against the best of its references. */
  public static double sentence(String hyp, List<String> refs) {
    return fScore(best(hyp, refs));
  }

  /** Corpus chrF from each hypothesis's {@link #best} statistics, summed. */
  public static double corpus(List<long[]> sentences) {
    long[] total = new long[3 * ORDER];
    for (long[] s : sentences) {
      for (int k = 0; k < total.length; k++) {
        total[k] += s[k];
      }
    }
    return fScore(total);
  }

  /** The statistics against the reference whose own F-score is highest (the first on a tie). */
  public static long[] best(String hyp, List<String> refs) {
    Map<String, Integer>[] h = ngrams(hyp);
    long[] best = null;
    double bestScore = -1;
    for (String ref : refs) {
      Map<String, Integer>[] r = ngrams(ref);
      long[] s = new long[3 * ORDER];
      for (int n = 0; n < ORDER; n++) {
        long hypCount = 0;
        long refCount = 0;
        long match = 0;
        for (int c : h[n].values()) {
          hypCount += c;
        }
        for (Map.Entry<String, Integer> e : r[n].entrySet()) {
          refCount += e.getValue();
          match += Math.min(e.getValue(), h[n].getOrDefault(e.getKey(), 0));
        }
        s[3 * n] = r[n].isEmpty() ? 0 : hypCount; // no hits counted where the reference has none
        s[3 * n + 1] = refCount;
        s[3 * n + 2] = match;
      }
      double f = fScore(s);
      if (f > bestScore) {
        bestScore = f;
        best = s;
      }
    }
    return best;
  }

  /** chrF (0-100) of summed statistics. */
  public static double fScore(long[] s) {
    double eps = 1e-16;
    double factor = BETA * BETA;
    double avgPrec = 0;
    double avgRec = 0;
    int effective = 0;
    for (int n = 0; n < ORDER; n++) {
      long hyp = s[3 * n];
      long ref = s[3 * n + 1];
      long match = s[3 * n + 2];
      double prec = hyp > 0 ? (double) match / hyp : eps;
      double rec = ref > 0 ? (double) match / ref : eps;
      if (hyp > 0 && ref > 0) {
        avgPrec += prec;
        avgRec += rec;
        effective++;
      }
    }
    if (effective == 0) {
      return 0;
    }
    avgPrec /= effective;
    avgRec /= effective;
    if (avgPrec + avgRec == 0) {
      return 0;
    }
    return 100 * (1 + factor) * avgPrec * avgRec / (factor * avgPrec + avgRec);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Integer>[] ngrams(String text) {
    StringBuilder b = new StringBuilder();
    for (String t : Bleu.Tokenizer13a.split(text)) {
      b.append(t);
    }
    int[] cps = b.toString().codePoints().toArray(); // Python indexes code points
    Map<String, Integer>[] out = new Map[ORDER];
    for (int n = 1; n <= ORDER; n++) {
      out[n - 1] = new HashMap<>();
      for (int i = 0; i + n <= cps.length; i++) {
        out[n - 1].merge(new String(cps, i, n), 1, Integer::sum);
      }
    }
    return out;
  }
}
