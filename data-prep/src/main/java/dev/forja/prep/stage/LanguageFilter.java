package dev.forja.prep.stage;

import dev.forja.jvm.VectorApi;
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
   *   <li>the URL and Twitter normalizers' regular expressions run only when the text holds
   *       something they can match ({@code @}, {@code #}, {@code http}, a face, a laugh...), which
   *       is rare in prose; the others (hyphen and digit runs to spaces, shrinking, trimming, lower
   *       case) run in place over a reused char array ({@link #normalizeLower});
   *   <li>n-grams are packed into {@code int}s (or {@code long}s, for chars from U+0400 up) and
   *       looked up in open-addressing tables built once from the model, with no strings built per
   *       n-gram; the table of the Latin-script n-grams takes 1 MB where one table of all n-grams
   *       took 8 ({@link CompiledModel});
   *   <li>the unigrams and bigrams of Latin-1 chars (most of a Latin-script text's) have their
   *       parameters' offsets in direct tables ({@code uni}, {@code bi}: no hashing, no probe), and
   *       a document number stamped per table entry tells one already counted; other n-grams seen
   *       twice in a document are answered by a small set of the document's n-grams ({@link
   *       NgramSet}) without a probe of the model's tables;
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
    NgramSet seen = new NgramSet(); // the other n-grams this document has looked up
    // the document number at which each Latin-1 unigram and bigram was last looked up
    int[] uniSeen = new int[CompiledModel.LATIN1];
    int[] biSeen = new int[CompiledModel.LATIN1 * CompiledModel.LATIN1];
    int[] doc = {0};
    char[][] buffer = {new char[Math.min(maxChars, 1024)]};
    return text -> {
      int cut = Math.min(text.length(), maxChars);
      if (buffer[0].length < cut) {
        buffer[0] = new char[cut];
      }
      char[] a = buffer[0];
      text.getChars(0, cut, a, 0);
      int len = normalizeLower(a, cut);
      if (len < 0) { // a normalizer with regular expressions could apply: OpenNLP's own, in turn
        String s = lower(normalize(text.subSequence(0, cut)));
        len = s.length();
        if (a.length < len) {
          buffer[0] = a = new char[len];
        }
        s.getChars(0, len, a, 0);
      }
      seen.reset(3 * len);
      if (++doc[0] == Integer.MAX_VALUE) { // the numbers ran out: clear once
        java.util.Arrays.fill(uniSeen, 0);
        java.util.Arrays.fill(biSeen, 0);
        doc[0] = 1;
      }
      int d = doc[0];
      java.util.Arrays.fill(sums, 0);
      // each distinct n-gram once, in OpenNLP's order (1-, 2-, 3-gram at each position): the
      // Latin-1 unigrams and bigrams (most of them) by direct tables, the rest through the set
      for (int i = 0; i < len; i++) {
        char c0 = a[i];
        if (c0 < CompiledModel.LATIN1) {
          if (uniSeen[c0] != d) {
            uniSeen[c0] = d;
            addInfo(m, m.uni[c0], sums);
          }
        } else {
          addOther(m, a, i, 1, seen, sums);
        }
        if (i + 1 < len) {
          char c1 = a[i + 1];
          if ((c0 | c1) < CompiledModel.LATIN1) {
            int bi = c0 << 8 | c1;
            if (biSeen[bi] != d) {
              biSeen[bi] = d;
              addInfo(m, m.bi[bi], sums);
            }
          } else {
            addOther(m, a, i, 2, seen, sums);
          }
          if (i + 2 < len) {
            addOther(m, a, i, 3, seen, sums);
          }
        }
      }
      // softmax of the sums, as GISModel.eval, relative to the best one (the same quotient)
      int best = 0;
      for (int o = 1; o < m.outcomes.length; o++) {
        if (sums[o] > sums[best]) {
          best = o;
        }
      }
      double normal = 0;
      for (int o = 0; o < m.outcomes.length; o++) {
        normal += Math.exp((double) sums[o] - sums[best]);
      }
      return new Guess(m.languages[best], 1 / normal);
    };
  }

  private static void addInfo(CompiledModel m, int info, float[] sums) {
    if (info != CompiledModel.MISSING) {
      m.add(info, sums);
    }
  }

  /**
   * The {@code n}-gram at {@code i}, looked up unless the document had it already: packed as {@link
   * NgramSet} and {@link CompiledModel#findLarge} take it, and as {@link CompiledModel#findSmall}
   * does where its chars are below {@link CompiledModel#SMALL_CHAR}.
   */
  private static void addOther(
      CompiledModel m, char[] a, int i, int n, NgramSet seen, float[] sums) {
    long key = 0;
    int small = 0;
    for (int k = 0; k < n; k++) {
      char c = a[i + k];
      key = (key << 16) | c;
      small = small >= 0 && c < CompiledModel.SMALL_CHAR ? (small << 10) | c : -1;
    }
    long packed = key | ((long) n << 48);
    if (seen.add(packed)) {
      addInfo(m, small >= 0 ? m.findSmall(small | (n << 30)) : m.findLarge(packed), sums);
    }
  }

  /**
   * {@code lower(normalize(text))} in place for the common text, {@code a[0, n)}, in one pass per
   * step over the chars: returns the new length, or -1 (the chars left undefined) where the URL or
   * Twitter normalizers' regular expressions could match, or the text holds a surrogate or a char
   * from U+D800 up. Otherwise the emoji normalizer only turns each run of hyphens into a space and
   * the number normalizer each run of ASCII digits (the runs never touch: the space is in neither
   * class), then {@link #shrink}, {@code trim()} and {@link #lower} as OpenNLP applies them. The
   * triggers are checked on the text before the emoji normalizer, a superset of those after it: a
   * retweet's "rt-" becomes "rt ".
   */
  static int normalizeLower(char[] a, int n) {
    for (int i = 0; i < n; i++) {
      char c = a[i];
      if (c >= '\uD800' || c == '@' || c == '#') {
        return -1;
      }
      if (c == 'h' && i + 3 < n && a[i + 1] == 't' && a[i + 2] == 't' && a[i + 3] == 'p') {
        return -1; // URL
      }
      if ((c | 0x20) == 'r'
          && i + 2 < n
          && (a[i + 1] | 0x20) == 't'
          && (a[i + 2] == ' ' || a[i + 2] == ':' || a[i + 2] == '-')) {
        return -1; // \b(rt[ :])+
      }
      if ((c == ':' || c == ';' || c == 'x' || c == 'X') && i + 1 < n) {
        int j = a[i + 1] == '-' ? i + 2 : i + 1;
        if (j < n && "()dopDOP".indexOf(a[j]) >= 0) {
          return -1; // a face
        }
      }
    }
    if (mayLaugh(a, n)) {
      return -1;
    }
    int m = 0;
    for (int i = 0; i < n; ) {
      char c = a[i];
      boolean hyphen = c == '-';
      if (hyphen || (c >= '0' && c <= '9')) {
        int j = i + 1;
        while (j < n && (hyphen ? a[j] == '-' : a[j] >= '0' && a[j] <= '9')) {
          j++;
        }
        a[m++] = ' ';
        i = j;
      } else {
        a[m++] = a[i++];
      }
    }
    m = shrink(a, m);
    int from = 0;
    int to = m;
    while (from < to && a[from] <= ' ') {
      from++;
    }
    while (to > from && a[to - 1] <= ' ') {
      to--;
    }
    for (int i = from; i < to; i++) {
      int lower = dev.forja.prep.Words.lowerCase(a[i]);
      if (lower > Character.MAX_VALUE) {
        return -1;
      }
      a[i - from] = (char) lower;
    }
    return to - from;
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
      s = urlsAndMails(s);
    }
    if (s.indexOf('#') >= 0 || s.indexOf('@') >= 0 || mayRetweet(s) || mayFace(s) || mayLaugh(s)) {
      s = TwitterCharSequenceNormalizer.getInstance().normalize(s).toString();
    }
    if (hasDigit(s)) {
      s = NumberCharSequenceNormalizer.getInstance().normalize(s).toString();
    }
    return shrink(s).trim();
  }

  /** OpenNLP's {@link UrlCharSequenceNormalizer}'s URL expression (a literal prefix: fast). */
  private static final java.util.regex.Pattern URL =
      java.util.regex.Pattern.compile("https?://[-_.?&~;+=/#0-9A-Za-z]+");

  /**
   * What {@link UrlCharSequenceNormalizer} gives: each URL, then each e-mail address, replaced by a
   * space. Its e-mail expression {@code (?<![-+_.0-9A-Za-z])[-+_.0-9A-Za-z]+@[-0-9A-Za-z]+
   * [-.0-9A-Za-z]+} has no literal to search for, so the JDK tries it at every word of a text with
   * an '@'; here each '@' is looked at once: the lookbehind leaves one possible start, the whole
   * run of local-part chars before it (not inside an earlier match), and the match ends where the
   * run of domain chars after it ends, when that run starts with a char other than '.' and is two
   * chars or longer.
   */
  static String urlsAndMails(String text) {
    String s = text.contains("http") ? URL.matcher(text).replaceAll(" ") : text;
    int at = s.indexOf('@');
    if (at < 0) {
      return s;
    }
    int n = s.length();
    StringBuilder out = null;
    int copied = 0; // s[0, copied) is in out, and no match starts before it
    for (; at >= 0; at = s.indexOf('@', at + 1)) {
      int from = at;
      while (from > 0 && isMailLocal(s.charAt(from - 1))) {
        from--;
      }
      if (from == at || from < copied) {
        continue; // no local part, or its only possible start is inside an earlier match
      }
      int to = at + 1;
      if (to >= n || s.charAt(to) == '.' || !isMailDomain(s.charAt(to))) {
        continue;
      }
      while (to < n && isMailDomain(s.charAt(to))) {
        to++;
      }
      if (to - at - 1 < 2) {
        continue;
      }
      if (out == null) {
        out = new StringBuilder(n);
      }
      out.append(s, copied, from).append(' ');
      copied = to;
    }
    return out == null ? s : out.append(s, copied, n).toString();
  }

  /** {@code [-+_.0-9A-Za-z]}: the e-mail expression's local part. */
  private static boolean isMailLocal(char c) {
    return isAsciiAlnum(c) || c == '-' || c == '+' || c == '_' || c == '.';
  }

  /** {@code [-.0-9A-Za-z]}: the e-mail expression's domain ('.' not first). */
  private static boolean isMailDomain(char c) {
    return isAsciiAlnum(c) || c == '-' || c == '.';
  }

  private static boolean isAsciiAlnum(char c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
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
    return new String(a, 0, shrink(a, n));
  }

  /** {@link #shrink} of chars without surrogates, {@code a[0, n)}, in place: the new length. */
  static int shrink(char[] a, int n) {
    int m = 0;
    for (int i = 0; i < n; ) {
      if (Spans.isAsciiSpace(a[i]) && i + 1 < n && Spans.isAsciiSpace(a[i + 1])) {
        int j = i + 2;
        while (j < n && Spans.isAsciiSpace(a[j])) {
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
    return k;
  }

  private static String shrinkCodePoints(String text) {
    StringBuilder spaced = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); ) {
      int j = i;
      while (j < text.length() && Spans.isAsciiSpace(text.charAt(j))) {
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
    return a == b
        || (a < 128
            && b < 128
            && dev.forja.prep.Words.lowerCase((char) a)
                == dev.forja.prep.Words.lowerCase((char) b));
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
        if (Spans.isAsciiSpace(c) && Spans.isAsciiSpace(d)) {
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
      int lower = dev.forja.prep.Words.lowerCase(c);
      if (Character.isSurrogate(c) || lower > Character.MAX_VALUE) {
        return lowerCodePoints(s);
      }
      out[i] = (char) lower;
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
    return mayLaugh(s.toCharArray(), s.length());
  }

  private static boolean mayLaugh(char[] a, int n) {
    for (int i = 0; i + 2 < n; i++) {
      char c = a[i];
      if (c != 'h' && c != 'j' && c != 'H' && c != 'J') {
        continue;
      }
      c = (char) (c | 0x20);
      int j = i + 1;
      while (j < n && "aeiouAEIOU".indexOf(a[j]) >= 0) {
        j++;
      }
      if (j > i + 1 && j < n && (a[j] | 0x20) == c) {
        return true;
      }
    }
    return false;
  }

  /**
   * The n-grams of one document, packed as in {@link CompiledModel#findLarge} (50 bits), in a small
   * open-addressing table that stays in the core's first-level cache: a repeated n-gram (most
   * unigrams, half the bigrams) is answered here without a probe of the model's tables. Each slot
   * holds the document's number above bit 50, so a new document needs no clearing.
   */
  static final class NgramSet {
    private static final int SHIFT = 50;
    private long[] slots = new long[2048];
    private long doc;

    /** Empties the set, with room for {@code expected} n-grams. */
    void reset(int expected) {
      int cap = Integer.highestOneBit(Math.max(16, expected)) << 1;
      if (cap > slots.length) {
        slots = new long[cap];
        doc = 0;
      }
      if (++doc == 1 << (64 - SHIFT - 1)) { // the numbers ran out: clear once
        java.util.Arrays.fill(slots, 0);
        doc = 1;
      }
    }

    /** Adds a packed n-gram; true when the document did not have it. */
    boolean add(long packed) {
      long stamped = packed | (doc << SHIFT);
      int mask = slots.length - 1;
      int h = (int) ((packed * 0x9E3779B97F4A7C15L) >>> 40) & mask;
      while (true) {
        long e = slots[h];
        if (e == stamped) {
          return false;
        }
        if (e >>> SHIFT != doc) { // empty for this document
          slots[h] = stamped;
          return true;
        }
        h = (h + 1) & mask;
      }
    }
  }

  /**
   * The maxent model's predicates (n-grams) and their parameters, laid out for few cache misses:
   * the lookups, not the arithmetic, are what language identification costs. An n-gram of chars
   * below U+0400 (Latin, Greek and the like: almost every n-gram of the texts Forja filters) packs
   * into an int, looked up in a table of longs holding key and parameters' offset side by side (1
   * MB, the size of a core's second-level cache); other n-grams go to a second table of packed
   * longs. A predicate's offset ({@code info}) points at a dense row (the common n-grams:
   * parameters over all outcomes) or a sparse block (its outcome ids and parameters in one run of
   * ints).
   */
  static final class CompiledModel {
    private static volatile CompiledModel instance;

    /** {@link #findSmall}/{@link #findLarge}: not a predicate of the model. */
    static final int MISSING = Integer.MIN_VALUE;

    final String[] outcomes;

    /** The outcomes as Forja reports languages ({@link #iso1}). */
    final String[] languages;

    final int predicates;
    // n-grams of chars below SMALL_CHAR: (key << 32) | info, 0 for an empty slot
    private final long[] small;
    private final int smallShift;
    // other n-grams: packed key (length in bits 48-49, the chars below) and info side by side
    private final long[] large;
    private final int largeMask;

    /**
     * Sparse predicates' blocks: a count {@code n}, the {@code n} outcome ids as bytes four to an
     * int, then the {@code n} parameters as float bits. A block's offset is its info ({@code >=
     * 0}).
     */
    private final int[] sparse;

    /**
     * Predicates with many outcomes (the common n-grams) as rows over all outcomes (no gather),
     * each {@link #stride} floats long: the outcomes padded with zeros to whole vectors. A row at
     * offset {@code r} has info {@code ~r} ({@code < 0}).
     */
    private final float[] dense;

    final int stride;

    private final boolean vector;

    /** Chars below this (Latin-1) have their unigrams' and bigrams' infos in direct tables. */
    static final int LATIN1 = 256;

    /** The info of each Latin-1 char's unigram ({@link #MISSING} where not a predicate). */
    final int[] uni = new int[LATIN1];

    /** The info of each bigram of two Latin-1 chars, at {@code c0 << 8 | c1}. */
    final int[] bi = new int[LATIN1 * LATIN1];

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
      if (outcomes.length > Byte.MAX_VALUE + 1) {
        throw new IllegalStateException("more than 128 languages in the model: " + outcomes.length);
      }
      languages =
          java.util.Arrays.stream(outcomes).map(LanguageFilter::iso1).toArray(String[]::new);
      Map<String, opennlp.tools.ml.model.Context> pmap =
          (Map<String, opennlp.tools.ml.model.Context>)
              ((opennlp.tools.ml.model.AbstractModel) maxent).getDataStructures()[1];
      // dense rows in order of n-gram: the short, frequent n-grams share cache lines
      java.util.TreeMap<String, opennlp.tools.ml.model.Context> grams =
          new java.util.TreeMap<>(
              java.util.Comparator.comparingInt(String::length)
                  .thenComparing(java.util.Comparator.naturalOrder()));
      int smallCount = 0;
      int rows = 0;
      int sparseInts = 0;
      for (var en : pmap.entrySet()) {
        String g = en.getKey();
        if (g.isEmpty() || g.length() > 3) {
          continue; // never produced by 1- to 3-grams
        }
        grams.put(g, en.getValue());
        smallCount += smallKey(g) != 0 ? 1 : 0;
        int n = en.getValue().getOutcomes().length;
        if (n >= DENSE_OUTCOMES) {
          rows++;
        } else {
          sparseInts += 1 + (n + 3) / 4 + n;
        }
      }
      predicates = grams.size();
      stride =
          vector
              ? -Math.floorDiv(-outcomes.length, RowSums.lanes()) * RowSums.lanes()
              : outcomes.length;
      dense = new float[rows * stride];
      sparse = new int[sparseInts];
      int smallCap = capacity(smallCount);
      small = new long[smallCap];
      smallShift = 64 - Integer.numberOfTrailingZeros(smallCap);
      int largeCap = capacity(predicates - smallCount);
      large = new long[2 * largeCap];
      largeMask = largeCap - 1;
      rows = 0;
      int at = 0;
      for (var en : grams.entrySet()) {
        int[] ids = en.getValue().getOutcomes();
        double[] ps = en.getValue().getParameters();
        int info;
        if (ids.length >= DENSE_OUTCOMES) {
          int row = rows++ * stride;
          for (int i = 0; i < ids.length; i++) {
            dense[row + ids[i]] = (float) ps[i];
          }
          info = ~row;
        } else {
          info = at;
          sparse[at++] = ids.length;
          for (int i = 0; i < ids.length; i++) {
            sparse[at + i / 4] |= ids[i] << (8 * (i % 4));
          }
          at += (ids.length + 3) / 4;
          for (int i = 0; i < ids.length; i++) {
            sparse[at++] = Float.floatToRawIntBits((float) ps[i]);
          }
        }
        put(en.getKey(), info);
      }
      for (int c0 = 0; c0 < LATIN1; c0++) {
        uni[c0] = findSmall(c0 | (1 << 30));
        for (int c1 = 0; c1 < LATIN1; c1++) {
          bi[c0 << 8 | c1] = findSmall(((c0 << 10) | c1) | (2 << 30));
        }
      }
    }

    /** Slots for {@code n} keys, at most half full (linear probing stays short). */
    private static int capacity(int n) {
      return Integer.highestOneBit(Math.max(16, n * 2 - 1)) << 1;
    }

    private void put(String g, int info) {
      int key = smallKey(g);
      if (key != 0) {
        int h = smallSlot(key);
        while (small[h] != 0) {
          h = (h + 1) & (small.length - 1);
        }
        small[h] = ((long) key << 32) | (info & 0xFFFFFFFFL);
        return;
      }
      long packed = (long) g.length() << 48;
      for (int i = 0; i < g.length(); i++) {
        packed |= (long) g.charAt(i) << (16 * (g.length() - 1 - i));
      }
      int h = largeSlot(packed);
      while (large[2 * h] != 0) {
        h = (h + 1) & largeMask;
      }
      large[2 * h] = packed;
      large[2 * h + 1] = info;
    }

    /** Chars below this pack ten bits each into an int key. */
    static final int SMALL_CHAR = 1 << 10;

    /** The int key of an n-gram of chars below {@link #SMALL_CHAR} (length in bits 30-31), or 0. */
    static int smallKey(CharSequence g) {
      int key = 0;
      for (int i = 0; i < g.length(); i++) {
        char c = g.charAt(i);
        if (c >= SMALL_CHAR) {
          return 0;
        }
        key = (key << 10) | c;
      }
      return key | (g.length() << 30);
    }

    private static final int DENSE_OUTCOMES = 70;

    /** The Vector API is in this JVM ({@link RowSums}) and not switched off. */
    static final boolean VECTOR = VectorApi.AVAILABLE;

    private int smallSlot(int key) {
      return (int) ((key * 0x9E3779B97F4A7C15L) >>> smallShift);
    }

    private int largeSlot(long key) {
      long z = key * 0x9E3779B97F4A7C15L;
      return (int) (z >>> 40) & largeMask;
    }

    /** The info of an n-gram's {@link #smallKey}, or {@link #MISSING}. */
    int findSmall(int key) {
      int h = smallSlot(key);
      while (true) {
        long e = small[h];
        if ((int) (e >>> 32) == key) {
          return (int) e;
        }
        if (e == 0) {
          return MISSING;
        }
        h = (h + 1) & (small.length - 1);
      }
    }

    /**
     * The info of an n-gram packed as chars below bit 48 and its length above, or {@link #MISSING}.
     */
    int findLarge(long key) {
      int h = largeSlot(key);
      while (true) {
        long k = large[2 * h];
        if (k == key) {
          return (int) large[2 * h + 1];
        }
        if (k == 0) {
          return MISSING;
        }
        h = (h + 1) & largeMask;
      }
    }

    /** Adds the parameters of the predicate with this info to the outcomes' sums. */
    void add(int info, float[] sums) {
      if (info < 0) {
        int row = ~info;
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
      int n = sparse[info];
      int ids = info + 1;
      int ps = ids + ((n + 3) >> 2);
      for (int k = 0; k < n; k++) {
        int id = (sparse[ids + (k >> 2)] >>> ((k & 3) << 3)) & 0xFF;
        sums[id] += Float.intBitsToFloat(sparse[ps + k]);
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
