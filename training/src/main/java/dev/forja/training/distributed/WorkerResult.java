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
 * @param parameters its parameters after the round
 * @param moments its optimizer moments when they are averaged, else null
 */
public record WorkerResult(
    RoundStats.Worker stats, TrainState end, double gradNorm, Tensors parameters, Tensors moments)
    implements Serializable {

  public long bytes() {
    return parameters.bytes() + (moments == null ? 0 : moments.bytes());
  }
}
