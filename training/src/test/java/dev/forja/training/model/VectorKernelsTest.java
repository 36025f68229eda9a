package dev.forja.training.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.jvm.VectorApi;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The vectorised loops against plain double-precision math, tails (lengths not a lane multiple)
 * included.
 */
class VectorKernelsTest {
  private static ByteBuffer floats(float[] v) {
    ByteBuffer b = ByteBuffer.allocateDirect(4 * v.length).order(ByteOrder.nativeOrder());
    for (int i = 0; i < v.length; i++) {
      b.putFloat(4 * i, v[i]);
    }
    return b;
  }

  @Test
  void theVectorApiIsWhatTheKernelsUseHere() {
    // surefire's JVM gets Spark's options, which add jdk.incubator.vector, as spark-submit does
    assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector")).isPresent();
    assertThat(VectorApi.AVAILABLE).isEqualTo(!"false".equals(System.getProperty("forja.vector")));
  }

  @Test
  void softmaxPiecesMatchDoublePrecision() {
    SplittableRandom r = new SplittableRandom(5);
    int len = 1003;
    float[] z = new float[len + 7];
    for (int i = 0; i < z.length; i++) {
      z[i] = (float) (r.nextGaussian() * 8);
    }
    ByteBuffer b = floats(z);
    int off = 7;
    float max = VectorKernels.max(b, off, len);
    float expected = Float.NEGATIVE_INFINITY;
    for (int i = off; i < off + len; i++) {
      expected = Math.max(expected, z[i]);
    }
    assertThat(max).isEqualTo(expected);
    double sum = VectorKernels.expShifted(b, off, len, max);
    double want = 0;
    for (int i = off; i < off + len; i++) {
      double e = Math.exp(z[i] - max); // of the fp32 argument, as the kernels see it
      want += e;
      assertThat((double) b.getFloat(4 * i))
          .isCloseTo(e, org.assertj.core.data.Offset.offset(4e-7 * e));
    }
    assertThat(sum).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-6 * want));
    assertThat(b.getFloat(0)).isEqualTo(z[0]); // outside the range: untouched
    VectorKernels.scale(b, off, len, 0.5f);
    assertThat((double) b.getFloat(4 * (off + len - 1)))
        .isCloseTo(
            0.5 * Math.exp((double) z[off + len - 1] - max),
            org.assertj.core.data.Offset.offset(1e-6));
  }

  @Test
  void geluAndItsTanhMatchDoublePrecision() {
    float k = (float) Math.sqrt(2 / Math.PI);
    float a = 0.044715f;
    int n = 2051;
    float[] v = new float[n];
    SplittableRandom r = new SplittableRandom(9);
    for (int i = 0; i < n; i++) {
      // around 0 (the series), moderate and saturated values (the exponential form), both signs
      v[i] = (float) (i % 3 == 0 ? r.nextGaussian() * 0.05 : r.nextGaussian() * 4);
    }
    ByteBuffer in = floats(v);
    ByteBuffer th = floats(new float[n]);
    ByteBuffer out = floats(new float[n]);
    VectorKernels.gelu(in, th, out, 0, n, k, a);
    for (int i = 0; i < n; i++) {
      double x = v[i];
      double t = Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x));
      assertThat((double) th.getFloat(4 * i))
          .as("tanh at %s", x)
          .isCloseTo(t, org.assertj.core.data.Offset.offset(1e-6 * Math.max(Math.abs(t), 1e-3)));
      double g = 0.5 * x * (1 + t);
      assertThat((double) out.getFloat(4 * i))
          .as("gelu at %s", x)
          // fp32's t near -1 leaves 1 + t about |x| x 6e-8 off for negative x (PyTorch's too)
          .isCloseTo(
              g, org.assertj.core.data.Offset.offset(1e-6 * Math.abs(g) + 1e-7 * Math.abs(x)));
      assertThat(KernelMath.tanh(v[i]))
          .isCloseTo(
              (float) Math.tanh(x),
              org.assertj.core.data.Offset.offset(
                  1e-6f * (float) Math.max(Math.abs(Math.tanh(x)), 1e-3)));
    }
  }
}
