package dev.forja.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * SentencePiece-style BPE on a small hand-made vocabulary, each id worked out by hand (the real
 * Llama 2 tokenizer is held to Hugging Face tokenizers in the training module's reference tests):
 * the leading {@code ▁} in each prepend scheme, words split or not, byte fallback, fused unknown
 * characters, merges across {@code ▁}, and the tokenizer.json written and read back.
 */
class SentencePieceTest {
  private static final String M = "\u2581";

  /** <unk> <s> </s>, bytes 0x00..0xFF, then the pieces below; merges build ▁a, ▁ab, ab, ▁▁. */
  private static BpeTokenizer tokenizer(BpeTokenizer.SentencePiece options) {
    List<String> pieces = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
    for (int b = 0; b < 256; b++) {
      pieces.add(String.format("<0x%02X>", b));
    }
    // 259 ▁, 260 a, 261 b, 262 ▁a, 263 ab, 264 ▁ab, 265 ▁▁, 266 é
    pieces.addAll(List.of(M, "a", "b", M + "a", "ab", M + "ab", M + M, "é"));
    List<int[]> merges =
        List.of(
            new int[] {259, 260}, new int[] {262, 261}, new int[] {260, 261}, new int[] {259, 259});
    Map<String, Integer> specials = new LinkedHashMap<>();
    specials.put("<unk>", 0);
    specials.put("<s>", 1);
    specials.put("</s>", 2);
    return BpeTokenizer.sentencePiece(pieces, merges, specials, options);
  }

  private static BpeTokenizer.SentencePiece options(
      BpeTokenizer.SentencePiece.Prepend prepend, boolean split, boolean byteFallback) {
    return new BpeTokenizer.SentencePiece(prepend, split, byteFallback, "<unk>", true);
  }

  @Test
  void llama2PrependsToEverySpanAndMergesAcrossWords() {
    BpeTokenizer t = tokenizer(options(BpeTokenizer.SentencePiece.Prepend.NORMALIZER, false, true));
    assertThat(t.encode("ab")).containsExactly(264); // ▁ab
    // "ab ab" -> ▁ab▁ab: one word, merged left to right by rank
    assertThat(t.encode("ab ab")).containsExactly(264, 264);
    // a leading space still gets the ▁ prepended: ▁▁ab -> ▁ + ▁ab (rank of ▁a beats ▁▁)
    assertThat(t.encode(" ab")).containsExactly(259, 264);
    // 'c' is not a piece: its byte 0x63 (id 3 + 0x63); 'é' is a piece
    assertThat(t.encode("ac")).containsExactly(262, 3 + 0x63);
    assertThat(t.encode("é")).containsExactly(259, 266);
    // after a special token the span is prepended again
    assertThat(t.encodeWithSpecials("a<s>b")).containsExactly(262, 1, 259, 261);
    assertThat(t.decode(t.encode(" ab ac é"))).isEqualTo(" ab ac é");
    assertThat(t.encode("")).isEmpty();
  }

  @Test
  void metaspaceSchemesAndSplitting() {
    BpeTokenizer first = tokenizer(options(BpeTokenizer.SentencePiece.Prepend.FIRST, false, true));
    assertThat(first.encode(" ab")).containsExactly(264); // starts with ▁: nothing prepended
    assertThat(first.encodeWithSpecials("a<s>b")).containsExactly(262, 1, 261); // not after <s>
    BpeTokenizer always =
        tokenizer(options(BpeTokenizer.SentencePiece.Prepend.ALWAYS, false, true));
    assertThat(always.encodeWithSpecials("a<s>b")).containsExactly(262, 1, 259, 261);
    BpeTokenizer never = tokenizer(options(BpeTokenizer.SentencePiece.Prepend.NEVER, false, true));
    assertThat(never.encode("ab")).containsExactly(263);
    assertThat(never.decode(never.encode("ab b"))).isEqualTo("ab b");
    // split: words cut before each ▁, so ▁▁ never forms across "a  b"
    BpeTokenizer split = tokenizer(options(BpeTokenizer.SentencePiece.Prepend.ALWAYS, true, true));
    BpeTokenizer whole = tokenizer(options(BpeTokenizer.SentencePiece.Prepend.ALWAYS, false, true));
    assertThat(whole.encode("a  b")).containsExactly(262, 265, 261);
    assertThat(split.encode("a  b")).containsExactly(262, 259, 259, 261);
  }

  @Test
  void withoutByteFallbackUnknownCharactersFuseIntoOneUnknownToken() {
    BpeTokenizer t = tokenizer(options(BpeTokenizer.SentencePiece.Prepend.NEVER, false, false));
    assertThat(t.encode("axyzb")).containsExactly(260, 0, 261);
    BpeTokenizer unfused =
        tokenizer(
            new BpeTokenizer.SentencePiece(
                BpeTokenizer.SentencePiece.Prepend.NEVER, false, false, "<unk>", false));
    assertThat(unfused.encode("axyb")).containsExactly(260, 0, 0, 261);
    assertThatThrownBy(
            () ->
                tokenizer(
                        new BpeTokenizer.SentencePiece(
                            BpeTokenizer.SentencePiece.Prepend.NEVER, false, false, null, false))
                    .encode("x"))
        .hasMessageContaining("U+0078 is not in the vocabulary");
  }

  @Test
  void tokenizerJsonRoundTripsEveryScheme() {
    for (BpeTokenizer.SentencePiece.Prepend p : BpeTokenizer.SentencePiece.Prepend.values()) {
      BpeTokenizer t = tokenizer(options(p, p == BpeTokenizer.SentencePiece.Prepend.ALWAYS, true));
      BpeTokenizer back = TokenizerFiles.fromTokenizerJson(TokenizerFiles.toTokenizerJson(t), "x");
      assertThat(back.sentencePiece()).as("%s", p).isEqualTo(t.sentencePiece());
      assertThat(back.hash()).isEqualTo(t.hash());
      assertThat(back.encodeWithSpecials(" ab<s>a  bc é"))
          .isEqualTo(t.encodeWithSpecials(" ab<s>a  bc é"));
    }
  }

  @Test
  void badSentencePieceFilesAreNamed() {
    String json =
        TokenizerFiles.toTokenizerJson(
            tokenizer(options(BpeTokenizer.SentencePiece.Prepend.NORMALIZER, false, true)));
    assertThatThrownBy(
            () ->
                TokenizerFiles.fromTokenizerJson(
                    json.replace("\"Prepend\"", "\"Lowercase\""), "t.json"))
        .hasMessageContaining("t.json: unsupported normalizer");
    assertThatThrownBy(
            () ->
                TokenizerFiles.fromTokenizerJson(
                    json.replaceFirst(
                        "\"unk_token\"\\s*:\\s*\"<unk>\"", "\"unk_token\": \"<nope>\""),
                    "t.json"))
        .hasMessageContaining("The unknown token '<nope>' is not in the vocabulary");
  }
}
