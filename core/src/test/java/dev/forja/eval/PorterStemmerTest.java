package dev.forja.eval;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The examples of Porter's paper and of NLTK's departures from it (the test against NLTK itself is
 * RougeOracleTest), and ROUGE with the stemmer.
 */
class PorterStemmerTest {
  private static void stems(String... pairs) {
    for (int i = 0; i < pairs.length; i += 2) {
      assertThat(PorterStemmer.stem(pairs[i])).as(pairs[i]).isEqualTo(pairs[i + 1]);
    }
  }

  @Test
  void porterPaperExamples() {
    stems(
        "caresses",
        "caress",
        "ponies",
        "poni",
        "cats",
        "cat",
        "feed",
        "feed",
        "agreed",
        "agre",
        "plastered",
        "plaster",
        "motoring",
        "motor",
        "hopping",
        "hop",
        "falling",
        "fall",
        "filing",
        "file",
        "relational",
        "relat",
        "triplicate",
        "triplic",
        "revival",
        "reviv",
        "adoption",
        "adopt",
        "controll",
        "control",
        "roll",
        "roll",
        "generalizations",
        "gener");
  }

  @Test
  void nltkDepartures() {
    stems(
        "dies",
        "die",
        "died",
        "die",
        "flies",
        "fli",
        "spied",
        "spi",
        "skies",
        "sky",
        "dying",
        "die",
        "happy",
        "happi",
        "enjoy",
        "enjoy",
        "fly",
        "fli",
        "hopefully",
        "hope",
        "archaeology",
        "archaeolog",
        "geology",
        "geolog",
        "proceed",
        "proceed",
        "ate",
        "ate");
  }

  @Test
  void rougeWithTheStemmerMatchesInflections() {
    assertThat(Rouge.n(1, "the cats were running", "a cat runs", false).fmeasure()).isZero();
    // stems: cat, were, run -- and "cat runs" -> cat, run: two of three reference tokens
    Rouge.Score s = Rouge.n(1, "the cats were running", "a cat runs", true);
    assertThat(s.recall()).isEqualTo(2.0 / 4);
    assertThat(s.precision()).isEqualTo(2.0 / 3);
    // tokens of three characters or fewer are not stemmed: "ponies" is, "sky" is not; four-letter
    // "-ies" words keep their "ie" (NLTK)
    assertThat(Rouge.tokenize("Ponies, ties and sky", true))
        .containsExactly("poni", "tie", "and", "sky");
  }
}
