package dev.forja.training.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.testing.GrammarShards;
import dev.forja.testing.TestSpark;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.training.Fixtures;
import dev.forja.training.TrainRun;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Parameter averaging on local Spark: the arithmetic, the metrics, the options. */
class ParameterAveragingTest {
  static final BpeTokenizer TOK = GrammarShards.byteTokenizer("<|endoftext|>", "<|mask|>");
  static URI shards;

  @BeforeAll
  static void shards(@TempDir Path tmp) throws Exception {
    shards = GrammarShards.write(Fixtures.LOCAL, tmp.resolve("shards").toUri(), 60_000, 6_000);
  }

  @AfterAll
  static void stop() {
    TestSpark.stop();
  }

  static TrainingResult train(
      URI run, TrainConfig tc, DistributedConfig dc, JavaSparkContext jsc, PrintStream out)
      throws Exception {
    return TrainRun.run(
        Fixtures.LOCAL,
        new TrainRun.Request(
            shards, run, Fixtures.tinyModel(0, 16), tc, 0, DataType.FLOAT, List.of(), dc),
        out,
        () -> jsc);
  }

  static JavaSparkContext local() {
    return JavaSparkContext.fromSparkContext(TestSpark.local().sparkContext());
  }

  static PrintStream quiet() {
    return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
  }

  static LinkedHashMap<String, INDArray> finalWeights(URI run) throws Exception {
    return new CheckpointStore(Fixtures.LOCAL, run, quiet()).loadLatest().orElseThrow().weights();
  }

  static Map<String, String> sgd(int microBatch) {
    return Map.of(
        "train.optimizer", "sgd",
        "train.micro-batch-size", Integer.toString(microBatch),
        "train.steps", "4",
        "train.lr", "0.5",
        "train.min-lr", "0.5",
        "train.warmup-steps", "0",
        "train.weight-decay", "0",
        "train.grad-clip", "0",
        "train.checkpoint-every", "0");
  }

  @Test
  void withSgdAndKOneTwoWorkersOnBEqualOneWorkerOnTwoB(@TempDir Path tmp) throws Exception {
    DistributedConfig two = DistributedConfig.LOCAL.withWorkers(2).withAveragingPeriod(1);
    TrainingResult averaged =
        train(tmp.resolve("two").toUri(), Fixtures.trainConfig(sgd(4)), two, local(), quiet());
    TrainingResult single =
        TrainRun.run(
            Fixtures.LOCAL,
            new TrainRun.Request(
                shards,
                tmp.resolve("one").toUri(),
                Fixtures.tinyModel(0, 16),
                Fixtures.trainConfig(sgd(8)),
                0,
                DataType.FLOAT,
                List.of()),
            quiet());

    assertThat(averaged.state().step()).isEqualTo(4);
    assertThat(averaged.state().tokensSeen()).isEqualTo(single.state().tokensSeen());
    assertThat(averaged.state().index()).isEqualTo(4 * 4); // each worker read 4 of its sequences
    assertThat(averaged.losses()).hasSize(4);
    for (int i = 0; i < 4; i++) {
      assertThat(averaged.losses().get(i)).isCloseTo(single.losses().get(i), within(1e-5));
    }
    var a = finalWeights(tmp.resolve("two").toUri());
    var b = finalWeights(tmp.resolve("one").toUri());
    assertThat(a.keySet()).isEqualTo(b.keySet());
    for (String name : b.keySet()) {
      double diff = a.get(name).sub(b.get(name)).amaxNumber().doubleValue();
      assertThat(diff).as(name).isLessThan(2e-6);
    }
    assertThat(averaged.losses().get(3)).isLessThan(averaged.losses().get(0) - 0.1); // it trained
  }

  @Test
  void bothTransportsGiveTheSameBits(@TempDir Path tmp) throws Exception {
    TrainConfig tc = Fixtures.trainConfig(Map.of("train.steps", "4"));
    DistributedConfig dc = DistributedConfig.LOCAL.withWorkers(2).withAveragingPeriod(2);
    TrainingResult tcp = train(tmp.resolve("tcp").toUri(), tc, dc, local(), quiet());
    TrainingResult spark =
        train(
            tmp.resolve("spark").toUri(),
            tc,
            dc.withTransport(DistributedConfig.Transport.SPARK),
            local(),
            quiet());
    assertThat(spark.losses()).hasSize(2).isEqualTo(tcp.losses());
    assertThat(TcpExchangeTest.bits(finalWeights(tmp.resolve("spark").toUri())))
        .isEqualTo(TcpExchangeTest.bits(finalWeights(tmp.resolve("tcp").toUri())));
  }

