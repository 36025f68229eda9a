package dev.forja.training.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The hand-written CPU kernels against the SameDiff graph computed in double precision (which
 * {@link ReferenceStepTest} holds to finite differences of a plain-Java model): the loss and every
 * gradient element, for both objectives, with and without biases, tied and untied embeddings.
 */
@Tag("vector-twins")
class GptKernelsTest {
  static final int BATCH = 3;
  static final int LENGTH = 7;

  @Test
  void lossAndEveryGradientMatchTheDoublePrecisionGraph() {
    boolean[][] variants = {{true, false}, {false, true}, {true, true}, {false, false}};
    for (ModelConfig.Objective objective : ModelConfig.Objective.values()) {
      for (boolean[] v : variants) {
        ModelConfig c = new ModelConfig(13, 8, 2, 8, 2, 2, v[0], v[1], 1e-5, 0.4, objective);
        compare(c, 17 + objective.ordinal(), GptKernels.ATTENTION_BLOCK);
        // causal attention in blocks of 3 query rows: 3, 3 and a last one of 1 at length 7
        compare(c, 17 + objective.ordinal(), 3);
      }
    }
  }

  @Test
  void gradientsAccumulateAndRepeatBitForBit() {
    ModelConfig c = config();
    GptModel m = GptModel.build(c, BATCH, LENGTH, DataType.FLOAT, 3);
    LossPass k = m.pass(GptModel.Engine.KERNELS);
    int[] ids = ids(c, 1);
    int[] targets = targets(c, 2);
    Map<String, INDArray> first = grads(m);
    Map<String, INDArray> twice = grads(m);
    twice.values().forEach(a -> a.assign(7)); // overwritten, not added to, without accumulate
    double loss = k.lossAndGradients(ids, targets, 0.1, first, false);
    double again = k.lossAndGradients(ids, targets, 0.1, twice, false);
    k.lossAndGradients(ids, targets, 0.1, twice, true);
    assertThat(again).isEqualTo(loss);
    assertThat(k.loss(ids, targets, 0.1)).isEqualTo(loss);
    for (String n : first.keySet()) {
      assertThat(twice.get(n)).as(n).isEqualTo(first.get(n).mul(2));
    }
  }

  @Test
  void autoChoosesTheKernelsOnTheCpuInFp32AndTheGraphOtherwise() {
    ModelConfig c = config();
    assertThat(GptModel.build(c, BATCH, LENGTH, DataType.FLOAT, 3).pass(GptModel.Engine.AUTO))
        .isInstanceOf(GptKernels.class);
    GptModel d = GptModel.build(c, BATCH, LENGTH, DataType.DOUBLE, 3);
    assertThat(d.pass(GptModel.Engine.AUTO)).isInstanceOf(SameDiffPass.class);
    assertThatThrownBy(() -> d.pass(GptModel.Engine.KERNELS))
        .hasMessageContaining("train.engine=kernels needs ND4J's CPU backend and fp32")
        .hasMessageContaining("DOUBLE");
    assertThatThrownBy(() -> GptModel.Engine.of("fast"))
        .hasMessageContaining("train.engine must be one of [auto, kernels, samediff], got 'fast'");
  }

  @Test
  void idsAndTargetsOutsideTheVocabularyAreRejected() {
    ModelConfig c = config();
    LossPass k = GptModel.build(c, BATCH, LENGTH, DataType.FLOAT, 3).pass(GptModel.Engine.KERNELS);
    int[] ids = ids(c, 1);
    ids[5] = 13;
    assertThatThrownBy(() -> k.loss(ids, targets(c, 2), 1))
        .hasMessageContaining("token id 13 is outside the vocabulary (size 13)");
    int[] targets = targets(c, 2);
    targets[0] = -2;
    assertThatThrownBy(() -> k.loss(ids(c, 1), targets, 1))
        .hasMessageContaining("target -2 is outside the vocabulary");
    assertThatThrownBy(() -> k.loss(new int[4], new int[4], 1))
        .hasMessageContaining("expected 21 ids and targets ([3, 7]), got 4");
  }

