package dev.forja.training.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.training.Fixtures;
import dev.forja.training.train.AdamW;
import dev.forja.training.train.TrainConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One full training step of a tiny model against an independent computation in plain Java: the
 * loss, every gradient (central differences of the plain-Java loss) and the AdamW update.
 */
class ReferenceStepTest {
  @Test
  void oneStepMatchesThePlainJavaReferenceToOneInTenThousand() {
    for (ModelConfig.Objective objective : ModelConfig.Objective.values()) {
      ModelConfig c = new ModelConfig(11, 6, 2, 8, 2, 2, true, false, 1e-5, 0.3, objective);
      check(c);
    }
  }

  private static void check(ModelConfig c) {
    int[][] ids = {{1, 1, 2, 3, 10, 1}, {4, 5, 5, 6, 0, 7}};
    int[][] targets = {{1, 2, 3, -1, 4, 9}, {5, 5, 6, 0, 0, -1}};
    int predicted = 10;
    GptModel m = GptModel.build(c, 2, 6, DataType.DOUBLE, 11);
    LinkedHashMap<String, INDArray> params = m.parameters();
    ReferenceGpt ref = new ReferenceGpt(c, params);

    var og =
        m.sameDiff()
            .calculateGradientsAndOutputs(
                m.feed(flat(ids), flat(targets), 1.0 / predicted),
                List.of(GptModel.LOSS),
                List.copyOf(params.keySet()));
    double loss = og.getOutputs().get(GptModel.LOSS).getDouble(0);
    double refLoss = ref.loss(ids, targets);
    assertThat(relative(loss, refLoss)).as("loss %s vs %s", loss, refLoss).isLessThan(1e-10);

    Map<String, INDArray> grads = new LinkedHashMap<>();
    double h = 1e-6;
    int checked = 0;
    for (Map.Entry<String, INDArray> e : params.entrySet()) {
      INDArray g = og.getGradients().get(e.getKey());
      grads.put(e.getKey(), g.dup());
      INDArray p = e.getValue();
      int rows = p.rank() == 1 ? 1 : (int) p.rows();
      int cols = p.rank() == 1 ? (int) p.length() : (int) p.columns();
      for (int r = 0; r < rows; r++) {
        for (int col = 0; col < cols; col++) {
          double orig = ref.get(e.getKey(), r, col);
          ref.set(e.getKey(), r, col, orig + h);
          double plus = ref.loss(ids, targets);
          ref.set(e.getKey(), r, col, orig - h);
          double minus = ref.loss(ids, targets);
          ref.set(e.getKey(), r, col, orig);
          double numeric = (plus - minus) / (2 * h);
          double analytic = p.rank() == 1 ? g.getDouble(col) : g.getDouble(r, col);
          if (Math.abs(numeric) > 1e-6 || Math.abs(analytic) > 1e-6) {
            assertThat(relative(analytic, numeric))
                .as("%s %s[%d,%d]: %s vs %s", c.objective(), e.getKey(), r, col, analytic, numeric)
                .isLessThan(1e-4);
          } else {
            assertThat(Math.abs(analytic - numeric)).isLessThan(1e-9);
          }
          checked++;
        }
      }
    }
    assertThat(checked).isEqualTo(c.parameters());

    // the update: AdamW against the same formula in plain Java
    TrainConfig tc = Fixtures.trainConfig(Map.of("train.weight-decay", "0.1"));
    Map<String, double[]> before = new LinkedHashMap<>();
    params.forEach((k, v) -> before.put(k, v.dup().data().asDouble()));
    new AdamW(tc, params).step(params, grads, 1, 0.01);
    for (Map.Entry<String, INDArray> e : params.entrySet()) {
      double[] p0 = before.get(e.getKey());
      double[] g = grads.get(e.getKey()).dup().data().asDouble();
      double[] p1 = e.getValue().dup().data().asDouble();
      boolean decay = tc.decays(e.getKey());
      for (int i = 0; i < p0.length; i++) {
        double mHat = (1 - tc.beta1()) * g[i] / (1 - tc.beta1());
        double vHat = (1 - tc.beta2()) * g[i] * g[i] / (1 - tc.beta2());
        double expected = p0[i] * (decay ? 1 - 0.01 * 0.1 : 1);
        expected -= 0.01 * mHat / (Math.sqrt(vHat) + tc.epsilon());
        assertThat(relative(p1[i], expected)).as("%s[%d]", e.getKey(), i).isLessThan(1e-12);
      }
    }
  }

  static int[] flat(int[][] a) {
    int[] out = new int[a.length * a[0].length];
    for (int i = 0; i < a.length; i++) {
      System.arraycopy(a[i], 0, out, i * a[0].length, a[0].length);
    }
    return out;
  }

  static double relative(double a, double b) {
    double scale = Math.max(Math.abs(a), Math.abs(b));
    return scale == 0 ? 0 : Math.abs(a - b) / scale;
  }
}
