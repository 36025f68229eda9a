package dev.forja.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class BpeTrainerTest {
  static Map<String, Long> counts(String text) {
    Map<String, Long> m = new HashMap<>();
    PreTokenizer.GPT2.split(
        text, 0, text.length(), (s, e) -> m.merge(text.substring(s, e), 1L, Long::sum));
    return m;
  }

  @Test
  void learnsTheMostFrequentPairFirstAndBreaksTiesBySmallestIds() {
    Map<String, Long> c =
        new TreeMap<>(Map.of("hug", 10L, "pug", 5L, "pun", 12L, "bun", 4L, "hugs", 5L));
    BpeTrainer.Result r =
        new BpeTrainer(256 + 3 + 1, 1, List.of("<|endoftext|>"), PreTokenizer.Pattern.GPT2)
            .train(c);
    BpeTokenizer t = r.tokenizer();
    // "ug" occurs 10+5+5 = 20 times, "un" 16, then "hug" 15.
    assertThat(new String(t.tokenBytes(256))).isEqualTo("ug");
    assertThat(new String(t.tokenBytes(257))).isEqualTo("un");
    assertThat(new String(t.tokenBytes(258))).isEqualTo("hug");
    assertThat(t.specialId("<|endoftext|>")).isEqualTo(259);
    assertThat(t.encode("hugs pun")).hasSize(2 + 1 + 2); // hug s, " ", p un
    assertThat(r.stats().stopReason()).isEqualTo("vocabulary full");
  }

  @Test
  void encodingTheTrainingWordsReproducesTheTrainedSegmentation() {
    String text = randomText(new Random(5), 20_000);
    Map<String, Long> c = counts(text);
    BpeTrainer.Result r = new BpeTrainer(600, 2, List.of(), PreTokenizer.Pattern.GPT2).train(c);
    long tokens = 0;
    for (var e : c.entrySet()) {
      tokens += r.tokenizer().encode(e.getKey()).length * e.getValue();
    }
    assertThat(tokens).isEqualTo(r.stats().tokensAfter());
    assertThat(r.stats().bytesPerToken()).isGreaterThan(2.0);
    assertThat(r.tokenizer().decode(r.tokenizer().encode(text))).isEqualTo(text);
  }

  @Test
  void sameInputGivesTheSameTokenizerWhateverTheMapOrder() {
    String text = randomText(new Random(9), 5000);
    Map<String, Long> a = counts(text);
    Map<String, Long> b = new TreeMap<>(java.util.Comparator.reverseOrder());
    b.putAll(a);
    BpeTrainer trainer =
        new BpeTrainer(400, 1, List.of("<|endoftext|>", "<|pad|>"), PreTokenizer.Pattern.GPT2);
    assertThat(trainer.train(a).tokenizer().hash()).isEqualTo(trainer.train(b).tokenizer().hash());
  }

  @Test
  void minimumFrequencyStopsTraining() {
    BpeTrainer.Result r =
        new BpeTrainer(10_000, 3, List.of(), PreTokenizer.Pattern.GPT2)
            .train(Map.of("abc", 2L, "xyz", 5L));
    assertThat(r.stats().merges()).isEqualTo(2);
    assertThat(r.stats().stopReason()).contains("tokenizer.min-frequency=3");
  }

  @Test
  void vocabularyTooSmallForBytesAndSpecialsIsAConfigError() {
    assertThatThrownBy(
            () ->
                new BpeTrainer(
                    257, 1, List.of("<|endoftext|>", "<|pad|>"), PreTokenizer.Pattern.GPT2))
        .isInstanceOf(TokenizerException.class)
        .hasMessageContaining("set tokenizer.vocab-size to at least 258");
  }

  @Test
  void roundTripsAdversarialStringsExactly() {
    BpeTokenizer t =
        new BpeTrainer(800, 1, List.of("<|endoftext|>"), PreTokenizer.Pattern.CL100K)
            .train(counts(randomText(new Random(1), 10_000)))
            .tokenizer();
    for (String s : Adversarial.strings(new Random(2), 2000)) {
      assertThat(t.decode(t.encode(s))).isEqualTo(s);
      assertThat(t.decode(t.encodeWithSpecials(s))).isEqualTo(s);
    }
  }

  static String randomText(Random rnd, int words) {
    String[] vocab = {
      "the", "cat", "sat", "on", "mat", "and", "dog", "ran", "naïve", "café", "2026", "ação", "!",
      ",", "中文"
    };
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < words; i++) {
      sb.append(vocab[rnd.nextInt(vocab.length)]).append(rnd.nextInt(10) == 0 ? "\n" : " ");
    }
    return sb.toString();
  }
}
