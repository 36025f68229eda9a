package dev.forja.training.model;

import dev.forja.jvm.VectorApi;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise loops of {@link GptKernels} that dominate after the matrix products (the
 * cross-entropy's exponentials over the vocabulary, the GELU's tanh) written with the JDK's Vector
 * API ({@code jdk.incubator.vector}, which Spark's JVM options already add): C2 does not vectorize
 * the scalar loops (the exponential, tanh, reductions) by itself. Loaded only when that module is
 * present ({@link VectorApi#AVAILABLE}); the scalar loops remain the fallback. Offsets and lengths
 * count floats.
 */
public final class VectorKernels {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();
  private static final int WARM_CALLS = 20_000;
  private static final int LONG = 4096;
  private static final int BLOCK = 32 * S.length(); // floats summed in float before going to double

  private static boolean warm;

  private VectorKernels() {}

  /**
   * Runs every kernel many times on short rows, once per JVM, so that the JIT compiles each whole
   * method with a full branch profile before the first training step. Without it a kernel called
   * few times on long ranges (the GELU over a whole activation) can be compiled on-stack in the
   * middle of its loop, or have its compilation thrown away at the first branch the early calls
   * never took, and C2 may then store vectors lane by lane (no intrinsic), slowing a whole run.
   * Takes about a second; {@code -Dforja.warmup=false} skips it (to measure its effect).
   */
  public static synchronized void warmUp() {
    if (warm || !VectorApi.AVAILABLE || "false".equals(System.getProperty("forja.warmup"))) {
      return;
    }
    warm = true;
    int lanes = S.length();
    int size = LONG + 4 * lanes;
    ByteBuffer[] b = new ByteBuffer[6];
    for (int i = 0; i < b.length; i++) {
      b[i] = ByteBuffer.allocateDirect(4 * size).order(ORDER);
    }
    double sink = 0;
    float[] ropeTable = new float[size];
    java.util.Arrays.fill(ropeTable, 0.5f);
    for (int r = 0; r < WARM_CALLS; r++) {
      // every shape the callers use, so that no branch is left unprofiled (an untaken branch
      // compiles to a trap, and the trap throws the compiled method away in the middle of a run):
      // with and without a scalar tail, shorter than one vector, at odd offsets, and now and
      // then long
      int off;
      int n;
      switch (r & 3) {
        case 0 -> {
          off = 1;
          n = 4 * lanes + 3;
        }
        case 1 -> {
          off = 0;
          n = 8 * lanes;
        }
        case 2 -> {
          off = 0;
          n = 3;
        }
        default -> {
          off = lanes;
          n = 2 * lanes + 1;
        }
      }
      if (r % 512 == 5) {
        off = 1;
        n = LONG + 2 * lanes + 1;
      }
      for (ByteBuffer x : b) { // bounded, finite, normal values on every call
        for (int j = 0; j < off + n; j++) {
          x.putFloat(4 * j, 0.25f + 0.001f * ((r + j) % 97));
        }
      }
      boolean odd = (r & 1) == 1;
      int to = off + n;
      sink += max(b[0], off, n);
      sink += expShifted(b[0], off, n, 2f);
      sink += sumOfSquares(b[1], off, n);
      scale(b[0], off, n, 0.5f);
      zero(b[5], off, n);
      gelu(b[1], b[2], b[3], off, to, 0.8f, 0.04f);
      geluOutput(b[1], b[2], b[3], off, to);
      geluBackward(b[1], b[2], b[4], off, to, 0.8f, 0.1f);
      sink += layerNormRow(b[1], b[2], odd ? b[3] : null, b[4], b[5], off, n, 1e-5);
      layerNormBackwardRow(b[1], b[2], b[3], b[4], b[5], off, n, 0.9f, odd);
      softmaxBackwardRow(b[2], b[4], off, n, 0.5f);
      add(b[5], off, b[1], off, n);
      sum(b[4], off, b[1], off, b[2], off, n);
      addRow(b[4], b[1], off, n);
      swiglu(b[1], b[2], b[3], off, to);
      swigluBackward(b[3], b[4], b[1], off, to);
      normScale(b[1], off, 0.9f, b[2], b[3], off, b[4], off, n);
      mulRow(b[3], b[2], b[4], off, n);
      rmsNormBackwardRow(b[1], off, b[2], off, 0.9f, b[3], b[4], b[5], off, n, odd);
      rope(b[5], off, n / 2, ropeTable, ropeTable, 0, odd ? -1f : 1f);
      sink += dot(ropeTable, off, ropeTable, 0, n);
      axpy(0.5f, ropeTable, off, ropeTable, 0, n);
      if (r % 64 == 0) {
        java.util.Arrays.fill(ropeTable, 0.5f); // keep the values bounded
      }
    }
    if (sink == 42.4242) { // keeps the calls from being optimised away
      System.err.print("");
    }
  }

  static float max(ByteBuffer b, int off, int len) {
    int bound = S.loopBound(len);
    FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
    for (int i = 0; i < bound; i += S.length()) {
      m = m.max(load(b, off + i));
    }
    float max = m.reduceLanes(VectorOperators.MAX);
    for (int i = bound; i < len; i++) {
      max = Math.max(max, b.getFloat(4 * (off + i)));
    }
    return max;
  }

  /** Replaces each x by e^(x - shift); returns their sum (blocks in fp32, the total in double). */
  static double expShifted(ByteBuffer b, int off, int len, float shift) {
    int bound = S.loopBound(len);
    double sum = 0;
    for (int start = 0; start < bound; start += BLOCK) {
      int end = Math.min(bound, start + BLOCK);
      FloatVector acc = FloatVector.zero(S);
      for (int i = start; i < end; i += S.length()) {
        FloatVector e = exp(load(b, off + i).sub(shift));
        e.intoByteBuffer(b, 4 * (off + i), ORDER);
        acc = acc.add(e);
      }
      sum += acc.reduceLanes(VectorOperators.ADD);
    }
    for (int i = bound; i < len; i++) {
      float e = KernelMath.exp(b.getFloat(4 * (off + i)) - shift);
      b.putFloat(4 * (off + i), e);
      sum += e;
    }
    return sum;
  }

  /** Sets {@code [off, off + len)} to 0. */
  static void zero(ByteBuffer b, int off, int len) {
    int bound = S.loopBound(len);
    FloatVector z = FloatVector.zero(S);
    for (int i = 0; i < bound; i += S.length()) {
      z.intoByteBuffer(b, 4 * (off + i), ORDER);
    }
    for (int i = bound; i < len; i++) {
      b.putFloat(4 * (off + i), 0f);
    }
  }

  /** The sum of squares over {@code [off, off + len)} (blocks in fp32, the total in double). */
  public static double sumOfSquares(ByteBuffer b, int off, int len) {
    int bound = S.loopBound(len);
    double sum = 0;
    for (int start = 0; start < bound; start += BLOCK) {
      int end = Math.min(bound, start + BLOCK);
      FloatVector acc = FloatVector.zero(S);
      for (int i = start; i < end; i += S.length()) {
        FloatVector x = load(b, off + i);
        acc = x.fma(x, acc);
      }
      sum += acc.reduceLanes(VectorOperators.ADD);
    }
    for (int i = bound; i < len; i++) {
      float x = b.getFloat(4 * (off + i));
      sum += x * x;
    }
    return sum;
  }

  public static void scale(ByteBuffer b, int off, int len, float s) {
    int bound = S.loopBound(len);
    for (int i = 0; i < bound; i += S.length()) {
      load(b, off + i).mul(s).intoByteBuffer(b, 4 * (off + i), ORDER);
    }
    for (int i = bound; i < len; i++) {
      b.putFloat(4 * (off + i), b.getFloat(4 * (off + i)) * s);
    }
  }

  /**
   * GELU over {@code [from, to)}: {@code out = 0.5 v (1 + t)}, {@code t = tanh(k (v + a v^3))} kept
   * in {@code th}. tanh is its odd Taylor series below |u| = 0.5 (where 1 - 2 / (e^2u + 1) would
   * cancel in fp32) and the exponential form above; both to about 3e-7 relative.
   */
  static void gelu(
      ByteBuffer in, ByteBuffer th, ByteBuffer out, int from, int to, float k, float a) {
    int bound = from + S.loopBound(to - from);
    int i = from;
    for (; i < bound; i += S.length()) {
      FloatVector v = load(in, i);
      FloatVector u = v.mul(v).mul(v).mul(a).add(v).mul(k);
      FloatVector t = tanh(u);
      t.intoByteBuffer(th, 4 * i, ORDER);
      t.add(1f).mul(v).mul(0.5f).intoByteBuffer(out, 4 * i, ORDER);
    }
    for (; i < to; i++) {
      float v = in.getFloat(4 * i);
      float t = KernelMath.tanh(k * (v + a * v * v * v));
      th.putFloat(4 * i, t);
      out.putFloat(4 * i, 0.5f * v * (1 + t));
    }
  }

  /** {@code out = 0.5 v (1 + t)} over {@code [from, to)}: the GELU again from its kept tanh. */
  static void geluOutput(ByteBuffer in, ByteBuffer th, ByteBuffer out, int from, int to) {
    int bound = from + S.loopBound(to - from);
    int i = from;
    for (; i < bound; i += S.length()) {
      load(th, i).add(1f).mul(load(in, i)).mul(0.5f).intoByteBuffer(out, 4 * i, ORDER);
    }
    for (; i < to; i++) {
      out.putFloat(4 * i, 0.5f * in.getFloat(4 * i) * (1 + th.getFloat(4 * i)));
    }
  }

  /**
   * {@code dy *= 0.5 (1 + t) + 0.5 v (1 - t^2) k (1 + a3 v^2)} over {@code [from, to)}: the GELU's
   * derivative from its input and kept tanh.
   */
  static void geluBackward(
      ByteBuffer in, ByteBuffer th, ByteBuffer dy, int from, int to, float k, float a3) {
    int bound = from + S.loopBound(to - from);
    int i = from;
    for (; i < bound; i += S.length()) {
      FloatVector v = load(in, i);
      FloatVector t = load(th, i);
      FloatVector inner = v.mul(v).mul(a3).add(1f).mul(k);
      FloatVector second = t.mul(t).neg().add(1f).mul(v).mul(0.5f).mul(inner);
      FloatVector grad = t.add(1f).mul(0.5f).add(second);
      load(dy, i).mul(grad).intoByteBuffer(dy, 4 * i, ORDER);
    }
    for (; i < to; i++) {
      float v = in.getFloat(4 * i);
      float t = th.getFloat(4 * i);
      float grad = 0.5f * (1 + t) + 0.5f * v * (1 - t * t) * k * (1 + a3 * v * v);
      dy.putFloat(4 * i, dy.getFloat(4 * i) * grad);
    }
  }

  /**
   * Layer norm of the row at {@code o} ({@code d} floats): {@code xhat = (x - mean) rstd}, {@code
   * out = xhat w (+ b)}; returns rstd. Means in fp32 lanes, then double.
   */
  static float layerNormRow(
      ByteBuffer in,
      ByteBuffer w,
      ByteBuffer b,
      ByteBuffer xhat,
      ByteBuffer out,
      int o,
      int d,
      double eps) {
    int bound = S.loopBound(d);
    FloatVector acc = FloatVector.zero(S);
    for (int j = 0; j < bound; j += S.length()) {
      acc = acc.add(load(in, o + j));
    }
    double mean = acc.reduceLanes(VectorOperators.ADD);
    for (int j = bound; j < d; j++) {
      mean += in.getFloat(4 * (o + j));
    }
    mean /= d;
    float m = (float) mean;
    acc = FloatVector.zero(S);
    for (int j = 0; j < bound; j += S.length()) {
      FloatVector c = load(in, o + j).sub(m);
      acc = acc.add(c.mul(c));
    }
    double var = acc.reduceLanes(VectorOperators.ADD);
    for (int j = bound; j < d; j++) {
      double c = in.getFloat(4 * (o + j)) - mean;
      var += c * c;
    }
    var /= d;
    float rs = (float) (1 / Math.sqrt(var + eps));
    for (int j = 0; j < bound; j += S.length()) {
      FloatVector xh = load(in, o + j).sub(m).mul(rs);
      xh.intoByteBuffer(xhat, 4 * (o + j), ORDER);
      FloatVector y = xh.mul(load(w, j));
      if (b != null) {
        y = y.add(load(b, j));
      }
      y.intoByteBuffer(out, 4 * (o + j), ORDER);
    }
    for (int j = bound; j < d; j++) {
      float xh = (in.getFloat(4 * (o + j)) - m) * rs;
      xhat.putFloat(4 * (o + j), xh);
      float y = xh * w.getFloat(4 * j);
      out.putFloat(4 * (o + j), b == null ? y : y + b.getFloat(4 * j));
    }
    return rs;
  }

  /**
   * Layer norm's backward for the row at {@code o}: {@code prod = dy xhat} (for the weight's
   * gradient), {@code dx = rstd (dy w - mean(dy w) - xhat mean(dy w xhat))}, added when {@code
   * accumulate}.
   */
  static void layerNormBackwardRow(
      ByteBuffer dy,
      ByteBuffer xhat,
      ByteBuffer w,
      ByteBuffer prod,
      ByteBuffer dx,
      int o,
      int d,
      float rs,
      boolean accumulate) {
    int bound = S.loopBound(d);
    FloatVector a1 = FloatVector.zero(S);
    FloatVector a2 = FloatVector.zero(S);
    for (int j = 0; j < bound; j += S.length()) {
      FloatVector g = load(dy, o + j);
      FloatVector xh = load(xhat, o + j);
      g.mul(xh).intoByteBuffer(prod, 4 * (o + j), ORDER);
      FloatVector dn = g.mul(load(w, j));
      a1 = a1.add(dn);
      a2 = a2.add(dn.mul(xh));
    }
    double m1 = a1.reduceLanes(VectorOperators.ADD);
    double m2 = a2.reduceLanes(VectorOperators.ADD);
    for (int j = bound; j < d; j++) {
      float g = dy.getFloat(4 * (o + j));
      float xh = xhat.getFloat(4 * (o + j));
      prod.putFloat(4 * (o + j), g * xh);
      float dn = g * w.getFloat(4 * j);
      m1 += dn;
      m2 += dn * xh;
    }
    float fm1 = (float) (m1 / d);
    float fm2 = (float) (m2 / d);
    for (int j = 0; j < bound; j += S.length()) {
      FloatVector dn = load(dy, o + j).mul(load(w, j));
      FloatVector v = dn.sub(fm1).sub(load(xhat, o + j).mul(fm2)).mul(rs);
      if (accumulate) {
        v = v.add(load(dx, o + j));
      }
      v.intoByteBuffer(dx, 4 * (o + j), ORDER);
    }
    for (int j = bound; j < d; j++) {
      float dn = dy.getFloat(4 * (o + j)) * w.getFloat(4 * j);
      float v = rs * (dn - fm1 - xhat.getFloat(4 * (o + j)) * fm2);
      dx.putFloat(4 * (o + j), accumulate ? dx.getFloat(4 * (o + j)) + v : v);
    }
  }

  /**
   * Softmax's backward over the row at {@code o} ({@code len} floats): {@code dp = p (dp - sum(p
   * dp)) scale}.
   */
  static void softmaxBackwardRow(ByteBuffer p, ByteBuffer dp, int o, int len, float scale) {
    int bound = S.loopBound(len);
    FloatVector acc = FloatVector.zero(S);
    for (int j = 0; j < bound; j += S.length()) {
      acc = acc.add(load(p, o + j).mul(load(dp, o + j)));
    }
    double dot = acc.reduceLanes(VectorOperators.ADD);
    for (int j = bound; j < len; j++) {
      dot += p.getFloat(4 * (o + j)) * dp.getFloat(4 * (o + j));
    }
    float fd = (float) dot;
    for (int j = 0; j < bound; j += S.length()) {
      load(dp, o + j).sub(fd).mul(load(p, o + j)).mul(scale).intoByteBuffer(dp, 4 * (o + j), ORDER);
    }
    for (int j = bound; j < len; j++) {
      dp.putFloat(4 * (o + j), p.getFloat(4 * (o + j)) * (dp.getFloat(4 * (o + j)) - fd) * scale);
    }
  }

  /** {@code dst[d, d + len) += src[s, s + len)}. */
  static void add(ByteBuffer dst, int d, ByteBuffer src, int s, int len) {
    int bound = S.loopBound(len);
    for (int j = 0; j < bound; j += S.length()) {
      load(dst, d + j).add(load(src, s + j)).intoByteBuffer(dst, 4 * (d + j), ORDER);
    }
    for (int j = bound; j < len; j++) {
      dst.putFloat(4 * (d + j), dst.getFloat(4 * (d + j)) + src.getFloat(4 * (s + j)));
    }
  }

  /** {@code out[o, o + len) = a[ao, ao + len) + b[bo, bo + len)}. */
  static void sum(ByteBuffer out, int o, ByteBuffer a, int ao, ByteBuffer b, int bo, int len) {
    int bound = S.loopBound(len);
    for (int j = 0; j < bound; j += S.length()) {
      load(a, ao + j).add(load(b, bo + j)).intoByteBuffer(out, 4 * (o + j), ORDER);
    }
    for (int j = bound; j < len; j++) {
      out.putFloat(4 * (o + j), a.getFloat(4 * (ao + j)) + b.getFloat(4 * (bo + j)));
    }
  }

  /** {@code out[o + j] += b[j]} for {@code j < m}. */
  static void addRow(ByteBuffer out, ByteBuffer b, int o, int m) {
    int bound = S.loopBound(m);
    for (int j = 0; j < bound; j += S.length()) {
      load(out, o + j).add(load(b, j)).intoByteBuffer(out, 4 * (o + j), ORDER);
    }
    for (int j = bound; j < m; j++) {
      out.putFloat(4 * (o + j), out.getFloat(4 * (o + j)) + b.getFloat(4 * j));
    }
  }

  /** {@code out = silu(g) u} over {@code [from, to)}, {@code silu(g) = g / (1 + e^-g)}. */
  static void swiglu(ByteBuffer gate, ByteBuffer up, ByteBuffer out, int from, int to) {
    int bound = from + S.loopBound(to - from);
    int i = from;
    for (; i < bound; i += S.length()) {
      FloatVector g = load(gate, i);
      FloatVector sg = FloatVector.broadcast(S, 1f).div(exp(g.neg()).add(1f));
      g.mul(sg).mul(load(up, i)).intoByteBuffer(out, 4 * i, ORDER);
    }
    for (; i < to; i++) {
      float g = gate.getFloat(4 * i);
      float sg = 1f / (1f + KernelMath.exp(-g));
      out.putFloat(4 * i, g * sg * up.getFloat(4 * i));
    }
  }

  /**
   * Given {@code dy}, the gradient at {@code silu(g) u}, over {@code [from, to)}: {@code gate}
   * becomes {@code dy u silu'(g)} and {@code up} becomes {@code dy silu(g)}.
   */
  static void swigluBackward(ByteBuffer gate, ByteBuffer up, ByteBuffer dy, int from, int to) {
    int bound = from + S.loopBound(to - from);
    int i = from;
    for (; i < bound; i += S.length()) {
      FloatVector g = load(gate, i);
      FloatVector u = load(up, i);
      FloatVector d = load(dy, i);
      FloatVector sg = FloatVector.broadcast(S, 1f).div(exp(g.neg()).add(1f));
      FloatVector dsilu = sg.neg().add(1f).mul(g).add(1f).mul(sg);
      d.mul(u).mul(dsilu).intoByteBuffer(gate, 4 * i, ORDER);
      d.mul(g.mul(sg)).intoByteBuffer(up, 4 * i, ORDER);
    }
    for (; i < to; i++) {
      float g = gate.getFloat(4 * i);
      float u = up.getFloat(4 * i);
      float d = dy.getFloat(4 * i);
      float sg = 1f / (1f + KernelMath.exp(-g));
      gate.putFloat(4 * i, d * u * (sg * (1 + g * (1 - sg))));
      up.putFloat(4 * i, d * (g * sg));
    }
  }

  /** {@code xhat[xo..] = in[io..] rs}, {@code out[oo..] = xhat w} over {@code m} floats. */
  static void normScale(
      ByteBuffer in,
      int io,
      float rs,
      ByteBuffer w,
      ByteBuffer xhat,
      int xo,
      ByteBuffer out,
      int oo,
      int m) {
    int bound = S.loopBound(m);
    int j = 0;
    for (; j < bound; j += S.length()) {
      FloatVector xh = load(in, io + j).mul(rs);
      xh.intoByteBuffer(xhat, 4 * (xo + j), ORDER);
      xh.mul(load(w, j)).intoByteBuffer(out, 4 * (oo + j), ORDER);
    }
    for (; j < m; j++) {
      float xh = in.getFloat(4 * (io + j)) * rs;
      xhat.putFloat(4 * (xo + j), xh);
      out.putFloat(4 * (oo + j), xh * w.getFloat(4 * j));
    }
  }

  /** {@code out[o..] = a[o..] w} over {@code m} floats. */
  static void mulRow(ByteBuffer a, ByteBuffer w, ByteBuffer out, int o, int m) {
    int bound = S.loopBound(m);
    int j = 0;
    for (; j < bound; j += S.length()) {
      load(a, o + j).mul(load(w, j)).intoByteBuffer(out, 4 * (o + j), ORDER);
    }
    for (; j < m; j++) {
      out.putFloat(4 * (o + j), a.getFloat(4 * (o + j)) * w.getFloat(4 * j));
    }
  }

  /**
   * RMSNorm's backward on one row of {@code m} floats: {@code prod[xo..] = dy xhat} and {@code dx =
   * rs (dy w - xhat mean(dy w xhat))}, written or added to; {@code dx} may be {@code dy}.
   */
  static void rmsNormBackwardRow(
      ByteBuffer dy,
      int o,
      ByteBuffer xhat,
      int xo,
      float rs,
      ByteBuffer w,
      ByteBuffer prod,
      ByteBuffer dx,
      int dxo,
      int m,
      boolean accumulate) {
    int bound = S.loopBound(m);
    FloatVector acc = FloatVector.zero(S);
    int j = 0;
    for (; j < bound; j += S.length()) {
      FloatVector g = load(dy, o + j);
      FloatVector xh = load(xhat, xo + j);
      FloatVector gx = g.mul(xh);
      gx.intoByteBuffer(prod, 4 * (xo + j), ORDER);
      acc = gx.fma(load(w, j), acc);
    }
    double dot = acc.reduceLanes(VectorOperators.ADD);
    for (; j < m; j++) {
      float gx = dy.getFloat(4 * (o + j)) * xhat.getFloat(4 * (xo + j));
      prod.putFloat(4 * (xo + j), gx);
      dot += gx * w.getFloat(4 * j);
    }
    float mean = (float) (dot / m);
    j = 0;
    for (; j < bound; j += S.length()) {
      FloatVector v = load(dy, o + j).mul(load(w, j)).sub(load(xhat, xo + j).mul(mean)).mul(rs);
      if (accumulate) {
        v = v.add(load(dx, dxo + j));
      }
      v.intoByteBuffer(dx, 4 * (dxo + j), ORDER);
    }
    for (; j < m; j++) {
      float v =
          rs * (dy.getFloat(4 * (o + j)) * w.getFloat(4 * j) - xhat.getFloat(4 * (xo + j)) * mean);
      dx.putFloat(4 * (dxo + j), accumulate ? dx.getFloat(4 * (dxo + j)) + v : v);
    }
  }

  /**
   * RoPE on one head at {@code o} of {@code 2 half} floats, in place: {@code (a, b) -> (a c - b s,
   * b c + a s)} with {@code c = cos[co + i]}, {@code s = sign sin[co + i]}.
   */
  static void rope(ByteBuffer x, int o, int half, float[] cos, float[] sin, int co, float sign) {
    int bound = S.loopBound(half);
    int i = 0;
    for (; i < bound; i += S.length()) {
      FloatVector c = FloatVector.fromArray(S, cos, co + i);
      FloatVector s = FloatVector.fromArray(S, sin, co + i).mul(sign);
      FloatVector a = load(x, o + i);
      FloatVector b = load(x, o + half + i);
      a.mul(c).sub(b.mul(s)).intoByteBuffer(x, 4 * (o + i), ORDER);
      b.mul(c).add(a.mul(s)).intoByteBuffer(x, 4 * (o + half + i), ORDER);
    }
    for (; i < half; i++) {
      float c = cos[co + i];
      float s = sign * sin[co + i];
      float a = x.getFloat(4 * (o + i));
      float b = x.getFloat(4 * (o + half + i));
      x.putFloat(4 * (o + i), a * c - b * s);
      x.putFloat(4 * (o + half + i), b * c + a * s);
    }
  }

  /** {@code a[ao, ao + n) . b[bo, bo + n)} in fp32 lanes. */
  static float dot(float[] a, int ao, float[] b, int bo, int n) {
    int bound = S.loopBound(n);
    FloatVector acc = FloatVector.zero(S);
    int i = 0;
    for (; i < bound; i += S.length()) {
      acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
    }
    float s = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      s += a[ao + i] * b[bo + i];
    }
    return s;
  }

  /** {@code y[yo, yo + n) += alpha x[xo, xo + n)}. */
  static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
    int bound = S.loopBound(n);
    FloatVector a = FloatVector.broadcast(S, alpha);
    int i = 0;
    for (; i < bound; i += S.length()) {
      FloatVector.fromArray(S, x, xo + i)
          .fma(a, FloatVector.fromArray(S, y, yo + i))
          .intoArray(y, yo + i);
    }
    for (; i < n; i++) {
      y[yo + i] += alpha * x[xo + i];
    }
  }

  private static FloatVector tanh(FloatVector u) {
    FloatVector abs = u.abs();
    FloatVector s = u.mul(u);
    FloatVector series =
        s.mul(21844 / 6081075f)
            .add(-1382 / 155925f)
            .mul(s)
            .add(62 / 2835f)
            .mul(s)
            .add(-17 / 315f)
            .mul(s)
            .add(2 / 15f)
            .mul(s)
            .add(-1 / 3f)
            .mul(s)
            .add(1f)
            .mul(u);
    FloatVector big = exp(abs.mul(2f)).add(1f);
    FloatVector far = FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(big));
    far = far.blend(far.neg(), u.lt(0f));
    VectorMask<Float> small = abs.lt(0.5f);
    return far.blend(series, small);
  }

  private static final float LOG2E = 1.4426950408889634f;
  private static final float LN2_HI = 0.693359375f;
  private static final float LN2_LO = -2.12194440e-4f;
  private static final float ROUND = 12582912f;

  /** {@link KernelMath#exp} lane-wise: the same reduction and polynomial. */
  private static FloatVector exp(FloatVector x) {
    x = x.max(-87.3f).min(88.3f);
    FloatVector t = x.mul(LOG2E).add(ROUND);
    IntVector k = t.reinterpretAsInts().sub(0x4B400000);
    FloatVector kf = t.sub(ROUND);
    FloatVector r = x.sub(kf.mul(LN2_HI)).sub(kf.mul(LN2_LO));
    FloatVector p =
        r.mul(1 / 720f)
            .add(1 / 120f)
            .mul(r)
            .add(1 / 24f)
            .mul(r)
            .add(1 / 6f)
            .mul(r)
            .add(0.5f)
            .mul(r)
            .add(1f)
            .mul(r)
            .add(1f);
    return p.mul(k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
  }

  private static FloatVector load(ByteBuffer b, int floatOffset) {
    return FloatVector.fromByteBuffer(S, b, 4 * floatOffset, ORDER);
  }
}
