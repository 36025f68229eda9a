package dev.forja.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * ROUGE as Google's {@code rouge-score} package computes it: its tokenizer (lowercase, every run of
 * characters other than {@code a-z0-9} a separator), ROUGE-N (clipped n-gram overlap), ROUGE-L
 * (longest common subsequence) and ROUGE-Lsum (summary-level: sentences split at newlines, the
 * union of each reference sentence's LCS with every predicted sentence, hits clipped by token
 * counts), each as precision, recall and F1. Against several references, {@code score_multi}'s
 * rule: the reference with the highest F1. With {@code use_stemmer}, tokens longer than three
 * characters are Porter-stemmed as NLTK's {@code PorterStemmer} does ({@link PorterStemmer}).
 */
public final class Rouge {
  private Rouge() {}

  /** Precision, recall and F1, each in [0, 1]. */
  public record Score(double precision, double recall, double fmeasure) {
    static Score of(double p, double r) {
      return new Score(p, r, p + r > 0 ? 2 * p * r / (p + r) : 0);
    }
  }

  /** rouge-score's tokenizer, without stemming. */
  public static List<String> tokenize(String text) {
    return tokenize(text, false);
  }

  /** rouge-score's tokenizer; {@code stem}: its {@code use_stemmer}. */
  public static List<String> tokenize(String text, boolean stem) {
    List<String> out = words(text);
    if (stem) {
      out.replaceAll(w -> w.length() > 3 ? PorterStemmer.stem(w) : w);
    }
    return out;
  }

  private static List<String> words(String text) {
    String lower = text.toLowerCase(Locale.ROOT);
    List<String> out = new ArrayList<>();
    StringBuilder t = new StringBuilder();
    for (int i = 0; i < lower.length(); i++) {
      char c = lower.charAt(i);
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        t.append(c);
      } else if (t.length() > 0) {
        out.add(t.toString());
        t.setLength(0);
      }
    }
    if (t.length() > 0) {
      out.add(t.toString());
    }
    return out;
  }

  /** ROUGE-N of {@code prediction} against {@code target}. */
  public static Score n(int n, String target, String prediction) {
    return n(n, target, prediction, false);
  }

  /** As above; {@code stem}: rouge-score's {@code use_stemmer}. */
  public static Score n(int n, String target, String prediction, boolean stem) {
    Map<String, Integer> t = ngrams(tokenize(target, stem), n);
    Map<String, Integer> p = ngrams(tokenize(prediction, stem), n);
    long overlap = 0;
    for (Map.Entry<String, Integer> e : t.entrySet()) {
      overlap += Math.min(e.getValue(), p.getOrDefault(e.getKey(), 0));
    }
    long tt = t.values().stream().mapToLong(Integer::longValue).sum();
    long pt = p.values().stream().mapToLong(Integer::longValue).sum();
    return Score.of((double) overlap / Math.max(pt, 1), (double) overlap / Math.max(tt, 1));
  }

  /** ROUGE-L: the longest common subsequence of the token sequences. */
  public static Score l(String target, String prediction) {
    return l(target, prediction, false);
  }

  /** As above; {@code stem}: rouge-score's {@code use_stemmer}. */
  public static Score l(String target, String prediction, boolean stem) {
    List<String> t = tokenize(target, stem);
    List<String> p = tokenize(prediction, stem);
    if (t.isEmpty() || p.isEmpty()) {
      return new Score(0, 0, 0);
    }
    int lcs = lcsTable(t, p)[t.size()][p.size()];
    return Score.of((double) lcs / p.size(), (double) lcs / t.size());
  }

  /** ROUGE-Lsum: summary-level LCS over the newline-separated sentences. */
  public static Score lsum(String target, String prediction) {
    return lsum(target, prediction, false);
  }

  /** As above; {@code stem}: rouge-score's {@code use_stemmer}. */
  public static Score lsum(String target, String prediction, boolean stem) {
    List<List<String>> ref = sentences(target, stem);
    List<List<String>> can = sentences(prediction, stem);
    if (ref.isEmpty() || can.isEmpty()) {
      return new Score(0, 0, 0);
    }
    int m = ref.stream().mapToInt(List::size).sum();
    int n = can.stream().mapToInt(List::size).sum();
    if (m == 0 || n == 0) {
      return new Score(0, 0, 0);
    }
    Map<String, Integer> countsR = new HashMap<>();
    Map<String, Integer> countsC = new HashMap<>();
    ref.forEach(s -> s.forEach(x -> countsR.merge(x, 1, Integer::sum)));
    can.forEach(s -> s.forEach(x -> countsC.merge(x, 1, Integer::sum)));
    int hits = 0;
    for (List<String> r : ref) {
      TreeSet<Integer> union = new TreeSet<>();
      for (List<String> c : can) {
        union.addAll(lcsIndices(r, c));
      }
      for (int i : union) {
        String tok = r.get(i);
        if (countsC.getOrDefault(tok, 0) > 0 && countsR.getOrDefault(tok, 0) > 0) {
          hits++;
          countsC.merge(tok, -1, Integer::sum);
          countsR.merge(tok, -1, Integer::sum);
        }
      }
    }
    return Score.of((double) hits / n, (double) hits / m);
  }

  /** The best of several references by F1 (rouge-score's {@code score_multi}). */
  public static Score best(
      List<String> targets,
      String prediction,
      java.util.function.BiFunction<String, String, Score> metric) {
    Score best = null;
    for (String t : targets) {
      Score s = metric.apply(t, prediction);
      if (best == null || s.fmeasure() > best.fmeasure()) {
        best = s;
      }
    }
    if (best == null) {
      throw new IllegalArgumentException("ROUGE needs at least one reference");
    }
    return best;
  }

  private static List<List<String>> sentences(String text, boolean stem) {
    List<List<String>> out = new ArrayList<>();
    for (String s : text.split("\n", -1)) {
      if (!s.isEmpty()) {
        out.add(tokenize(s, stem));
      }
    }
    return out;
  }

  private static Map<String, Integer> ngrams(List<String> tokens, int n) {
    Map<String, Integer> out = new HashMap<>();
    for (int i = 0; i + n <= tokens.size(); i++) {
      out.merge(String.join(" ", tokens.subList(i, i + n)), 1, Integer::sum);
    }
    return out;
  }

  private static int[][] lcsTable(List<String> a, List<String> b) {
    int[][] t = new int[a.size() + 1][b.size() + 1];
    for (int i = 1; i <= a.size(); i++) {
      for (int j = 1; j <= b.size(); j++) {
        t[i][j] =
            a.get(i - 1).equals(b.get(j - 1))
                ? t[i - 1][j - 1] + 1
                : Math.max(t[i - 1][j], t[i][j - 1]);
      }
    }
    return t;
  }

  /** The indices into {@code ref} of one LCS, backtracked as rouge-score does. */
  static List<Integer> lcsIndices(List<String> ref, List<String> can) {
    int[][] t = lcsTable(ref, can);
    List<Integer> out = new ArrayList<>();
    int i = ref.size();
    int j = can.size();
    while (i > 0 && j > 0) {
      if (ref.get(i - 1).equals(can.get(j - 1))) {
        out.add(0, i - 1);
        i--;
        j--;
      } else if (t[i][j - 1] > t[i - 1][j]) {
        j--;
      } else {
        i--;
      }
    }
    return out;
  }
}
