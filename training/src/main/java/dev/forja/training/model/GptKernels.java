package dev.forja.training.model;

import static dev.forja.training.model.Blas.NO;
import static dev.forja.training.model.Blas.TR;
import static dev.forja.training.model.Blas.pgemm;

import dev.forja.jvm.VectorApi;
import dev.forja.training.runtime.Parallel;
import java.util.Map;

/**
 * {@link GptModel}'s forward and backward pass written by hand for the CPU, fp32: matrix products
 * through OpenBLAS's {@code cblas_sgemm} on the parameters' own memory and on activation buffers
 * allocated once, element-wise work (layer norm, GELU, softmax, cross-entropy) in Java loops. All
 * of it is split over {@link #THREADS} Java threads, BLAS included (single-threaded, on a share of
 * the rows or of the (sequence, head) pairs each), so no BLAS worker spins beside a Java loop. The
 * SameDiff graph stays the reference: tests hold the two to the same loss and gradients. It exists
 * because SameDiff 1.0.0-M2.1 allocates every intermediate anew on each step, and several of its
 * kernels run far below memory bandwidth (docs/stack.md).
 *
 * <p>Every reduction runs in a fixed order for a given thread count, so results are
 * bit-reproducible. Attention keeps the softmax probabilities of every layer ({@code batch x heads
 * x length^2} floats each) for the backward pass; activations in all take about {@code batch x
 * length x (10 d + 2 mlp) + batch x heads x length^2} floats per layer.
 */
public final class GptKernels extends KernelPass {

  /** Threads for the whole pass: {@code OMP_NUM_THREADS} (as for BLAS), else the cores. */
  public static final int THREADS = Parallel.THREADS;

  private static final double GELU_K = Math.sqrt(2 / Math.PI);
  private static final double GELU_A = 0.044715;

  private final int heads;
  private final int hs;
  private final int mlp;
  private final int layers;
  private final boolean causal;
  private final double eps;

  /**
   * Query rows per block of causal attention: a block's rows attend to the keys up to the block's
   * end only, which skips most of the masked half of the scores (5/8 of the products are left at
   * 256 positions). Smaller blocks skip more products but make each one less efficient; see
   * docs/benchmarks.md for the sizes compared.
   */
  static final int ATTENTION_BLOCK = 64;

  private final Attention attention;

  // activations, per layer where indexed
  private final Buf x; // the residual stream [n, d]
  private final Buf[] xhat1;
  private final Buf[] rstd1;
  private final Buf[] ln1;
  private final Buf[] qkv;
  private final Buf[] probs;
  private final Buf[] att;
  private final Buf[] xhat2;
  private final Buf[] rstd2;
  private final Buf[] ln2;
  private final Buf[] pre; // MLP input of the GELU [n, mlp]
  private final Buf[] tanh; // the tanh inside the GELU [n, mlp], kept for its backward
  private final Buf act; // GELU output [n, mlp], recomputed from pre and tanh when needed
  private final Buf xhatF;
  private final Buf rstdF;
  private final Buf lnF;
  // backward scratch
  private final Buf dres;
  private final Buf dln;
  private final Buf datt;
  private final Buf dqkv;
  private final Buf dmlp;
  private final Buf dprobs;

  /** Allocates the buffers for {@code model}'s batch shape; parameters are used in place. */
  public GptKernels(GptModel model) {
    this(model, ATTENTION_BLOCK);
  }

