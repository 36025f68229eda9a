package dev.forja.training.model;

import static dev.forja.training.model.Blas.NO;
import static dev.forja.training.model.Blas.TR;
import static dev.forja.training.model.Blas.pgemm;

import dev.forja.jvm.VectorApi;
import dev.forja.training.runtime.Parallel;
import java.util.Map;

/**
 * The Llama family's forward and backward pass written by hand for the CPU, fp32, the twin of
 * {@link GptModel}'s Llama graph (which stays the reference: tests hold the two to the same loss
 * and gradients) as {@link GptKernels} is of the GPT-2 one: RMSNorm, q/k/v projections (with biases
 * for Qwen2) into one buffer, per-head q/k RMSNorm (Qwen3), RoPE, grouped-query {@link Attention},
 * a SwiGLU MLP, weights in Hugging Face's {@code [out, in]} layout used in place.
 *
 * <p>Kept per layer for the backward pass: the normalized residual of both norms, the post-RoPE
 * queries, keys and values, the attention probabilities and output, and the MLP's gate and up
 * projections; the norms' outputs and the SwiGLU product are recomputed (cheap, element-wise)
 * rather than kept. Every reduction runs in a fixed order for a given thread count.
 */
public final class LlamaKernels extends KernelPass {
  private final int heads;
  private final int kvHeads;
  private final int hd;
  private final int qw; // query columns, heads x hd
  private final int kw; // key (and value) columns, kvHeads x hd
  private final int width; // q, k and v columns together
  private final int mlp;
  private final int layers;
  private final boolean qkNorm;
  private final double eps;
  private final float[] cos; // [len, hd / 2]: the angles repeat over both halves of a head
  private final float[] sin;
  private final Attention attention;

  private final boolean recompute;
  private final Buf[] xin; // with recompute: each layer's input [n, d], the only activation kept
  private final Buf x; // the residual stream [n, d]
  private final Buf[] xhat1;
  private final Buf[] rstd1;
  private final Buf[] qkv; // [n, width], queries and keys after RoPE
  private final Buf[] qkHat; // [n, qw + kw] normalized q and k before their norm weights
  private final Buf[] qkRstd; // [n, heads + kvHeads]
  private final Buf[] probs;
  private final Buf[] att; // [n, qw]
  private final Buf[] xhat2;
  private final Buf[] rstd2;
  private final Buf[] gate; // [n, mlp]; the gradient at the gate in the backward pass
  private final Buf[] up; // [n, mlp]; the gradient at the up projection in the backward pass
  private final Buf xhatF;
  private final Buf rstdF;
  private final Buf lnF;
  // scratch
  private final Buf norm; // a norm's output [n, d]
  private final Buf act; // SwiGLU output [n, mlp], then the gradient there
  private final Buf dact;
  private final Buf dres;
  private final Buf dln;
  private final Buf datt;
  private final Buf dqkv;
  private final Buf dprobs;
  private final Buf prod; // [max(n x d, n x (qw + kw))] for the norm weights' gradients

  /** Allocates the buffers for {@code model}'s batch shape; parameters are used in place. */
  public LlamaKernels(GptModel model) {
    this(model, GptKernels.ATTENTION_BLOCK);
  }

  /**
   * As above; {@code recompute}: keep only each layer's input, and compute the layer again in the
   * backward pass (one layer's activations held at a time).
   */
  public LlamaKernels(GptModel model, boolean recompute) {
    this(model, GptKernels.ATTENTION_BLOCK, recompute);
  }

  LlamaKernels(GptModel model, int attentionBlock) {
    this(model, attentionBlock, false);
  }

