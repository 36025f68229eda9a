package dev.forja.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * BLEU as sacreBLEU 2.x computes it, so that Forja's scores are comparable with published ones: the
 * {@code 13a} tokenizer (mteval-v13a's), n-grams up to 4 clipped by the most any reference has, the
 * reference length closest to the hypothesis (the shorter on a tie), the brevity penalty, and
 * {@code exp} smoothing (a zero precision at order n counts as {@code 1 / (2^k total)}, k the zeros
 * so far). The corpus score sums the statistics of every sentence; a sentence's own score uses the
 * effective order (only orders the hypothesis has), as sacreBLEU's {@code sentence_bleu}.
 */
public final class Bleu {
  public static final int ORDER = 4;

  /** sacreBLEU's version whose arithmetic this follows, as its signature names it. */
  public static final String SACREBLEU_VERSION = "2.6.0";

  private Bleu() {}

  /** One hypothesis's statistics against its references. */
  public record Stats(long[] matches, long[] totals, long hypLength, long refLength) {
    static Stats zero() {
      return new Stats(new long[ORDER], new long[ORDER], 0, 0);
    }

    /** The statistics of both (a corpus sums its sentences'). */
    public Stats plus(Stats o) {
      long[] m = matches.clone();
      long[] t = totals.clone();
      for (int i = 0; i < ORDER; i++) {
        m[i] += o.matches[i];
        t[i] += o.totals[i];
      }
      return new Stats(m, t, hypLength + o.hypLength, refLength + o.refLength);
    }
  }

  /**
   * A score with what it came from: the score (0-100), the four precisions, the brevity penalty,
   * the lengths, and sacreBLEU's signature.
   */
  public record Score(
      double score,
      double[] precisions,
      double brevityPenalty,
      long hypLength,
      long refLength,
      String signature) {}

  /** Corpus BLEU of {@code hyps}; {@code refs.get(k).get(i)} is reference k of hypothesis i. */
  public static Score corpus(List<String> hyps, List<List<String>> refs) {
    check(hyps, refs);
    Stats total = Stats.zero();
    for (int i = 0; i < hyps.size(); i++) {
      List<String> mine = new ArrayList<>();
      for (List<String> r : refs) {
        mine.add(r.get(i));
      }
      total = total.plus(stats(hyps.get(i), mine));
    }
    return score(total, false, refs.size());
  }

  /**
   * Corpus BLEU from each hypothesis's {@link #stats}, summed (hypotheses may have different
   * numbers of references; {@code nrefs} is what the signature names).
   */
  public static Score corpus(List<Stats> sentences, int nrefs) {
    Stats total = Stats.zero();
    for (Stats s : sentences) {
      total = total.plus(s);
    }
    return score(total, false, nrefs);
  }

  /** Sentence BLEU of one hypothesis against its references (effective order). */
  public static Score sentence(String hyp, List<String> refs) {
    return score(stats(hyp, refs), true, refs.size());
  }

  private static void check(List<String> hyps, List<List<String>> refs) {
    if (refs.isEmpty()) {
      throw new IllegalArgumentException("BLEU needs at least one reference per hypothesis");
    }
    for (List<String> r : refs) {
      if (r.size() != hyps.size()) {
        throw new IllegalArgumentException(
            "a reference stream has " + r.size() + " lines for " + hyps.size() + " hypotheses");
      }
    }
  }

  /** The statistics of one hypothesis. */
  public static Stats stats(String hyp, List<String> refs) {
    String[] h = Tokenizer13a.tokenize(hyp);
    Map<String, Integer>[] hypCounts = ngrams(h);
    Map<String, Integer>[] maxRef = newCounts();
    long closestLen = -1;
    long closestDiff = Long.MAX_VALUE;
    for (String ref : refs) {
      String[] r = Tokenizer13a.tokenize(ref);
      long diff = Math.abs(r.length - h.length);
      if (diff < closestDiff || (diff == closestDiff && r.length < closestLen)) {
        closestDiff = diff;
        closestLen = r.length;
      }
      Map<String, Integer>[] rc = ngrams(r);
      for (int n = 0; n < ORDER; n++) {
        for (Map.Entry<String, Integer> e : rc[n].entrySet()) {
          maxRef[n].merge(e.getKey(), e.getValue(), Math::max);
        }
      }
    }
    long[] matches = new long[ORDER];
    long[] totals = new long[ORDER];
    for (int n = 0; n < ORDER; n++) {
      totals[n] = Math.max(0, h.length - n);
      for (Map.Entry<String, Integer> e : hypCounts[n].entrySet()) {
        matches[n] += Math.min(e.getValue(), maxRef[n].getOrDefault(e.getKey(), 0));
      }
    }
    return new Stats(matches, totals, h.length, closestLen);
  }

  static Score score(Stats s, boolean effectiveOrder, int refs) {
    String signature =
        String.format(
            Locale.ROOT,
            "nrefs:%d|case:mixed|eff:%s|tok:13a|smooth:exp|version:%s",
            refs,
            effectiveOrder ? "yes" : "no",
            SACREBLEU_VERSION);
    double bp = brevityPenalty(s.hypLength(), s.refLength());
    double[] p = new double[ORDER];
    if (java.util.Arrays.stream(s.matches()).allMatch(m -> m == 0)) {
      return new Score(0, p, bp, s.hypLength(), s.refLength(), signature); // sacreBLEU's #141
    }
    double smooth = 1;
    int order = ORDER;
    for (int n = 0; n < ORDER; n++) {
      if (s.totals()[n] == 0) {
        break;
      }
      if (effectiveOrder) {
        order = n + 1;
      }
      if (s.matches()[n] == 0) {
        smooth *= 2;
        p[n] = 100.0 / (smooth * s.totals()[n]);
      } else {
        p[n] = 100.0 * s.matches()[n] / s.totals()[n];
      }
    }
    double logSum = 0;
    for (int n = 0; n < order; n++) {
      logSum += p[n] == 0 ? -9999999999.0 : Math.log(p[n]);
    }
    double score = bp * Math.exp(logSum / order);
    return new Score(score, p, bp, s.hypLength(), s.refLength(), signature);
  }

  static double brevityPenalty(long hyp, long ref) {
    if (hyp >= ref) {
      return 1.0;
    }
    return hyp > 0 ? Math.exp(1 - (double) ref / hyp) : 0.0;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Integer>[] newCounts() {
    Map<String, Integer>[] out = new Map[ORDER];
    for (int n = 0; n < ORDER; n++) {
      out[n] = new HashMap<>();
    }
    return out;
  }

  private static Map<String, Integer>[] ngrams(String[] tokens) {
    Map<String, Integer>[] out = newCounts();
    for (int n = 1; n <= ORDER; n++) {
      for (int i = 0; i + n <= tokens.length; i++) {
        out[n - 1].merge(
            String.join(" ", java.util.Arrays.copyOfRange(tokens, i, i + n)), 1, Integer::sum);
      }
    }
    return out;
  }

  /** sacreBLEU's {@code 13a} tokenizer (mteval-v13a.pl's, as sacreBLEU implements it). */
  public static final class Tokenizer13a {
    private static final Pattern PUNCT =
        Pattern.compile("([\\{-\\~\\[-\\` -\\&\\(-\\+\\:-\\@\\/])");
    private static final Pattern PERIOD_COMMA_AFTER = Pattern.compile("([^0-9])([\\.,])");
    private static final Pattern PERIOD_COMMA_BEFORE = Pattern.compile("([\\.,])([^0-9])");
    private static final Pattern DASH = Pattern.compile("([0-9])(-)");

    private Tokenizer13a() {}

    public static String[] tokenize(String line) {
      line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ");
      if (line.contains("&")) {
        line =
            line.replace("&quot;", "\"")
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">");
      }
      line = " " + line + " ";
      line = PUNCT.matcher(line).replaceAll(" $1 ");
      line = PERIOD_COMMA_AFTER.matcher(line).replaceAll("$1 $2 ");
      line = PERIOD_COMMA_BEFORE.matcher(line).replaceAll(" $1 $2");
      line = DASH.matcher(line).replaceAll("$1 $2 ");
      return split(line);
    }

    /** Python's {@code str.split()}: runs of Unicode whitespace. */
    static String[] split(String s) {
      List<String> out = new ArrayList<>();
      int i = 0;
      int n = s.length();
      while (i < n) {
        while (i < n && isSpace(s.charAt(i))) {
          i++;
        }
        int start = i;
        while (i < n && !isSpace(s.charAt(i))) {
          i++;
        }
        if (i > start) {
          out.add(s.substring(start, i));
        }
      }
      return out.toArray(String[]::new);
    }

    static boolean isSpace(char c) {
      return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
    }
  }
}
