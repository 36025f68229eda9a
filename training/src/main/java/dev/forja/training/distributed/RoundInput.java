package dev.forja.training.distributed;

import dev.forja.training.train.TrainState;
import java.io.Serializable;
import org.apache.spark.broadcast.Broadcast;

/**
 * One round as a task sees it. Everything a worker computes is a function of this and its index, so
 * a retried task returns the same bits.
 *
 * @param spec what all rounds share
 * @param round the round number (1-based)
 * @param start the global state the round starts from (step, data cursor, seed)
 * @param steps local steps per worker this round
 * @param weights the parameters (and, when averaged, the optimizer moments), broadcast once
 * @param fault test hook: an executor JVM to kill in this round, or null
 */
public record RoundInput(
    WorkerSpec spec,
    long round,
    TrainState start,
    int steps,
    Broadcast<Payload> weights,
    FaultInjection fault)
    implements Serializable {

  /** The broadcast: parameters and (optionally) optimizer moments. */
  public record Payload(Tensors parameters, Tensors moments) implements Serializable {
    public long bytes() {
      return parameters.bytes() + (moments == null ? 0 : moments.bytes());
    }
  }
}
