package dev.forja.prep.stage;

import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Published quality rules with their published thresholds, in DataTrove's order for FineWeb: Gopher
 * repetition, Gopher quality (Rae et al. 2021), C4 (Raffel et al. 2020; its line rules rewrite the
 * text), FineWeb (Penedo et al. 2024). A rejection records the rule and the measured value; every
 * measured value of a kept document is in its signals.
 */
public final class QualityFilter implements DocStage {
  private final PrepConfig.Quality q;

  public QualityFilter(PrepConfig.Quality params) {
    this.q = params;
  }

  @Override
  public String name() {
    return "quality";
  }

  @Override
  public Object params() {
    return q;
  }

  /** Gopher's stop words, and the most frequent function words of Spanish and Portuguese. */
  static final Map<String, Set<String>> STOP_WORDS =
      Map.of(
          "en", Set.of("the", "be", "to", "of", "and", "that", "have", "with"),
          "es", Set.of("de", "la", "que", "el", "en", "y", "a", "los", "del", "se", "las", "por"),
          "pt", Set.of("de", "a", "o", "que", "e", "do", "da", "em", "um", "para", "com", "os"));

  private static final Pattern WS = Pattern.compile("\\s+");
  private static final Pattern PARAS = Pattern.compile("\\n{2,}");
  private static final Pattern LINES = Pattern.compile("\\n+");
  private static final Pattern SENTENCE_END = Pattern.compile("[.!?]+[\"')\\]]*(?=\\s|$)");
  private static final String[] POLICY = {
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies"
  };
  private static final String BULLETS = "•‣⁃○●◦■□▪▫–-*·";

  @Override
  public Processor open() {
    return doc -> {
      if (doc.kept()) {
        apply(doc);
      }
    };
  }

  void apply(Doc doc) {
    String text = doc.getText();
    String[] words = words(text);
    if (!repetition(doc, text, words) || !gopher(doc, text, words)) {
      return;
    }
    text = c4(doc, text);
    if (text == null) {
      return;
    }
    doc.setText(text);
    fineweb(doc, text);
  }

  private boolean fail(Doc doc, String rule, double value, double limit) {
    doc.reject(rule, value, String.format(Locale.ROOT, "%.4g (limit %.4g)", value, limit));
    return false;
  }

  private boolean check(Doc doc, String rule, double value, boolean tooHigh, double limit) {
    doc.signal(rule, value);
    if (!q.enabled(rule)) {
      return true;
    }
    boolean bad = tooHigh ? value > limit : value < limit;
    return !bad || fail(doc, rule, value, limit);
  }

  // ---- Gopher repetition ----
  private boolean repetition(Doc doc, String text, String[] words) {
    int len = Math.max(1, text.length());
    String[] paras = PARAS.split(text.strip());
    long[] dp = duplicates(paras);
    if (!check(
            doc,
            "repetition.dup-para-fraction",
            dp[0] / (double) paras.length,
            true,
            q.maxDupParaFraction())
        || !check(
            doc,
            "repetition.dup-para-char-fraction",
            dp[1] / (double) len,
            true,
            q.maxDupParaCharFraction())) {
      return false;
    }
    String[] lines = LINES.split(text);
    long[] dl = duplicates(lines);
    if (!check(
            doc,
            "repetition.dup-line-fraction",
            dl[0] / (double) lines.length,
            true,
            q.maxDupLineFraction())
        || !check(
            doc,
            "repetition.dup-line-char-fraction",
            dl[1] / (double) len,
            true,
            q.maxDupLineCharFraction())) {
      return false;
    }
    long[] hashes = new long[words.length];
    int[] lengths = new int[words.length];
    for (int i = 0; i < words.length; i++) {
      hashes[i] = words[i].hashCode() * 0x9E3779B97F4A7C15L + words[i].length();
      lengths[i] = words[i].length();
    }
    for (int n = 2; n <= 4; n++) {
      double f = topNgramChars(hashes, lengths, n) / (double) len;
      doc.signal("repetition.top-" + n + "gram-char-fraction", f);
      if (q.enabled("repetition.top-ngram-char-fraction")
          && f > q.maxTopNgramCharFraction().get(n - 2)) {
        return fail(
            doc, "repetition.top-ngram-char-fraction", f, q.maxTopNgramCharFraction().get(n - 2));
      }
    }
    for (int n = 5; n <= 10; n++) {
      double f = dupNgramChars(hashes, lengths, n) / (double) len;
      doc.signal("repetition.dup-" + n + "gram-char-fraction", f);
      if (q.enabled("repetition.dup-ngram-char-fraction")
          && f > q.maxDupNgramCharFraction().get(n - 5)) {
        return fail(
            doc, "repetition.dup-ngram-char-fraction", f, q.maxDupNgramCharFraction().get(n - 5));
      }
    }
    return true;
  }

