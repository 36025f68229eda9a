package dev.forja.pipeline;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.config.Secrets;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.corpus.CorpusConfig;
import dev.forja.prep.sft.SftConfig;
import dev.forja.prep.tokens.TokenizeConfig;
import dev.forja.prep.tokens.TokenizerConfig;
import dev.forja.spark.SparkSettings;
import dev.forja.storage.StorageConfig;
import dev.forja.training.distributed.DistributedConfig;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Every concern's config, bound in one pass so that an unknown key can be matched against all valid
 * keys and every problem is reported together. Later stages add their record here.
 */
public record ForjaConfig(
    SparkSettings spark,
    StorageConfig storage,
    CorpusConfig corpus,
    PrepConfig prep,
    TokenizerConfig tokenizer,
    TokenizeConfig tokenize,
    SftConfig sft,
    ModelConfig model,
    TrainConfig train,
    DistributedConfig distributed,
    PipelineConfig pipeline,
    Map<String, String> effective,
    Map<String, Object> values) {

  /** Loads YAML files in order, then {@code key=value} overrides; throws on any problem. */
  public static ForjaConfig load(List<Path> files, List<String> overrides) {
    return bind(ConfigSource.load(files, overrides));
  }

  public static ForjaConfig bind(ConfigSource source) {
    ConfigReader r = new ConfigReader(source);
    SparkSettings spark = SparkSettings.read(r);
    StorageConfig storage = StorageConfig.read(r);
    CorpusConfig corpus = CorpusConfig.read(r);
    PrepConfig prep = PrepConfig.read(r);
    TokenizerConfig tokenizer = TokenizerConfig.read(r);
    TokenizeConfig tokenize = TokenizeConfig.read(r);
    SftConfig sft = SftConfig.read(r);
    ModelConfig model = ModelConfig.read(r);
    TrainConfig train = TrainConfig.read(r);
    DistributedConfig distributed = DistributedConfig.read(r);
    PipelineConfig pipeline = PipelineConfig.read(r);
    r.finish();
    return new ForjaConfig(
        spark,
        storage,
        corpus,
        prep,
        tokenizer,
        tokenize,
        sft,
        model,
        train,
        distributed,
        pipeline,
        effective(r, source),
        values(r, source));
  }

  /** Every declared key with its documentation and default ({@code forja config keys}). */
  public static List<ConfigReader.KeyDoc> keys() {
    ConfigReader r = new ConfigReader(ConfigSource.empty());
    SparkSettings.read(r);
    StorageConfig.read(r);
    CorpusConfig.read(r);
    PrepConfig.read(r);
    TokenizerConfig.read(r);
    TokenizeConfig.read(r);
    SftConfig.read(r);
    ModelConfig.read(r);
    TrainConfig.read(r);
    DistributedConfig.read(r);
    PipelineConfig.read(r);
    return r.keys();
  }

  /** Every declared key's value as it takes effect (lists as lists), secrets left out. */
  private static Map<String, Object> values(ConfigReader r, ConfigSource source) {
    Map<String, Object> out = new TreeMap<>();
    for (ConfigReader.KeyDoc k : r.keys()) {
      if (!k.key().endsWith(".*") && !r.isSecret(k.key())) {
        ConfigSource.Entry e = source.entries().get(k.key());
        out.put(k.key(), e == null ? k.rawDefault() : e.value());
      }
    }
    return out;
  }

  /** The value of every declared key as it takes effect, secrets masked. */
  private static Map<String, String> effective(ConfigReader r, ConfigSource source) {
    Map<String, String> out = new TreeMap<>();
    for (ConfigReader.KeyDoc k : r.keys()) {
      if (!k.key().endsWith(".*")) {
        ConfigSource.Entry e = source.entries().get(k.key());
        String v =
            e == null
                ? k.defaultValue()
                : e.value() instanceof List<?> l
                    ? String.join(",", l.stream().map(String::valueOf).toList())
                    : String.valueOf(e.value());
        out.put(k.key(), r.isSecret(k.key()) && !v.isEmpty() ? Secrets.MASK : v);
      }
    }
    source
        .entries()
        .forEach(
            (k, e) -> {
              if (!out.containsKey(k)) {
                out.put(k, Secrets.mask(k, String.valueOf(e.value())));
              }
            });
    return out;
  }
}