  LlamaKernels(GptModel model, int attentionBlock, boolean recompute) {
    super(model);
    ModelConfig c = model.config();
    if (!c.llamaFamily()) {
      throw new IllegalArgumentException("not a Llama-family model: " + c);
    }
    ModelConfig.Llama l = c.llama();
    if (!supports(arch)) {
      throw new IllegalArgumentException(
          "LlamaKernels compute the Llama family's blocks; this model's are "
              + arch.layers().get(0));
    }
    heads = c.heads();
    kvHeads = l.kvHeads();
    hd = l.headDim();
    qw = heads * hd;
    kw = kvHeads * hd;
    width = qw + 2 * kw;
    mlp = l.mlpHidden();
    layers = c.layers();
    qkNorm = l.qkNorm();
    eps = c.normEpsilon();
    boolean causal = c.objective() == ModelConfig.Objective.CAUSAL;
    attention =
        new Attention(
            batch, len, heads, kvHeads, hd, width, 0, qw, qw + kw, causal, attentionBlock);
    double[][] cs = Rope.cosSin(l, len);
    int half = hd / 2;
    cos = new float[len * half];
    sin = new float[len * half];
    for (int t = 0; t < len; t++) {
      for (int i = 0; i < half; i++) {
        cos[t * half + i] = (float) cs[0][t * hd + i];
        sin[t * half + i] = (float) cs[1][t * hd + i];
      }
    }
    VectorKernels.warmUp();

    this.recompute = recompute;
    int slots = recompute ? 1 : layers;
    xin = new Buf[recompute ? layers : 0];
    for (int i = 0; i < xin.length; i++) {
      xin[i] = Buf.alloc((long) n * d);
    }
    x = Buf.alloc((long) n * d);
    xhat1 = new Buf[slots];
    rstd1 = new Buf[slots];
    qkv = new Buf[slots];
    qkHat = new Buf[slots];
    qkRstd = new Buf[slots];
    probs = new Buf[slots];
    att = new Buf[slots];
    xhat2 = new Buf[slots];
    rstd2 = new Buf[slots];
    gate = new Buf[slots];
    up = new Buf[slots];
    long square = Attention.probsFloats(batch, heads, len);
    for (int i = 0; i < slots; i++) {
      xhat1[i] = Buf.alloc((long) n * d);
      rstd1[i] = Buf.alloc(n);
      qkv[i] = Buf.alloc((long) n * width);
      if (qkNorm) {
        qkHat[i] = Buf.alloc((long) n * (qw + kw));
        qkRstd[i] = Buf.alloc((long) n * (heads + kvHeads));
      }
      probs[i] = Buf.alloc(square);
      att[i] = Buf.alloc((long) n * qw);
      xhat2[i] = Buf.alloc((long) n * d);
      rstd2[i] = Buf.alloc(n);
      gate[i] = Buf.alloc((long) n * mlp);
      up[i] = Buf.alloc((long) n * mlp);
    }
    xhatF = Buf.alloc((long) n * d);
    rstdF = Buf.alloc(n);
    lnF = Buf.alloc((long) n * d);
    norm = Buf.alloc((long) n * d);
    act = Buf.alloc((long) n * mlp);
    dact = Buf.alloc((long) n * mlp);
    dres = Buf.alloc((long) n * d);
    dln = Buf.alloc((long) n * d);
    datt = Buf.alloc((long) n * qw);
    dqkv = Buf.alloc((long) n * width);
    dprobs = Buf.alloc(square);
    prod = Buf.alloc((long) n * Math.max(d, qw + kw));
  }

  /**
   * Whether these kernels compute {@code a}: the Llama family's blocks (no learned positions,
   * RMSNorm, separate q/k/v projections in {@code [out, in]} layout with RoPE, a SwiGLU MLP).
   */
  static boolean supports(Architecture a) {
    if (a.embedding().positions() != null
        || a.finalNorm().kind() != Architecture.NormKind.RMS_NORM) {
      return false;
    }
    for (Architecture.Layer l : a.layers()) {
      Architecture.SelfAttention at = l.attention();
      if (l.attentionNorm().kind() != Architecture.NormKind.RMS_NORM
          || l.mlpNorm().kind() != Architecture.NormKind.RMS_NORM
          || at.fused()
          || at.rotary() == null
          || at.output().bias() != null
          || l.mlp().activation() != Architecture.Activation.SWIGLU
          || l.mlp().output().bias() != null) {
        return false;
      }
      for (Architecture.Linear in : at.inputs()) {
        if (in.layout() != Architecture.Layout.OUT_IN) {
          return false;
        }
      }
    }
    return true;
  }

