package dev.forja.prep.stage;

import dev.forja.prep.PrepConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import opennlp.tools.langdetect.LanguageDetectorModel;
import opennlp.tools.ml.model.MaxentModel;
import opennlp.tools.util.normalizer.NumberCharSequenceNormalizer;
import opennlp.tools.util.normalizer.TwitterCharSequenceNormalizer;
import opennlp.tools.util.normalizer.UrlCharSequenceNormalizer;

/**
 * Language identification with Apache OpenNLP's language detector and its 103-language model
 * ({@code opennlp-models-langdetect}, ISO 639-3 codes, reported here as ISO 639-1 where one
 * exists). Keeps documents whose best language is allowed with at least the minimum confidence.
 */
public final class LanguageFilter implements DocStage {
  private final PrepConfig.Language params;

  public LanguageFilter(PrepConfig.Language params) {
    this.params = params;
  }

  @Override
  public String name() {
    return "language";
  }

  @Override
  public Object params() {
    return params;
  }

  private static volatile LanguageDetectorModel model;

  /** The model, loaded once per JVM (about 10 MB). */
  static LanguageDetectorModel model() {
    if (model == null) {
      synchronized (LanguageFilter.class) {
        if (model == null) {
          try (InputStream in = LanguageFilter.class.getResourceAsStream("/langdetect-183.bin")) {
            if (in == null) {
              throw new IllegalStateException(
                  "langdetect-183.bin is not on the classpath (opennlp-models-langdetect)");
            }
            model = new LanguageDetectorModel(in);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      }
    }
    return model;
  }

  /** The best language of {@code text} (ISO 639-1 where one exists) and its confidence. */
  public record Guess(String lang, double confidence) {}

  /**
   * A detector for one thread: OpenNLP's probabilities, computed faster. It feeds the model the
   * same features as OpenNLP's own context generator (the distinct lower-cased character 1- to
   * 3-grams of the text after the factory's normalizers, in the factory's order) and evaluates it
   * the way {@code GISModel.eval} does (a softmax of the summed parameters), but:
   *
   * <ul>
   *   <li>each normalizer's regular expressions run only when the text holds a character they can
   *       match (a digit, {@code @}, {@code http}, a hyphen, a repeated character...), which is
   *       rare in prose;
   *   <li>n-grams are packed into {@code long}s and looked up in an open-addressing table built
   *       once from the model, with no strings built per n-gram;
   *   <li>an n-gram seen twice in a document is skipped by a reusable set of the document's
   *       predicates ({@link Spans.Counter});
   *   <li>the parameters are floats, summed in float, the common n-grams' rows with the Vector API
   *       ({@link RowSums}) where the JVM has it: the sums are memory- and add-bound, and this
   *       halves both. Probabilities stay within 5e-7 of OpenNLP's doubles (20,000 generated
   *       documents, the same language for each).
   * </ul>
   *
   * The test compares its probabilities with OpenNLP's {@code LanguageDetectorME} (to 1e-6) on
   * texts that exercise every normalizer, and the scalar loop's with the vector one's.
   */
  public static java.util.function.Function<String, Guess> detector(int maxChars) {
    return detector(CompiledModel.get(), maxChars);
  }

  static java.util.function.Function<String, Guess> detector(CompiledModel m, int maxChars) {
    float[] sums = new float[m.stride];
    Spans.Counter seen = new Spans.Counter(); // the predicates this document has added
    return text -> {
      CharSequence cut = text.length() > maxChars ? text.subSequence(0, maxChars) : text;
      String s = lower(normalize(cut));
      int len = s.length();
      seen.reset(3 * len);
      java.util.Arrays.fill(sums, 0);
      for (int i = 0; i < len; i++) {
        long key = 0;
        for (int n = 1; n <= 3 && i + n <= len; n++) {
          key = (key << 16) | s.charAt(i + n - 1);
          int p = m.find(key | ((long) n << 48));
          if (p >= 0 && seen.add(p)) {
            m.add(p, sums);
          }
        }
      }
      double normal = 0;
      int best = 0;
      for (int o = 0; o < m.outcomes.length; o++) {
        normal += StrictMath.exp(sums[o]);
        if (sums[o] > sums[best]) {
          best = o;
        }
      }
      return new Guess(iso1(m.outcomes[best]), StrictMath.exp(sums[best]) / normal);
    };
  }

  /**
   * OpenNLP's language-detector normalizers (emoji, URL and e-mail, Twitter, numbers, shrink), in
   * its factory's order, each one skipped when the text holds nothing it could change; {@code
   * trim()} always applies, as in OpenNLP.
   */
  static String normalize(CharSequence text) {
    String s = text.toString();
    if (mayEmoji(s)) {
      s = emoji(s);
    }
    if (s.contains("http") || s.indexOf('@') >= 0) {
      s = UrlCharSequenceNormalizer.getInstance().normalize(s).toString();
    }
    if (s.indexOf('#') >= 0 || s.indexOf('@') >= 0 || mayRetweet(s) || mayFace(s) || mayLaugh(s)) {
      s = TwitterCharSequenceNormalizer.getInstance().normalize(s).toString();
    }
    if (hasDigit(s)) {
      s = NumberCharSequenceNormalizer.getInstance().normalize(s).toString();
    }
    return shrink(s).trim();
  }

  /**
   * OpenNLP's {@code ShrinkCharSequenceNormalizer} without its regular expressions: runs of two or
   * more ASCII whitespace characters ({@code \\s{2,}}) become one space, then a code point repeated
   * three or more times ({@code (.)\\1{2,}}, case-insensitive for ASCII letters only, as {@code
   * CASE_INSENSITIVE} without {@code UNICODE_CASE} is; '.' never matches a line terminator) is kept
   * twice, in the case of its first occurrence. The caller trims. A supplementary code point never
   * forms a run: the JDK's case-insensitive back reference compares such a group against the wrong
   * chars, so OpenNLP's regex leaves a run of three of them alone (and throws on some longer ones
   * at the end of the text); in the pipeline the emoji normalizer has already replaced every
   * supplementary code point up to U+10FC00.
   */
  static String shrink(String text) {
    if (!mayShrink(text)) {
      return text;
    }
    int n = text.length();
    char[] a = new char[n];
    text.getChars(0, n, a, 0);
    for (char c : a) {
      if (Character.isSurrogate(c)) {
        return shrinkCodePoints(text);
      }
    }
    // without surrogates a char is a code point: the same two passes over arrays
    int m = 0;
    for (int i = 0; i < n; ) {
      if (isAsciiSpace(a[i]) && i + 1 < n && isAsciiSpace(a[i + 1])) {
        int j = i + 2;
        while (j < n && isAsciiSpace(a[j])) {
          j++;
        }
        a[m++] = ' ';
        i = j;
      } else {
        a[m++] = a[i++];
      }
    }
    int k = 0;
    for (int i = 0; i < m; ) {
      char c = a[i];
      int j = i + 1;
      if (!isLineTerminator(c)) {
        while (j < m && sameAsciiIgnoringCase(a[j], c)) {
          j++;
        }
      }
      if (j - i >= 3) {
        a[k++] = c;
        a[k++] = c;
      } else {
        while (i < j) {
          a[k++] = a[i++];
        }
      }
      i = j;
    }
    return new String(a, 0, k);
  }

  private static String shrinkCodePoints(String text) {
    StringBuilder spaced = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); ) {
      int j = i;
      while (j < text.length() && isAsciiSpace(text.charAt(j))) {
        j++;
      }
      if (j - i >= 2) {
        spaced.append(' ');
        i = j;
      } else {
        spaced.append(text.charAt(i++));
      }
    }
    String s = spaced.toString();
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      int w = Character.charCount(cp);
      int run = 1;
      int j = i + w;
      if (!isLineTerminator(cp) && w == 1) {
        while (j < s.length() && sameAsciiIgnoringCase(s.codePointAt(j), cp)) {
          j += Character.charCount(s.codePointAt(j));
          run++;
        }
      }
      if (run >= 3) {
        out.appendCodePoint(cp).appendCodePoint(cp);
        i = j;
      } else {
        out.appendCodePoint(cp);
        i += w;
      }
    }
    return out.toString();
  }

  private static boolean isLineTerminator(int cp) {
    return cp == '\n' || cp == '\r' || cp == '\u0085' || cp == '\u2028' || cp == '\u2029';
  }

  private static boolean sameAsciiIgnoringCase(int a, int b) {
    return a == b || (a < 128 && b < 128 && asciiLower(a) == asciiLower(b));
  }

  private static int asciiLower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
  }

  /**
   * Whether {@link #shrink} can change {@code text}: two ASCII whitespace characters in a row,
   * three chars in a row equal up to ASCII case, or a surrogate (whose code points the char scan
   * does not see). Collapsing whitespace never puts other characters side by side, so runs of three
   * are runs of the original text.
   */
  private static boolean mayShrink(String text) {
    int n = text.length();
    for (int i = 0; i < n; i++) {
      char c = text.charAt(i);
      if (Character.isSurrogate(c)) {
        return true;
      }
      if (i + 1 < n) {
        char d = text.charAt(i + 1);
        if (isAsciiSpace(c) && isAsciiSpace(d)) {
          return true;
        }
        if (i + 2 < n
            && sameAsciiIgnoringCase(c, d)
            && sameAsciiIgnoringCase(c, text.charAt(i + 2))) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * OpenNLP's {@code EmojiCharSequenceNormalizer} without its regular expression: its class {@code
   * [\uD83C-\uDBFF\uDC00-\uDFFF]} holds the code points U+D83C to U+10FC00 (the middle escapes form
   * one surrogate pair), '-' and U+DFFF; each maximal run of them becomes one space. Code points
   * are read as the regex reads them (a valid pair is one, a lone surrogate is itself).
   */
  static String emoji(String s) {
    StringBuilder out = new StringBuilder(s.length());
    int n = s.length();
    int i = 0;
    while (i < n) {
      int cp = s.codePointAt(i);
      if (emojiClass(cp)) {
        int j = i + Character.charCount(cp);
        while (j < n && emojiClass(s.codePointAt(j))) {
          j += Character.charCount(s.codePointAt(j));
        }
        out.append(' ');
        i = j;
      } else {
        out.appendCodePoint(cp);
        i += Character.charCount(cp);
      }
    }
    return out.toString();
  }

  private static boolean emojiClass(int cp) {
    return cp == '-' || (cp >= 0xD83C && cp <= 0x10FC00);
  }

  /** Lower case code point by code point, as OpenNLP's {@code NGramCharModel} does. */
  static String lower(String s) {
    int n = s.length();
    char[] out = new char[n];
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c < 128) {
        out[i] = c >= 'A' && c <= 'Z' ? (char) (c + 32) : c;
      } else if (Character.isSurrogate(c)) {
        return lowerCodePoints(s);
      } else {
        int lower = Character.toLowerCase((int) c);
        if (lower > Character.MAX_VALUE) {
          return lowerCodePoints(s);
        }
        out[i] = (char) lower;
      }
    }
    return new String(out);
  }

  private static String lowerCodePoints(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      sb.appendCodePoint(Character.toLowerCase(cp));
      i += Character.charCount(cp);
    }
    return sb.toString();
  }

  /**
   * OpenNLP's emoji pattern {@code [\\uD83C-\\uDBFF\\uDC00-\\uDFFF]+} reads as the range U+D83C to
   * U+10FC00 (the middle escapes form a surrogate pair), a literal '-' and U+DFFF, so it replaces
   * hyphens and every char from U+D83C up; the model's features include that.
   */
  private static boolean mayEmoji(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '-' || c >= '\uD83C') {
        return true;
      }
    }
    return false;
  }

  /** {@code \d} without UNICODE_CHARACTER_CLASS is [0-9]. */
  private static boolean hasDigit(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= '0' && c <= '9') {
        return true;
      }
    }
    return false;
  }

  /** {@code \b(rt[ :])+}, case-insensitive, needs "rt" followed by a space or colon. */
  private static boolean mayRetweet(String s) {
    for (int i = 0; i + 2 < s.length(); i++) {
      char a = s.charAt(i);
      char b = s.charAt(i + 1);
      char c = s.charAt(i + 2);
      if ((a == 'r' || a == 'R') && (b == 't' || b == 'T') && (c == ' ' || c == ':')) {
        return true;
      }
    }
    return false;
  }

  /** {@code [:;x]-?[()dop]}, case-insensitive. */
  private static boolean mayFace(String s) {
    for (int i = 0; i + 1 < s.length(); i++) {
      char a = s.charAt(i);
      if (a == ':' || a == ';' || a == 'x' || a == 'X') {
        int j = s.charAt(i + 1) == '-' ? i + 2 : i + 1;
        if (j < s.length() && "()dopDOP".indexOf(s.charAt(j)) >= 0) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * {@code ([hj])+([aieou])+(\1+\2+)+}, case-insensitive, needs an h or j, a run of vowels, and the
   * same h or j right after the run.
   */
  private static boolean mayLaugh(String s) {
    for (int i = 0; i + 2 < s.length(); i++) {
      char c = Character.toLowerCase(s.charAt(i));
      if (c != 'h' && c != 'j') {
        continue;
      }
      int j = i + 1;
      while (j < s.length() && "aeiouAEIOU".indexOf(s.charAt(j)) >= 0) {
        j++;
      }
      if (j > i + 1 && j < s.length() && Character.toLowerCase(s.charAt(j)) == c) {
        return true;
      }
    }
    return false;
  }

  private static boolean isAsciiSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
  }

  /**
   * The maxent model's predicates (n-grams) in an open-addressing table of packed keys (length in
   * bits 48-49, up to three UTF-16 units below), and each predicate's parameters per outcome.
   */
  static final class CompiledModel {
    private static volatile CompiledModel instance;

    final String[] outcomes;
    final int predicates;
    // open addressing, key and predicate side by side (one cache line per probe); key 0: empty
    private final long[] table;
    private final int mask;
    // sparse predicates' outcomes and parameters, flat: predicate p's are [start[p], start[p + 1])
    private final int[] start;
    private final byte[] outcomeIds;
    private final float[] params;

    /**
     * Predicates with many outcomes (the common n-grams) as rows over all outcomes (no gather),
     * each {@link #stride} floats long: the outcomes padded with zeros to whole vectors.
     */
    private final int[] denseRow;

    final int stride;

    private final boolean vector;

    private final float[] dense;

    static CompiledModel get() {
      if (instance == null) {
        synchronized (CompiledModel.class) {
          if (instance == null) {
            instance = new CompiledModel(model().getMaxentModel(), VECTOR);
          }
        }
      }
      return instance;
    }

    /** {@code vector}: sum dense rows with the Vector API (else a scalar loop, same sums). */
    @SuppressWarnings("unchecked")
    CompiledModel(MaxentModel maxent, boolean vector) {
      this.vector = vector;
      outcomes = new String[maxent.getNumOutcomes()];
      for (int i = 0; i < outcomes.length; i++) {
        outcomes[i] = maxent.getOutcome(i);
      }
      Map<String, opennlp.tools.ml.model.Context> pmap =
          (Map<String, opennlp.tools.ml.model.Context>)
              ((opennlp.tools.ml.model.AbstractModel) maxent).getDataStructures()[1];
      java.util.List<long[]> packed = new java.util.ArrayList<>();
      java.util.List<opennlp.tools.ml.model.Context> ctx = new java.util.ArrayList<>();
      for (var en : pmap.entrySet()) {
        String g = en.getKey();
        if (g.isEmpty() || g.length() > 3) {
          continue; // never produced by 1- to 3-grams
        }
        long key = 0;
        for (int i = 0; i < g.length(); i++) {
          key = (key << 16) | g.charAt(i);
        }
        packed.add(new long[] {key | ((long) g.length() << 48)});
        ctx.add(en.getValue());
      }
      predicates = ctx.size();
      int cap = Integer.highestOneBit(Math.max(16, predicates * 2 - 1)) << 1;
      table = new long[2 * cap];
      mask = cap - 1;
      denseRow = new int[predicates];
      start = new int[predicates + 1];
      int rows = 0;
      int entries = 0;
      for (var c : ctx) {
        if (c.getOutcomes().length >= DENSE_OUTCOMES) {
          rows++;
        } else {
          entries += c.getOutcomes().length;
        }
      }
      if (outcomes.length > Byte.MAX_VALUE + 1) {
        throw new IllegalStateException("more than 128 languages in the model: " + outcomes.length);
      }
      stride =
          vector
              ? -Math.floorDiv(-outcomes.length, RowSums.lanes()) * RowSums.lanes()
              : outcomes.length;
      dense = new float[rows * stride];
      outcomeIds = new byte[entries];
      params = new float[entries];
      // dense rows in order of n-gram length: the short, frequent n-grams share cache lines
      Integer[] order = new Integer[predicates];
      for (int p = 0; p < predicates; p++) {
        order[p] = p;
      }
      java.util.Arrays.sort(order, java.util.Comparator.comparingLong(p -> packed.get(p)[0]));
      rows = 0;
      for (int p : order) {
        denseRow[p] = -1;
        if (ctx.get(p).getOutcomes().length >= DENSE_OUTCOMES) {
          denseRow[p] = rows++ * stride;
        }
      }
      entries = 0;
      for (int p = 0; p < predicates; p++) {
        long key = packed.get(p)[0];
        int h = slot(key);
        while (table[2 * h] != 0) {
          h = (h + 1) & mask;
        }
        table[2 * h] = key;
        table[2 * h + 1] = p;
        int[] ids = ctx.get(p).getOutcomes();
        double[] ps = ctx.get(p).getParameters();
        start[p] = entries;
        if (denseRow[p] >= 0) {
          for (int i = 0; i < ids.length; i++) {
            dense[denseRow[p] + ids[i]] = (float) ps[i];
          }
        } else {
          for (int i = 0; i < ids.length; i++) {
            outcomeIds[entries + i] = (byte) ids[i];
            params[entries + i] = (float) ps[i];
          }
          entries += ids.length;
        }
      }
      start[predicates] = entries;
    }

    private static final int DENSE_OUTCOMES = 70;

    /** The Vector API is in this JVM ({@link RowSums}) and not switched off by -Dforja.vector. */
    static final boolean VECTOR =
        ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !"false".equals(System.getProperty("forja.vector"));

    private int slot(long key) {
      long z = key * 0x9E3779B97F4A7C15L;
      return (int) (z >>> 40) & mask;
    }

    /** The predicate of a packed n-gram, or -1. */
    int find(long key) {
      int h = slot(key);
      while (true) {
        long k = table[2 * h];
        if (k == key) {
          return (int) table[2 * h + 1];
        }
        if (k == 0) {
          return -1;
        }
        h = (h + 1) & mask;
      }
    }

    void add(int p, float[] sums) {
      int row = denseRow[p];
      if (row >= 0) {
        // adding the zeros of absent outcomes leaves those sums exactly as they were
        if (vector) {
          RowSums.add(sums, dense, row, stride);
        } else {
          for (int o = 0; o < stride; o++) {
            sums[o] += dense[row + o];
          }
        }
        return;
      }
      for (int i = start[p], end = start[p + 1]; i < end; i++) {
        sums[outcomeIds[i] & 0xFF] += params[i];
      }
    }
  }

  @Override
  public Processor open() {
    var detect = detector(params.maxChars());
    return doc -> {
      if (!doc.kept()) {
        return;
      }
      Guess g = detect.apply(doc.getText());
      doc.setLang(g.lang());
      doc.setLangScore(g.confidence());
      if (!params.enabled()) {
        return;
      }
      if (!params.allowed().isEmpty() && !params.allowed().contains(g.lang())) {
        doc.reject("language.not-allowed", g.confidence(), "language " + g.lang());
      } else if (g.confidence() < params.minConfidence()) {
        doc.reject("language.low-confidence", g.confidence(), "best guess " + g.lang());
      }
    };
  }

  private static final Map<String, String> ISO1 =
      Map.ofEntries(
          Map.entry("eng", "en"),
          Map.entry("spa", "es"),
          Map.entry("por", "pt"),
          Map.entry("fra", "fr"),
          Map.entry("deu", "de"),
          Map.entry("ita", "it"),
          Map.entry("nld", "nl"),
          Map.entry("cat", "ca"),
          Map.entry("glg", "gl"),
          Map.entry("ron", "ro"),
          Map.entry("pol", "pl"),
          Map.entry("rus", "ru"),
          Map.entry("ukr", "uk"),
          Map.entry("tur", "tr"),
          Map.entry("ara", "ar"),
          Map.entry("zho", "zh"),
          Map.entry("cmn", "zh"),
          Map.entry("jpn", "ja"),
          Map.entry("kor", "ko"),
          Map.entry("hin", "hi"),
          Map.entry("swe", "sv"),
          Map.entry("dan", "da"),
          Map.entry("nor", "no"),
          Map.entry("nob", "nb"),
          Map.entry("fin", "fi"),
          Map.entry("ces", "cs"),
          Map.entry("ell", "el"),
          Map.entry("heb", "he"),
          Map.entry("hun", "hu"),
          Map.entry("ind", "id"),
          Map.entry("vie", "vi"),
          Map.entry("eus", "eu"),
          Map.entry("lat", "la"));

  static String iso1(String iso3) {
    return ISO1.getOrDefault(iso3, iso3);
  }
}