  @Test
  void roundsReportEachWorkerAndWhereTheTimeWent(@TempDir Path tmp) throws Exception {
    TrainConfig tc =
        Fixtures.trainConfig(
            Map.of("train.steps", "6", "train.eval-every", "4", "train.checkpoint-every", "4"));
    DistributedConfig dc = DistributedConfig.LOCAL.withWorkers(2).withAveragingPeriod(2);
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    TrainingResult r =
        train(
            tmp.resolve("run").toUri(),
            tc,
            dc,
            local(),
            new PrintStream(log, true, StandardCharsets.UTF_8));
    assertThat(r.state().step()).isEqualTo(6);
    assertThat(r.losses()).hasSize(3); // one per round
    String console = log.toString(StandardCharsets.UTF_8);
    assertThat(console).contains("distributed: 2 workers x 4 sequences, averaging every 2 steps");
    assertThat(console).containsPattern("round 3 \\| w0 [0-9.]+ [0-9,]+ tok/s \\| w1 ");
    assertThat(console).contains("overhead");
    assertThat(console).contains("eval step 4"); // evaluation at the round that reaches step 4
    assertThat(console).contains("checkpoint step 4");

    ObjectMapper json = new ObjectMapper();
    List<JsonNode> rounds =
        Files.readAllLines(tmp.resolve("run/metrics.jsonl")).stream()
            .map(
                l -> {
                  try {
                    return json.readTree(l);
                  } catch (Exception e) {
                    throw new AssertionError(e);
                  }
                })
            .filter(n -> n.has("round"))
            .toList();
    assertThat(rounds).hasSize(3);
    JsonNode last = rounds.get(2);
    assertThat(last.path("step").asLong()).isEqualTo(6);
    assertThat(last.path("steps").asInt()).isEqualTo(2);
    JsonNode round = last.path("round");
    assertThat(round.path("workers")).hasSize(2);
    assertThat(round.path("workers").get(1).path("worker").asInt()).isEqualTo(1);
    assertThat(round.path("workers").get(1).path("tokens").asLong()).isEqualTo(2 * 4 * 16);
    assertThat(round.path("workers").get(0).path("tokens_per_s").asDouble()).isPositive();
    assertThat(round.path("workers").get(0).path("transfer_seconds").asDouble()).isPositive();
    assertThat(round.path("seconds").path("compute").asDouble()).isPositive();
    assertThat(round.path("seconds").path("stage").asDouble())
        .isGreaterThanOrEqualTo(round.path("seconds").path("compute").asDouble());
    long params = Fixtures.tinyModel(TOK.vocabSize(), 16).parameters();
    // parameters and both Adam moments, float32, out once and back from each worker
    assertThat(round.path("bytes_broadcast").asLong()).isEqualTo(3 * 4 * params);
    assertThat(round.path("bytes_returned").asLong()).isEqualTo(2 * 3 * 4 * params);
    assertThat(rounds.get(1).has("checkpoint_seconds")).isTrue(); // round 2 reached step 4
  }

  @Test
  void tooLittleDataForTheWorkersFailsOnTheDriverBeforeAnyRound(@TempDir Path tmp) {
    TrainConfig tc = Fixtures.trainConfig(Map.of());
    // 60,000 tokens make 3,749 sequences of 16+1: not one each for 5,000 workers
    assertThatThrownBy(
            () ->
                train(tmp.toUri(), tc, DistributedConfig.LOCAL.withWorkers(5000), local(), quiet()))
        .hasMessageContaining("fewer than the 5000 worker(s)")
        .hasMessageContaining("use shorter sequences, fewer workers or more data");
  }

