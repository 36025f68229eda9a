package dev.forja.tokenizer;

import java.util.regex.Matcher;

/**
 * Splits text into pre-tokens, the units BPE merges never cross. {@link #GPT2} is a hand-written
 * matcher equivalent to GPT-2's regular expression (tested against {@link Pattern#GPT2}'s regex and
 * against tiktoken); other patterns run through {@link java.util.regex}. {@code \s} means Unicode
 * White_Space, as in tiktoken's Rust regex (Java's {@code \s} is ASCII-only by default).
 */
public abstract class PreTokenizer {

  /** Receives each pre-token as a {@code [start, end)} range of the text. */
  @FunctionalInterface
  public interface Sink {
    void accept(int start, int end);
  }

  /** The patterns a tokenizer may use. */
  public enum Pattern {
    /** GPT-2's pattern (also r50k, p50k). */
    GPT2(
        "gpt2",
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"),
    /** cl100k_base's pattern, also Llama 3's. */
    CL100K(
        "cl100k",
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
            + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
    /** Qwen2's, Qwen2.5's and Qwen3's: cl100k's with one digit a pre-token. */
    QWEN2(
        "qwen2",
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
            + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

    public final String id;
    public final String regex;

    Pattern(String id, String regex) {
      this.id = id;
      this.regex = regex;
    }

    /** The pattern with this name ({@code gpt2}, {@code cl100k}) or exactly this regex. */
    public static Pattern of(String nameOrRegex) {
      for (Pattern p : values()) {
        if (p.id.equals(nameOrRegex) || p.regex.equals(nameOrRegex)) {
          return p;
        }
      }
      throw new TokenizerException(
          "Unsupported pre-tokenizer pattern '"
              + nameOrRegex
              + "' (use gpt2, cl100k or qwen2, or the regex of one of them)");
    }
  }

  public abstract Pattern pattern();

  /** Calls {@code sink} for each pre-token of {@code text[from, to)} in order. */
  public abstract void split(CharSequence text, int from, int to, Sink sink);

  public static PreTokenizer of(Pattern p) {
    return p == Pattern.GPT2 ? GPT2 : new Regex(p);
  }

  public static PreTokenizer regex(Pattern p) {
    return new Regex(p);
  }

  /** The hand-written GPT-2 matcher. */
  public static final PreTokenizer GPT2 = new Gpt2();

  // ---- character classes ----
  static final byte OTHER = 0;
  static final byte LETTER = 1;
  static final byte NUMBER = 2;
  static final byte SPACE = 3;
  private static final byte[] BMP = new byte[65536];

  static {
    for (int c = 0; c < 65536; c++) {
      BMP[c] = classify(c);
    }
  }

  private static byte classify(int cp) {
    if (isWhiteSpace(cp)) {
      return SPACE;
    }
    int t = Character.getType(cp);
    return switch (t) {
      case Character.UPPERCASE_LETTER,
          Character.LOWERCASE_LETTER,
          Character.TITLECASE_LETTER,
          Character.MODIFIER_LETTER,
          Character.OTHER_LETTER ->
          LETTER;
      case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER ->
          NUMBER;
      default -> OTHER;
    };
  }

  /** Unicode's White_Space property, which {@code \s} means in tiktoken and Python. */
  static boolean isWhiteSpace(int c) {
    return (c >= 0x09 && c <= 0x0D)
        || c == 0x20
        || c == 0x85
        || c == 0xA0
        || c == 0x1680
        || (c >= 0x2000 && c <= 0x200A)
        || c == 0x2028
        || c == 0x2029
        || c == 0x202F
        || c == 0x205F
        || c == 0x3000;
  }

  static byte classAt(CharSequence s, int i, int to) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c) && i + 1 < to && Character.isLowSurrogate(s.charAt(i + 1))) {
      return classify(Character.toCodePoint(c, s.charAt(i + 1)));
    }
    return BMP[c];
  }

  static int width(CharSequence s, int i, int to) {
    return Character.isHighSurrogate(s.charAt(i))
            && i + 1 < to
            && Character.isLowSurrogate(s.charAt(i + 1))
        ? 2
        : 1;
  }

  private static final class Gpt2 extends PreTokenizer {
    @Override
    public Pattern pattern() {
      return Pattern.GPT2;
    }

    @Override
    public void split(CharSequence s, int from, int to, Sink sink) {
      int i = from;
      while (i < to) {
        int end = next(s, i, to);
        sink.accept(i, end);
        i = end;
      }
    }

    /** The end of the pre-token starting at {@code i}. */
    private static int next(CharSequence s, int i, int to) {
      char c = s.charAt(i);
      if (c == '\'' && i + 1 < to) {
        char d = s.charAt(i + 1);
        if (d == 's' || d == 't' || d == 'm' || d == 'd') {
          return i + 2;
        }
        if (i + 2 < to) {
          char e = s.charAt(i + 2);
          if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) {
            return i + 3;
          }
        }
      }
      int start = i;
      byte cls = classAt(s, i, to);
      if (c == ' ' && i + 1 < to) {
        byte nextCls = classAt(s, i + 1, to);
        if (nextCls != SPACE) {
          cls = nextCls;
          i++;
        }
      }
      if (cls != SPACE) {
        // ' ?\p{L}+', ' ?\p{N}+' or ' ?[^\s\p{L}\p{N}]+': a run of one class.
        while (i < to && classAt(s, i, to) == cls) {
          i += width(s, i, to);
        }
        return i;
      }
      // '\s+(?!\S)' then '\s+': a whitespace run, leaving its last character to the next token
      // when one follows.
      int j = i;
      int last = i;
      while (j < to && classAt(s, j, to) == SPACE) {
        last = j;
        j += width(s, j, to);
      }
      if (j == to || last == start) {
        return j;
      }
      return last;
    }
  }

  private static final class Regex extends PreTokenizer {
    private final Pattern pattern;
    private final java.util.regex.Pattern compiled;

    Regex(Pattern pattern) {
      this.pattern = pattern;
      this.compiled =
          java.util.regex.Pattern.compile(
              pattern.regex, java.util.regex.Pattern.UNICODE_CHARACTER_CLASS);
    }

    @Override
    public Pattern pattern() {
      return pattern;
    }

    @Override
    public void split(CharSequence text, int from, int to, Sink sink) {
      Matcher m = compiled.matcher(text);
      m.region(from, to);
      while (m.find()) {
        sink.accept(m.start(), m.end());
      }
    }
  }
}
