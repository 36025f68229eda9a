package dev.forja.training.distributed;

import dev.forja.config.ConfigReader;
import java.io.Serializable;

/**
 * How {@code forja train} spreads over Spark: {@code distributed.*}.
 *
 * @param workers 0 trains in this JVM without Spark; N >= 1 runs N Spark tasks per round, each on
 *     its own slice of the shards, and averages their parameters ({@code --workers})
 * @param averagingPeriod K: local optimizer steps each worker takes between averages; larger K
 *     moves fewer bytes per token but lets the workers drift further apart
 * @param averageOptimizerState ship and average the optimizer moments with the parameters (exact
 *     retries and resumes); false keeps each worker's moments in its executor (half the bytes; a
 *     worker that lands on a fresh executor restarts its moments from zero)
 * @param threadsPerTask BLAS/OpenMP threads per task; 0: {@code spark.task.cpus} (executor cores /
 *     task slots)
 * @param executorWaitSeconds how long to wait for enough task slots for all workers before failing
 *     (each round checks)
 * @param transport how weights travel between the driver and the workers ({@link Transport})
 * @param transportPort the driver's port for {@link Transport#TCP}; 0 picks a free one
 */
public record DistributedConfig(
    int workers,
    int averagingPeriod,
    boolean averageOptimizerState,
    int threadsPerTask,
    int executorWaitSeconds,
    Transport transport,
    int transportPort)
    implements Serializable {

  /**
   * {@code TCP}: the driver serves and receives weights on a port of its own ({@link TcpExchange});
   * {@code SPARK}: a broadcast out and the tasks' results back ({@link SparkExchange}), slower, for
   * clusters whose executors can reach no driver port but Spark's.
   */
  public enum Transport {
    TCP,
    SPARK
  }

  public static final DistributedConfig LOCAL =
      new DistributedConfig(0, 8, true, 0, 120, Transport.TCP, 0);

  public static DistributedConfig read(ConfigReader r) {
    return new DistributedConfig(
        r.intIn(
            "distributed.workers",
            0,
            0,
            1 << 16,
            "0: train in this JVM; N: N Spark tasks with parameter averaging (--workers)."),
        r.intIn(
            "distributed.averaging-period",
            8,
            1,
            1 << 20,
            "Local steps per worker between parameter averages (K)."),
        r.bool(
            "distributed.average-optimizer-state",
            true,
            "Average the optimizer moments too (exact retries and resumes; twice the bytes)."),
        r.intIn(
            "distributed.threads-per-task",
            0,
            0,
            1024,
            "BLAS/OpenMP threads per task; 0: spark.task.cpus (executor cores / task slots)."),
        r.intIn(
            "distributed.executor-wait-seconds",
            120,
            1,
            86_400,
            "Wait this long for task slots for every worker, then fail with what is missing."),
        Transport.valueOf(
            r.choice(
                    "distributed.transport",
                    "tcp",
                    java.util.List.of("tcp", "spark"),
                    "How weights travel each round: tcp (the driver serves them on a port of its"
                        + " own; several times faster) or spark (broadcast and task results, for"
                        + " clusters where executors reach no other driver port).")
                .toUpperCase(java.util.Locale.ROOT)),
        r.intIn(
            "distributed.transport-port",
            0,
            0,
            65_535,
            "The driver's port for distributed.transport=tcp; 0 picks a free one (set it where"
                + " a firewall or a Kubernetes service must open it)."));
  }

  public boolean enabled() {
    return workers > 0;
  }

  public DistributedConfig withWorkers(int n) {
    return new DistributedConfig(
        n,
        averagingPeriod,
        averageOptimizerState,
        threadsPerTask,
        executorWaitSeconds,
        transport,
        transportPort);
  }

  public DistributedConfig withAveragingPeriod(int k) {
    return new DistributedConfig(
        workers,
        k,
        averageOptimizerState,
        threadsPerTask,
        executorWaitSeconds,
        transport,
        transportPort);
  }

  public DistributedConfig withAveragedMoments(boolean averaged) {
    return new DistributedConfig(
        workers,
        averagingPeriod,
        averaged,
        threadsPerTask,
        executorWaitSeconds,
        transport,
        transportPort);
  }

  public DistributedConfig withExecutorWait(int seconds) {
    return new DistributedConfig(
        workers,
        averagingPeriod,
        averageOptimizerState,
        threadsPerTask,
        seconds,
        transport,
        transportPort);
  }

  public DistributedConfig withTransport(Transport t) {
    return new DistributedConfig(
        workers,
        averagingPeriod,
        averageOptimizerState,
        threadsPerTask,
        executorWaitSeconds,
        t,
        transportPort);
  }
}