  @Test
  void workersWithoutSparkIsAClearError(@TempDir Path tmp) {
    assertThatThrownBy(
            () ->
                TrainRun.run(
                    Fixtures.LOCAL,
                    new TrainRun.Request(
                        shards,
                        tmp.toUri(),
                        Fixtures.tinyModel(0, 16),
                        Fixtures.trainConfig(Map.of()),
                        0,
                        DataType.FLOAT,
                        List.of(),
                        DistributedConfig.LOCAL.withWorkers(2)),
                    quiet()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("distributed.workers=2 needs Spark");
  }

  @Test
  void keepingMomentsOnTheWorkersShipsOnlyParameters(@TempDir Path tmp) throws Exception {
    TrainConfig tc = Fixtures.trainConfig(Map.of("train.steps", "4"));
    DistributedConfig dc =
        DistributedConfig.LOCAL.withWorkers(2).withAveragingPeriod(2).withAveragedMoments(false);
    TrainingResult r = train(tmp.resolve("run").toUri(), tc, dc, local(), quiet());
    assertThat(r.state().step()).isEqualTo(4);
    assertThat(r.losses()).allSatisfy(l -> assertThat(l).isFinite());
    long params = Fixtures.tinyModel(TOK.vocabSize(), 16).parameters();
    String line =
        Files.readAllLines(tmp.resolve("run/metrics.jsonl")).stream()
            .filter(l -> l.contains("\"round\""))
            .findFirst()
            .orElseThrow();
    JsonNode n = new ObjectMapper().readTree(line).path("round");
    assertThat(n.path("bytes_broadcast").asLong()).isEqualTo(4 * params);
    assertThat(n.path("bytes_returned").asLong()).isEqualTo(2 * 4 * params);
  }

  @Test
  void aLoraRunShipsOnlyTheAdapterAndTwoWorkersOnBEqualOneWorkerOnTwoB(@TempDir Path tmp)
      throws Exception {
    URI base = tmp.resolve("base").toUri();
    train(base, Fixtures.trainConfig(sgd(8)), DistributedConfig.LOCAL, null, quiet());
    Map<String, String> lora = new java.util.HashMap<>(sgd(4));
    lora.put("train.lora.enabled", "true");
    lora.put("train.lora.r", "4");
    lora.put("train.init-from", base.toString());
    lora.put("train.lr", "0.2");
    lora.put("train.min-lr", "0.2");
    DistributedConfig two = DistributedConfig.LOCAL.withWorkers(2).withAveragingPeriod(1);
    long loadsBefore = WorkerRound.baseLoads();
    TrainingResult averaged =
        train(tmp.resolve("two").toUri(), Fixtures.trainConfig(lora), two, local(), quiet());
    // each executor graph read the base once, not once per round (4 rounds, 2 task slots)
    assertThat(WorkerRound.baseLoads() - loadsBefore).isBetween(1L, 2L);
    lora.put("train.micro-batch-size", "8");
    TrainingResult single =
        train(
            tmp.resolve("one").toUri(),
            Fixtures.trainConfig(lora),
            DistributedConfig.LOCAL,
            null,
            quiet());
    assertThat(averaged.losses()).hasSize(4);
    for (int i = 0; i < 4; i++) {
      assertThat(averaged.losses().get(i)).isCloseTo(single.losses().get(i), within(1e-5));
    }
    var a = finalWeights(tmp.resolve("two").toUri());
    var b = finalWeights(tmp.resolve("one").toUri());
    assertThat(a.keySet()).isEqualTo(b.keySet()).allMatch(n -> n.contains(".lora_"));
    long adapter = 0;
    for (String name : b.keySet()) {
      adapter += b.get(name).length();
      double diff = a.get(name).sub(b.get(name)).amaxNumber().doubleValue();
      assertThat(diff).as(name).isLessThan(2e-6);
    }
    String loraB = a.keySet().stream().filter(n -> n.contains("lora_B")).findFirst().orElseThrow();
    assertThat(a.get(loraB).amaxNumber().doubleValue()).isPositive(); // the adapter trained
    // the rounds moved the adapter alone (SGD keeps no moments), out once and back from each
    long whole = Fixtures.tinyModel(TOK.vocabSize(), 16).parameters();
    List<JsonNode> rounds =
        DistributedClusterTest.rounds(tmp.resolve("two/metrics.jsonl")).stream()
            .map(n -> n.path("round"))
            .toList();
    assertThat(rounds).hasSize(4);
    assertThat(adapter).isLessThan(whole / 5);
    assertThat(rounds.get(3).path("bytes_broadcast").asLong()).isEqualTo(4 * adapter);
    assertThat(rounds.get(3).path("bytes_returned").asLong()).isEqualTo(2 * 4 * adapter);
  }
}
