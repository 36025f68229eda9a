package dev.forja.prep.stage;

import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

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

  /** C4 drops lines holding any of these (lower case). */
  static final String[] DROPPED_LINE_PHRASES = {
    "javascript",
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies"
  };

  private static final String BULLETS = "•‣⁃○●◦■□▪▫–-*·";

  private static final int MAX_STOP_WORD_LENGTH =
      STOP_WORDS.values().stream().flatMap(Set::stream).mapToInt(String::length).max().orElse(0);

  /** {@link #STOP_WORDS} as sorted {@link #packLower} keys: no string per word is made. */
  static final Map<String, long[]> PACKED_STOP_WORDS = packStopWords();

  private static Map<String, long[]> packStopWords() {
    Map<String, long[]> out = new java.util.HashMap<>();
    STOP_WORDS.forEach(
        (lang, words) -> {
          long[] keys =
              words.stream().mapToLong(w -> packLower(w, 0, w.length())).sorted().toArray();
          if (java.util.Arrays.stream(keys).anyMatch(k -> k < 0)) {
            throw new IllegalStateException(
                "stop words must be ASCII of up to 7 letters: " + words);
          }
          out.put(lang, keys);
        });
    return Map.copyOf(out);
  }

  /** Whether {@code text[from, to)}, lower-cased, is one of these {@link #PACKED_STOP_WORDS}. */
  static boolean isStopWord(long[] stops, String text, int from, int to) {
    long key = packLower(text, from, to);
    return key >= 0 && java.util.Arrays.binarySearch(stops, key) >= 0;
  }

  /**
   * {@code text[from, to)} lower-cased as {@code toLowerCase(Locale.ROOT)} does, packed a char per
   * byte with the length on top, when that is ASCII of up to 7 chars; else -1 (never a stop word).
   * U+0130 lower-cases to "i" and a combining dot in a string, so it never packs.
   */
  static long packLower(String text, int from, int to) {
    if (to - from > 7) {
      return -1;
    }
    long key = (long) (to - from) << 56;
    for (int i = from; i < to; i++) {
      char c = text.charAt(i);
      int lower = dev.forja.prep.Words.lowerCase(c);
      if (lower >= 128 || c == '\u0130') {
        return -1;
      }
      key |= (long) lower << (8 * (i - from));
    }
    return key;
  }

  /**
   * What one thread reuses from document to document: the rules scan ranges of the text ({@link
   * Spans}) and count 64-bit keys in a reusable table instead of building a string per word, line
   * and paragraph and boxing every n-gram into a hash map.
   */
  static final class Scratch {
    final Spans words = new Spans();
    final Spans lineWords = new Spans();
    final Spans lines = new Spans();
    final Spans pieces = new Spans();
    final Spans.Counter counter = new Spans.Counter();
    long[] hashes = new long[256];
    long[] grams = new long[256];
    int[] lengths = new int[256];
    // the next occurrence of each of C4's dropped-line phrases in the lower-cased text
    final int[] phraseAt = new int[DROPPED_LINE_PHRASES.length];
  }

  @Override
  public Processor open() {
    Scratch scratch = new Scratch();
    return doc -> {
      if (doc.kept()) {
        apply(doc, scratch);
      }
    };
  }

  void apply(Doc doc, Scratch sc) {
    String text = doc.getText();
    Spans words = words(text, sc.words);
    if (!repetition(doc, text, words, sc) || !gopher(doc, text, words, sc)) {
      return;
    }
    String before = text;
    int wordCount = words.count;
    text = c4(doc, text, sc);
    if (text == null) {
      return;
    }
    doc.setText(text);
    // the words counted at the start still stand where the C4 rules dropped no line
    fineweb(doc, text, text == before ? wordCount : -1, sc);
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
  private boolean repetition(Doc doc, String text, Spans words, Scratch sc) {
    int len = Math.max(1, text.length());
    int from = Spans.stripStart(text, 0, text.length());
    int to = Spans.stripEnd(text, from, text.length());
    Spans paras = sc.pieces.splitLines(text, from, to, true, 2, false); // \n{2,}
    long[] dp = duplicates(text, paras, sc.counter);
    if (!check(
            doc,
            "repetition.dup-para-fraction",
            dp[0] / (double) paras.count,
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
    Spans lines = sc.pieces.splitLines(text, 0, text.length(), true, 1, false); // \n+
    long[] dl = duplicates(text, lines, sc.counter);
    if (!check(
            doc,
            "repetition.dup-line-fraction",
            dl[0] / (double) lines.count,
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
    int n = wordHashes(text, words, sc);
    double[] f = ngramCharFractions(n, len, sc);
    for (int g = 2; g <= 10; g++) {
      String signal = PrepConfig.NGRAM_SIGNALS.get(g - 2);
      String rule =
          g <= 4 ? "repetition.top-ngram-char-fraction" : "repetition.dup-ngram-char-fraction";
      double limit =
          g <= 4 ? q.maxTopNgramCharFraction().get(g - 2) : q.maxDupNgramCharFraction().get(g - 5);
      doc.signal(signal, f[g - 2]);
      if (q.enabled(rule) && f[g - 2] > limit) {
        return fail(doc, rule, f[g - 2], limit);
      }
    }
    return true;
  }

  /** Fills {@code sc.hashes} and {@code sc.lengths} with the words' hashes and lengths. */
  static int wordHashes(String text, Spans words, Scratch sc) {
    int n = words.count;
    if (sc.hashes.length < n) {
      sc.hashes = new long[n * 2];
      sc.lengths = new int[n * 2];
    }
    for (int i = 0; i < n; i++) {
      int h = 0; // String.hashCode of the word
      for (int k = words.start[i]; k < words.end[i]; k++) {
        h = 31 * h + text.charAt(k);
      }
      sc.lengths[i] = words.length(i);
      sc.hashes[i] = h * 0x9E3779B97F4A7C15L + sc.lengths[i];
    }
    return n;
  }

  /**
   * Gopher's n-gram repetition measures of a text of {@code len} chars whose {@code n} words have
   * the hashes and lengths {@link #wordHashes} left in {@code sc}: for n = 2..4 the characters of
   * the most frequent n-gram, for n = 5..10 those in duplicated n-grams, over {@code len}; element
   * {@code n - 2}. The n-grams' hashes are grown a word at a time ({@link #ngramStep}), not
   * recomputed from their words for each n, and stop growing at the first n none of whose n-grams
   * repeats.
   */
  static double[] ngramCharFractions(int n, int len, Scratch sc) {
    long[] hashes = sc.hashes;
    int[] lengths = sc.lengths;
    double[] f = new double[9];
    if (sc.grams.length < n) {
      sc.grams = new long[n * 2];
    }
    long[] grams = sc.grams; // grams[i]: the hash of the g-gram at word i
    java.util.Arrays.fill(grams, 0, n, NGRAM_SEED);
    for (int g = 1; g <= 10 && g <= n; g++) {
      for (int i = 0; i + g <= n; i++) {
        grams[i] = ngramStep(grams[i], hashes[i + g - 1]);
      }
      if (g >= 2) {
        long chars =
            g <= 4
                ? topNgramChars(grams, lengths, n, g, sc.counter)
                : dupNgramChars(grams, lengths, n, g, sc.counter);
        f[g - 2] = chars / (double) len;
        if (chars == 0) {
          // no g-gram occurs twice, so no longer one does (it would hold a repeated g-gram): the
          // fractions of the longer n-grams stay 0, and most texts skip most of this work
          break;
        }
      }
    }
    return f; // n-grams longer than the text: 0, none repeats
  }

  /** [number of pieces equal to an earlier one, their characters]; pieces compared by hash. */
  static long[] duplicates(String text, Spans pieces, Spans.Counter seen) {
    seen.reset(pieces.count);
    long n = 0;
    long chars = 0;
    for (int i = 0; i < pieces.count; i++) {
      if (!seen.add(Spans.hash(text, pieces.start[i], pieces.end[i]))) {
        n++;
        chars += pieces.length(i);
      }
    }
    return new long[] {n, chars};
  }

  /** An n-gram's hash folds its words' hashes into this, one {@link #ngramStep} per word. */
  static final long NGRAM_SEED = 0xcbf29ce484222325L;

  static long ngramStep(long g, long word) {
    g = (g ^ word) * 0x100000001b3L;
    return g ^ (g >>> 29);
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
   * once. N-grams are compared by 64-bit hash ({@code grams[i]}: the n-gram at word {@code i}); of
   * equally frequent ones the first to reach the count wins.
   */
  static long topNgramChars(long[] grams, int[] len, int words, int n, Spans.Counter counts) {
    if (words < n) {
      return 0;
    }
    counts.reset(words);
    int best = -1;
    int bestCount = 0;
    for (int i = 0; i + n <= words; i++) {
      int c = counts.increment(grams[i]);
      if (c > bestCount) {
        bestCount = c;
        best = i;
      }
    }
    return bestCount > 1 ? (long) chars(len, best, n) * bestCount : 0;
  }

  /** Characters in n-grams that repeat an earlier one (non-overlapping, as Gopher counts). */
  static long dupNgramChars(long[] grams, int[] len, int words, int n, Spans.Counter seen) {
    seen.reset(words);
    long total = 0;
    int i = 0;
    while (i + n <= words) {
      if (!seen.add(grams[i])) {
        total += chars(len, i, n);
        i += n;
      } else {
        i++;
      }
    }
    return total;
  }

  /** The words of the stripped text split at ASCII whitespace. */
  static Spans words(String text, Spans out) {
    int from = Spans.stripStart(text, 0, text.length());
    return out.words(text, from, Spans.stripEnd(text, from, text.length()));
  }

  // ---- Gopher quality ----
  private boolean gopher(Doc doc, String text, Spans words, Scratch sc) {
    int nonSymbol = 0;
    long nonSymbolChars = 0;
    int alpha = 0;
    int stop = 0;
    long[] stops =
        PACKED_STOP_WORDS.getOrDefault(
            doc.getLang() == null ? "en" : doc.getLang(), PACKED_STOP_WORDS.get("en"));
    for (int w = 0; w < words.count; w++) {
      boolean hasNonPunct = false;
      boolean hasAlpha = false;
      for (int i = words.start[w]; i < words.end[w]; i++) {
        char c = text.charAt(i);
        if (c < 128) { // ASCII: no table lookups
          boolean letter = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
          hasAlpha |= letter;
          hasNonPunct |= letter || (c >= '0' && c <= '9');
        } else if (Character.isLetter(c)) {
          hasAlpha = true;
          hasNonPunct = true;
        } else if (Character.isLetterOrDigit(c)) {
          hasNonPunct = true;
        }
      }
      if (hasNonPunct) {
        nonSymbol++;
        nonSymbolChars += words.length(w);
      }
      if (hasAlpha) {
        alpha++;
      }
      // lower-casing never shortens a word, so longer words cannot be stop words
      if (words.length(w) <= MAX_STOP_WORD_LENGTH
          && isStopWord(stops, text, words.start[w], words.end[w])) {
        stop++;
      }
    }
    int n = Math.max(1, words.count);
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
    Spans lines = sc.lines.splitLines(text, 0, text.length(), false, 1, false); // split("\n")
    int bullets = 0;
    int ellipsis = 0;
    for (int i = 0; i < lines.count; i++) {
      int s = Spans.stripStart(text, lines.start[i], lines.end[i]);
      int e = Spans.stripEnd(text, s, lines.end[i]);
      if (s < e && BULLETS.indexOf(text.charAt(s)) >= 0) {
        bullets++;
      }
      if ((e - s >= 3 && text.startsWith("...", e - 3)) || (e > s && text.charAt(e - 1) == '…')) {
        ellipsis++;
      }
    }
    if (!check(
            doc,
            "gopher.max-bullet-lines-ratio",
            bullets / (double) lines.count,
            true,
            q.maxBulletLinesRatio())
        || !check(
            doc,
            "gopher.max-ellipsis-lines-ratio",
            ellipsis / (double) lines.count,
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
  private String c4(Doc doc, String text, Scratch sc) {
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
      // lower-casing maps char to char unless it lengthens a character (only U+0130 does)
      boolean aligned = lower.length() == text.length();
      Spans lines = sc.lines.splitLines(text, 0, text.length(), false, 1, true);
      java.util.Arrays.fill(sc.phraseAt, UNKNOWN);
      StringBuilder kept = null;
      int dropped = 0;
      for (int i = 0; i < lines.count; i++) {
        int s = Spans.stripStart(text, lines.start[i], lines.end[i]);
        int e = Spans.stripEnd(text, s, lines.end[i]);
        boolean drop = false;
        if (s < e) {
          String hay = aligned ? lower : text.substring(s, e).toLowerCase(Locale.ROOT);
          int from = aligned ? s : 0;
          int to = aligned ? e : hay.length();
          drop =
              !endsWithTerminalPunct(text.charAt(e - 1))
                  || !wordsFit(text, s, e, sc.lineWords)
                  || (aligned
                      ? containsAny(lower, s, e, sc.phraseAt)
                      : containsAny(hay, from, to, DROPPED_LINE_PHRASES));
        }
        if (drop) {
          if (kept == null) {
            kept = new StringBuilder(text.length());
            for (int k = 0; k < i; k++) {
              appendLine(kept, text, lines, k);
            }
          }
          dropped++;
        } else if (kept != null) {
          appendLine(kept, text, lines, i);
        }
      }
      if (dropped > 0) {
        doc.signal("c4.lines-dropped", dropped);
        if (kept.length() > 0) {
          kept.setLength(kept.length() - 1); // the last line's '\n'
        }
        text = Cleaner.normalizeWhitespace(kept.toString()).strip();
      }
    }
    if (!check(doc, "c4.min-sentences", sentences(text), false, q.c4MinSentences())) {
      return null;
    }
    return text;
  }

  /** A kept line: stripped (empty when blank), followed by '\n'. */
  private static void appendLine(StringBuilder sb, String text, Spans lines, int i) {
    int s = Spans.stripStart(text, lines.start[i], lines.end[i]);
    int e = Spans.stripEnd(text, s, lines.end[i]);
    sb.append(text, s, e).append('\n');
  }

  /** At least the minimum number of words, none longer than the maximum. */
  private boolean wordsFit(String text, int from, int to, Spans words) {
    words.words(text, from, to);
    if (words.count < q.c4MinWordsPerLine()) {
      return false;
    }
    for (int w = 0; w < words.count; w++) {
      if (words.length(w) > q.c4MaxWordLength()) {
        return false;
      }
    }
    return true;
  }

  /** {@link Scratch#phraseAt}: not yet looked for. */
  static final int UNKNOWN = -2;

  /**
   * Whether {@code lower[from, to)} contains one of {@link #DROPPED_LINE_PHRASES}, for lines taken
   * in order: {@code at[p]} holds the first occurrence of phrase p at or after an earlier line's
   * start (-1: none), and moves on only when a line starts past it, so each phrase is searched for
   * once over the whole text (the JDK's vectorized indexOf) instead of once per line, where a
   * search for a rare first letter ran on past the line's end.
   */
  static boolean containsAny(String lower, int from, int to, int[] at) {
    for (int p = 0; p < DROPPED_LINE_PHRASES.length; p++) {
      int i = at[p];
      if (i != -1 && i < from) {
        at[p] = i = lower.indexOf(DROPPED_LINE_PHRASES[p], from);
      }
      if (i >= 0 && i + DROPPED_LINE_PHRASES[p].length() <= to) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code lower[from, to)} contains one of the needles. */
  static boolean containsAny(String lower, int from, int to, String[] needles) {
    for (String p : needles) {
      if (Spans.contains(lower, p, from, to)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Sentence ends as {@code [.!?]+["')\]]*(?=\s|$)} finds them: a run of terminal punctuation,
   * closing quotes or brackets, then whitespace or the end of the text.
   */
  static int sentences(String text) {
    int n = 0;
    int len = text.length();
    int i = 0;
    while (i < len) {
      char c = text.charAt(i);
      if (c != '.' && c != '!' && c != '?') {
        i++;
        continue;
      }
      int j = i + 1;
      while (j < len && isTerminal(text.charAt(j))) {
        j++;
      }
      int runEnd = j;
      while (j < len && isCloser(text.charAt(j))) {
        j++;
      }
      if (j == len || Spans.isAsciiSpace(text.charAt(j)) || isFinalTerminator(text, j)) {
        n++;
        i = j;
      } else {
        i = runEnd; // no later start inside the run can end elsewhere
      }
    }
    return n;
  }

  private static boolean isTerminal(char c) {
    return c == '.' || c == '!' || c == '?';
  }

  private static boolean isCloser(char c) {
    return c == '"' || c == '\'' || c == ')' || c == ']';
  }

  /** {@code $} also matches before a line terminator that ends the input. */
  private static boolean isFinalTerminator(String text, int j) {
    char c = text.charAt(j);
    int rest = text.length() - j;
    if (c == '\r') {
      return rest == 1 || (rest == 2 && text.charAt(j + 1) == '\n');
    }
    return rest == 1 && (c == '\u0085' || c == '\u2028' || c == '\u2029');
  }

  static boolean endsWithTerminalPunct(char c) {
    return c == '.' || c == '?' || c == '!' || c == '"' || c == '\'' || c == '”' || c == '…';
  }

  // ---- FineWeb ----
  /** {@code wordCount}: the text's words, or -1 to count them. */
  private void fineweb(Doc doc, String text, int wordCount, Scratch sc) {
    Spans all = sc.lines.splitLines(text, 0, text.length(), false, 1, false); // split("\n")
    Spans lines = sc.pieces;
    lines.clear();
    for (int i = 0; i < all.count; i++) {
      if (Spans.stripStart(text, all.start[i], all.end[i]) < all.end[i]) {
        lines.add(all.start[i], all.end[i]);
      }
    }
    if (lines.count == 0) {
      doc.reject("clean.empty", 0, "nothing left after the C4 line rules");
      return;
    }
    int punct = 0;
    int shortLines = 0;
    for (int i = 0; i < lines.count; i++) {
      int e = Spans.stripEnd(text, lines.start[i], lines.end[i]);
      if (endsWithTerminalPunct(text.charAt(e - 1))) {
        punct++;
      }
      if (lines.length(i) <= q.finewebShortLineChars()) {
        shortLines++;
      }
    }
    long[] dup = duplicates(text, lines, sc.counter);
    int newlines = count(text, "\n");
    int chars = Math.max(1, text.length() - newlines);
    int words = Math.max(1, wordCount >= 0 ? wordCount : words(text, sc.words).count);
    if (check(
            doc,
            "fineweb.line-punct-ratio",
            punct / (double) lines.count,
            false,
            q.finewebMinLinePunctRatio())
        && check(
            doc,
            "fineweb.short-line-ratio",
            shortLines / (double) lines.count,
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
          newlines / (double) words,
          true,
          q.finewebMaxNewlineRatio());
    }
  }
}
