package dev.forja.prep;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How prep compares words across stages (blocklists, decontamination, near-dedup shingles):
 * Unicode-aware words of text folded to lower case, without accents, NFKC.
 */
public final class Words {
  private static final Pattern WORD = Pattern.compile("[\\p{L}\\p{N}][\\p{L}\\p{M}\\p{N}'’_-]*");

  private Words() {}

  /**
   * {@code Character.toLowerCase} of a char, ASCII answered without the Character tables (the
   * per-character loops of the stages and MinHash spend much of their time there otherwise).
   */
  public static int lowerCase(char c) {
    return c < 128 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : Character.toLowerCase((int) c);
  }

  /** Lowercase, NFKC, accents removed. */
  public static String fold(String s) {
    String n = Normalizer.normalize(s, Normalizer.Form.NFKD).toLowerCase(Locale.ROOT);
    StringBuilder sb = new StringBuilder(n.length());
    for (int i = 0; i < n.length(); i++) {
      char c = n.charAt(i);
      if (Character.getType(c) != Character.NON_SPACING_MARK) {
        sb.append(c);
      }
    }
    return Normalizer.normalize(sb.toString(), Normalizer.Form.NFKC);
  }

  /** The folded words of {@code s}. */
  public static List<String> tokens(String s) {
    List<String> out = new ArrayList<>();
    Matcher m = WORD.matcher(fold(s));
    while (m.find()) {
      out.add(m.group());
    }
    return out;
  }
}
