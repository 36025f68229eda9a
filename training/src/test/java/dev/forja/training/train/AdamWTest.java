package dev.forja.training.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.training.Fixtures;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

@Tag("vector-twins")
class AdamWTest {
  /**
   * fp32 row-major arrays take the fused single-pass update; anything else (here column-major
   * copies) the array operations. Over several steps, with and without weight decay, the two agree
   * to fp32 rounding and the fused one is bit-for-bit repeatable.
   */
  @Test
  void fusedUpdateEqualsTheArrayOperations() {
    TrainConfig tc = Fixtures.trainConfig(Map.of("train.weight-decay", "0.1"));
    Map<String, INDArray> fused = new LinkedHashMap<>();
    Map<String, INDArray> plain = new LinkedHashMap<>();
    Map<String, INDArray> again = new LinkedHashMap<>();
    Nd4j.getRandom().setSeed(7);
    // a decayed weight and an exempt bias (train.no-decay has ".bias")
    for (String name :
        new String[] {"transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias"}) {
      INDArray p = Nd4j.randn(DataType.FLOAT, 37, 53);
      fused.put(name, p.dup('c'));
      plain.put(name, p.dup('f'));
      again.put(name, p.dup('c'));
    }
    AdamW a = new AdamW(tc, fused);
    AdamW b = new AdamW(tc, plain);
    AdamW c = new AdamW(tc, again);
    for (int t = 1; t <= 5; t++) {
      INDArray g = Nd4j.randn(DataType.FLOAT, 37, 53).muli(0.1);
      Map<String, INDArray> gf = new LinkedHashMap<>();
      Map<String, INDArray> gp = new LinkedHashMap<>();
      Map<String, INDArray> gc = new LinkedHashMap<>();
      for (String name : fused.keySet()) {
        gf.put(name, g.dup('c'));
        gp.put(name, g.dup('f'));
        gc.put(name, g.dup('c'));
      }
      a.step(fused, gf, t, 0.01);
      b.step(plain, gp, t, 0.01);
      c.step(again, gc, t, 0.01);
    }
    for (String name : fused.keySet()) {
      float[] f = fused.get(name).data().asFloat();
      float[] p = plain.get(name).dup('c').data().asFloat();
      for (int i = 0; i < f.length; i++) {
        assertThat((double) Math.abs(f[i] - p[i]))
            .as("%s[%d]", name, i)
            .isLessThanOrEqualTo(1e-6 * Math.max(1, Math.abs(p[i])));
      }
      assertThat(again.get(name)).isEqualTo(fused.get(name));
    }
  }
}
