package dev.forja.training.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.testing.TestSpark;
import dev.forja.training.Fixtures;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainingResult;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Parameter averaging on a real multi-JVM cluster (a Master and two Workers, each executor its own
 * JVM), with fake GPUs: each Worker's discovery script hands out its own address, and every task
 * must report the address Spark assigned it.
 */
@Tag("cluster")
class DistributedClusterTest {
  static JavaSparkContext jsc;

  @BeforeAll
  static void cluster(@TempDir Path tmp) throws Exception {
    ParameterAveragingTest.shards(tmp);
    Path script = tmp.resolve("gpus.sh");
    Files.writeString(
        script,
        """
        #!/usr/bin/env bash
        # Fake GPU discovery: each Worker that runs this gets the next address, 4, 5, ...
        dir="$(cd "$(dirname "$0")" && pwd)"
        exec 9>"$dir/gpus.lock"
        flock 9
        n=$(cat "$dir/gpus.next" 2>/dev/null || echo 0)
        echo $((n + 1)) > "$dir/gpus.next"
        echo "{\\"name\\": \\"gpu\\", \\"addresses\\": [\\"$((n + 4))\\"]}"
        """);
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    jsc =
        JavaSparkContext.fromSparkContext(
            TestSpark.localCluster(
                    2,
                    1536,
                    Map.of(
                        "spark.worker.resource.gpu.amount", "1",
                        "spark.worker.resource.gpu.discoveryScript", script.toString(),
                        "spark.executor.resource.gpu.amount", "1",
                        "spark.task.resource.gpu.amount", "1",
                        "spark.executorEnv.OMP_NUM_THREADS", "1"))
                .sparkContext());
  }

  @AfterAll
  static void stop() {
    System.clearProperty(FaultInjection.PROPERTY);
    TestSpark.stop();
  }

  static DistributedConfig twoWorkers() {
    return DistributedConfig.LOCAL.withWorkers(2).withAveragingPeriod(2);
  }

  static TrainConfig adam() {
    return Fixtures.trainConfig(Map.of("train.steps", "6", "train.checkpoint-every", "0"));
  }

  @Test
  void anExecutorKilledMidRoundIsRetriedAndTheWeightsEqualAFaultFreeRun(@TempDir Path tmp)
      throws Exception {
    URI clean = tmp.resolve("clean").toUri();
    TrainingResult a =
        ParameterAveragingTest.train(
            clean, adam(), twoWorkers(), jsc, ParameterAveragingTest.quiet());
    Path marker = tmp.resolve("killed");
    System.setProperty(FaultInjection.PROPERTY, "2:1:" + marker);
    URI faulty = tmp.resolve("faulty").toUri();
    TrainingResult b;
    try {
      b =
          ParameterAveragingTest.train(
              faulty, adam(), twoWorkers(), jsc, ParameterAveragingTest.quiet());
    } finally {
      System.clearProperty(FaultInjection.PROPERTY);
    }
    assertThat(marker).exists(); // an executor JVM really halted in round 2
    assertThat(b.losses()).containsExactlyElementsOf(a.losses());
    var wa = Tensors.of(ParameterAveragingTest.finalWeights(clean));
    var wb = Tensors.of(ParameterAveragingTest.finalWeights(faulty));
    assertThat(wb.names()).isEqualTo(wa.names());
    for (int i = 0; i < wa.size(); i++) {
      assertThat(wb.data().get(i)).as(wa.names().get(i)).isEqualTo(wa.data().get(i));
    }

    List<JsonNode> rounds = rounds(tmp.resolve("faulty/metrics.jsonl"));
    JsonNode retried = rounds.get(1).path("round").path("workers").get(1);
    assertThat(retried.path("attempt").asInt()).isPositive();
    // every task ran on the fake GPU Spark assigned to its executor (4 or 5); a round's two
    // tasks run at once on the two executors, except where a retry shared the survivor
    Set<String> devices = new TreeSet<>();
    for (JsonNode r : rounds) {
      r.path("round").path("workers").forEach(w -> devices.add(w.path("device").asText()));
    }
    assertThat(devices)
        .hasSize(2)
        .allSatisfy(d -> assertThat(d).matches("gpu:[45] \\(assigned; ND4J CPU backend.*"));
    JsonNode first = rounds.get(0).path("round").path("workers");
    assertThat(first.get(0).path("device").asText())
        .isNotEqualTo(first.get(1).path("device").asText());
  }

