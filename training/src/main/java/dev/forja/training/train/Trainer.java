package dev.forja.training.train;

import dev.forja.training.model.GptModel;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;

/**
 * The training loop, and only the loop: advance with the {@link StepStrategy} (one local step, or a
 * distributed round of several), tell the listeners, repeat until {@code train.steps} or a stop.
 * Evaluation, logging, metrics, checkpoints, early stopping and the divergence check are {@link
 * TrainListener}s. The model and the optimizer state are updated in place by the strategy.
 */
public final class Trainer {
  private final GptModel model;
  private final TrainConfig config;
  private final Optimizer optimizer;
  private final StepStrategy strategy;
  private final List<TrainListener> listeners;
  private final List<Double> losses = new ArrayList<>();
  private TrainState state;
  private String stopReason;
  private EvalResult lastEval;
  private long peakNative;
  private long nativeBudget = Long.MAX_VALUE;

  public Trainer(
      GptModel model,
      TrainConfig config,
      Optimizer optimizer,
      StepStrategy strategy,
      TrainState state,
      List<TrainListener> listeners) {
    this.model = model;
    this.config = config;
    this.optimizer = optimizer;
    this.strategy = strategy;
    this.state = state;
    this.listeners = List.copyOf(listeners);
  }

  public GptModel model() {
    return model;
  }

  public TrainConfig config() {
    return config;
  }

  public Optimizer optimizer() {
    return optimizer;
  }

  public TrainState state() {
    return state;
  }

  public void setState(TrainState s) {
    state = s;
  }

  public EvalResult lastEval() {
    return lastEval;
  }

  void setLastEval(EvalResult e) {
    lastEval = e;
    for (TrainListener l : listeners) {
      l.onEval(this, e);
    }
  }

  /** Ends the loop after the current step, with a reason that the result reports. */
  public void requestStop(String reason) {
    if (stopReason == null) {
      stopReason = reason;
    }
  }

  /** Why the loop is ending, or null while it runs. */
  public String stopReason() {
    return stopReason;
  }

  public boolean stopping() {
    return stopReason != null;
  }

  /**
   * Runs until {@code train.steps}, a stop request, or {@code stopAfter} steps of this invocation
   * (0: no limit).
   */
  public TrainingResult run(long stopAfter) {
    long resumedFrom = state.step();
    for (TrainListener l : listeners) {
      l.onStart(this);
    }
    long tokens = 0;
    double seconds = 0;
    while (stopReason == null && state.step() < config.steps()) {
      if (stopAfter > 0 && state.step() - resumedFrom >= stopAfter) {
        stopReason = "stop-after";
        break;
      }
      long limit =
          stopAfter > 0 ? Math.min(config.steps(), resumedFrom + stopAfter) : config.steps();
      StepMetrics m = step(limit);
      tokens += m.tokens();
      seconds += m.seconds();
      losses.add(m.loss());
      for (TrainListener l : listeners) {
        l.onStep(this, m);
      }
    }
    if (stopReason == null) {
      stopReason = "completed";
    }
    for (TrainListener l : listeners) {
      l.onEnd(this);
    }
    return new TrainingResult(
        state,
        stopReason,
        List.copyOf(losses),
        lastEval,
        resumedFrom,
        seconds > 0 ? tokens / seconds : 0,
        peakNative);
  }

  /** One advance of the strategy, at most up to {@code limit}, then the native-memory upkeep. */
  StepMetrics step(long limit) {
    StepStrategy.Advance a = strategy.advance(state, limit - state.step());
    state = a.state();
    peakNative = Math.max(peakNative, Pointer.physicalBytes());
    if (Pointer.totalBytes() > nativeBudget || Pointer.physicalBytes() > nativeBudget) {
      System.gc();
    }
    return a.metrics();
  }

  /**
   * ND4J frees native arrays only when the Java objects are collected, and a training step makes
   * many short-lived arrays while leaving the heap nearly empty, so without help native memory
   * climbs to the javacpp cap. Above {@code bytes} of live native allocations the trainer asks for
   * a collection after the step.
   */
  public void setNativeBudget(long bytes) {
    nativeBudget = bytes;
  }

  public long peakNativeBytes() {
    return peakNative;
  }
}
