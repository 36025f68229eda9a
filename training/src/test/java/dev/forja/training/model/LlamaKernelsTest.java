package dev.forja.training.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The Llama family's CPU kernels against its SameDiff graph in double precision (which the Hugging
 * Face reference tests hold to transformers): the loss and every gradient element, for each switch
 * of the family. Each op is thereby gradient-checked in both engines: RMSNorm, grouped-query
 * attention, RoPE with its scalings, SwiGLU, q/k/v biases and per-head q/k norms.
 */
@Tag("vector-twins")
class LlamaKernelsTest {
  /**
   * Relative error allowed per gradient element: fp32 against double through two layers whose
   * weights are drawn wide (std 0.4, so that no gradient is negligible) leaves up to about 4e-4 on
   * the smaller elements; an error in an op's gradient shows as 1e-2 and more.
   */
  private static final double TOLERANCE = 1e-3;

  private static ModelConfig llama(
      int heads,
      int kvHeads,
      int headDim,
      String scaling,
      boolean bias,
      boolean qkNorm,
      boolean tied,
      ModelConfig.Objective objective) {
    return llama(8, 12, heads, kvHeads, headDim, scaling, bias, qkNorm, tied, objective);
  }

  private static ModelConfig llama(
      int dModel,
      int mlp,
      int heads,
      int kvHeads,
      int headDim,
      String scaling,
      boolean bias,
      boolean qkNorm,
      boolean tied,
      ModelConfig.Objective objective) {
    return new ModelConfig(
        13,
        8,
        2,
        dModel,
        heads,
        4,
        false,
        tied,
        1e-6,
        0.4,
        objective,
        new ModelConfig.Llama(
            "llama", kvHeads, headDim, mlp, 500, scaling, 2, 1, 4, 4, bias, qkNorm));
  }

  @Test
  void lossAndEveryGradientMatchTheDoublePrecisionGraph() {
    ModelConfig.Objective causal = ModelConfig.Objective.CAUSAL;
    Object[][] variants = {
      {"multi-head", llama(2, 2, 4, "none", false, false, true, causal)},
      {"grouped-query, untied", llama(4, 2, 4, "none", false, false, false, causal)},
      {
        "one key/value head, explicit head_dim",
        llama(4, 1, 6, "linear", false, false, true, causal)
      },
      {"qwen2 biases, llama3 rope", llama(4, 2, 4, "llama3", true, false, false, causal)},
      {"qwen3 q/k norm", llama(4, 2, 4, "none", false, true, true, causal)},
      {"bidirectional", llama(4, 2, 4, "none", true, true, false, ModelConfig.Objective.MASKED)},
      // rows and heads longer than a vector of the widest lanes (16 floats), with a tail
      {"wide rows and heads", llama(35, 37, 2, 1, 36, "llama3", true, true, false, causal)},
    };
    long seed = 31;
    for (Object[] v : variants) {
      ModelConfig c = (ModelConfig) v[1];
      GptKernelsTest.compare(c, seed, (String) v[0], TOLERANCE, m -> new LlamaKernels(m));
      // causal attention in blocks of 3 query rows: 3, 3 and a last one of 1 at length 7
      GptKernelsTest.compare(
          c, seed + 1, v[0] + ", attention block 3", TOLERANCE, m -> new LlamaKernels(m, 3));
      seed += 2;
    }
  }

  @Test
  void recomputingActivationsGivesTheSameBitsWithOneLayerOfActivations() {
    ModelConfig c =
        llama(35, 37, 2, 1, 36, "llama3", true, true, false, ModelConfig.Objective.CAUSAL);
    GptModel m = GptModel.build(c, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.FLOAT, 8);
    int[] ids = GptKernelsTest.ids(c, 3);
    int[] targets = GptKernelsTest.targets(c, 4);
    Map<String, INDArray> kept = GptKernelsTest.grads(m);
    Map<String, INDArray> recomputed = GptKernelsTest.grads(m);
    double a = new LlamaKernels(m, false).lossAndGradients(ids, targets, 0.5, kept, false);
    LlamaKernels r = new LlamaKernels(m, true);
    double b = r.lossAndGradients(ids, targets, 0.5, recomputed, false);
    assertThat(b).isEqualTo(a);
    for (String n : kept.keySet()) {
      assertThat(recomputed.get(n)).as(n).isEqualTo(kept.get(n));
    }
    assertThat(r.loss(ids, targets, 0.5)).isEqualTo(a);
    // Qwen2.5-0.5B's shape at 4 x 512: a fifth of the activations
    ModelConfig qwen =
        new ModelConfig(
            151936,
            32768,
            24,
            896,
            14,
            4,
            false,
            true,
            1e-6,
            0.02,
            ModelConfig.Objective.CAUSAL,
            new ModelConfig.Llama("qwen2", 2, 64, 4864, 1e6, "none", 1, 1, 4, 4, true, false));
    assertThat(LlamaKernels.activationFloats(qwen, 4, 512, true))
        .isLessThan(LlamaKernels.activationFloats(qwen, 4, 512, false) / 5);
  }

  @Test
  void autoChoosesTheKernelsAndGradientsAccumulate() {
    ModelConfig c = llama(4, 2, 4, "none", true, true, false, ModelConfig.Objective.CAUSAL);
    GptModel m = GptModel.build(c, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.FLOAT, 3);
    LossPass k = m.pass(GptModel.Engine.AUTO);
    assertThat(k).isInstanceOf(LlamaKernels.class);
    int[] ids = GptKernelsTest.ids(c, 1);
    int[] targets = GptKernelsTest.targets(c, 2);
    Map<String, INDArray> first = GptKernelsTest.grads(m);
    Map<String, INDArray> twice = new LinkedHashMap<>(GptKernelsTest.grads(m));
    twice.values().forEach(a -> a.assign(7));
    double loss = k.lossAndGradients(ids, targets, 0.1, first, false);
    double again = k.lossAndGradients(ids, targets, 0.1, twice, false);
    k.lossAndGradients(ids, targets, 0.1, twice, true);
    assertThat(again).isEqualTo(loss);
    assertThat(k.loss(ids, targets, 0.1)).isEqualTo(loss);
    for (String n : first.keySet()) {
      assertThat(twice.get(n)).as(n).isEqualTo(first.get(n).mul(2));
    }
  }
}
