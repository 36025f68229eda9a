package dev.forja.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.config.ConfigReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class ForjaConfigTest {
  static final Path CONF = Path.of("..", "conf");

  @Test
  void defaultsArePinned() {
    ForjaConfig c = ForjaConfig.load(List.of(), List.of());
    assertThat(c.spark().master()).isEmpty();
    assertThat(c.spark().appName()).isEqualTo("forja");
    assertThat(c.spark().uiEnabled()).isTrue();
    assertThat(c.spark().conf()).isEmpty();
    assertThat(c.storage().defaultFs()).isEmpty();
    assertThat(c.storage().s3().endpoint()).isEmpty();
    assertThat(c.storage().s3().region()).isEqualTo("us-east-1");
    assertThat(c.storage().s3().accessKey()).isEmpty();
    assertThat(c.storage().s3().secretKey()).isEmpty();
    assertThat(c.storage().s3().credentialsProvider()).isEmpty();
    assertThat(c.storage().s3().pathStyleAccess()).isFalse();
    assertThat(c.storage().s3().sslEnabled()).isTrue();
    assertThat(c.storage().hadoop()).isEmpty();
    assertThat(c.corpus().sizeMb()).isEqualTo(8);
    assertThat(c.corpus().seed()).isEqualTo(42);
    assertThat(c.corpus().shards()).isZero();
    assertThat(c.corpus().effectiveShards()).isEqualTo(2);
    assertThat(c.corpus().languages()).containsExactly("en", "es", "pt");
    assertThat(c.corpus().exactDuplicateRate()).isEqualTo(0.04);
    assertThat(c.corpus().nearDuplicateRate()).isEqualTo(0.04);
    assertThat(c.corpus().piiRate()).isEqualTo(0.10);
    assertThat(c.corpus().junkRate()).isEqualTo(0.10);
    assertThat(c.tokenizer().vocabSize()).isEqualTo(8192);
    assertThat(c.tokenizer().minFrequency()).isEqualTo(2);
    assertThat(c.tokenizer().pattern().id).isEqualTo("gpt2");
    assertThat(c.tokenizer().specialTokens()).containsExactly("<|endoftext|>", "<|pad|>");
    assertThat(c.tokenize().validationFraction()).isEqualTo(0.01);
    assertThat(c.tokenize().eosToken()).isEqualTo("<|endoftext|>");
    assertThat(c.model())
        .isEqualTo(
            new dev.forja.training.model.ModelConfig(
                0,
                128,
                2,
                64,
                2,
                4,
                true,
                true,
                1e-5,
                0.02,
                dev.forja.training.model.ModelConfig.Objective.CAUSAL));
    var t = c.train();
    assertThat(t.steps()).isEqualTo(1000);
    assertThat(t.microBatch()).isEqualTo(8);
    assertThat(t.accumulation()).isEqualTo(1);
    assertThat(t.sequenceLength()).isZero();
    assertThat(t.lr()).isEqualTo(3e-4);
    assertThat(t.minLr()).isEqualTo(3e-5);
    assertThat(t.warmupSteps()).isEqualTo(100);
    assertThat(t.weightDecay()).isEqualTo(0.1);
    assertThat(t.noDecay()).containsExactly(".bias", "ln_", "wte", "wpe", "norm", "embed_tokens");
    assertThat(t.beta1()).isEqualTo(0.9);
    assertThat(t.beta2()).isEqualTo(0.95);
    assertThat(t.epsilon()).isEqualTo(1e-8);
    assertThat(t.gradClip()).isEqualTo(1.0);
    assertThat(t.evalEvery()).isEqualTo(200);
    assertThat(t.evalBatches()).isEqualTo(20);
    assertThat(t.earlyStopPatience()).isZero();
    assertThat(t.checkpointEvery()).isEqualTo(200);
    assertThat(t.keepCheckpoints()).isEqualTo(3);
    assertThat(t.logEvery()).isEqualTo(10);
    assertThat(t.seed()).isEqualTo(1234);
    assertThat(t.maskProbability()).isEqualTo(0.15);
    assertThat(t.maskToken()).isEqualTo("<|mask|>");
    assertThat(t.optimizer()).isEqualTo("adamw");
    assertThat(t.engine()).isEqualTo("auto");
    assertThat(c.distributed())
        .isEqualTo(
            new dev.forja.training.distributed.DistributedConfig(
                0,
                8,
                true,
                0,
                120,
                dev.forja.training.distributed.DistributedConfig.Transport.TCP,
                0));
    // the schedule: linear warmup, cosine to the floor, the floor after the end
    assertThat(t.learningRate(0)).isCloseTo(3e-6, org.assertj.core.data.Offset.offset(1e-15));
    assertThat(t.learningRate(99)).isEqualTo(3e-4);
    assertThat(t.learningRate(550)).isCloseTo(1.65e-4, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(t.learningRate(1000)).isEqualTo(3e-5);
    assertThat(t.decays("transformer.h.0.mlp.c_fc.weight")).isTrue();
    assertThat(t.decays("lm_head.weight")).isTrue();
    assertThat(t.decays("transformer.h.0.ln_1.weight")).isFalse();
    assertThat(t.decays("transformer.wte.weight")).isFalse();
    assertThat(t.decays("transformer.h.0.attn.c_attn.bias")).isFalse();
  }

  @Test
  void modelAndTrainingProblemsNameTheKey() {
    assertThatThrownBy(
            () ->
                ForjaConfig.load(
                    List.of(),
                    List.of(
                        "model.d-model=30",
                        "model.heads=4",
                        "train.lr=0.001",
                        "train.min-lr=0.01",
                        "train.stpes=3")))
        .hasMessageContaining("3 problems")
        .hasMessageContaining("model.d-model (30) must be a multiple of model.heads (4)")
        .hasMessageContaining("train.min-lr: must not exceed train.lr")
        .hasMessageContaining("unknown key 'train.stpes'")
        .hasMessageContaining("did you mean 'train.steps'?");
  }

  @Test
  void everyShippedConfigFileLoads() throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.walk(CONF)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(files).isNotEmpty();
    for (Path f : files) {
      if (f.startsWith(CONF.resolve("eval"))) { // evaluation suites, ${stage} filled by forja run
        String text = Files.readString(f).replaceAll("\\$\\{(\\w+)\\}", "file:/stage-$1");
        dev.forja.training.eval.EvalSuite.parse(text, f.toUri());
        continue;
      }
      ForjaConfig.load(List.of(f), List.of()); // throws, naming the key, if any is wrong
    }
  }

  @Test
  void realModelPresetsHaveTheirModelsParameterCounts() {
    // as transformers counts them for the released models
    Map<String, Long> expected =
        Map.of(
            "smollm2-135m.yaml", 134_515_008L,
            "qwen2.5-0.5b.yaml", 494_032_768L,
            "llama-3.2-1b.yaml", 1_235_814_400L,
            "small.yaml", 124_439_808L);
    expected.forEach(
        (file, count) -> {
          ForjaConfig c =
              ForjaConfig.load(
                  List.of(CONF.resolve("presets").resolve(file)),
                  file.equals("small.yaml") ? List.of("model.vocab-size=50257") : List.of());
          assertThat(c.model().parameters()).as(file).isEqualTo(count);
        });
  }

  @Test
  void theReferenceFileSpellsOutEveryDefault() {
    ForjaConfig fromFile = ForjaConfig.load(List.of(CONF.resolve("forja.yaml")), List.of());
    ForjaConfig defaults = ForjaConfig.load(List.of(), List.of());
    assertThat(fromFile.spark()).isEqualTo(defaults.spark());
    assertThat(fromFile.storage()).isEqualTo(defaults.storage());
    assertThat(fromFile.corpus()).isEqualTo(defaults.corpus());
    assertThat(fromFile.tokenizer()).isEqualTo(defaults.tokenizer());
    assertThat(fromFile.tokenize()).isEqualTo(defaults.tokenize());
    assertThat(fromFile.model()).isEqualTo(defaults.model());
    assertThat(fromFile.train()).isEqualTo(defaults.train());
    assertThat(fromFile.distributed()).isEqualTo(defaults.distributed());
    Map<String, String> keys =
        ForjaConfig.keys().stream()
            .filter(k -> !k.key().endsWith(".*"))
            .collect(Collectors.toMap(ConfigReader.KeyDoc::key, ConfigReader.KeyDoc::defaultValue));
    assertThat(fromFile.effective().keySet()).containsAll(keys.keySet());
  }

  @Test
  void thePrepFileSpellsOutThePrepDefaults() {
    ForjaConfig fromFile = ForjaConfig.load(List.of(CONF.resolve("prep.yaml")), List.of());
    assertThat(fromFile.prep()).isEqualTo(ForjaConfig.load(List.of(), List.of()).prep());
    assertThat(fromFile.prep().dedup().bands()).isEqualTo(20);
    assertThat(fromFile.prep().quality().maxDupNgramCharFraction()).hasSize(6);
  }

  @Test
  void crossStageProblemsAreReportedTogether() {
    assertThatThrownBy(
            () ->
                ForjaConfig.load(
                    List.of(),
                    List.of(
                        "corpus.size-mb=-1",
                        "corpus.languages=en,fr",
                        "storage.s3.path-style=true",
                        "spark.ui-enabled=sometimes")))
        .hasMessageContaining("4 problems")
        .hasMessageContaining("corpus.size-mb (in --set): -1 is out of range")
        .hasMessageContaining("'fr' is not supported")
        .hasMessageContaining("did you mean 'storage.s3.path-style-access'?")
        .hasMessageContaining("spark.ui-enabled (in --set): 'sometimes' is not a boolean");
  }
}
