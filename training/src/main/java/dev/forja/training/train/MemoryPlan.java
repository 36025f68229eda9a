package dev.forja.training.train;

import dev.forja.training.model.Architecture;
import dev.forja.training.model.GptKernels;
import dev.forja.training.model.LlamaKernels;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.model.ParameterSpec;
import java.util.Locale;

/**
 * What a training configuration needs in native memory, estimated before anything is allocated, so
 * that a configuration that cannot fit fails in a second rather than after minutes of swapping.
 *
 * <p>Parameters: weights, gradients as SameDiff returns them, the accumulated gradients, Adam's two
 * moments and a checkpoint snapshot (6 copies). Activations kept for the backward pass, per
 * micro-batch of B sequences of T tokens: per layer about 24 B T d (norms, q/k/v, projections, the
 * 4d MLP and its GELU pieces) plus 4 B H T^2 (scores, mask, softmax and its gradient); once, 6 B T
 * V for the one-hot input, logits, log-probabilities, one-hot targets and their gradients. Twice
 * the activations are allowed for the backward pass's temporaries. The hand-written kernels ({@code
 * train.engine=kernels}) preallocate exactly what they keep ({@link GptKernels#activationFloats})
 * and need no one-hot tensors, so their estimate is that figure. A LoRA model's frozen base is one
 * copy (its linear weights at 2 bytes with {@code train.lora.base-dtype: bf16}); only the trainable
 * parameters (the adapters, modules to save) have the other five.
 */
public record MemoryPlan(long parameterBytes, long activationBytes) {
  public static MemoryPlan estimate(
      ModelConfig c, int microBatch, int length, int bytesPerValue, boolean kernels) {
    return estimate(c, microBatch, length, bytesPerValue, kernels, false);
  }

  /** As above; {@code recompute}: activations recomputed in the backward pass (Llama kernels). */
  public static MemoryPlan estimate(
      ModelConfig c,
      int microBatch,
      int length,
      int bytesPerValue,
      boolean kernels,
      boolean recompute) {
    return estimate(Architecture.of(c), microBatch, length, bytesPerValue, kernels, recompute);
  }

  /** As above for a description, which may hold LoRA adapters and frozen parameters. */
  public static MemoryPlan estimate(
      Architecture arch,
      int microBatch,
      int length,
      int bytesPerValue,
      boolean kernels,
      boolean recompute) {
    ModelConfig c = arch.config();
    java.util.Set<String> half = arch.halfPrecision();
    long params = 0;
    for (ParameterSpec s : arch.parameters()) {
      params +=
          s.count()
              * (s.trainable() ? 6L * bytesPerValue : half.contains(s.name()) ? 2 : bytesPerValue);
    }
    if (kernels) {
      return new MemoryPlan(
          params,
          (c.llamaFamily()
                  ? LlamaKernels.activationFloats(c, microBatch, length, recompute)
                  : GptKernels.activationFloats(c, microBatch, length))
              * bytesPerValue);
    }
    double bt = (double) microBatch * length;
    double perLayer = 24 * bt * c.dModel() + 4.0 * microBatch * c.heads() * length * length;
    if (c.llamaFamily()) { // the SwiGLU MLP's three hidden-width activations, and wider heads
      perLayer += 6 * bt * c.mlpWidth() + 8 * bt * c.heads() * c.headSize();
    }
    double once = 6 * bt * c.vocabSize();
    long act = (long) (2 * (c.layers() * perLayer + once) * bytesPerValue);
    return new MemoryPlan(params, act);
  }

  public long totalBytes() {
    return parameterBytes + activationBytes;
  }

  /**
   * Throws with a suggestion when the plan exceeds {@code limitBytes} (the javacpp physical-memory
   * cap); {@code limitBytes <= 0} means no cap.
   */
  public void requireFits(long limitBytes, int microBatch, int accumulation) {
    if (limitBytes <= 0 || totalBytes() <= limitBytes) {
      return;
    }
    String hint;
    if (microBatch > 1) {
      int smaller = Math.max(1, microBatch / 2);
      hint =
          String.format(
              Locale.ROOT,
              "set train.micro-batch-size=%d and train.accumulation-steps=%d (same tokens per"
                  + " step, half the activations)",
              smaller,
              accumulation * microBatch / smaller);
    } else {
      hint = "use a smaller model (model.d-model, model.layers) or a shorter train.sequence-length";
    }
    throw new IllegalArgumentException(
        String.format(
            Locale.ROOT,
            "this configuration needs about %.1f GiB of native memory (%.1f GiB parameters and"
                + " optimizer state, %.1f GiB activations) but ND4J may use %.1f GiB"
                + " (-Dorg.bytedeco.javacpp.maxphysicalbytes, FORJA_NATIVE_MEMORY): %s, or raise"
                + " the cap if the machine has the memory",
            totalBytes() / GIB,
            parameterBytes / GIB,
            activationBytes / GIB,
            limitBytes / GIB,
            hint));
  }

  private static final double GIB = 1024.0 * 1024 * 1024;
}