  /** As above, with causal attention computed in blocks of {@code attentionBlock} query rows. */
  GptKernels(GptModel model, int attentionBlock) {
    super(model);
    ModelConfig c = model.config();
    requireSupported(arch);
    heads = c.heads();
    hs = c.headSize();
    mlp = c.mlpWidth();
    layers = c.layers();
    causal = c.objective() == ModelConfig.Objective.CAUSAL;
    eps = c.normEpsilon();
    attention =
        new Attention(batch, len, heads, heads, hs, 3 * d, 0, d, 2 * d, causal, attentionBlock);
    VectorKernels.warmUp();

    x = Buf.alloc((long) n * d);
    xhat1 = new Buf[layers];
    rstd1 = new Buf[layers];
    ln1 = new Buf[layers];
    qkv = new Buf[layers];
    probs = new Buf[layers];
    att = new Buf[layers];
    xhat2 = new Buf[layers];
    rstd2 = new Buf[layers];
    ln2 = new Buf[layers];
    pre = new Buf[layers];
    tanh = new Buf[layers];
    long square = (long) batch * heads * len * len;
    for (int l = 0; l < layers; l++) {
      xhat1[l] = Buf.alloc((long) n * d);
      rstd1[l] = Buf.alloc(n);
      ln1[l] = Buf.alloc((long) n * d);
      qkv[l] = Buf.alloc((long) n * 3 * d);
      probs[l] = Buf.alloc(square);
      att[l] = Buf.alloc((long) n * d);
      xhat2[l] = Buf.alloc((long) n * d);
      rstd2[l] = Buf.alloc(n);
      ln2[l] = Buf.alloc((long) n * d);
      pre[l] = Buf.alloc((long) n * mlp);
      tanh[l] = Buf.alloc((long) n * mlp);
    }
    xhatF = Buf.alloc((long) n * d);
    rstdF = Buf.alloc(n);
    lnF = Buf.alloc((long) n * d);
    dres = Buf.alloc((long) n * d);
    dln = Buf.alloc((long) n * d);
    datt = Buf.alloc((long) n * d);
    dqkv = Buf.alloc((long) n * 3 * d);
    dmlp = Buf.alloc((long) n * Math.max(mlp, d));
    dprobs = Buf.alloc(square);
    act = Buf.alloc((long) n * mlp);
  }

  /**
   * Whether these kernels compute {@code a}: GPT-2's blocks (learned positions, LayerNorm, one
   * fused q/k/v projection in {@code [in, out]} layout, a GELU MLP).
   */
  static boolean supports(Architecture a) {
    if (a.embedding().positions() == null) {
      return false;
    }
    for (Architecture.Layer l : a.layers()) {
      Architecture.SelfAttention at = l.attention();
      if (l.attentionNorm().kind() != Architecture.NormKind.LAYER_NORM
          || !at.fused()
          || at.inputs().get(0).layout() != Architecture.Layout.IN_OUT
          || at.rotary() != null
          || at.qNorm() != null
          || l.mlp().activation() != Architecture.Activation.GELU_TANH
          || l.mlp().inputs().get(0).layout() != Architecture.Layout.IN_OUT) {
        return false;
      }
    }
    return true;
  }

  private static void requireSupported(Architecture a) {
    if (!supports(a)) {
      throw new IllegalArgumentException(
          "GptKernels compute GPT-2's blocks; this model's are " + a.layers().get(0));
    }
  }

