package dev.forja.training.train;

/**
 * What one advance of the loop did: one optimizer step locally, or one round of {@code K} steps on
 * every worker with parameter averaging.
 *
 * @param step the global step reached (1-based)
 * @param steps optimizer steps this record covers (1 locally, the averaging period in a round)
 * @param loss mean loss per predicted token over those steps (and workers)
 * @param learningRate the learning rate of the last step
 * @param gradNorm the global gradient norm before clipping (the last step's; the workers' mean)
 * @param tokens tokens predicted (all workers together)
 * @param seconds wall time
 * @param round the round's breakdown when training is distributed, else null
 */
public record StepMetrics(
    long step,
    int steps,
    double loss,
    double learningRate,
    double gradNorm,
    long tokens,
    double seconds,
    RoundStats round) {

  /** Whether a multiple of {@code every} (> 0) lies among the steps this record covers. */
  public boolean crossed(long every) {
    return every > 0 && step / every != (step - steps) / every;
  }
}