  @Test
  void aLoraRunWithAnExecutorKilledMidRoundGivesTheSameAdapter(@TempDir Path tmp) throws Exception {
    URI base = tmp.resolve("base").toUri();
    ParameterAveragingTest.train(
        base, adam(), DistributedConfig.LOCAL, null, ParameterAveragingTest.quiet());
    TrainConfig lora =
        Fixtures.trainConfig(
            Map.of(
                "train.steps", "6",
                "train.checkpoint-every", "0",
                "train.lora.enabled", "true",
                "train.lora.r", "4",
                "train.lr", "0.01",
                "train.init-from", base.toString()));
    URI clean = tmp.resolve("clean").toUri();
    TrainingResult a =
        ParameterAveragingTest.train(
            clean, lora, twoWorkers(), jsc, ParameterAveragingTest.quiet());
    Path marker = tmp.resolve("killed");
    System.setProperty(FaultInjection.PROPERTY, "2:0:" + marker);
    URI faulty = tmp.resolve("faulty").toUri();
    TrainingResult b;
    try {
      b =
          ParameterAveragingTest.train(
              faulty, lora, twoWorkers(), jsc, ParameterAveragingTest.quiet());
    } finally {
      System.clearProperty(FaultInjection.PROPERTY);
    }
    assertThat(marker).exists(); // an executor JVM really halted in round 2
    assertThat(b.losses()).containsExactlyElementsOf(a.losses());
    var wa = Tensors.of(ParameterAveragingTest.finalWeights(clean));
    var wb = Tensors.of(ParameterAveragingTest.finalWeights(faulty));
    assertThat(wa.names()).isNotEmpty().allMatch(n -> n.contains(".lora_"));
    assertThat(wb.names()).isEqualTo(wa.names());
    for (int i = 0; i < wa.size(); i++) {
      assertThat(wb.data().get(i)).as(wa.names().get(i)).isEqualTo(wa.data().get(i));
    }
    // the retried task's new executor read the base before its steps; the others kept theirs
    List<JsonNode> rounds = rounds(tmp.resolve("faulty/metrics.jsonl"));
    JsonNode retried = rounds.get(1).path("round").path("workers").get(0);
    assertThat(retried.path("attempt").asInt()).isPositive();
    assertThat(rounds.get(0).path("round").path("bytes_broadcast").asLong())
        .isEqualTo(3 * wa.bytes()); // the adapter and its two Adam moments
  }

  @Test
  void moreWorkersThanTaskSlotsFailsWithinTheWaitNamingWhatIsMissing(@TempDir Path tmp) {
    long t0 = System.nanoTime();
    assertThatThrownBy(
            () ->
                ParameterAveragingTest.train(
                    tmp.resolve("run").toUri(),
                    adam(),
                    twoWorkers().withWorkers(3).withExecutorWait(3),
                    jsc,
                    ParameterAveragingTest.quiet()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("distributed.workers=3 needs 3 concurrent task slots")
        .hasMessageContaining("after 3 s the cluster offers")
        .hasMessageContaining("start more executors");
    assertThat((System.nanoTime() - t0) / 1e9).isLessThan(60);
  }

  static List<JsonNode> rounds(Path metrics) throws Exception {
    ObjectMapper json = new ObjectMapper();
    List<JsonNode> out = new ArrayList<>();
    for (String l : Files.readAllLines(metrics)) {
      JsonNode n = json.readTree(l);
      if (n.has("round")) {
        out.add(n);
      }
    }
    return out;
  }
}
