package dev.forja.training.train;

import dev.forja.shard.SequenceSampler;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.LossPass;
import java.util.LinkedHashMap;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One optimizer step in this JVM: gather the step's micro-batches from the cursor in the state,
 * accumulate gradients normalised by the step's token count, clip, apply the optimizer at the
 * scheduled learning rate. A step whose loss or gradient norm is not finite updates nothing. Also
 * what each distributed worker runs for its local steps.
 */
public final class LocalSteps implements StepStrategy {
  private final GptModel model;
  private final TrainConfig config;
  private final Batches batches;
  private final Optimizer optimizer;
  private final LinkedHashMap<String, INDArray> params;
  private final LinkedHashMap<String, INDArray> grads = new LinkedHashMap<>();
  private final LossPass pass;

  public LocalSteps(GptModel model, TrainConfig config, Batches batches, Optimizer optimizer) {
    this.model = model;
    this.config = config;
    this.batches = batches;
    this.optimizer = optimizer;
    this.params = model.parameters();
    params.forEach((n, p) -> grads.put(n, p.ulike()));
    this.pass = model.pass(config.engineChoice(), config.recomputeActivations());
  }

  /**
   * Whether the caller should collect garbage after each step ({@link LossPass#allocatesPerStep}).
   */
  public boolean allocatesPerStep() {
    return pass.allocatesPerStep();
  }

  @Override
  public Advance advance(TrainState state, long maxSteps) {
    long t0 = System.nanoTime();
    batches.sampler().seek(new SequenceSampler.Cursor(state.epoch(), state.index()));
    Batches.Batch[] micro = new Batches.Batch[config.accumulation()];
    long predicted = 0;
    for (int i = 0; i < micro.length; i++) {
      micro[i] = batches.next(state.step(), i);
      predicted += micro[i].predicted();
    }
    double loss = 0;
    for (int i = 0; i < micro.length; i++) {
      pass.dropoutKey(micro[i].dropoutKey());
      loss +=
          pass.lossAndGradients(
              micro[i].ids(),
              micro[i].targets(),
              micro[i].positions(),
              1.0 / predicted,
              grads,
              i > 0);
    }
    double norm = AdamW.clipGlobalNorm(grads, config.gradClip());
    double lr = config.learningRate(state.step());
    if (Double.isFinite(loss) && Double.isFinite(norm)) {
      optimizer.step(params, grads, state.step() + 1, lr);
    }
    SequenceSampler.Cursor c = batches.sampler().cursor();
    TrainState next =
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
    return new Advance(
        next,
        new StepMetrics(
            next.step(), 1, loss, lr, norm, predicted, (System.nanoTime() - t0) / 1e9, null));
  }
}
