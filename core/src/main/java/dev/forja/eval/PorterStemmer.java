package dev.forja.eval;

import java.util.Map;
import java.util.function.Predicate;

/**
 * The Porter stemmer as NLTK's {@code PorterStemmer} computes it in its default mode ({@code
 * NLTK_EXTENSIONS}), which rouge-score's and torchmetrics' ROUGE use: Porter's five steps with
 * NLTK's departures (a table of irregular forms, {@code -ies}/{@code -ied} of four-letter words to
 * {@code -ie}, {@code y} to {@code i} only after a consonant, {@code -alli}, {@code -fulli} and
 * {@code -logi} in step 2, {@code bli} for {@code abli}, a two-letter vowel-consonant stem counting
 * as {@code cvc}). In each step the first rule whose suffix matches decides, as in NLTK. Input is
 * lower-cased first.
 */
public final class PorterStemmer {
  private static final Map<String, String> IRREGULAR =
      Map.ofEntries(
          Map.entry("sky", "sky"),
          Map.entry("skies", "sky"),
          Map.entry("dying", "die"),
          Map.entry("lying", "lie"),
          Map.entry("tying", "tie"),
          Map.entry("news", "news"),
          Map.entry("innings", "inning"),
          Map.entry("inning", "inning"),
          Map.entry("outings", "outing"),
          Map.entry("outing", "outing"),
          Map.entry("cannings", "canning"),
          Map.entry("canning", "canning"),
          Map.entry("howe", "howe"),
          Map.entry("proceed", "proceed"),
          Map.entry("exceed", "exceed"),
          Map.entry("succeed", "succeed"));

  private PorterStemmer() {}

  /** A suffix rule: {@code suffix} becomes {@code replacement} where {@code condition} holds. */
  private record Rule(String suffix, String replacement, Predicate<String> condition) {}

  public static String stem(String word) {
    String w = word.toLowerCase(java.util.Locale.ROOT);
    String irregular = IRREGULAR.get(w);
    if (irregular != null) {
      return irregular;
    }
    if (word.length() <= 2) {
      return w;
    }
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    return step5b(w);
  }

  private static boolean[] consonants(String w) {
    boolean[] c = new boolean[w.length()];
    for (int i = 0; i < c.length; i++) {
      char ch = w.charAt(i);
      if ("aeiou".indexOf(ch) >= 0) {
        c[i] = false;
      } else if (ch == 'y') {
        c[i] = i == 0 || !c[i - 1];
      } else {
        c[i] = true;
      }
    }
    return c;
  }

  private static boolean consonant(String w, int i) {
    return consonants(w.substring(0, i + 1))[i];
  }

  /** Porter's m: the number of vowel-consonant sequences. */
  static int measure(String stem) {
    boolean[] c = consonants(stem);
    int m = 0;
    for (int i = 1; i < c.length; i++) {
      if (!c[i - 1] && c[i]) {
        m++;
      }
    }
    return m;
  }

  private static boolean positive(String stem) {
    return measure(stem) > 0;
  }

  private static boolean hasVowel(String stem) {
    for (boolean c : consonants(stem)) {
      if (!c) {
        return true;
      }
    }
    return false;
  }

  private static boolean doubleConsonant(String w) {
    int n = w.length();
    return n >= 2 && w.charAt(n - 1) == w.charAt(n - 2) && consonant(w, n - 1);
  }

  private static boolean cvc(String w) {
    int n = w.length();
    if (n >= 3) {
      boolean[] c = consonants(w);
      char last = w.charAt(n - 1);
      if (c[n - 3] && !c[n - 2] && c[n - 1] && last != 'w' && last != 'x' && last != 'y') {
        return true;
      }
    }
    return n == 2 && !consonant(w, 0) && consonant(w, 1);
  }

  /** The first rule whose suffix {@code w} ends with decides: replaced if its condition holds. */
  private static String apply(String w, Rule... rules) {
    for (Rule r : rules) {
      if (r.suffix().equals("*d")) {
        if (doubleConsonant(w)) {
          String stem = w.substring(0, w.length() - 2);
          return r.condition().test(stem) ? stem + r.replacement() : w;
        }
        continue;
      }
      if (w.endsWith(r.suffix())) {
        String stem = w.substring(0, w.length() - r.suffix().length());
        return r.condition() == null || r.condition().test(stem) ? stem + r.replacement() : w;
      }
    }
    return w;
  }