  /** [number of elements seen before, their characters]. */
  static long[] duplicates(String[] xs) {
    Set<String> seen = new HashSet<>();
    long n = 0;
    long chars = 0;
    for (String x : xs) {
      if (!seen.add(x)) {
        n++;
        chars += x.length();
      }
    }
    return new long[] {n, chars};
  }

  /** The hash of the n-gram starting at {@code i} (words given as hashes). */
  private static long ngram(long[] h, int i, int n) {
    long g = 0xcbf29ce484222325L;
    for (int k = 0; k < n; k++) {
      g = (g ^ h[i + k]) * 0x100000001b3L;
      g ^= g >>> 29;
    }
    return g;
  }

  /** Characters of the n-gram at {@code i} joined with spaces. */
  private static int chars(int[] len, int i, int n) {
    int c = n - 1;
    for (int k = 0; k < n; k++) {
      c += len[i + k];
    }
    return c;
  }

  /**
   * Characters covered by the most frequent n-gram (joined with spaces), if it occurs more than
   * once. N-grams are compared by 64-bit hash.
   */
  static long topNgramChars(long[] h, int[] len, int n) {
    if (h.length < n) {
      return 0;
    }
    Map<Long, Integer> counts = new HashMap<>();
    int best = -1;
    int bestCount = 0;
    for (int i = 0; i + n <= h.length; i++) {
      int c = counts.merge(ngram(h, i, n), 1, Integer::sum);
      if (c > bestCount) {
        bestCount = c;
        best = i;
      }
    }
    return bestCount > 1 ? (long) chars(len, best, n) * bestCount : 0;
  }

  /** Characters in n-grams that repeat an earlier one (non-overlapping, as Gopher counts). */
  static long dupNgramChars(long[] h, int[] len, int n) {
    Set<Long> seen = new HashSet<>();
    long total = 0;
    int i = 0;
    while (i + n <= h.length) {
      long g = ngram(h, i, n);
      if (seen.contains(g)) {
        total += chars(len, i, n);
        i += n;
      } else {
        seen.add(g);
        i++;
      }
    }
    return total;
  }

  static String[] words(String text) {
    String s = text.strip();
    return s.isEmpty() ? new String[0] : WS.split(s);
  }

  // ---- Gopher quality ----
  private boolean gopher(Doc doc, String text, String[] words) {
    int nonSymbol = 0;
    long nonSymbolChars = 0;
    int alpha = 0;
    int stop = 0;
    Set<String> stops =
        STOP_WORDS.getOrDefault(doc.getLang() == null ? "en" : doc.getLang(), STOP_WORDS.get("en"));
    for (String w : words) {
      boolean hasNonPunct = false;
      boolean hasAlpha = false;
      for (int i = 0; i < w.length(); i++) {
        char c = w.charAt(i);
        if (Character.isLetter(c)) {
          hasAlpha = true;
          hasNonPunct = true;
        } else if (Character.isLetterOrDigit(c)) {
          hasNonPunct = true;
        }
      }
      if (hasNonPunct) {
        nonSymbol++;
        nonSymbolChars += w.length();
      }
      if (hasAlpha) {
        alpha++;
      }
      if (stops.contains(w.toLowerCase(Locale.ROOT))) {
        stop++;
      }
    }
    int n = Math.max(1, words.length);
    if (!check(doc, "gopher.min-doc-words", nonSymbol, false, q.minDocWords())
        || !check(doc, "gopher.max-doc-words", nonSymbol, true, q.maxDocWords())) {
      return false;
    }
    double avg = nonSymbol == 0 ? 0 : nonSymbolChars / (double) nonSymbol;
    if (!check(doc, "gopher.min-avg-word-length", avg, false, q.minAvgWordLength())
        || !check(doc, "gopher.max-avg-word-length", avg, true, q.maxAvgWordLength())) {
      return false;
    }
    double symbols = (count(text, "#") + count(text, "...") + count(text, "…")) / (double) n;
    if (!check(doc, "gopher.max-symbol-word-ratio", symbols, true, q.maxSymbolWordRatio())) {
      return false;
    }
    String[] lines = text.split("\n");
    int bullets = 0;
    int ellipsis = 0;
    for (String line : lines) {
      String l = line.strip();
      if (!l.isEmpty() && BULLETS.indexOf(l.charAt(0)) >= 0) {
        bullets++;
      }
      if (l.endsWith("...") || l.endsWith("…")) {
        ellipsis++;
      }
    }
    if (!check(
            doc,
            "gopher.max-bullet-lines-ratio",
            bullets / (double) lines.length,
            true,
            q.maxBulletLinesRatio())
        || !check(
            doc,
            "gopher.max-ellipsis-lines-ratio",
            ellipsis / (double) lines.length,
            true,
            q.maxEllipsisLinesRatio())
        || !check(
            doc,
            "gopher.min-alpha-words-ratio",
            alpha / (double) n,
            false,
            q.minAlphaWordsRatio())) {
      return false;
    }
    return check(doc, "gopher.min-stop-words", stop, false, q.minStopWords());
  }

