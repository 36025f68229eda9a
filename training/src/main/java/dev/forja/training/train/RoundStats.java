package dev.forja.training.train;

import java.util.List;

/**
 * One round of distributed training: each worker's share and where the time went.
 *
 * @param round the round number (1-based)
 * @param workers per worker, in worker order
 * @param broadcastSeconds driver: serialising and broadcasting the parameters
 * @param computeSeconds the slowest worker's local steps
 * @param stageSeconds the Spark stage, from submission to the last result (compute + fetching the
 *     broadcast + returning results + scheduling)
 * @param aggregateSeconds driver: deserialising and averaging the results
 * @param bytesBroadcast bytes of the broadcast (sent to every executor that runs a worker)
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
   */
  public record Worker(
      int worker,
      double loss,
      long tokens,
      double seconds,
      String executor,
      String device,
      int attempt)
      implements java.io.Serializable {
    public double tokensPerSecond() {
      return seconds > 0 ? tokens / seconds : 0;
    }
  }

  /** The round's wall time besides the workers' compute: what averaging costs. */
  public double overheadSeconds() {
    return broadcastSeconds + Math.max(0, stageSeconds - computeSeconds) + aggregateSeconds;
  }

  public double totalSeconds() {
    return broadcastSeconds + stageSeconds + aggregateSeconds;
  }
}
