package dev.forja.training.train;

import dev.forja.shard.SequenceSampler;
import dev.forja.training.model.GptModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The training loop, and only the loop: gather the step's micro-batches, accumulate gradients
 * normalised by the step's token count, clip, apply AdamW at the scheduled learning rate, tell the
 * listeners. Evaluation, logging, metrics, checkpoints, early stopping and the divergence check are
 * {@link TrainListener}s. A step whose loss is not finite updates nothing.
 */
public final class Trainer {
  private final GptModel model;
  private final TrainConfig config;
  private final Batches batches;
  private final AdamW optimizer;
  private final List<TrainListener> listeners;
  private final LinkedHashMap<String, INDArray> params;
  private final LinkedHashMap<String, INDArray> grads = new LinkedHashMap<>();
  private final List<String> names;
  private final List<Double> losses = new ArrayList<>();
  private TrainState state;
  private String stopReason;
  private EvalResult lastEval;
  private long peakNative;
  private long nativeBudget = Long.MAX_VALUE;

  public Trainer(
      GptModel model,
      TrainConfig config,
      Batches batches,
      AdamW optimizer,
      TrainState state,
      List<TrainListener> listeners) {
    this.model = model;
    this.config = config;
    this.batches = batches;
    this.optimizer = optimizer;
    this.state = state;
    this.listeners = List.copyOf(listeners);
    this.params = model.parameters();
    this.names = List.copyOf(params.keySet());
    params.forEach((n, p) -> grads.put(n, p.ulike()));
    model.prepareGradients();
    batches.sampler().seek(new SequenceSampler.Cursor(state.epoch(), state.index()));
  }

  public GptModel model() {
    return model;
  }

  public TrainConfig config() {
    return config;
  }

  public AdamW optimizer() {
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
      StepMetrics m = step();
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

  /** One optimizer step. */
  StepMetrics step() {
    long t0 = System.nanoTime();
    Batches.Batch[] micro = new Batches.Batch[config.accumulation()];
    long predicted = 0;
    for (int i = 0; i < micro.length; i++) {
      micro[i] = batches.next(state.step(), i);
      predicted += micro[i].predicted();
    }
    double loss = 0;
    for (int i = 0; i < micro.length; i++) {
      Map<String, INDArray> feed = model.feed(micro[i].ids(), micro[i].targets(), 1.0 / predicted);
      OutAndGrad og =
          model.sameDiff().calculateGradientsAndOutputs(feed, List.of(GptModel.LOSS), names);
      loss += og.getOutputs().get(GptModel.LOSS).getDouble(0);
      for (String n : names) {
        INDArray g = og.getGradients().get(n);
        if (i == 0) {
          grads.get(n).assign(g);
        } else {
          grads.get(n).addi(g);
        }
      }
    }
    double norm = AdamW.clipGlobalNorm(grads, config.gradClip());
    double lr = config.learningRate(state.step());
    if (Double.isFinite(loss) && Double.isFinite(norm)) {
      optimizer.step(params, grads, state.step() + 1, lr);
    }
    SequenceSampler.Cursor c = batches.sampler().cursor();
    state =
        new TrainState(
            state.step() + 1,
            state.tokensSeen() + predicted,
            c.epoch(),
            c.index(),
            state.seed(),
            lr,
            state.bestValLoss(),
            state.bestStep(),
            state.evalsWithoutImprovement());
    peakNative = Math.max(peakNative, Pointer.physicalBytes());
    if (Pointer.totalBytes() > nativeBudget || Pointer.physicalBytes() > nativeBudget) {
      System.gc();
    }
    return new StepMetrics(state.step(), loss, lr, norm, predicted, (System.nanoTime() - t0) / 1e9);
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
