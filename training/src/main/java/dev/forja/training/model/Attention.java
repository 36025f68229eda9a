package dev.forja.training.model;

import static dev.forja.training.model.Blas.NO;
import static dev.forja.training.model.Blas.TR;
import static dev.forja.training.model.Blas.gemm;

import dev.forja.jvm.VectorApi;
import dev.forja.training.runtime.Parallel;

/**
 * Scaled dot-product attention of the CPU kernels, forward and backward, for multi-head and
 * grouped-query attention alike: {@code heads} query heads, {@code kvHeads} key/value heads, each
 * shared by {@code heads / kvHeads} consecutive query heads. Queries, keys and values are column
 * ranges of one row-major buffer of row width {@code ld} (a fused projection's output); the output
 * is {@code [batch x length, heads x headSize]}. One (sequence, key/value head) pair per thread at
 * a time, its query heads in turn, so the gradients of a shared key/value head are summed by one
 * thread in a fixed order. Causal attention is computed in blocks of query rows, and the scores
 * above a block's last row are never computed. The softmax probabilities ({@code batch x heads x
 * length^2} floats) are kept for the backward pass.
 */
final class Attention {
  private final int batch;
  private final int len;
  private final int heads;
  private final int rep;
  private final int kvHeads;
  private final int hs;
  private final int ld;
  private final int qOff;
  private final int kOff;
  private final int vOff;
  private final int ldo;
  private final boolean causal;
  private final int block;
  private final float scale;
  private int[] positions;

