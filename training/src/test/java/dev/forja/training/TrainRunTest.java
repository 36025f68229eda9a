package dev.forja.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.storage.Storage;
import dev.forja.testing.GrammarShards;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.StepMetrics;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainListener;
import dev.forja.training.train.Trainer;
import dev.forja.training.train.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

class TrainRunTest {
  static final BpeTokenizer TOK = GrammarShards.byteTokenizer("<|endoftext|>", "<|mask|>");
  static URI shards;

  @BeforeAll
  static void shards(@TempDir Path tmp) throws Exception {
    shards = GrammarShards.write(Fixtures.LOCAL, tmp.resolve("shards").toUri(), 60_000, 6_000);
  }

  static TrainingResult train(
      Storage storage, URI run, ModelConfig model, TrainConfig tc, long stopAfter, PrintStream out)
      throws Exception {
    return TrainRun.run(
        storage,
        new TrainRun.Request(shards, run, model, tc, stopAfter, DataType.FLOAT, List.of()),
        out);
  }

  static PrintStream quiet() {
    return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
  }

  static ModelConfig model() {
    return Fixtures.tinyModel(0, 16);
  }

  @Test
  void learnsTheGrammarToWithinTenPercentOfItsEntropy(@TempDir Path tmp) throws Exception {
    TrainConfig tc =
        Fixtures.trainConfig(
            Map.of(
                "train.steps", "300",
                "train.micro-batch-size", "16",
                "train.lr", "0.01",
                "train.min-lr", "0.001",
                "train.warmup-steps", "20",
                "train.eval-every", "100",
                "train.eval-batches", "8",
                "train.checkpoint-every", "0",
                "train.log-every", "50"));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    TrainingResult r =
        train(
            Fixtures.LOCAL,
            tmp.resolve("run").toUri(),
            model(),
            tc,
            0,
            new PrintStream(log, true, StandardCharsets.UTF_8));
    double floor = Math.log(2);
    assertThat(r.stopReason()).isEqualTo("completed");
    assertThat(r.losses().get(0)).isGreaterThan(5.0); // ln(258) at the start
    assertThat(r.lastEval().loss()).as(log.toString()).isLessThan(1.1 * floor);
    assertThat(log.toString())
        .contains("step 50/300 | loss")
        .contains("tok/s")
        .contains("MFU")
        .contains("ETA")
        .contains("eval step 300 | val loss");
    String metrics = Files.readString(tmp.resolve("run/metrics.jsonl"));
    assertThat(metrics.lines().filter(l -> l.contains("\"type\":\"train\""))).hasSize(300);
    assertThat(metrics.lines().filter(l -> l.contains("\"type\":\"eval\""))).hasSize(3);
    var png = javax.imageio.ImageIO.read(tmp.resolve("run/loss.png").toFile());
    assertThat(png.getWidth()).isEqualTo(900);
  }

  @Test
  void aTinyLlamaLearnsTheGrammarFromScratchAndGenerates(@TempDir Path tmp) throws Exception {
    ModelConfig llama = Fixtures.tinyLlama();
    TrainConfig tc =
        Fixtures.trainConfig(
            Map.of(
                "train.steps", "250",
                "train.micro-batch-size", "16",
                "train.lr", "0.01",
                "train.min-lr", "0.001",
                "train.warmup-steps", "20",
                "train.eval-every", "250",
                "train.eval-batches", "8",
                "train.checkpoint-every", "0"));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    TrainingResult r =
        train(
            Fixtures.LOCAL,
            tmp.resolve("llama").toUri(),
            llama,
            tc,
            0,
            new PrintStream(log, true, StandardCharsets.UTF_8));
    assertThat(r.losses().get(0)).isGreaterThan(5.0); // ln(258) at the start
    assertThat(r.lastEval().loss()).as(log.toString()).isLessThan(1.5 * Math.log(2));
    var ck = CheckpointStore.load(Fixtures.LOCAL, checkpoint(tmp.resolve("llama").toUri(), 250));
    assertThat(ck.model().llama().kvHeads()).isEqualTo(2);
    int[] out =
        new dev.forja.training.generate.Generator(ck.model(), ck.weights())
            .generate(
                TOK.encode("the "),
                8,
                new dev.forja.training.generate.Sampling(0, 0, 1),
                new java.util.SplittableRandom(1),
                id -> false);
    assertThat(out).hasSize(8);
  }

