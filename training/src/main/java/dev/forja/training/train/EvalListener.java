package dev.forja.training.train;

/**
 * Evaluates every {@code train.eval-every} steps and at the end, keeps the best validation loss in
 * the trainer state, and stops the run after {@code train.early-stop-patience} evaluations without
 * improvement.
 */
public final class EvalListener implements TrainListener {
  private final Evaluator evaluator;
  private long lastEvaluated = -1;

  public EvalListener(Evaluator evaluator) {
    this.evaluator = evaluator;
  }

  @Override
  public void onStep(Trainer trainer, StepMetrics step) {
    long every = trainer.config().evalEvery();
    boolean last = step.step() >= trainer.config().steps();
    if (step.crossed(every) || last) {
      evaluate(trainer);
    }
  }

  private void evaluate(Trainer trainer) {
    TrainState s = trainer.state();
    EvalResult r = evaluator.evaluate(s.step());
    lastEvaluated = s.step();
    boolean better = Double.isNaN(s.bestValLoss()) || r.loss() < s.bestValLoss();
    TrainState next =
        new TrainState(
            s.step(),
            s.tokensSeen(),
            s.epoch(),
            s.index(),
            s.seed(),
            s.learningRate(),
            better ? r.loss() : s.bestValLoss(),
            better ? s.step() : s.bestStep(),
            better ? 0 : s.evalsWithoutImprovement() + 1);
    trainer.setState(next);
    trainer.setLastEval(r);
    int patience = trainer.config().earlyStopPatience();
    if (patience > 0 && next.evalsWithoutImprovement() >= patience) {
      trainer.requestStop("early-stop");
    }
  }
}
