package dev.forja.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.training.train.MemoryPlan;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/**
 * On YARN and Kubernetes, where a container that outgrows its request is killed, a training run
 * whose executors' memory overhead cannot hold its memory plan is refused before any round, naming
 * the value to give; elsewhere nothing is checked.
 */
class ExecutorOverheadTest {
  private static final long MIB = 1 << 20;

  @Test
  void anOverheadBelowThePlanIsRefusedNamingTheValue() {
    MemoryPlan plan = new MemoryPlan(300 * MIB, 200 * MIB); // 500 MiB + 512 baseline
    SparkConf yarn =
        new SparkConf(false)
            .set("spark.master", "yarn")
            .set("spark.executor.memory", "2g")
            .set("spark.executor.memoryOverhead", "768m");
    assertThatThrownBy(() -> TrainRun.requireExecutorOverhead(yarn, plan, quiet()))
        .hasMessageContaining("spark.executor.memoryOverhead is 768 MiB")
        .hasMessageContaining("about 1012 MiB")
        .hasMessageContaining("--conf spark.executor.memoryOverhead=1012m")
        .hasMessageContaining("YARN kills");
    // the default overhead is a tenth of the heap, at least 384 MiB
    SparkConf k8s = new SparkConf(false).set("spark.master", "k8s://https://api:6443");
    assertThatThrownBy(() -> TrainRun.requireExecutorOverhead(k8s, plan, quiet()))
        .hasMessageContaining("spark.executor.memoryOverhead is 384 MiB")
        .hasMessageContaining("Kubernetes kills");

    ByteArrayOutputStream log = new ByteArrayOutputStream();
    TrainRun.requireExecutorOverhead(
        yarn.clone().set("spark.executor.memoryOverhead", "1012m"),
        plan,
        new PrintStream(log, true, StandardCharsets.UTF_8));
    assertThat(log.toString())
        .contains("executor memory: 2048 MiB heap + 1012 MiB overhead")
        .contains("about 1012 MiB outside the heap");
    // standalone and local executors are not held to a container size
    TrainRun.requireExecutorOverhead(
        new SparkConf(false).set("spark.master", "spark://h:7077"), plan, quiet());
    TrainRun.requireExecutorOverhead(
        new SparkConf(false).set("spark.master", "local[2]"), plan, quiet());
  }

  private static PrintStream quiet() {
    return new PrintStream(java.io.OutputStream.nullOutputStream());
  }
}
