package dev.forja.testing;

import dev.forja.shard.ShardFormat;
import dev.forja.shard.ShardManifest;
import dev.forja.shard.ShardWriter;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.PreTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Token shards of a synthetic grammar with a known entropy (ln 2 nats per token), written as {@code
 * forja tokenize} writes them, for training tests in any module.
 */
public final class GrammarShards {
  /** Grammar symbols are the token ids of the bytes 'a'..'p'. */
  public static final int SYMBOLS = 16;

  private GrammarShards() {}

  /** Byte-level tokenizer without merges: 256 byte tokens, then the specials. */
  public static BpeTokenizer byteTokenizer(String... specials) {
    List<byte[]> tokens = new ArrayList<>();
    for (int b = 0; b < 256; b++) {
      tokens.add(new byte[] {(byte) b});
    }
    Map<String, Integer> sp = new LinkedHashMap<>();
    for (String s : specials) {
      sp.put(s, tokens.size());
      tokens.add(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    return new BpeTokenizer(PreTokenizer.Pattern.GPT2, tokens, List.of(), sp, false);
  }

  /**
   * A Markov grammar: the next symbol is (5 x previous + 3 + a fair coin) mod 16, so its entropy is
   * exactly ln 2 nats per token, against ln 16 for a model that ignores the context.
   */
  public static int[] grammar(BpeTokenizer t, int n, long seed) {
    int[] ids = new int[n];
    Random r = new Random(seed);
    int b = r.nextInt(SYMBOLS);
    for (int i = 0; i < n; i++) {
      int next = (5 * b + 3 + r.nextInt(2)) % SYMBOLS;
      ids[i] = symbolId(t, next);
      b = next;
    }
    return ids;
  }

  public static int symbolId(BpeTokenizer t, int symbol) {
    return t.encode(String.valueOf((char) ('a' + symbol)))[0];
  }

  /** Writes committed shards (train and validation) with the tokenizer beside them. */
  public static URI writeShards(
      Storage storage, URI dir, BpeTokenizer t, int[] train, int[] validation) throws Exception {
    Map<String, ShardManifest.Split> splits = new LinkedHashMap<>();
    int eos = t.specialId("<|endoftext|>");
    splits.put(ShardFormat.TRAIN, split(storage, dir, ShardFormat.TRAIN, t, train, eos));
    splits.put(
        ShardFormat.VALIDATION, split(storage, dir, ShardFormat.VALIDATION, t, validation, eos));
    TokenizerFiles.save(storage, dir, t);
    ShardManifest.of(
            t.hash(),
            t.vocabSize(),
            Math.max(eos, 0),
            0.1,
            splits,
            Map.of("source", "synthetic grammar"))
        .commit(storage, dir);
    return dir;
  }

  private static ShardManifest.Split split(
      Storage storage, URI dir, String name, BpeTokenizer t, int[] ids, int eos) throws Exception {
    String file = ShardFormat.fileName(name, 0);
    ShardWriter w =
        new ShardWriter(storage.create(Storage.resolve(dir, file), true), t.vocabSize(), eos);
    w.writeDocument(ids, ids.length);
    w.close();
    return ShardManifest.Split.of(
        List.of(new ShardManifest.Shard(file, w.tokens(), 1, w.bytes(), w.sha256())));
  }

  /** A byte tokenizer's shards of {@code train} and {@code validation} grammar tokens at dir. */
  public static URI write(Storage storage, URI dir, int train, int validation) throws Exception {
    BpeTokenizer t = byteTokenizer("<|endoftext|>", "<|mask|>");
    return writeShards(storage, dir, t, grammar(t, train, 1), grammar(t, validation, 2));
  }
}
