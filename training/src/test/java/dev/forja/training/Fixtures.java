package dev.forja.training;

import dev.forja.shard.ShardFormat;
import dev.forja.shard.ShardManifest;
import dev.forja.shard.ShardWriter;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.PreTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Token shards of a synthetic grammar with a known entropy, and small configs, for tests. */
public final class Fixtures {
  public static final Storage LOCAL = new Storage(StorageConfig.defaults());

  /** Grammar symbols are the token ids of the bytes 'a'..'p'. */
  public static final int SYMBOLS = 16;

  private Fixtures() {}

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

  static int symbolId(BpeTokenizer t, int symbol) {
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
    new ShardManifest(
            ShardManifest.FORMAT,
            ShardFormat.VERSION,
            t.hash(),
            t.vocabSize(),
            Math.max(eos, 0),
            ShardFormat.dtype(ShardFormat.bytesPerToken(t.vocabSize())),
            0.1,
            splits,
            Map.of("source", "synthetic grammar"),
            "now")
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
    return new ShardManifest.Split(
        w.tokens(),
        1,
        List.of(new ShardManifest.Shard(file, w.tokens(), 1, w.bytes(), w.sha256())));
  }

  public static ModelConfig tinyModel(int vocab, int context) {
    return new ModelConfig(
        vocab, context, 2, 32, 2, 4, 0.0, true, true, 1e-5, 0.02, ModelConfig.Objective.CAUSAL);
  }

  /** A short run's config; {@code overrides} as in {@code --set}. */
  public static TrainConfig trainConfig(Map<String, String> overrides) {
    Map<String, String> all = new LinkedHashMap<>();
    all.put("train.steps", "8");
    all.put("train.micro-batch-size", "4");
    all.put("train.lr", "0.01");
    all.put("train.min-lr", "0.001");
    all.put("train.warmup-steps", "2");
    all.put("train.eval-every", "4");
    all.put("train.eval-batches", "2");
    all.put("train.checkpoint-every", "4");
    all.put("train.log-every", "4");
    all.putAll(overrides);
    dev.forja.config.ConfigSource src = dev.forja.config.ConfigSource.empty();
    all.forEach((k, v) -> src.with(k, v, "test"));
    var r = new dev.forja.config.ConfigReader(src);
    TrainConfig c = TrainConfig.read(r);
    r.finish();
    return c;
  }
}
