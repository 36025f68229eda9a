package dev.forja.training.train;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link AdamW}'s fp32 update in one pass over memory with the JDK's Vector API. Loaded only where
 * {@link dev.forja.jvm.VectorApi#AVAILABLE}; {@link AdamW}'s scalar loop is the fallback and gives
 * the same floats. Offsets count floats.
 */
final class AdamWKernel {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();
  private static final int WARM_CALLS = 20_000;

  private static boolean warm;

  private AdamWKernel() {}

  /**
   * Runs the update many times on short rows with and without a scalar tail, once per JVM, so that
   * the JIT compiles the whole method with a full branch profile before the first step (see {@link
   * dev.forja.training.model.VectorKernels#warmUp} for why); {@code -Dforja.warmup=false} skips it.
   */
  static synchronized void warmUp() {
    if (warm || "false".equals(System.getProperty("forja.warmup"))) {
      return;
    }
    warm = true;
    int lanes = S.length();
    int size = 16 * lanes;
    ByteBuffer[] b = new ByteBuffer[4];
    for (int i = 0; i < b.length; i++) {
      b[i] = ByteBuffer.allocateDirect(4 * size).order(ORDER);
    }
    for (int r = 0; r < WARM_CALLS; r++) {
      for (ByteBuffer x : b) { // bounded, finite, normal values on every call
        for (int j = 0; j < size; j++) {
          x.putFloat(4 * j, 0.25f + 0.001f * ((r + j) % 97));
        }
      }
      int from = (r & 1) == 1 ? 1 : 0;
      int to = from + ((r & 2) == 2 ? 8 * lanes : 4 * lanes + 3);
      update(
          b[0],
          b[1],
          b[2],
          b[3],
          from,
          to,
          0.9f,
          0.1f,
          0.99f,
          0.01f,
          (r & 1) == 1 ? 1f : 0.999f,
          1f,
          1e-8f,
          1e-3f);
    }
  }

  /**
   * AdamW's fp32 update over {@code [from, to)}, as {@link AdamW}'s scalar loop: {@code m = b1 m +
   * a1 g; v = b2 v + a2 g^2; p = keep p - m / (sqrt(v) / bc2 + eps) step}.
   */
  static void update(
      ByteBuffer p,
      ByteBuffer g,
      ByteBuffer m,
      ByteBuffer v,
      int from,
      int to,
      float b1,
      float a1,
      float b2,
      float a2,
      float keep,
      float bc2,
      float eps,
      float step) {
    int bound = from + S.loopBound(to - from);
    int i = from;
    for (; i < bound; i += S.length()) {
      FloatVector gi = load(g, i);
      FloatVector mi = load(m, i).mul(b1).add(gi.mul(a1));
      FloatVector vi = load(v, i).mul(b2).add(gi.mul(gi).mul(a2));
      mi.intoByteBuffer(m, 4 * i, ORDER);
      vi.intoByteBuffer(v, 4 * i, ORDER);
      FloatVector denom = vi.lanewise(VectorOperators.SQRT).div(bc2).add(eps);
      FloatVector pi = load(p, i);
      if (keep != 1f) {
        pi = pi.mul(keep);
      }
      pi.sub(mi.div(denom).mul(step)).intoByteBuffer(p, 4 * i, ORDER);
    }
    AdamW.scalarUpdate(p, g, m, v, i, to, b1, a1, b2, a2, keep, bc2, eps, step);
  }

  private static FloatVector load(ByteBuffer b, int floatOffset) {
    return FloatVector.fromByteBuffer(S, b, 4 * floatOffset, ORDER);
  }
}
