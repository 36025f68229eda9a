package dev.forja.training.checkpoint;

import dev.forja.training.train.MetricsLog;
import dev.forja.training.train.StepMetrics;
import dev.forja.training.train.TrainListener;
import dev.forja.training.train.Trainer;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Checkpoints every {@code train.checkpoint-every} steps and when the run ends (unless it
 * diverged): snapshot on the training thread, write in the background. Also rewrites {@code
 * metrics.jsonl}, so that the metrics on storage match the newest checkpoint.
 */
public final class CheckpointListener implements TrainListener {
  private final CheckpointStore store;
  private final MetricsLog metrics;
  private final String tokenizerJson;
  private final PrintStream out;
  private final java.util.Map<String, String> carried;
  private long lastWritten = -1;
  private double stallSeconds;
  private int written;

  public CheckpointListener(
      CheckpointStore store, MetricsLog metrics, String tokenizerJson, PrintStream out) {
    this(store, metrics, tokenizerJson, java.util.Map.of(), out);
  }

  /**
   * {@code carried}: the model files every checkpoint of the run carries ({@link
   * CheckpointStore#CARRIED}).
   */
  public CheckpointListener(
      CheckpointStore store,
      MetricsLog metrics,
      String tokenizerJson,
      java.util.Map<String, String> carried,
      PrintStream out) {
    this.carried = carried;
    this.store = store;
    this.metrics = metrics;
    this.tokenizerJson = tokenizerJson;
    this.out = out;
  }

  @Override
  public void onStart(Trainer trainer) {
    lastWritten = trainer.state().step();
  }

  @Override
  public void onStep(Trainer trainer, StepMetrics step) {
    long every = trainer.config().checkpointEvery();
    if (step.crossed(every) && !"diverged".equals(trainer.stopReason())) {
      save(trainer);
    }
  }

  @Override
  public void onEnd(Trainer trainer) {
    if (!"diverged".equals(trainer.stopReason()) && lastWritten != trainer.state().step()) {
      save(trainer);
    }
    store.await();
    metrics.flush();
  }

  private void save(Trainer trainer) {
    long t0 = System.nanoTime();
    store.await(); // at most one snapshot in memory besides the live arrays
    long t1 = System.nanoTime();
    CheckpointStore.Snapshot s =
        CheckpointStore.snapshot(
            trainer.state(),
            trainer.model().parameters(),
            trainer.optimizer().state(),
            trainer.model().config(),
            trainer.config(),
            tokenizerJson,
            carried);
    double stall = (System.nanoTime() - t0) / 1e9;
    metrics.checkpointed(stall);
    metrics.flush();
    store.writeAsync(s, trainer.config().keepCheckpoints());
    stall = (System.nanoTime() - t0) / 1e9;
    stallSeconds += stall;
    written++;
    lastWritten = trainer.state().step();
    out.printf(
        Locale.ROOT,
        "checkpoint step %d: snapshot in %.0f ms (waited %.0f ms for the previous write),"
            + " writing to %s in the background%n",
        lastWritten,
        stall * 1000,
        (t1 - t0) / 1e6,
        store.root());
  }

  /** Seconds the training thread spent on checkpoints (snapshot + waiting for a previous write). */
  public double stallSeconds() {
    return stallSeconds;
  }

  public int written() {
    return written;
  }
}
