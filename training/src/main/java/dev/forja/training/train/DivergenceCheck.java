package dev.forja.training.train;

/**
 * Stops the run when the loss or the gradient norm is NaN or infinite, with a message that says
 * what to change. The trainer skipped that step's update, and checkpoints are only written for
 * finite steps, so the last committed checkpoint stays the last good one.
 */
public final class DivergenceCheck implements TrainListener {
  private String message;

  @Override
  public void onStep(Trainer trainer, StepMetrics step) {
    if (!Double.isFinite(step.loss()) || !Double.isFinite(step.gradNorm())) {
      TrainConfig c = trainer.config();
      message =
          "loss became "
              + step.loss()
              + " (gradient norm "
              + step.gradNorm()
              + ") at step "
              + step.step()
              + ": lower train.lr (now "
              + c.lr()
              + ")"
              + (c.gradClip() > 0
                  ? " or lower train.grad-clip (now " + c.gradClip() + ")"
                  : " or enable train.grad-clip (e.g. 1.0)")
              + (c.warmupSteps() < 100 ? ", or raise train.warmup-steps" : "")
              + "; the last good checkpoint is kept and a rerun resumes from it";
      trainer.requestStop("diverged");
    }
  }

  /** The explanation when the run diverged, or null. */
  public String message() {
    return message;
  }
}
