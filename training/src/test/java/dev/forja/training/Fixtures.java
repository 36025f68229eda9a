package dev.forja.training;

import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/** Small model and training configs for tests (the shards: {@code GrammarShards}). */
public final class Fixtures {
  public static final Storage LOCAL = new Storage(StorageConfig.defaults());

  private Fixtures() {}

  public static ModelConfig tinyModel(int vocab, int context) {
    return new ModelConfig(
        vocab, context, 2, 32, 2, 4, true, true, 1e-5, 0.02, ModelConfig.Objective.CAUSAL);
  }

  /**
   * A tiny Llama (vocabulary 0: the tokenizer's): grouped-query attention with 4 heads and 2
   * key/value heads, RoPE, SwiGLU, a tied head.
   */
  public static ModelConfig tinyLlama() {
    return new ModelConfig(
        0,
        16,
        2,
        32,
        4,
        2,
        false,
        true,
        1e-5,
        0.02,
        ModelConfig.Objective.CAUSAL,
        new ModelConfig.Llama("llama", 2, 8, 64, 10000, "none", 1, 1, 4, 16, false, false));
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
