package dev.forja.training.train;

/**
 * What happens around the loop: progress, metrics, evaluation, early stopping, the divergence
 * check, checkpoints. Called in registration order on the training thread.
 */
public interface TrainListener {
  default void onStart(Trainer trainer) {}

  /** After each optimizer step; {@code trainer.state()} already counts it. */
  default void onStep(Trainer trainer, StepMetrics step) {}

  /** After an evaluation (run by {@link EvalListener}). */
  default void onEval(Trainer trainer, EvalResult eval) {}

  /** Once, when the loop ends for any reason other than an exception. */
  default void onEnd(Trainer trainer) {}
}