  private static int count(String s, String sub) {
    int n = 0;
    for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) {
      n++;
    }
    return n;
  }

  // ---- C4 ----
  /** The text with C4's line rules applied, or null when the document is rejected. */
  private String c4(Doc doc, String text) {
    String lower = text.toLowerCase(Locale.ROOT);
    if (q.enabled("c4.lorem-ipsum") && lower.contains("lorem ipsum")) {
      fail(doc, "c4.lorem-ipsum", 1, 0);
      return null;
    }
    if (q.enabled("c4.curly-bracket") && text.indexOf('{') >= 0) {
      fail(doc, "c4.curly-bracket", 1, 0);
      return null;
    }
    if (q.c4LineRules()) {
      List<String> kept = new ArrayList<>();
      int dropped = 0;
      for (String line : text.split("\n", -1)) {
        String l = line.strip();
        if (l.isEmpty()) {
          kept.add("");
          continue;
        }
        if (!endsWithTerminalPunct(l)
            || WS.split(l).length < q.c4MinWordsPerLine()
            || longWord(l)
            || l.toLowerCase(Locale.ROOT).contains("javascript")
            || policy(l)) {
          dropped++;
          continue;
        }
        kept.add(l);
      }
      if (dropped > 0) {
        doc.signal("c4.lines-dropped", dropped);
        text = Cleaner.normalizeWhitespace(String.join("\n", kept)).strip();
      }
    }
    int sentences = 0;
    java.util.regex.Matcher m = SENTENCE_END.matcher(text);
    while (m.find()) {
      sentences++;
    }
    if (!check(doc, "c4.min-sentences", sentences, false, q.c4MinSentences())) {
      return null;
    }
    return text;
  }

  private boolean longWord(String line) {
    for (String w : WS.split(line)) {
      if (w.length() > q.c4MaxWordLength()) {
        return true;
      }
    }
    return false;
  }

  private static boolean policy(String line) {
    String l = line.toLowerCase(Locale.ROOT);
    for (String p : POLICY) {
      if (l.contains(p)) {
        return true;
      }
    }
    return false;
  }

  static boolean endsWithTerminalPunct(String l) {
    char c = l.charAt(l.length() - 1);
    return c == '.' || c == '?' || c == '!' || c == '"' || c == '\'' || c == '”' || c == '…';
  }

  // ---- FineWeb ----
  private void fineweb(Doc doc, String text) {
    List<String> lines = new ArrayList<>();
    for (String l : text.split("\n")) {
      if (!l.isBlank()) {
        lines.add(l);
      }
    }
    if (lines.isEmpty()) {
      doc.reject("clean.empty", 0, "nothing left after the C4 line rules");
      return;
    }
    int punct = 0;
    int shortLines = 0;
    for (String l : lines) {
      if (endsWithTerminalPunct(l.strip())) {
        punct++;
      }
      if (l.length() <= q.finewebShortLineChars()) {
        shortLines++;
      }
    }
    long[] dup = duplicates(lines.toArray(new String[0]));
    int chars = Math.max(1, text.length() - count(text, "\n"));
    int words = Math.max(1, words(text).length);
    if (check(
            doc,
            "fineweb.line-punct-ratio",
            punct / (double) lines.size(),
            false,
            q.finewebMinLinePunctRatio())
        && check(
            doc,
            "fineweb.short-line-ratio",
            shortLines / (double) lines.size(),
            true,
            q.finewebMaxShortLineRatio())
        && check(
            doc,
            "fineweb.char-dup-ratio",
            dup[1] / (double) chars,
            true,
            q.finewebMaxCharDupRatio())) {
      check(
          doc,
          "fineweb.newline-ratio",
          count(text, "\n") / (double) words,
          true,
          q.finewebMaxNewlineRatio());
    }
  }
}
