package dev.forja.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.tokenizer.BpeTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The continuation printed after a prompt, for tokenizers whose decoding depends on position. */
class GenerateCommandTest {
  @Test
  void aSentencePieceContinuationKeepsItsLeadingSpace() {
    String m = "\u2581";
    List<String> pieces = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
    for (int b = 0; b < 256; b++) {
      pieces.add(String.format("<0x%02X>", b));
    }
    pieces.addAll(List.of(m, "a", "b", m + "a", m + "ab")); // 259 .. 263
    BpeTokenizer tok =
        BpeTokenizer.sentencePiece(
            pieces,
            List.of(new int[] {259, 260}, new int[] {262, 261}),
            Map.of("<unk>", 0, "<s>", 1, "</s>", 2),
            new BpeTokenizer.SentencePiece(
                BpeTokenizer.SentencePiece.Prepend.NORMALIZER, false, true, "<unk>", true));
    int[] prompt = tok.encode("ab");
    int[] out = {263, 262}; // "▁ab▁a"
    assertThat(tok.decode(out)).isEqualTo("ab a"); // alone, the leading ▁ is dropped
    assertThat(dev.forja.training.generate.Generator.continuation(tok, prompt, out))
        .isEqualTo(" ab a");
  }
}
