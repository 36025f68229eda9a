package dev.forja.training.train;

import java.util.List;

/**
 * One round of distributed training: each worker's share and where the time went.
 *
 * @param round the round number (1-based)
 * @param workers per worker, in worker order
 * @param broadcastSeconds driver: offering the round's weights (copying them into a broadcast with
 *     {@code distributed.transport=spark}; nearly nothing with {@code tcp}, which serves them from
 *     the model's memory)
 * @param computeSeconds the slowest worker's local steps
 * @param stageSeconds the Spark stage, from submission to the last result (compute + fetching the
 *     weights + returning results + scheduling)
 * @param aggregateSeconds driver: collecting and averaging the results
 * @param bytesBroadcast bytes of the round's starting weights (fetched by every worker)
 * @param bytesReturned bytes of all workers' results together
 */
public record RoundStats(
    long round,
    List<Worker> workers,
    double broadcastSeconds,
    double computeSeconds,
    double stageSeconds,
    double aggregateSeconds,
    long bytesBroadcast,
    long bytesReturned) {

  /**
   * One worker's round.
   *
   * @param worker its index
   * @param loss its mean loss over the round's steps
   * @param tokens tokens it predicted
   * @param seconds its compute time
   * @param executor the Spark executor that ran it
   * @param device the accelerator Spark assigned it, or "cpu"
   * @param attempt Spark's attempt number (above 0 after a retry)
   * @param transferSeconds its time fetching the round's weights and delivering its own
   * @param setupSeconds its time building its model (and, for LoRA, loading the frozen base) before
   *     the round's steps: nearly 0 from the second round on, the executor keeping both
   */
  public record Worker(
      int worker,
      double loss,
      long tokens,
      double seconds,
      String executor,
      String device,
      int attempt,
      double transferSeconds,
      double setupSeconds)
      implements java.io.Serializable {
    public double tokensPerSecond() {
      return seconds > 0 ? tokens / seconds : 0;
    }
  }

  /** The slowest worker's time fetching and delivering weights (part of the stage). */
  public double transferSeconds() {
    double t = 0;
    for (Worker w : workers) {
      t = Math.max(t, w.transferSeconds());
    }
    return t;
  }

  /** The round's wall time besides the workers' compute: what averaging costs. */
  public double overheadSeconds() {
    return broadcastSeconds + Math.max(0, stageSeconds - computeSeconds) + aggregateSeconds;
  }

  public double totalSeconds() {
    return broadcastSeconds + stageSeconds + aggregateSeconds;
  }
}