  @Test
  void resumingGivesBitIdenticalWeightsAndLosses(@TempDir Path tmp) throws Exception {
    TrainConfig tc =
        Fixtures.trainConfig(Map.of("train.steps", "8", "train.accumulation-steps", "2"));
    URI interrupted = tmp.resolve("interrupted").toUri();
    TrainingResult first = train(Fixtures.LOCAL, interrupted, model(), tc, 4, quiet());
    assertThat(first.stopReason()).isEqualTo("stop-after");
    assertThat(first.state().step()).isEqualTo(4);
    TrainingResult second = train(Fixtures.LOCAL, interrupted, model(), tc, 0, quiet());
    assertThat(second.resumedFrom()).isEqualTo(4);
    TrainingResult whole =
        train(Fixtures.LOCAL, tmp.resolve("whole").toUri(), model(), tc, 0, quiet());

    List<Double> resumed = new java.util.ArrayList<>(first.losses());
    resumed.addAll(second.losses());
    assertThat(resumed).containsExactlyElementsOf(whole.losses());
    var a = CheckpointStore.load(Fixtures.LOCAL, checkpoint(interrupted, 8));
    var b = CheckpointStore.load(Fixtures.LOCAL, checkpoint(tmp.resolve("whole").toUri(), 8));
    assertThat(a.state()).isEqualTo(b.state());
    for (String name : b.weights().keySet()) {
      assertThat(a.weights().get(name)).as(name).isEqualTo(b.weights().get(name));
    }
    for (String name : b.optimizer().keySet()) {
      assertThat(a.optimizer().get(name)).as(name).isEqualTo(b.optimizer().get(name));
    }
    // metrics.jsonl of the resumed run holds each step once
    String metrics = Files.readString(tmp.resolve("interrupted/metrics.jsonl"));
    assertThat(metrics.lines().filter(l -> l.contains("\"type\":\"train\""))).hasSize(8);
  }

  @Test
  void initFromStartsAFreshRunFromAnotherRunsWeightsAndArchitecture(@TempDir Path tmp)
      throws Exception {
    TrainConfig tc = Fixtures.trainConfig(Map.of("train.steps", "6"));
    URI run6 = tmp.resolve("source-run").toUri();
    train(Fixtures.LOCAL, run6, model(), tc, 0, quiet());
    var trained = CheckpointStore.load(Fixtures.LOCAL, checkpoint(run6, 6));
    // the source carries an imported model's chat template, as forja model import writes it
    URI source = tmp.resolve("source").toUri();
    Map<String, String> carried = Map.of("tokenizer_config.json", "{\"chat_template\": \"x\"}");
    CheckpointStore.writeTo(
        Fixtures.LOCAL,
        source,
        new CheckpointStore.Snapshot(
            trained.state(),
            trained.weights(),
            trained.optimizer(),
            trained.model(),
            trained.train(),
            trained.tokenizerJson(),
            carried));

    // a learning rate of 0 keeps the starting weights: they must be the source's, in its shape
    // (model.* asks for another width, which init-from overrides)
    TrainConfig still =
        Fixtures.trainConfig(
            Map.of(
                "train.steps", "2",
                "train.lr", "0",
                "train.min-lr", "0",
                "train.init-from", source.toString()));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    URI run = tmp.resolve("continued").toUri();
    TrainingResult r =
        train(
            Fixtures.LOCAL,
            run,
            Fixtures.tinyModel(0, 8),
            still,
            0,
            new PrintStream(log, true, StandardCharsets.UTF_8));
    assertThat(log.toString()).contains("initialising from " + source);
    assertThat(r.resumedFrom()).isZero();
    var after = CheckpointStore.load(Fixtures.LOCAL, checkpoint(run, 2));
    assertThat(after.model()).isEqualTo(trained.model());
    assertThat(after.carried()).isEqualTo(carried); // and every checkpoint of the run keeps it
    for (String name : trained.weights().keySet()) {
      assertThat(after.weights().get(name)).as(name).isEqualTo(trained.weights().get(name));
    }
    // a path that holds no checkpoint is named
    TrainConfig nowhere =
        Fixtures.trainConfig(Map.of("train.init-from", tmp.resolve("nothing").toUri().toString()));
    assertThatThrownBy(
            () -> train(Fixtures.LOCAL, tmp.resolve("x").toUri(), model(), nowhere, 0, quiet()))
        .hasMessageContaining("train.init-from")
        .hasMessageContaining("is neither a committed checkpoint nor a run directory");
  }

  static URI checkpoint(URI run, long step) {
    return Storage.resolve(
        Storage.resolve(run, CheckpointStore.DIR), CheckpointStore.dirName(step));
  }

