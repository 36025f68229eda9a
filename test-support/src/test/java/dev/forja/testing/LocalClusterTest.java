package dev.forja.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A real multi-JVM Spark: tasks run in two executor processes, not in the test JVM. */
@Tag("cluster")
class LocalClusterTest {
  @AfterAll
  static void stop() {
    TestSpark.stop();
  }

  @Test
  void tasksRunInTwoSeparateExecutorJvms() {
    SparkSession spark = TestSpark.localCluster(2, 1024);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long self = ProcessHandle.current().pid();
    List<Long> pids =
        jsc.parallelize(IntStream.range(0, 32).boxed().toList(), 8)
            .map(
                i -> {
                  Thread.sleep(200); // long enough that both executors get tasks
                  return ProcessHandle.current().pid();
                })
            .distinct()
            .collect();
    assertThat(pids).hasSize(2).doesNotContain(self);
  }
}
