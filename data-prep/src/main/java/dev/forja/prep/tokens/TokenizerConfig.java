package dev.forja.prep.tokens;

import dev.forja.config.ConfigReader;
import dev.forja.tokenizer.PreTokenizer;
import java.io.Serializable;
import java.util.List;

/**
 * How {@code forja tokenizer train} learns a byte-level BPE vocabulary.
 *
 * @param vocabSize {@code tokenizer.vocab-size}: tokens in all, counting the 256 bytes and the
 *     special tokens; default 8192.
 * @param minFrequency {@code tokenizer.min-frequency}: stop when the most frequent pair occurs
 *     fewer times; default 2.
 * @param pattern {@code tokenizer.pattern}: pre-tokenizer, {@code gpt2} or {@code cl100k}; default
 *     gpt2.
 * @param specialTokens {@code tokenizer.special-tokens}: whole tokens never split, given the last
 *     ids; default {@code <|endoftext|>}, {@code <|pad|>}.
 */
public record TokenizerConfig(
    int vocabSize, long minFrequency, PreTokenizer.Pattern pattern, List<String> specialTokens)
    implements Serializable {

  public TokenizerConfig {
    specialTokens = List.copyOf(specialTokens);
  }

  public TokenizerConfig withVocabSize(int v) {
    return new TokenizerConfig(v, minFrequency, pattern, specialTokens);
  }

  public TokenizerConfig withPattern(PreTokenizer.Pattern p) {
    return new TokenizerConfig(vocabSize, minFrequency, p, specialTokens);
  }

  public TokenizerConfig withSpecialTokens(List<String> s) {
    return new TokenizerConfig(vocabSize, minFrequency, pattern, s);
  }

  public static TokenizerConfig read(ConfigReader r) {
    List<String> specials =
        r.list(
            "tokenizer.special-tokens",
            List.of("<|endoftext|>", "<|pad|>"),
            "Special tokens (never split), given the last ids.");
    int vocab =
        r.intIn(
            "tokenizer.vocab-size",
            8192,
            257,
            1 << 24,
            "Vocabulary size, counting the 256 bytes and the special tokens.");
    r.require(
        vocab >= 256 + specials.size(),
        "tokenizer.vocab-size",
        vocab
            + " cannot hold the 256 byte tokens plus "
            + specials.size()
            + " special tokens; set it to at least "
            + (256 + specials.size()));
    long minFreq =
        r.longIn(
            "tokenizer.min-frequency",
            2,
            1,
            Long.MAX_VALUE,
            "Stop when the most frequent pair occurs fewer times.");
    String pattern =
        r.choice(
            "tokenizer.pattern",
            "gpt2",
            List.of("gpt2", "cl100k"),
            "Pre-tokenizer pattern: gpt2 (GPT-2) or cl100k (cl100k_base, Llama 3).");
    return new TokenizerConfig(vocab, minFreq, PreTokenizer.Pattern.of(pattern), specials);
  }
}