  /** Floats of activation and scratch memory this pass holds for its batch shape. */
  public static long activationFloats(ModelConfig c, int batch, int length) {
    long n = (long) batch * length;
    long d = c.dModel();
    long square = (long) batch * c.heads() * length * length;
    long perLayer = n * (9 * d + 2 + 2L * c.mlpWidth()) + square;
    return c.layers() * perLayer
        + n * (2 * d + 1)
        + OutputHead.floats(n, c.vocabSize())
        + n * (6 * d + Math.max(c.mlpWidth(), d) + c.mlpWidth() + 1)
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
    Buf wte = w(arch.embedding().tokens());
    Buf wpe = w(arch.embedding().positions());
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            int id = ids[r];
            int o = r * d;
            int e = id * d;
            int p = position(r) * d;
            if (VectorApi.AVAILABLE) {
              VectorKernels.sum(x.b, o, wte.b, e, wpe.b, p, d);
              continue;
            }
            for (int j = 0; j < d; j++) {
              x.f.put(o + j, wte.f.get(e + j) + wpe.f.get(p + j));
            }
          }
        });
    for (int l = 0; l < layers; l++) {
      layerNorm(
          x,
          w(L(l).attentionNorm().weight()),
          w(L(l).attentionNorm().bias()),
          xhat1[l],
          rstd1[l],
          ln1[l]);
      linear(ln1[l], qkvOf(l), qkv[l], 0f);
      attention.forward(qkv[l], probs[l], att[l]);
      linear(att[l], L(l).attention().output(), x, 1f); // x += att @ W_proj + b_proj
      layerNorm(
          x, w(L(l).mlpNorm().weight()), w(L(l).mlpNorm().bias()), xhat2[l], rstd2[l], ln2[l]);
      linear(ln2[l], fcOf(l), pre[l], 0f);
      gelu(pre[l], tanh[l], act);
      linear(act, L(l).mlp().output(), x, 1f);
    }
    layerNorm(x, w(arch.finalNorm().weight()), w(arch.finalNorm().bias()), xhatF, rstdF, lnF);
    return headLoss(lnF, targets, scale, g, dln);
  }

  // ---------------------------------------------------------------- backward

  /** From the final norm down, {@code dln} holding d loss / d its output (from the head). */
  @Override
  protected void backward(int[] ids, Map<String, Buf> g) {
    layerNormBackward(
        dln,
        xhatF,
        rstdF,
        w(arch.finalNorm().weight()),
        grad(g, arch.finalNorm().weight()),
        grad(g, arch.finalNorm().bias()),
        dres,
        false);
    for (int l = layers - 1; l >= 0; l--) {
      // x_out = x_mid + act @ W2 + b2
      geluOutput(pre[l], tanh[l], act);
      linearBackward(act, L(l).mlp().output(), dres, dmlp, g);
      geluBackward(pre[l], tanh[l], dmlp);
      linearBackward(ln2[l], fcOf(l), dmlp, dln, g);
      layerNormBackward(
          dln,
          xhat2[l],
          rstd2[l],
          w(L(l).mlpNorm().weight()),
          grad(g, L(l).mlpNorm().weight()),
          grad(g, L(l).mlpNorm().bias()),
          dres,
          true);
      // x_mid = x_in + att @ Wp + bp
      linearBackward(att[l], L(l).attention().output(), dres, datt, g);
      attention.backward(qkv[l], probs[l], datt, dprobs, dqkv);
      linearBackward(ln1[l], qkvOf(l), dqkv, dln, g);
      layerNormBackward(
          dln,
          xhat1[l],
          rstd1[l],
          w(L(l).attentionNorm().weight()),
          grad(g, L(l).attentionNorm().weight()),
          grad(g, L(l).attentionNorm().bias()),
          dres,
          true);
    }
    embeddingBackward(
        ids, dres, grad(g, arch.embedding().tokens()), grad(g, arch.embedding().positions()));
  }

  // ---------------------------------------------------------------- building blocks

  /**
   * {@code out = beta * out + in @ w (+ b)} plus {@code lin}'s LoRA update, {@code in [n, k]},
   * {@code w [k, m]}.
   */
  private void linear(Buf in, Architecture.Linear lin, Buf out, float beta) {
    int k = lin.in();
    int m = lin.out();
    Buf b = w(lin.bias());
    pgemm(NO, NO, n, m, k, 1f, in, 0, k, w(lin.weight()), 0, m, beta, out, 0, m);
    loraForward(lin, in, 0, k, out, 0, m);
    if (b != null) {
      Parallel.forRange(
          n,
          (from, to) -> {
            for (int r = from; r < to; r++) {
              int o = r * m;
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

  /**
   * Given {@code dout [n, m]} of {@code out = in @ w + b} ({@code lin}): {@code din = dout @ w^T}
   * (overwritten) plus the adapter's share, and the gradients of its trainable weight, bias and
   * adapter accumulated.
   */
  private void linearBackward(
      Buf in, Architecture.Linear lin, Buf dout, Buf din, Map<String, Buf> g) {
    int k = lin.in();
    int m = lin.out();
    Buf w = w(lin.weight());
    pgemm(NO, TR, n, k, m, 1f, dout, 0, m, w, 0, m, 0f, din, 0, k);
    Buf dw = grad(g, lin.weight());
    if (dw != null) {
      pgemm(TR, NO, k, m, n, 1f, in, 0, k, dout, 0, m, 1f, dw, 0, m);
    }
    loraBackward(lin, in, 0, k, dout, 0, m, din, 0, k, g);
    if (lin.bias() != null) {
      columnSums(dout, 0, m, m, grad(g, lin.bias()));
    }
  }

  private void layerNorm(Buf in, Buf w, Buf b, Buf xhat, Buf rstd, Buf out) {
    Parallel.forRange(
        n,
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            for (int r = from; r < to; r++) {
              rstd.f.put(
                  r,
                  VectorKernels.layerNormRow(
                      in.b, w.b, b == null ? null : b.b, xhat.b, out.b, r * d, d, eps));
            }
            return;
          }
          for (int r = from; r < to; r++) {
            int o = r * d;
            double mean = 0;
            for (int j = 0; j < d; j++) {
              mean += in.f.get(o + j);
            }
            mean /= d;
            double var = 0;
            for (int j = 0; j < d; j++) {
              double c = in.f.get(o + j) - mean;
              var += c * c;
            }
            var /= d;
            float rs = (float) (1 / Math.sqrt(var + eps));
            float m = (float) mean;
            rstd.f.put(r, rs);
            for (int j = 0; j < d; j++) {
              float xh = (in.f.get(o + j) - m) * rs;
              xhat.f.put(o + j, xh);
              float y = xh * w.f.get(j);
              out.f.put(o + j, b == null ? y : y + b.f.get(j));
            }
          }
        });
  }

  /**
   * Layer norm's backward: weight and bias gradients accumulated; {@code dx} overwritten, or added
   * to when {@code accumulate} (the residual stream's gradient).
   */
  private void layerNormBackward(
      Buf dy, Buf xhat, Buf rstd, Buf w, Buf dw, Buf db, Buf dx, boolean accumulate) {
    if (db != null) {
      columnSums(dy, 0, d, d, db);
    }
    Buf prod = dmlp; // free at this point of the backward pass
    Parallel.forRange(
        n,
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            for (int r = from; r < to; r++) {
              VectorKernels.layerNormBackwardRow(
                  dy.b, xhat.b, w.b, prod.b, dx.b, r * d, d, rstd.f.get(r), accumulate);
            }
            return;
          }
          for (int r = from; r < to; r++) {
            int o = r * d;
            double m1 = 0;
            double m2 = 0;
            for (int j = 0; j < d; j++) {
              float dyj = dy.f.get(o + j);
              float xh = xhat.f.get(o + j);
              prod.f.put(o + j, dyj * xh);
              float dn = dyj * w.f.get(j);
              m1 += dn;
              m2 += dn * xh;
            }
            float fm1 = (float) (m1 / d);
            float fm2 = (float) (m2 / d);
            float rs = rstd.f.get(r);
            for (int j = 0; j < d; j++) {
              float dn = dy.f.get(o + j) * w.f.get(j);
              float v = rs * (dn - fm1 - xhat.f.get(o + j) * fm2);
              dx.f.put(o + j, accumulate ? dx.f.get(o + j) + v : v);
            }
          }
        });
    columnSums(prod, 0, d, d, dw);
  }

  /**
   * GELU (tanh form): {@code out = 0.5 v (1 + tanh(k (v + a v^3)))}, the tanh kept in {@code th}
   * for the backward pass: vectorised in fp32 ({@link VectorKernels#gelu}) where the Vector API is
   * present, else in double with {@link Math#exp} (tanh near 0 from a plain fp32 exponential loses
   * the digits the gradients of the first layers need).
   */
  private void gelu(Buf in, Buf th, Buf out) {
    Parallel.forRange(
        n,
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            VectorKernels.gelu(
                in.b, th.b, out.b, from * mlp, to * mlp, (float) GELU_K, (float) GELU_A);
            return;
          }
          for (int i = from * mlp; i < to * mlp; i++) {
            double v = in.f.get(i);
            double t = 1 - 2 / (Math.exp(2 * GELU_K * (v + GELU_A * v * v * v)) + 1);
            th.f.put(i, (float) t);
            out.f.put(i, (float) (0.5 * v * (1 + t)));
          }
        });
  }

  /** The GELU's output again, from its input and kept tanh (no exponentials). */
  private void geluOutput(Buf in, Buf th, Buf out) {
    Parallel.forRange(
        n,
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            VectorKernels.geluOutput(in.b, th.b, out.b, from * mlp, to * mlp);
            return;
          }
          for (int i = from * mlp; i < to * mlp; i++) {
            out.f.put(i, 0.5f * in.f.get(i) * (1 + th.f.get(i)));
          }
        });
  }

  /** {@code dy} (the gradient at the GELU's output) becomes the gradient at its input. */
  private void geluBackward(Buf in, Buf th, Buf dy) {
    float k = (float) GELU_K;
    float a3 = (float) (3 * GELU_A);
    Parallel.forRange(
        n,
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            VectorKernels.geluBackward(in.b, th.b, dy.b, from * mlp, to * mlp, k, a3);
            return;
          }
          for (int i = from * mlp; i < to * mlp; i++) {
            float v = in.f.get(i);
            float t = th.f.get(i);
            float grad = 0.5f * (1 + t) + 0.5f * v * (1 - t * t) * k * (1 + a3 * v * v);
            dy.f.put(i, dy.f.get(i) * grad);
          }
        });
  }

  private Architecture.Layer L(int l) {
    return arch.layers().get(l);
  }

  private Architecture.Linear qkvOf(int l) {
    return L(l).attention().inputs().get(0);
  }

  private Architecture.Linear fcOf(int l) {
    return L(l).mlp().inputs().get(0);
  }
}
