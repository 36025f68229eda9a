package dev.forja.training.train;

import java.io.PrintStream;
import java.util.Locale;
import org.bytedeco.javacpp.Pointer;

/**
 * Console progress every {@code train.log-every} steps: step, loss, learning rate, tokens/s,
 * achieved GFLOP/s and MFU (against this machine's measured sgemm rate), native memory, ETA; and a
 * line per evaluation.
 */
public final class ProgressLogger implements TrainListener {
  private final PrintStream out;
  private final double flopsPerToken;
  private final double peakFlops;
  private long windowTokens;
  private double windowSeconds;
  private double totalSeconds;
  private long stepsTimed;

  /**
   * @param flopsPerToken training FLOPs per token ({@code ModelConfig.flopsPerToken})
   * @param peakFlops the FLOP/s that MFU is relative to (0: do not print MFU)
   */
  public ProgressLogger(PrintStream out, double flopsPerToken, double peakFlops) {
    this.out = out;
    this.flopsPerToken = flopsPerToken;
    this.peakFlops = peakFlops;
  }

  @Override
  public void onStart(Trainer trainer) {
    TrainState s = trainer.state();
    out.printf(
        Locale.ROOT,
        "training: %s from step %d to %d, %d sequences x %d tokens per step%n",
        s.step() == 0 ? "starting" : "resuming",
        s.step(),
        trainer.config().steps(),
        trainer.config().sequencesPerStep(),
        trainer.model().length());
  }

  @Override
  public void onStep(Trainer trainer, StepMetrics m) {
    windowTokens += m.tokens();
    windowSeconds += m.seconds();
    totalSeconds += m.seconds();
    stepsTimed += m.steps();
    TrainConfig c = trainer.config();
    if (!m.crossed(c.logEvery()) && m.step() != c.steps()) {
      return;
    }
    double tps = windowSeconds > 0 ? windowTokens / windowSeconds : 0;
    double flops = tps * flopsPerToken;
    long remaining = c.steps() - m.step();
    double eta = stepsTimed > 0 ? remaining * totalSeconds / stepsTimed : 0;
    out.printf(
        Locale.ROOT,
        "step %d/%d | loss %.4f | lr %.2e | grad-norm %.3f | %,.0f tok/s | %.1f GFLOP/s%s"
            + " | native %s | ETA %s%n",
        m.step(),
        c.steps(),
        m.loss(),
        m.learningRate(),
        m.gradNorm(),
        tps,
        flops / 1e9,
        peakFlops > 0 ? String.format(Locale.ROOT, " (MFU %.0f%%)", 100 * flops / peakFlops) : "",
        bytes(Pointer.physicalBytes()),
        duration(eta));
    windowTokens = 0;
    windowSeconds = 0;
    if (m.round() != null) {
      out.println(roundLine(m.round()));
    }
  }

  /** Per-worker loss and speed, and where the round's time went. */
  static String roundLine(RoundStats r) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "  round %d |", r.round()));
    for (RoundStats.Worker w : r.workers()) {
      sb.append(
          String.format(
              Locale.ROOT,
              " w%d %.4f %,.0f tok/s%s%s |",
              w.worker(),
              w.loss(),
              w.tokensPerSecond(),
              "cpu".equals(w.device()) ? "" : " on " + w.device(),
              w.attempt() > 0 ? " (attempt " + (w.attempt() + 1) + ")" : ""));
    }
    sb.append(
        String.format(
            Locale.ROOT,
            " publish %.2fs, compute %.2fs, stage %.2fs (transfers %.2fs), aggregate %.2fs:"
                + " overhead %.1f%% | %s out, %s back",
            r.broadcastSeconds(),
            r.computeSeconds(),
            r.stageSeconds(),
            r.transferSeconds(),
            r.aggregateSeconds(),
            r.totalSeconds() > 0 ? 100 * r.overheadSeconds() / r.totalSeconds() : 0,
            bytes(r.bytesBroadcast()),
            bytes(r.bytesReturned())));
    return sb.toString();
  }

  @Override
  public void onEval(Trainer trainer, EvalResult e) {
    TrainState s = trainer.state();
    out.printf(
        Locale.ROOT,
        "eval step %d | val loss %.4f | ppl %.2f | bits/byte %.4f | best %.4f at step %d%n",
        e.step(),
        e.loss(),
        e.perplexity(),
        e.bitsPerByte(),
        s.bestValLoss(),
        s.bestStep());
  }

  @Override
  public void onEnd(Trainer trainer) {
    out.printf(
        Locale.ROOT,
        "training ended (%s) at step %d; peak native memory %s%n",
        trainer.stopReason(),
        trainer.state().step(),
        bytes(trainer.peakNativeBytes()));
  }

  static String bytes(long b) {
    if (b >= 1L << 30) {
      return String.format(Locale.ROOT, "%.2f GiB", b / (double) (1L << 30));
    }
    return b >= 10L << 20
        ? String.format(Locale.ROOT, "%.0f MiB", b / (double) (1L << 20))
        : String.format(Locale.ROOT, "%.2f MiB", b / (double) (1L << 20));
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600
        ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
        : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
  }
}
