package dev.forja.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerFilesTest {
  static BpeTokenizer small() {
    return new BpeTrainer(300, 1, List.of("<|endoftext|>", "<|pad|>"), PreTokenizer.Pattern.GPT2)
        .train(BpeTrainerTest.counts("the cat sat on the mat; the dog ran to the cat"))
        .tokenizer();
  }

  @Test
  void savedDirectoryLoadsBackFromEitherFormat(@TempDir Path dir) throws Exception {
    Storage storage = new Storage(StorageConfig.defaults());
    BpeTokenizer t = small();
    TokenizerFiles.save(storage, dir.toUri(), t);
    assertThat(TokenizerFiles.load(storage, dir.toUri()).hash()).isEqualTo(t.hash());
    Files.delete(dir.resolve("tokenizer.json"));
    BpeTokenizer pair = TokenizerFiles.load(storage, dir.toUri());
    assertThat(pair.hash()).isEqualTo(t.hash());
    assertThat(pair.specials()).containsEntry("<|pad|>", t.specialId("<|pad|>"));
  }

  @Test
  void otherModelTypesAreNamed() {
    String wordPiece = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}}";
    assertThatThrownBy(() -> TokenizerFiles.fromTokenizerJson(wordPiece, "bert/tokenizer.json"))
        .isInstanceOf(TokenizerException.class)
        .hasMessageContaining("bert/tokenizer.json holds a WordPiece model");
    String unigram = "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]]}}";
    assertThatThrownBy(() -> TokenizerFiles.fromTokenizerJson(unigram, "t5.json"))
        .hasMessageContaining("holds a Unigram model");
  }

  @Test
  void mergesWithUnknownSymbolsNameTheLine() {
    BpeTokenizer t = small();
    String merges = TokenizerFiles.toMergesTxt(t);
    String[] lines = merges.split("\n");
    lines[3] = lines[1].split(" ")[0] + " qqq";
    assertThatThrownBy(
            () ->
                TokenizerFiles.fromVocabAndMerges(
                    TokenizerFiles.toVocabJson(t),
                    String.join("\n", lines),
                    List.of(),
                    PreTokenizer.Pattern.GPT2))
        .isInstanceOf(TokenizerException.class)
        .hasMessageContaining("merges.txt line 4: symbol 'qqq' is not in the vocabulary");
  }

  @Test
  void vocabularyWithoutEveryByteIsRefused() {
    String vocab = "{\"a\": 0, \"b\": 1}";
    assertThatThrownBy(
            () ->
                TokenizerFiles.fromVocabAndMerges(vocab, "", List.of(), PreTokenizer.Pattern.GPT2))
        .hasMessageContaining("lacks the single-byte token for byte 0x00");
  }

  @Test
  void missingTokenizerSaysWhatWasExpected(@TempDir Path dir) {
    Storage storage = new Storage(StorageConfig.defaults());
    assertThatThrownBy(() -> TokenizerFiles.load(storage, dir.toUri()))
        .hasMessageContaining(
            "expected a tokenizer.json file, or a directory with tokenizer.json or vocab.json + merges.txt");
  }
}