  private static ModelConfig config() {
    return new ModelConfig(13, 8, 2, 8, 2, 2, true, true, 1e-5, 0.4, ModelConfig.Objective.CAUSAL);
  }

  private static void compare(ModelConfig c, long seed, int attentionBlock) {
    compare(
        c,
        seed,
        "bias " + c.bias() + ", tied " + c.tiedEmbeddings() + ", attention block " + attentionBlock,
        1e-4,
        m -> new GptKernels(m, attentionBlock));
  }

  /**
   * The pass {@code kernels} makes for an fp32 model of {@code c} against the graph of the same
   * weights in double precision: the loss to 1e-6 relative, every gradient element to {@code
   * tolerance} relative (of the element, or of 1% of the largest element of its tensor).
   */
  static void compare(
      ModelConfig c,
      long seed,
      String variant,
      double tolerance,
      java.util.function.Function<GptModel, LossPass> kernels) {
    compare(Architecture.of(c), seed, variant, tolerance, kernels, m -> {});
  }

  /**
   * As above for a description ({@code arch}, e.g. with LoRA adapters), the fp32 weights changed by
   * {@code tweak} before both models take them; only the trainable parameters get gradients.
   */
  static void compare(
      Architecture arch,
      long seed,
      String variant,
      double tolerance,
      java.util.function.Function<GptModel, LossPass> kernels,
      java.util.function.Consumer<GptModel> tweak) {
    ModelConfig c = arch.config();
    GptModel f = GptModel.build(arch, BATCH, LENGTH, DataType.FLOAT, seed);
    tweak.accept(f);
    GptModel dbl = GptModel.build(arch, BATCH, LENGTH, DataType.DOUBLE, seed);
    LinkedHashMap<String, INDArray> fp = f.weights();
    dbl.weights().forEach((n, p) -> p.assign(fp.get(n).castTo(DataType.DOUBLE)));
    int[] ids = ids(c, seed);
    int[] targets = targets(c, seed + 1);
    double scale = 1.0 / 17;

    Map<String, INDArray> kg = grads(f);
    double kernelLoss = kernels.apply(f).lossAndGradients(ids, targets, scale, kg, false);
    Map<String, INDArray> rg = grads(dbl);
    double refLoss =
        dbl.pass(GptModel.Engine.SAMEDIFF).lossAndGradients(ids, targets, scale, rg, false);

    String what = c.objective() + ", " + variant;
    assertThat(Math.abs(kernelLoss - refLoss) / refLoss).as("loss, %s", what).isLessThan(1e-6);
    for (String n : kg.keySet()) {
      double[] k = kg.get(n).castTo(DataType.DOUBLE).data().asDouble();
      double[] r = rg.get(n).data().asDouble();
      double max = 0;
      for (double x : r) {
        max = Math.max(max, Math.abs(x));
      }
      assertThat(max).as("%s: gradient of %s is zero", what, n).isGreaterThan(0);
      for (int i = 0; i < r.length; i++) {
        assertThat(Math.abs(k[i] - r[i]))
            .as("%s: d loss / d %s[%d]: kernels %s, graph %s", what, n, i, k[i], r[i])
            .isLessThanOrEqualTo(tolerance * Math.max(Math.abs(r[i]), 1e-2 * max));
      }
    }
  }

  static Map<String, INDArray> grads(GptModel m) {
    Map<String, INDArray> g = new LinkedHashMap<>();
    m.parameters().forEach((n, p) -> g.put(n, p.ulike()));
    return g;
  }

  /** Random ids with repeats (the embedding gradient must add them up). */
  static int[] ids(ModelConfig c, long seed) {
    Random r = new Random(seed);
    int[] ids = new int[BATCH * LENGTH];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = r.nextInt(c.vocabSize() / 2) * 2;
    }
    return ids;
  }

  /** Random targets, a fifth of them -1 (not predicted). */
  static int[] targets(ModelConfig c, long seed) {
    Random r = new Random(seed);
    int[] t = new int[BATCH * LENGTH];
    for (int i = 0; i < t.length; i++) {
      t[i] = r.nextInt(5) == 0 ? -1 : r.nextInt(c.vocabSize());
    }
    return t;
  }
}