  @Test
  void aCorruptedNewestCheckpointFallsBackToThePreviousOne(@TempDir Path tmp) throws Exception {
    TrainConfig tc = Fixtures.trainConfig(Map.of());
    URI run = tmp.resolve("run").toUri();
    train(Fixtures.LOCAL, run, model(), tc, 0, quiet());
    Path weights = Path.of(checkpoint(run, 8)).resolve(CheckpointStore.MODEL);
    byte[] bytes = Files.readAllBytes(weights);
    bytes[bytes.length - 3] ^= 0x40; // one flipped bit in the last tensor
    Files.write(weights, bytes);
    // and a crash mid-write: a newer directory without a manifest
    Files.createDirectories(Path.of(checkpoint(run, 12)));
    Files.writeString(Path.of(checkpoint(run, 12)).resolve(CheckpointStore.MODEL), "partial");

    ByteArrayOutputStream log = new ByteArrayOutputStream();
    var store =
        new CheckpointStore(
            Fixtures.LOCAL, run, new PrintStream(log, true, StandardCharsets.UTF_8));
    var loaded = store.loadLatest().orElseThrow();
    store.close();
    assertThat(loaded.state().step()).isEqualTo(4);
    assertThat(log.toString())
        .contains("WARNING: checkpoint")
        .contains("step-00000008")
        .contains("is damaged")
        .contains("falling back to the previous committed checkpoint")
        .doesNotContain("step-00000012");

    // a rerun resumes from step 4 and redoes 5..8
    TrainConfig longer = Fixtures.trainConfig(Map.of("train.steps", "8"));
    TrainingResult again = train(Fixtures.LOCAL, run, model(), longer, 0, quiet());
    assertThat(again.resumedFrom()).isEqualTo(4);
    assertThat(CheckpointStore.load(Fixtures.LOCAL, checkpoint(run, 8)).state().step())
        .isEqualTo(8);
  }

  @Test
  void keepsTheNewestCheckpointsAndTheBest(@TempDir Path tmp) throws Exception {
    TrainConfig tc =
        Fixtures.trainConfig(
            Map.of(
                "train.steps", "10",
                "train.checkpoint-every", "2",
                "train.eval-every", "2",
                "train.keep-checkpoints", "2"));
    URI run = tmp.resolve("run").toUri();
    train(Fixtures.LOCAL, run, model(), tc, 0, quiet());
    var store = new CheckpointStore(Fixtures.LOCAL, run, quiet());
    List<Long> steps = store.committedSteps();
    long best = store.loadLatest().orElseThrow().state().bestStep();
    store.close();
    assertThat(steps).startsWith(10L, 8L);
    assertThat(steps).contains(best);
    assertThat(steps.size()).isLessThanOrEqualTo(3);
  }

  @Test
  void earlyStoppingEndsTheRunAfterThePatienceRunsOut(@TempDir Path tmp) throws Exception {
    // a learning rate of 0: the validation loss never improves after the first evaluation
    TrainConfig tc =
        Fixtures.trainConfig(
            Map.of(
                "train.steps", "20",
                "train.lr", "0",
                "train.min-lr", "0",
                "train.eval-every", "2",
                "train.early-stop-patience", "2",
                "train.checkpoint-every", "0"));
    TrainingResult r = train(Fixtures.LOCAL, tmp.resolve("run").toUri(), model(), tc, 0, quiet());
    assertThat(r.stopReason()).isEqualTo("early-stop");
    assertThat(r.state().step()).isEqualTo(6);
    assertThat(r.state().bestStep()).isEqualTo(2);
    // the final checkpoint records where it stopped
    assertThat(
            CheckpointStore.load(Fixtures.LOCAL, checkpoint(tmp.resolve("run").toUri(), 6))
                .state()
                .evalsWithoutImprovement())
        .isEqualTo(2);
  }

