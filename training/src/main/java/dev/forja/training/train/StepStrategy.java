package dev.forja.training.train;

/**
 * How the {@link Trainer}'s loop advances: {@link LocalSteps} (one optimizer step in this JVM) or
 * parameter averaging across Spark workers ({@code dev.forja.training.distributed}). The loop, the
 * listeners and the model do not know which.
 */
public interface StepStrategy extends AutoCloseable {
  /** The state after advancing, and what it took. */
  record Advance(TrainState state, StepMetrics metrics) {}

  /**
   * Advances from {@code state} (whose cursor says where the data continues) by at most {@code
   * maxSteps} optimizer steps, updating the trainer's parameters and optimizer state in place.
   */
  Advance advance(TrainState state, long maxSteps);

  @Override
  default void close() {}
}
