package dev.forja.training.train;

/**
 * Where a run is, everything besides weights and optimizer moments that an exact resume needs.
 * Stored as {@code trainer-state.json} in each checkpoint.
 *
 * @param step optimizer steps done
 * @param tokensSeen tokens predicted so far
 * @param epoch the data cursor's epoch
 * @param index the data cursor's next sequence within the epoch
 * @param seed the run's seed (masking randomness derives from it and the step)
 * @param learningRate the last step's learning rate
 * @param bestValLoss the lowest validation loss so far (NaN when none)
 * @param bestStep the step of {@code bestValLoss} (-1 when none)
 * @param evalsWithoutImprovement evaluations since the best one, for early stopping
 */
public record TrainState(
    long step,
    long tokensSeen,
    long epoch,
    long index,
    long seed,
    double learningRate,
    double bestValLoss,
    long bestStep,
    int evalsWithoutImprovement)
    implements java.io.Serializable {

  public static TrainState start(long seed) {
    return new TrainState(0, 0, 0, 0, seed, 0, Double.NaN, -1, 0);
  }
}