  @Test
  void divergenceStopsNamesTheSettingAndKeepsTheLastGoodCheckpoint(@TempDir Path tmp)
      throws Exception {
    URI run = tmp.resolve("run").toUri();
    train(
        Fixtures.LOCAL, run, model(), Fixtures.trainConfig(Map.of("train.steps", "4")), 0, quiet());
    // a numerical blow-up after step 6, as a too-high learning rate would cause
    TrainListener blowUp =
        new TrainListener() {
          @Override
          public void onStep(Trainer trainer, StepMetrics step) {
            if (step.step() == 6) {
              trainer
                  .model()
                  .parameters()
                  .get("transformer.h.0.mlp.c_fc.weight")
                  .assign(Double.NaN); // (muli(NaN) does not give NaN in ND4J)
            }
          }
        };
    TrainConfig more =
        Fixtures.trainConfig(Map.of("train.steps", "12", "train.checkpoint-every", "2"));
    assertThatThrownBy(
            () ->
                TrainRun.run(
                    Fixtures.LOCAL,
                    new TrainRun.Request(
                        shards, run, model(), more, 0, DataType.FLOAT, List.of(blowUp)),
                    quiet()))
        .isInstanceOf(TrainRun.TrainingDivergedException.class)
        .hasMessageContaining("loss became NaN")
        .hasMessageContaining("at step 7")
        .hasMessageContaining("lower train.lr (now 0.01) or lower train.grad-clip (now 1.0)");
    var store = new CheckpointStore(Fixtures.LOCAL, run, quiet());
    var latest = store.loadLatest().orElseThrow();
    store.close();
    assertThat(latest.state().step()).isEqualTo(6);
    for (INDArray w : latest.weights().values()) {
      assertThat(w.isInfinite().any() || w.isNaN().any()).isFalse();
    }
  }

  @Test
  void badSettingsFailBeforeTrainingWithTheKeyAndTheFix(@TempDir Path tmp) throws Exception {
    URI run = tmp.resolve("run").toUri();
    TrainConfig tc = Fixtures.trainConfig(Map.of());
    assertThatThrownBy(
            () -> train(Fixtures.LOCAL, run, Fixtures.tinyModel(100, 16), tc, 0, quiet()))
        .hasMessageContaining("model.vocab-size 100 is smaller than the tokenizer's 258");
    assertThatThrownBy(
            () ->
                train(
                    Fixtures.LOCAL,
                    run,
                    model(),
                    Fixtures.trainConfig(Map.of("train.sequence-length", "32")),
                    0,
                    quiet()))
        .hasMessageContaining("train.sequence-length 32 exceeds model.context-length 16");
    ModelConfig huge =
        new ModelConfig(
            0, 1024, 48, 4096, 32, 4, true, true, 1e-5, 0.02, ModelConfig.Objective.CAUSAL);
    assertThatThrownBy(
            () ->
                train(
                    Fixtures.LOCAL,
                    run,
                    huge,
                    Fixtures.trainConfig(Map.of("train.micro-batch-size", "8")),
                    0,
                    quiet()))
        .hasMessageContaining("GiB of native memory")
        .hasMessageContaining("set train.micro-batch-size=4 and train.accumulation-steps=2");
    BpeTokenizer noMask = GrammarShards.byteTokenizer("<|endoftext|>");
    URI plain =
        GrammarShards.writeShards(
            Fixtures.LOCAL,
            tmp.resolve("plain").toUri(),
            noMask,
            GrammarShards.grammar(noMask, 5000, 1),
            GrammarShards.grammar(noMask, 500, 2));
    ModelConfig masked =
        new ModelConfig(0, 16, 1, 16, 2, 2, true, true, 1e-5, 0.02, ModelConfig.Objective.MASKED);
    assertThatThrownBy(
            () ->
                TrainRun.run(
                    Fixtures.LOCAL,
                    new TrainRun.Request(plain, run, masked, tc, 0, DataType.FLOAT, List.of()),
                    quiet()))
        .hasMessageContaining("model.objective=masked needs the mask token <|mask|>")
        .hasMessageContaining("add it to tokenizer.special-tokens");
    assertThat(Files.exists(tmp.resolve("run/checkpoints"))).isFalse();
  }

  @Test
  void maskedLanguageModellingTrains(@TempDir Path tmp) throws Exception {
    ModelConfig masked =
        new ModelConfig(0, 8, 2, 32, 2, 4, true, true, 1e-5, 0.02, ModelConfig.Objective.MASKED);
    TrainConfig tc =
        Fixtures.trainConfig(
            Map.of(
                "train.steps", "700",
                "train.eval-every", "700",
                "train.checkpoint-every", "0",
                // ~15% of 4 x 16 positions would leave about 10 targets a step: too few to learn
                // the neighbour attention a masked symbol needs within a test's budget
                "train.micro-batch-size", "32",
                "train.mask-probability", "0.25"));
    TrainingResult r =
        TrainRun.run(
            Fixtures.LOCAL,
            new TrainRun.Request(
                shards, tmp.resolve("run").toUri(), masked, tc, 0, DataType.FLOAT, List.of()),
            quiet());
    // 16 equally likely symbols cost ln 16, and no model that ignores the context does better;
    // both neighbours pin a masked symbol, but only once attention has learnt to find them (a
    // plateau near ln 16 for a few hundred steps, whose exact length is chaotic)
    assertThat(r.lastEval().loss()).isLessThan(0.8 * Math.log(16));
  }
}
