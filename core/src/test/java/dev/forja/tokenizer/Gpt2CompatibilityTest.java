package dev.forja.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** GPT-2's real vocabulary files give tiktoken's ids, on real and adversarial text. */
class Gpt2CompatibilityTest {
  static BpeTokenizer gpt2;

  @BeforeAll
  static void load() throws Exception {
    gpt2 =
        TokenizerFiles.fromVocabAndMerges(
            Files.readString(NodeReference.gpt2Vocab()),
            Files.readString(NodeReference.gpt2Merges()),
            List.of(),
            PreTokenizer.Pattern.GPT2);
  }

  static List<String> samples() throws Exception {
    List<String> texts = new ArrayList<>();
    texts.addAll(
        List.of(
            new ObjectMapper()
                .readValue(
                    Gpt2CompatibilityTest.class.getResourceAsStream("/tokenizer/samples.json"),
                    String[].class)));
    // Real English prose that every Debian machine carries.
    for (String name : List.of("GPL-3", "Apache-2.0", "Artistic")) {
      Path p = Path.of("/usr/share/common-licenses", name);
      if (Files.exists(p)) {
        texts.add(Files.readString(p));
      }
    }
    texts.add(Files.readString(Path.of("../README.md")));
    return texts;
  }

  @Test
  void gpt2FilesLoadWithTheirShape() {
    assertThat(gpt2.vocabSize()).isEqualTo(50257);
    assertThat(gpt2.merges()).hasSize(50000);
    assertThat(gpt2.specials()).containsEntry("<|endoftext|>", 50256);
    assertThat(gpt2.encode("Hello world")).containsExactly(15496, 995);
  }

  @Test
  void idsEqualTiktokenOnRealText() throws Exception {
    List<String> texts = samples();
    int[][] expected = NodeReference.encode("gpt2", texts);
    for (int i = 0; i < texts.size(); i++) {
      assertThat(gpt2.encode(texts.get(i)))
          .as("text %d: %s", i, abbreviate(texts.get(i)))
          .containsExactly(expected[i]);
      assertThat(gpt2.decode(gpt2.encode(texts.get(i)))).isEqualTo(texts.get(i));
    }
  }

  @Test
  void idsEqualTiktokenOnRandomAdversarialStrings() throws Exception {
    List<String> texts = Adversarial.strings(new Random(7), 3000);
    int[][] expected = NodeReference.encode("gpt2", texts);
    for (int i = 0; i < texts.size(); i++) {
      assertThat(gpt2.encode(texts.get(i)))
          .as("string %d: %s", i, Adversarial.escape(texts.get(i)))
          .containsExactly(expected[i]);
    }
  }

  @Test
  void cl100kPatternGivesTiktokensCl100kIds() throws Exception {
    BpeTokenizer cl100k =
        TiktokenRanks.load(
            NodeReference.dir().resolve("node_modules/tiktoken/encoders/cl100k_base.json"),
            PreTokenizer.Pattern.CL100K);
    List<String> texts = new ArrayList<>(samples());
    texts.addAll(Adversarial.strings(new Random(11), 2000));
    int[][] expected = NodeReference.encode("cl100k_base", texts);
    for (int i = 0; i < texts.size(); i++) {
      assertThat(cl100k.encode(texts.get(i)))
          .as("text %d: %s", i, abbreviate(texts.get(i)))
          .containsExactly(expected[i]);
    }
  }

  @Test
  void longWhitespaceRunsAndLongWordsUseTheHeapPathWithTheSameIds() throws Exception {
    List<String> texts =
        List.of(
            " ".repeat(5000) + "x",
            "\n".repeat(3000),
            "a".repeat(4000),
            "ab".repeat(3000) + " the end",
            "🙂".repeat(300),
            "的".repeat(700));
    int[][] expected = NodeReference.encode("gpt2", texts);
    for (int i = 0; i < texts.size(); i++) {
      assertThat(gpt2.encode(texts.get(i))).containsExactly(expected[i]);
    }
  }

  @Test
  void specialTokensAreWholeOnlyWhenAsked() {
    String text = "a<|endoftext|>b";
    assertThat(gpt2.encodeWithSpecials(text)).containsExactly(64, 50256, 65);
    assertThat(gpt2.encode(text)).doesNotContain(50256);
    assertThat(gpt2.decode(gpt2.encodeWithSpecials(text))).isEqualTo(text);
  }

  @Test
  void bothFileFormatsRoundTripToTheSameTokenizer() {
    BpeTokenizer viaHf =
        TokenizerFiles.fromTokenizerJson(TokenizerFiles.toTokenizerJson(gpt2), "t");
    BpeTokenizer viaPair =
        TokenizerFiles.fromVocabAndMerges(
            TokenizerFiles.toVocabJson(gpt2),
            TokenizerFiles.toMergesTxt(gpt2),
            List.of(),
            PreTokenizer.Pattern.GPT2);
    assertThat(viaHf.hash()).isEqualTo(gpt2.hash());
    assertThat(viaPair.hash()).isEqualTo(gpt2.hash());
    assertThat(viaHf.encode("It's 2026: naïve café 😀"))
        .containsExactly(gpt2.encode("It's 2026: naïve café 😀"));
  }

  private static String abbreviate(String s) {
    return Adversarial.escape(s.length() > 80 ? s.substring(0, 80) + "..." : s);
  }
}