  private static String step1a(String w) {
    if (w.endsWith("ies") && w.length() == 4) {
      return w.substring(0, 1) + "ie";
    }
    return apply(
        w,
        new Rule("sses", "ss", null),
        new Rule("ies", "i", null),
        new Rule("ss", "ss", null),
        new Rule("s", "", null));
  }

  private static String step1b(String w) {
    if (w.endsWith("ied")) {
      return w.substring(0, w.length() - 3) + (w.length() == 4 ? "ie" : "i");
    }
    if (w.endsWith("eed")) {
      String stem = w.substring(0, w.length() - 3);
      return measure(stem) > 0 ? stem + "ee" : w;
    }
    String stem = null;
    for (String suffix : new String[] {"ed", "ing"}) {
      if (w.endsWith(suffix)) {
        String s = w.substring(0, w.length() - suffix.length());
        if (hasVowel(s)) {
          stem = s;
          break;
        }
      }
    }
    if (stem == null) {
      return w;
    }
    char last = stem.isEmpty() ? 0 : stem.charAt(stem.length() - 1);
    return apply(
        stem,
        new Rule("at", "ate", null),
        new Rule("bl", "ble", null),
        new Rule("iz", "ize", null),
        new Rule("*d", String.valueOf(last), s -> last != 'l' && last != 's' && last != 'z'),
        new Rule("", "e", s -> measure(s) == 1 && cvc(s)));
  }

  private static String step1c(String w) {
    return apply(w, new Rule("y", "i", s -> s.length() > 1 && consonant(s, s.length() - 1)));
  }

  private static String step2(String w) {
    if (w.endsWith("alli") && positive(w.substring(0, w.length() - 4))) {
      return step2(w.substring(0, w.length() - 4) + "al");
    }
    Predicate<String> p = PorterStemmer::positive;
    String word = w;
    return apply(
        w,
        new Rule("ational", "ate", p),
        new Rule("tional", "tion", p),
        new Rule("enci", "ence", p),
        new Rule("anci", "ance", p),
        new Rule("izer", "ize", p),
        new Rule("bli", "ble", p),
        new Rule("alli", "al", p),
        new Rule("entli", "ent", p),
        new Rule("eli", "e", p),
        new Rule("ousli", "ous", p),
        new Rule("ization", "ize", p),
        new Rule("ation", "ate", p),
        new Rule("ator", "ate", p),
        new Rule("alism", "al", p),
        new Rule("iveness", "ive", p),
        new Rule("fulness", "ful", p),
        new Rule("ousness", "ous", p),
        new Rule("aliti", "al", p),
        new Rule("iviti", "ive", p),
        new Rule("biliti", "ble", p),
        new Rule("fulli", "ful", p),
        new Rule("logi", "log", s -> positive(word.substring(0, word.length() - 3))));
  }

  private static String step3(String w) {
    Predicate<String> p = PorterStemmer::positive;
    return apply(
        w,
        new Rule("icate", "ic", p),
        new Rule("ative", "", p),
        new Rule("alize", "al", p),
        new Rule("iciti", "ic", p),
        new Rule("ical", "ic", p),
        new Rule("ful", "", p),
        new Rule("ness", "", p));
  }

  private static String step4(String w) {
    Predicate<String> m1 = s -> measure(s) > 1;
    return apply(
        w,
        new Rule("al", "", m1),
        new Rule("ance", "", m1),
        new Rule("ence", "", m1),
        new Rule("er", "", m1),
        new Rule("ic", "", m1),
        new Rule("able", "", m1),
        new Rule("ible", "", m1),
        new Rule("ant", "", m1),
        new Rule("ement", "", m1),
        new Rule("ment", "", m1),
        new Rule("ent", "", m1),
        new Rule(
            "ion",
            "",
            s ->
                measure(s) > 1
                    && !s.isEmpty()
                    && (s.charAt(s.length() - 1) == 's' || s.charAt(s.length() - 1) == 't')),
        new Rule("ou", "", m1),
        new Rule("ism", "", m1),
        new Rule("ate", "", m1),
        new Rule("iti", "", m1),
        new Rule("ous", "", m1),
        new Rule("ive", "", m1),
        new Rule("ize", "", m1));
  }

  private static String step5a(String w) {
    if (w.endsWith("e")) {
      String stem = w.substring(0, w.length() - 1);
      int m = measure(stem);
      if (m > 1 || (m == 1 && !cvc(stem))) {
        return stem;
      }
    }
    return w;
  }

  private static String step5b(String w) {
    String word = w;
    return apply(w, new Rule("ll", "l", s -> measure(word.substring(0, word.length() - 1)) > 1));
  }
}
