package dev.forja.bench;

import dev.forja.training.model.GptModel;
import dev.forja.training.model.LossPass;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.MemoryPlan;
import dev.forja.training.train.TrainConfig;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The memory and time of one forward and backward pass at one micro-batch, without the optimizer:
 * what fine-tuning a model of this shape needs beyond the optimizer's state (which LoRA shrinks or
 * a sharded optimizer spreads). Reports the process's peak resident set against the memory plan's
 * estimate of weights, gradients and activations.
 */
final class StepBenchmark {
  private StepBenchmark() {}

  static void run(ModelConfig mc, TrainConfig tc, int passes, PrintWriter out) {
    int b = tc.microBatch();
    int t = tc.sequenceLength() > 0 ? tc.sequenceLength() : mc.contextLength();
    GptModel.Engine engine = GptModel.resolve(tc.engineChoice(), mc, DataType.FLOAT);
    dev.forja.training.model.Architecture arch = dev.forja.training.model.Architecture.of(mc);
    if (tc.lora().enabled()) { // adapters on the base: only their gradients are computed
      arch = arch.withLora(tc.lora().settings());
    }
    MemoryPlan plan =
        MemoryPlan.estimate(
            arch, b, t, 4, engine == GptModel.Engine.KERNELS, tc.recomputeActivations());
    long weights = 0;
    long gradients = 0;
    java.util.Set<String> half = arch.halfPrecision();
    for (var p : arch.parameters()) {
      weights += p.count() * (half.contains(p.name()) ? 2 : 4);
      gradients += p.trainable() ? p.count() * 4 : 0;
    }
    out.printf(
        Locale.ROOT,
        "config: %s, %,d parameters, micro-batch %d x %d, engine %s%s; planned: weights %.2f GiB,"
            + " gradients %.2f GiB, activations %.2f GiB%n",
        mc.llamaFamily() ? mc.llama().modelType() : "gpt2",
        mc.parameters(),
        b,
        t,
        engine.name().toLowerCase(Locale.ROOT),
        tc.recomputeActivations() ? " (activations recomputed)" : "",
        weights / GIB,
        gradients / GIB,
        plan.activationBytes() / GIB);
    out.flush();
    long t0 = System.nanoTime();
    GptModel m = GptModel.build(arch, b, t, DataType.FLOAT, tc.seed());
    if (tc.lora().enabled()) {
      long trainable = 0;
      for (INDArray p : m.parameters().values()) {
        trainable += p.length();
      }
      out.printf(
          Locale.ROOT,
          "LoRA: r %d on %s, %,d trainable parameters%n",
          tc.lora().r(),
          tc.lora().targetModules(),
          trainable);
    }
    LossPass pass = m.pass(tc.engineChoice(), tc.recomputeActivations());
    Map<String, INDArray> grads = new LinkedHashMap<>();
    m.parameters().forEach((n, p) -> grads.put(n, p.ulike()));
    double build = (System.nanoTime() - t0) / 1e9;
    double builtRss = TrainBenchmark.peakRss() / GIB;
    SplittableRandom rnd = new SplittableRandom(tc.seed());
    int[] ids = new int[b * t];
    int[] targets = new int[b * t];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = rnd.nextInt(mc.vocabSize());
      targets[i] = rnd.nextInt(mc.vocabSize());
    }
    double last = 0;
    double loss = 0;
    for (int i = 0; i < passes; i++) {
      long s = System.nanoTime();
      loss = pass.lossAndGradients(ids, targets, 1.0 / ids.length, grads, false);
      last = (System.nanoTime() - s) / 1e9;
    }
    out.printf(
        Locale.ROOT,
        "forward+backward: %.2f s (last of %d), %,.0f tokens/s, loss %.3f; model built in %.1f s"
            + " (peak RSS then %.2f GiB); peak RSS %.2f GiB%n",
        last,
        passes,
        ids.length / last,
        loss,
        build,
        builtRss,
        TrainBenchmark.peakRss() / GIB);
    out.flush();
  }

  private static final double GIB = 1L << 30;
}
