package dev.forja.training.distributed;

import dev.forja.training.train.RoundStats;
import dev.forja.training.train.TrainState;
import java.io.Serializable;

/**
 * What a worker returns from a round.
 *
 * @param stats its loss, tokens, time, executor, device and attempt
 * @param end its state after the round (the data cursor is the same for every worker)
 * @param gradNorm its last step's gradient norm
 * @param delivered its parameters and moments after the round, or how many bytes of them went to
 *     the driver by the round's {@link Exchange}
 */
public record WorkerResult(
    RoundStats.Worker stats, TrainState end, double gradNorm, Exchange.Delivered delivered)
    implements Serializable {

  public long bytes() {
    return delivered.bytes();
  }
}
