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
 * Several examples packed in one row, each attending only to itself with positions from 0, give the
 * loss and gradients of the same examples each in a row of its own: in both engines, for GPT-2
 * (learned positions) and the Llama family (RoPE, grouped-query attention, q/k norms).
 */
@Tag("vector-twins")
class PackedExamplesTest {
  private static final int LENGTH = 12;
  private static final int[] EXAMPLE_LENGTHS = {5, 4, 3, 7};

  static ModelConfig gpt2() {
    return new ModelConfig(
        13, 16, 2, 8, 2, 2, true, false, 1e-5, 0.4, ModelConfig.Objective.CAUSAL);
  }

  static ModelConfig llama() {
    return new ModelConfig(
        13,
        16,
        2,
        8,
        4,
        4,
        false,
        false,
        1e-6,
        0.4,
        ModelConfig.Objective.CAUSAL,
        new ModelConfig.Llama("qwen3", 2, 4, 12, 500, "llama3", 2, 1, 4, 4, true, true));
  }

  /** Tokens, targets and positions of the examples: packed 3 + 1 in two rows, or one per row. */
  private record Rows(int[] ids, int[] targets, int[] positions) {}

  private static int[][] examples(long seed) {
    Random r = new Random(seed);
    int[][] ex = new int[EXAMPLE_LENGTHS.length][];
    for (int e = 0; e < ex.length; e++) {
      ex[e] = new int[EXAMPLE_LENGTHS[e]];
      for (int t = 0; t < ex[e].length; t++) {
        ex[e][t] = r.nextInt(12);
      }
    }
    return ex;
  }

  private static Rows rows(int[][] examples, int[][] layout) {
    int n = layout.length * LENGTH;
    int[] ids = new int[n];
    int[] targets = new int[n];
    int[] positions = new int[n];
    java.util.Arrays.fill(ids, 12); // padding
    java.util.Arrays.fill(targets, -1);
    for (int row = 0; row < layout.length; row++) {
      int t = row * LENGTH;
      for (int e : layout[row]) {
        int[] ex = examples[e];
        for (int k = 0; k < ex.length; k++) {
          ids[t + k] = ex[k];
          positions[t + k] = k;
          targets[t + k] = k + 1 < ex.length ? ex[k + 1] : -1;
        }
        t += ex.length;
      }
      for (; t < (row + 1) * LENGTH; t++) { // padding continues the last example
        positions[t] = positions[t - 1] + 1;
      }
    }
    return new Rows(ids, targets, positions);
  }

  @Test
  void packedRowsGiveTheLossAndGradientsOfOneExamplePerRow() {
    int[][] ex = examples(5);
    Rows packed = rows(ex, new int[][] {{0, 1, 2}, {3}});
    Rows single = rows(ex, new int[][] {{0}, {1}, {2}, {3}});
    for (ModelConfig c : new ModelConfig[] {gpt2(), llama()}) {
      Architecture arch = Architecture.of(c);
      GptModel p = GptModel.build(arch, 2, LENGTH, DataType.FLOAT, 3, true);
      GptModel s = GptModel.build(arch, 4, LENGTH, DataType.FLOAT, 3);
      GptModel ref = GptModel.build(arch, 2, LENGTH, DataType.DOUBLE, 3, true);
      LinkedHashMap<String, INDArray> w = p.weights();
      s.weights().forEach((n, a) -> a.assign(w.get(n)));
      ref.weights().forEach((n, a) -> a.assign(w.get(n).castTo(DataType.DOUBLE)));
      String family = c.llama() == null ? "gpt2" : "llama";

      Map<String, INDArray> gp = GptKernelsTest.grads(p);
      Map<String, INDArray> gs = GptKernelsTest.grads(s);
      Map<String, INDArray> gr = GptKernelsTest.grads(ref);
      double lp =
          p.pass(GptModel.Engine.KERNELS)
              .lossAndGradients(packed.ids, packed.targets, packed.positions, 1.0, gp, false);
      double ls =
          s.pass(GptModel.Engine.KERNELS)
              .lossAndGradients(single.ids, single.targets, null, 1.0, gs, false);
      double lr =
          ref.pass(GptModel.Engine.SAMEDIFF)
              .lossAndGradients(packed.ids, packed.targets, packed.positions, 1.0, gr, false);
      assertThat(Math.abs(lp - ls) / ls)
          .as("%s kernels: packed against one per row", family)
          .isLessThan(1e-5);
      assertThat(Math.abs(lp - lr) / lr)
          .as("%s: kernels against the graph", family)
          .isLessThan(1e-5);
      assertThat(
              p.pass(GptModel.Engine.KERNELS).loss(packed.ids, packed.targets, packed.positions, 1))
          .isEqualTo(lp);
      for (String n : gp.keySet()) {
        double[] a = gp.get(n).castTo(DataType.DOUBLE).data().asDouble();
        double[] b = gs.get(n).castTo(DataType.DOUBLE).data().asDouble();
        double[] r = gr.get(n).data().asDouble();
        double max = 0;
        for (double x : r) {
          max = Math.max(max, Math.abs(x));
        }
        assertThat(max).as("%s: gradient of %s is zero", family, n).isGreaterThan(0);
        for (int i = 0; i < a.length; i++) {
          double tol = 1e-3 * Math.max(Math.abs(r[i]), 1e-2 * max);
          assertThat(Math.abs(a[i] - b[i]))
              .as("%s d loss / d %s[%d]: packed %s, one per row %s", family, n, i, a[i], b[i])
              .isLessThanOrEqualTo(tol);
          assertThat(Math.abs(a[i] - r[i]))
              .as("%s d loss / d %s[%d]: kernels %s, graph %s", family, n, i, a[i], r[i])
              .isLessThanOrEqualTo(tol);
        }
      }
      // without the positions, the packed row's later examples see the earlier ones
      double leaky = p.pass(GptModel.Engine.KERNELS).loss(packed.ids, packed.targets, null, 1);
      assertThat(Math.abs(leaky - ls) / ls).as(family).isGreaterThan(1e-4);
    }
  }

  @Test
  void positionsThatDoNotCountUpFromZeroAreRefused() {
    GptModel m = GptModel.build(Architecture.of(gpt2()), 1, LENGTH, DataType.FLOAT, 3, true);
    int[] ids = new int[LENGTH];
    int[] pos = new int[LENGTH];
    for (int i = 0; i < LENGTH; i++) {
      pos[i] = i + 1;
    }
    assertThatThrownBy(() -> m.pass(GptModel.Engine.KERNELS).loss(ids, ids, pos, 1))
        .hasMessageContaining("positions must count up from 0 within each example; token 0 has 1");
    GptModel plain = GptModel.build(gpt2(), 1, LENGTH, DataType.FLOAT, 3);
    pos[0] = 0;
    java.util.Arrays.fill(pos, 0);
    assertThatThrownBy(() -> plain.feed(ids, ids, pos, 1))
        .hasMessageContaining("build it segmented for packed rows");
  }
}