  /** Floats of activation and scratch memory this pass holds for its batch shape. */
  public static long activationFloats(ModelConfig c, int batch, int length, boolean recompute) {
    ModelConfig.Llama l = c.llama();
    long n = (long) batch * length;
    long d = c.dModel();
    long qw = (long) c.heads() * l.headDim();
    long kw = (long) l.kvHeads() * l.headDim();
    long width = qw + 2 * kw;
    long mlp = l.mlpHidden();
    long square = Attention.probsFloats(batch, c.heads(), length);
    long qk = l.qkNorm() ? n * (qw + kw + c.heads() + l.kvHeads()) : 0;
    long perLayer = n * (2 * d + 2 + width + qw + 2 * mlp) + qk + square;
    return (recompute ? perLayer + c.layers() * n * d : c.layers() * perLayer)
        + n * (4 * d + 1) // residual, final norm
        + OutputHead.floats(n, c.vocabSize())
        + n * (3 * d + 2 * mlp + qw + width + Math.max(d, qw + kw) + 1)
        + square;
  }

  // ---------------------------------------------------------------- forward

  @Override
  protected void positionsChanged(int[] pos) {
    attention.positions(pos);
  }

  @Override
  protected double forward(int[] ids, int[] targets, double scale, Map<String, Buf> g) {
    checkIds(ids, targets);
    Buf embed = w(arch.embedding().tokens());
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            int id = ids[r];
            copy(embed, (long) id * d, x, (long) r * d, d);
          }
        });
    for (int l = 0; l < layers; l++) {
      if (recompute && g != null) {
        copy(x, xin[l]); // the layer's input, from which the backward pass recomputes the rest
      }
      layerForward(l);
    }
    rmsNorm(x, w(arch.finalNorm().weight()), xhatF, rstdF, lnF);
    return headLoss(lnF, targets, scale, g, dln);
  }

  /** Layer {@code l} on the residual stream {@link #x}, its activations kept in its slot. */
  private void layerForward(int l) {
    int s = slot(l);
    Architecture.SelfAttention at = L(l).attention();
    Architecture.Mlp m = L(l).mlp();
    rmsNorm(x, w(L(l).attentionNorm().weight()), xhat1[s], rstd1[s], norm);
    linear(norm, d, at.inputs().get(0), qkv[s], 0, width, 0f);
    linear(norm, d, at.inputs().get(1), qkv[s], qw, width, 0f);
    linear(norm, d, at.inputs().get(2), qkv[s], qw + kw, width, 0f);
    if (qkNorm) {
      headNorm(qkv[s], 0, heads, w(at.qNorm().weight()), qkHat[s], 0, qkRstd[s], 0);
      headNorm(qkv[s], qw, kvHeads, w(at.kNorm().weight()), qkHat[s], qw, qkRstd[s], heads);
    }
    rope(qkv[s], false);
    attention.forward(qkv[s], probs[s], att[s]);
    linear(att[s], qw, at.output(), x, 0, d, 1f); // x += att @ Wo^T
    rmsNorm(x, w(L(l).mlpNorm().weight()), xhat2[s], rstd2[s], norm);
    linear(norm, d, m.inputs().get(0), gate[s], 0, mlp, 0f);
    linear(norm, d, m.inputs().get(1), up[s], 0, mlp, 0f);
    swiglu(gate[s], up[s], act);
    linear(act, mlp, m.output(), x, 0, d, 1f); // x += swiglu @ Wd^T
  }

  /**
   * Columns {@code [col, col + lin.out)} of {@code out} (rows {@code ldOut} wide) = {@code beta out
   * + in @ W^T (+ b)}, plus the layer's LoRA update; {@code in [n, lin.in]}, rows {@code ldIn}
   * wide.
   */
  private void linear(
      Buf in, int ldIn, Architecture.Linear lin, Buf out, int col, int ldOut, float beta) {
    int k = lin.in();
    int m = lin.out();
    pgemm(NO, TR, n, m, k, 1f, in, 0, ldIn, w(lin.weight()), 0, k, beta, out, col, ldOut);
    loraForward(lin, in, 0, ldIn, out, col, ldOut);
    if (lin.bias() != null) {
      Buf b = w(lin.bias());
      Parallel.forRange(
          n,
          (from, to) -> {
            for (int r = from; r < to; r++) {
              int o = r * ldOut + col;
              if (VectorApi.AVAILABLE) {
                VectorKernels.addRow(out.b, b.b, o, m);
                continue;
              }
              for (int j = 0; j < m; j++) {
                out.f.put(o + j, out.f.get(o + j) + b.f.get(j));
              }
            }
          });
    }
  }

  // ---------------------------------------------------------------- backward

  /** From the final norm down, {@code dln} holding d loss / d its output (from the head). */
  @Override
  protected void backward(int[] ids, Map<String, Buf> g) {
    rmsNormBackward(
        dln,
        xhatF,
        rstdF,
        w(arch.finalNorm().weight()),
        grad(g, arch.finalNorm().weight()),
        dres,
        false);
    for (int l = layers - 1; l >= 0; l--) {
      if (recompute) {
        copy(xin[l], x);
        layerForward(l);
      }
      int s = slot(l);
      Architecture.SelfAttention at = L(l).attention();
      Architecture.Mlp m = L(l).mlp();
      // x_out = x_mid + swiglu(gate, up) @ Wd^T
      swiglu(gate[s], up[s], act);
      linearBackward(m.output(), act, mlp, dres, 0, d, dact, mlp, 0f, g);
      swigluBackward(gate[s], up[s], dact); // gate and up now hold their gradients
      scaleRows(xhat2[s], w(L(l).mlpNorm().weight()), norm);
      linearBackward(m.inputs().get(0), norm, d, gate[s], 0, mlp, dln, d, 0f, g);
      linearBackward(m.inputs().get(1), norm, d, up[s], 0, mlp, dln, d, 1f, g);
      rmsNormBackward(
          dln,
          xhat2[s],
          rstd2[s],
          w(L(l).mlpNorm().weight()),
          grad(g, L(l).mlpNorm().weight()),
          dres,
          true);
      // x_mid = x_in + att @ Wo^T
      linearBackward(at.output(), att[s], qw, dres, 0, d, datt, qw, 0f, g);
      attention.backward(qkv[s], probs[s], datt, dprobs, dqkv);
      rope(dqkv, true);
      if (qkNorm) {
        headNormBackward(l, 0, heads, at.qNorm(), g, 0);
        headNormBackward(l, qw, kvHeads, at.kNorm(), g, heads);
      }
      scaleRows(xhat1[s], w(L(l).attentionNorm().weight()), norm);
      linearBackward(at.inputs().get(0), norm, d, dqkv, 0, width, dln, d, 0f, g);
      linearBackward(at.inputs().get(1), norm, d, dqkv, qw, width, dln, d, 1f, g);
      linearBackward(at.inputs().get(2), norm, d, dqkv, qw + kw, width, dln, d, 1f, g);
      rmsNormBackward(
          dln,
          xhat1[s],
          rstd1[s],
          w(L(l).attentionNorm().weight()),
          grad(g, L(l).attentionNorm().weight()),
          dres,
          true);
    }
    embeddingBackward(ids, dres, grad(g, arch.embedding().tokens()), null);
  }

  /**
   * {@link #linear}'s backward, given {@code dout} at columns {@code [col, col + lin.out)} of rows
   * {@code ldOut} wide: the weight, bias and adapter gradients accumulated (those of trainable
   * parameters only), and {@code din = beta din + dout @ W} plus the adapter's share ({@code din}
   * rows {@code ldIn} wide, as {@code in}'s).
   */
  private void linearBackward(
      Architecture.Linear lin,
      Buf in,
      int ldIn,
      Buf dout,
      int col,
      int ldOut,
      Buf din,
      int ldDin,
      float beta,
      Map<String, Buf> g) {
    int k = lin.in();
    int m = lin.out();
    Buf dw = grad(g, lin.weight());
    if (dw != null) {
      pgemm(TR, NO, m, k, n, 1f, dout, col, ldOut, in, 0, ldIn, 1f, dw, 0, k);
    }
    pgemm(NO, NO, n, k, m, 1f, dout, col, ldOut, w(lin.weight()), 0, k, beta, din, 0, ldDin);
    loraBackward(lin, in, 0, ldIn, dout, col, ldOut, din, 0, ldDin, g);
    if (lin.bias() != null) {
      columnSums(dout, col, m, ldOut, grad(g, lin.bias()));
    }
  }

  // ---------------------------------------------------------------- building blocks

  /** RMSNorm of each row of {@code in [n, d]}: {@code xhat = x rstd}, {@code out = xhat w}. */
  private void rmsNorm(Buf in, Buf w, Buf xhat, Buf rstd, Buf out) {
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            rstd.f.put(r, normRow(in, r * d, w, xhat, r * d, out, r * d, d));
          }
        });
  }

  /**
   * One row of RMSNorm: {@code xhat = x / sqrt(mean(x^2) + eps)} and {@code out = xhat w} ({@code
   * out} may be {@code in}); returns the reciprocal root.
   */
  private float normRow(Buf in, int io, Buf w, Buf xhat, int xo, Buf out, int oo, int m) {
    double ss;
    if (VectorApi.AVAILABLE) {
      ss = VectorKernels.sumOfSquares(in.b, io, m);
    } else {
      ss = 0;
      for (int j = 0; j < m; j++) {
        float v = in.f.get(io + j);
        ss += v * v;
      }
    }
    float rs = (float) (1 / Math.sqrt(ss / m + eps));
    if (VectorApi.AVAILABLE) {
      VectorKernels.normScale(in.b, io, rs, w.b, xhat.b, xo, out.b, oo, m);
      return rs;
    }
    for (int j = 0; j < m; j++) {
      float xh = in.f.get(io + j) * rs;
      xhat.f.put(xo + j, xh);
      out.f.put(oo + j, xh * w.f.get(j));
    }
    return rs;
  }

  /** {@code out = xhat w} row by row: a norm's output again, from what the forward pass kept. */
  private void scaleRows(Buf xhat, Buf w, Buf out) {
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            int o = r * d;
            if (VectorApi.AVAILABLE) {
              VectorKernels.mulRow(xhat.b, w.b, out.b, o, d);
              continue;
            }
            for (int j = 0; j < d; j++) {
              out.f.put(o + j, xhat.f.get(o + j) * w.f.get(j));
            }
          }
        });
  }

  /**
   * RMSNorm's backward over rows of {@code [n, d]}: the weight gradient accumulated; {@code dx}
   * overwritten, or added to when {@code accumulate} (the residual stream's gradient).
   */
  private void rmsNormBackward(
      Buf dy, Buf xhat, Buf rstd, Buf w, Buf dw, Buf dx, boolean accumulate) {
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            normBackwardRow(dy, r * d, xhat, r * d, rstd.f.get(r), w, dx, r * d, d, accumulate);
          }
        });
    columnSums(prod, 0, d, d, dw);
  }

  /**
   * One row of RMSNorm's backward: {@code dx = rstd (dy w - xhat mean(dy w xhat))}, and {@code dy
   * xhat} into {@link #prod} at the row's offset for the weight's gradient.
   */
  private void normBackwardRow(
      Buf dy,
      int o,
      Buf xhat,
      int xo,
      float rs,
      Buf w,
      Buf dx,
      int dxo,
      int m,
      boolean accumulate) {
    if (VectorApi.AVAILABLE) {
      VectorKernels.rmsNormBackwardRow(
          dy.b, o, xhat.b, xo, rs, w.b, prod.b, dx.b, dxo, m, accumulate);
      return;
    }
    double dot = 0;
    for (int j = 0; j < m; j++) {
      float dyj = dy.f.get(o + j);
      float xh = xhat.f.get(xo + j);
      prod.f.put(xo + j, dyj * xh);
      dot += dyj * w.f.get(j) * xh;
    }
    float mean = (float) (dot / m);
    for (int j = 0; j < m; j++) {
      float v = rs * (dy.f.get(o + j) * w.f.get(j) - xhat.f.get(xo + j) * mean);
      dx.f.put(dxo + j, accumulate ? dx.f.get(dxo + j) + v : v);
    }
  }

  /**
   * Qwen3's q/k norm: RMSNorm over each of the {@code count} heads at column {@code col} of {@code
   * qkv}, in place; the normalized heads kept in {@code hat} at column {@code hatCol} and their
   * reciprocal roots in {@code rstd} at head {@code rstdCol} (both of row width {@code qw + kw} and
   * {@code heads + kvHeads}).
   */
  private void headNorm(
      Buf io, int col, int count, Buf w, Buf hat, int hatCol, Buf rstd, int rstdCol) {
    int hw = qw + kw;
    int hr = heads + kvHeads;
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            for (int h = 0; h < count; h++) {
              int o = r * width + col + h * hd;
              float rs = normRow(io, o, w, hat, r * hw + hatCol + h * hd, io, o, hd);
              rstd.f.put(r * hr + rstdCol + h, rs);
            }
          }
        });
  }

  /** {@link #headNorm}'s backward on {@link #dqkv}, in place; the weight gradient accumulated. */
  private void headNormBackward(
      int l, int col, int count, Architecture.Norm headNorm, Map<String, Buf> g, int rstdCol) {
    int hw = qw + kw;
    int hr = heads + kvHeads;
    Buf w = w(headNorm.weight());
    Buf hat = qkHat[slot(l)];
    Buf rstd = qkRstd[slot(l)];
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            for (int h = 0; h < count; h++) {
              int o = r * width + col + h * hd;
              int xo = r * hw + col + h * hd;
              normBackwardRow(
                  dqkv, o, hat, xo, rstd.f.get(r * hr + rstdCol + h), w, dqkv, o, hd, false);
            }
          }
        });
    // prod holds dy xhat of each head at its columns: summed over rows and heads, per column
    Buf dw = grad(g, headNorm.weight());
    if (dw == null) {
      return; // frozen
    }
    Parallel.forRange(
        hd,
        (from, to) -> {
          for (int j = from; j < to; j++) {
            double s = 0;
            for (int r = 0; r < n; r++) {
              int o = r * hw + col + j;
              for (int h = 0; h < count; h++) {
                s += prod.f.get(o + h * hd);
              }
            }
            dw.f.put(j, (float) (dw.f.get(j) + s));
          }
        });
  }

  /**
   * RoPE on the query and key columns of {@code buf}, in place: {@code x cos + rotate_half(x) sin}
   * each head at its row's position, or its transpose when {@code backward} (a rotation's gradient
   * is the opposite rotation).
   */
  private void rope(Buf buf, boolean backward) {
    int half = hd / 2;
    int rotated = heads + kvHeads;
    float sign = backward ? -1f : 1f;
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            int t = position(r) * half;
            for (int h = 0; h < rotated; h++) {
              int o = r * width + h * hd;
              if (VectorApi.AVAILABLE) {
                VectorKernels.rope(buf.b, o, half, cos, sin, t, sign);
                continue;
              }
              for (int i = 0; i < half; i++) {
                float c = cos[t + i];
                float s = sign * sin[t + i];
                float a = buf.f.get(o + i);
                float b = buf.f.get(o + half + i);
                buf.f.put(o + i, a * c - b * s);
                buf.f.put(o + half + i, b * c + a * s);
              }
            }
          }
        });
  }

  /** {@code out = silu(gate) up}, with {@code silu(g) = g sigmoid(g)}. */
  private void swiglu(Buf gate, Buf up, Buf out) {
    Parallel.forRange(
        n,
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            VectorKernels.swiglu(gate.b, up.b, out.b, from * mlp, to * mlp);
            return;
          }
          for (int i = from * mlp; i < to * mlp; i++) {
            float g = gate.f.get(i);
            float sg = 1f / (1f + KernelMath.exp(-g));
            out.f.put(i, g * sg * up.f.get(i));
          }
        });
  }

  /**
   * Given {@code dout}, the gradient at {@code silu(gate) up}: {@code gate} and {@code up} are
   * overwritten with the gradients at them.
   */
  private void swigluBackward(Buf gate, Buf up, Buf dout) {
    Parallel.forRange(
        n,
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            VectorKernels.swigluBackward(gate.b, up.b, dout.b, from * mlp, to * mlp);
            return;
          }
          for (int i = from * mlp; i < to * mlp; i++) {
            float g = gate.f.get(i);
            float u = up.f.get(i);
            float dy = dout.f.get(i);
            float sg = 1f / (1f + KernelMath.exp(-g));
            float silu = g * sg;
            gate.f.put(i, dy * u * sg * (1 + g * (1 - sg)));
            up.f.put(i, dy * silu);
          }
        });
  }

  private static void copy(Buf src, long so, Buf dst, long dO, int m) {
    for (int j = 0; j < m; j++) {
      dst.f.put((int) (dO + j), src.f.get((int) (so + j)));
    }
  }

  /** Where layer {@code l}'s activations are kept: its own buffers, or the one shared slot. */
  private int slot(int l) {
    return recompute ? 0 : l;
  }

  /** {@code dst = src}, both {@code [n, d]}. */
  private void copy(Buf src, Buf dst) {
    dst.f.duplicate().put(src.f.duplicate().limit(n * d));
  }

  private Architecture.Layer L(int l) {
    return arch.layers().get(l);
  }
}
