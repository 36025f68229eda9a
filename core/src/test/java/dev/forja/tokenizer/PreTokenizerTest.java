package dev.forja.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PreTokenizerTest {
  static List<String> pieces(PreTokenizer p, String text) {
    List<String> out = new ArrayList<>();
    p.split(text, 0, text.length(), (s, e) -> out.add(text.substring(s, e)));
    return out;
  }

  @Test
  void handWrittenGpt2MatcherEqualsTheRegex() {
    PreTokenizer regex = PreTokenizer.regex(PreTokenizer.Pattern.GPT2);
    for (String s : Adversarial.strings(new Random(3), 20_000)) {
      assertThat(pieces(PreTokenizer.GPT2, s))
          .as(Adversarial.escape(s))
          .isEqualTo(pieces(regex, s));
    }
  }

  @Test
  void splitsLikeGpt2() {
    assertThat(pieces(PreTokenizer.GPT2, "Hello, it's  2026\n\n world"))
        .containsExactly("Hello", ",", " it", "'s", " ", " 2026", "\n\n", " world");
    // Non-breaking space is whitespace for GPT-2 (Unicode White_Space), unlike Java's default \s.
    assertThat(pieces(PreTokenizer.GPT2, "a\u00a0\u00a0b"))
        .containsExactly("a", "\u00a0", "\u00a0", "b");
  }
}
