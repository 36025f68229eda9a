package dev.forja.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * BLEU and chrF on cases computed by hand (sacreBLEU itself judges them in SacreBleuOracleTest).
 */
class BleuTest {
  @Test
  void handComputedCases() {
    assertThat(Bleu.sentence("the cat sat on the mat", List.of("the cat sat on the mat")).score())
        .isCloseTo(100, within(1e-9));
    assertThat(Bleu.sentence("", List.of("the cat")).score()).isZero();
    // 13a splits punctuation, keeps 1,000.50 and splits a dash after a digit
    assertThat(Bleu.Tokenizer13a.tokenize("It costs 1,000.50 (3-4), ok."))
        .containsExactly("It", "costs", "1,000.50", "(", "3", "-", "4", ")", ",", "ok", ".");
    // "the cat" against "the cat sat": precisions 100 (unigrams 2/2, bigrams 1/1), order 2 with
    // the effective order; brevity penalty exp(1 - 3/2)
    Bleu.Score s = Bleu.sentence("the cat", List.of("the cat sat"));
    assertThat(s.brevityPenalty()).isCloseTo(Math.exp(-0.5), within(1e-12));
    assertThat(s.score()).isCloseTo(100 * Math.exp(-0.5), within(1e-9));
    assertThat(s.signature())
        .isEqualTo("nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0");
    assertThat(Chrf.sentence("abc", List.of("abc"))).isCloseTo(100, within(1e-9));
    assertThatThrownBy(() -> Bleu.corpus(List.of("a", "b"), List.of(List.of("a"))))
        .hasMessageContaining("a reference stream has 1 lines for 2 hypotheses");
  }
}
