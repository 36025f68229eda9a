package dev.forja.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/** ROUGE on cases computed by hand, the first being rouge-score's own README example. */
class RougeTest {
  static final String TARGET = "The quick brown fox jumps over the lazy dog";
  static final String PREDICTION = "The quick brown dog jumps on the log.";

  @Test
  void rougeScoresReadmeExample() {
    Rouge.Score r1 = Rouge.n(1, TARGET, PREDICTION);
    assertThat(r1.precision()).isCloseTo(0.75, within(1e-12));
    assertThat(r1.recall()).isCloseTo(6.0 / 9, within(1e-12));
    assertThat(r1.fmeasure()).isCloseTo(0.7058823529411765, within(1e-12));
    Rouge.Score rl = Rouge.l(TARGET, PREDICTION);
    assertThat(rl.precision()).isCloseTo(0.625, within(1e-12));
    assertThat(rl.recall()).isCloseTo(0.5555555555555556, within(1e-12));
    assertThat(rl.fmeasure()).isCloseTo(0.5882352941176471, within(1e-12));
    // bigrams: "the quick" and "quick brown" of 7 predicted and 8 reference bigrams
    Rouge.Score r2 = Rouge.n(2, TARGET, PREDICTION);
    assertThat(r2.precision()).isCloseTo(2.0 / 7, within(1e-12));
    assertThat(r2.recall()).isCloseTo(2.0 / 8, within(1e-12));
  }

  @Test
  void summaryLevelLcsUnitesEachReferenceSentencesLcsAndClipsByCounts() {
    // "a b c" meets "a c" (a, c); "d e" meets "e d" in one token (d, as the backtrack finds it)
    Rouge.Score s = Rouge.lsum("a b c\nd e", "a c\ne d");
    assertThat(s.precision()).isCloseTo(3.0 / 4, within(1e-12));
    assertThat(s.recall()).isCloseTo(3.0 / 5, within(1e-12));
    assertThat(s.fmeasure()).isCloseTo(2 * 0.75 * 0.6 / 1.35, within(1e-12));
    // on one line Lsum is ROUGE-L
    assertThat(Rouge.lsum(TARGET, PREDICTION)).isEqualTo(Rouge.l(TARGET, PREDICTION));
  }

  @Test
  void tokenizerEdgeCasesAndEmptyInputs() {
    assertThat(Rouge.tokenize("Hello, World! It's 2024—café"))
        .containsExactly("hello", "world", "it", "s", "2024", "caf");
    assertThat(Rouge.n(1, TARGET, "").fmeasure()).isZero();
    assertThat(Rouge.l("", PREDICTION).fmeasure()).isZero();
    assertThat(Rouge.lsum(TARGET, "\n\n").fmeasure()).isZero();
    // several references: the best F1
    assertThat(Rouge.best(List.of("zzz", TARGET), PREDICTION, (t, p) -> Rouge.n(1, t, p)))
        .isEqualTo(Rouge.n(1, TARGET, PREDICTION));
  }
}