  Attention(
      int batch,
      int len,
      int heads,
      int kvHeads,
      int headSize,
      int ld,
      int qOff,
      int kOff,
      int vOff,
      boolean causal,
      int attentionBlock) {
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          heads + " query heads do not share " + kvHeads + " key/value heads evenly");
    }
    this.batch = batch;
    this.len = len;
    this.heads = heads;
    this.kvHeads = kvHeads;
    this.rep = heads / kvHeads;
    this.hs = headSize;
    this.ld = ld;
    this.qOff = qOff;
    this.kOff = kOff;
    this.vOff = vOff;
    this.ldo = heads * headSize;
    this.causal = causal;
    this.block = causal ? Math.min(len, attentionBlock) : len;
    this.scale = (float) (1.0 / Math.sqrt(headSize));
  }

  /**
   * Each token's position within its example ({@code [batch, len]}), or null: a query then attends
   * only to the keys of its own example, from {@code i - positions[i]} to itself.
   */
  void positions(int[] positions) {
    if (positions != null && !causal) {
      throw new IllegalArgumentException("packed examples need causal attention");
    }
    this.positions = positions;
  }

  /** The first key that row {@code r} of the probabilities may attend to. */
  private int firstKey(int r, int i) {
    return positions == null ? 0 : i - positions[r / len / heads * len + i];
  }

  /** Floats of one layer's probabilities (and of the backward pass's scratch). */
  static long probsFloats(int batch, int heads, int len) {
    return (long) batch * heads * len * len;
  }

  /** {@code out = softmax(q k^T scale + mask) v}, the probabilities kept in {@code probs}. */
  void forward(Buf qkv, Buf probs, Buf out) {
    Parallel.forRange(
        batch * kvHeads,
        (from, to) -> {
          for (int bg = from; bg < to; bg++) {
            int b = bg / kvHeads;
            int g = bg % kvHeads;
            long base = (long) b * len * ld;
            long ko = base + kOff + (long) g * hs;
            long vo = base + vOff + (long) g * hs;
            for (int j = 0; j < rep; j++) {
              int h = g * rep + j;
              long qo = base + qOff + (long) h * hs;
              long po = ((long) b * heads + h) * len * len;
              long oo = (long) b * len * ldo + (long) h * hs;
              for (int r0 = 0; r0 < len; r0 += block) {
                int rows = Math.min(block, len - r0);
                gemm(
                    NO,
                    TR,
                    rows,
                    keys(r0),
                    hs,
                    scale,
                    qkv,
                    qo + (long) r0 * ld,
                    ld,
                    qkv,
                    ko,
                    ld,
                    0f,
                    probs,
                    po + (long) r0 * len,
                    len);
              }
              int row0 = (b * heads + h) * len;
              for (int i = 0; i < len; i++) {
                softmaxRow(probs, row0 + i);
              }
              for (int r0 = 0; r0 < len; r0 += block) {
                int rows = Math.min(block, len - r0);
                gemm(
                    NO,
                    NO,
                    rows,
                    hs,
                    keys(r0),
                    1f,
                    probs,
                    po + (long) r0 * len,
                    len,
                    qkv,
                    vo,
                    ld,
                    0f,
                    out,
                    oo + (long) r0 * ldo,
                    ldo);
              }
            }
          }
        });
  }

  /**
   * Given {@code dout}, the gradient at the output: the gradients of queries, keys and values
   * written into the same columns of {@code dqkv} as they have in {@code qkv}; {@code dprobs} is
   * scratch of the probabilities' size.
   */
  void backward(Buf qkv, Buf probs, Buf dout, Buf dprobs, Buf dqkv) {
    Parallel.forRange(
        batch * kvHeads,
        (from, to) -> {
          for (int bg = from; bg < to; bg++) {
            int b = bg / kvHeads;
            int g = bg % kvHeads;
            long base = (long) b * len * ld;
            long ko = base + kOff + (long) g * hs;
            long vo = base + vOff + (long) g * hs;
            for (int j = 0; j < rep; j++) {
              int h = g * rep + j;
              float beta = j == 0 ? 0f : 1f; // the group's first head writes, the others add
              long qo = base + qOff + (long) h * hs;
              long po = ((long) b * heads + h) * len * len;
              long oo = (long) b * len * ldo + (long) h * hs;
              for (int r0 = 0; r0 < len; r0 += block) {
                int rows = Math.min(block, len - r0);
                int from0 = causal ? r0 : 0;
                // dP = dO V^T (query block r0) ; dV = P^T dO (key block r0, from query r0 on)
                gemm(
                    NO,
                    TR,
                    rows,
                    keys(r0),
                    hs,
                    1f,
                    dout,
                    oo + (long) r0 * ldo,
                    ldo,
                    qkv,
                    vo,
                    ld,
                    0f,
                    dprobs,
                    po + (long) r0 * len,
                    len);
                gemm(
                    TR,
                    NO,
                    rows,
                    hs,
                    len - from0,
                    1f,
                    probs,
                    po + (long) from0 * len + r0,
                    len,
                    dout,
                    oo + (long) from0 * ldo,
                    ldo,
                    beta,
                    dqkv,
                    vo + (long) r0 * ld,
                    ld);
              }
              // dS = P * (dP - sum_j P dP), times the score scale
              int row0 = (b * heads + h) * len;
              for (int i = 0; i < len; i++) {
                softmaxBackwardRow(probs, dprobs, row0 + i);
              }
              for (int r0 = 0; r0 < len; r0 += block) {
                int rows = Math.min(block, len - r0);
                int from0 = causal ? r0 : 0;
                // dQ = dS K (query block r0) ; dK = dS^T Q (key block r0, from query r0 on)
                gemm(
                    NO,
                    NO,
                    rows,
                    hs,
                    keys(r0),
                    1f,
                    dprobs,
                    po + (long) r0 * len,
                    len,
                    qkv,
                    ko,
                    ld,
                    0f,
                    dqkv,
                    qo + (long) r0 * ld,
                    ld);
                gemm(
                    TR,
                    NO,
                    rows,
                    hs,
                    len - from0,
                    1f,
                    dprobs,
                    po + (long) from0 * len + r0,
                    len,
                    qkv,
                    qo + (long) from0 * ld,
                    ld,
                    beta,
                    dqkv,
                    ko + (long) r0 * ld,
                    ld);
              }
            }
          }
        });
  }

  /** Softmax of score row {@code r} over its valid keys, in place; the rest of its block 0. */
  private void softmaxRow(Buf p, int r) {
    int i = r % len;
    int first = firstKey(r, i);
    int o = r * len + first;
    int valid = (causal ? i + 1 : len) - first;
    if (VectorApi.AVAILABLE) {
      float max = VectorKernels.max(p.b, o, valid);
      double sum = VectorKernels.expShifted(p.b, o, valid, max);
      VectorKernels.scale(p.b, o, valid, (float) (1 / sum));
    } else {
      float max = Float.NEGATIVE_INFINITY;
      for (int j = 0; j < valid; j++) {
        max = Math.max(max, p.f.get(o + j));
      }
      double sum = 0;
      for (int j = 0; j < valid; j++) {
        float e = KernelMath.exp(p.f.get(o + j) - max);
        p.f.put(o + j, e);
        sum += e;
      }
      float inv = (float) (1 / sum);
      for (int j = 0; j < valid; j++) {
        p.f.put(o + j, p.f.get(o + j) * inv);
      }
    }
    for (int j = valid, end = keys(i - i % block) - first; j < end; j++) {
      p.f.put(o + j, 0f);
    }
    for (int j = -first; j < 0; j++) {
      p.f.put(o + j, 0f);
    }
  }

  private void softmaxBackwardRow(Buf p, Buf dp, int r) {
    int i = r % len;
    int first = firstKey(r, i);
    int o = r * len + first;
    int valid = (causal ? i + 1 : len) - first;
    if (VectorApi.AVAILABLE) {
      VectorKernels.softmaxBackwardRow(p.b, dp.b, o, valid, scale);
    } else {
      double dot = 0;
      for (int j = 0; j < valid; j++) {
        dot += p.f.get(o + j) * dp.f.get(o + j);
      }
      float fd = (float) dot;
      for (int j = 0; j < valid; j++) {
        dp.f.put(o + j, p.f.get(o + j) * (dp.f.get(o + j) - fd) * scale);
      }
    }
    for (int j = valid, end = keys(i - i % block) - first; j < end; j++) {
      dp.f.put(o + j, 0f);
    }
    for (int j = -first; j < 0; j++) {
      dp.f.put(o + j, 0f);
    }
  }

  /**
   * Keys that the query block starting at row {@code r0} attends to: up to the block's end when
   * causal (the scores beyond are never computed nor read), all of them otherwise.
   */
  private int keys(int r0) {
    return causal ? Math.min(len, r0 + block) : len;
  }
}
