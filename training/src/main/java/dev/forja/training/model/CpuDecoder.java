package dev.forja.training.model;

import static dev.forja.training.model.Blas.NO;
import static dev.forja.training.model.Blas.ROW_MAJOR;

import dev.forja.jvm.VectorApi;
import dev.forja.training.runtime.Parallel;
import java.util.Arrays;
import java.util.Map;
import org.bytedeco.openblas.global.openblas;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One token at a time through a model for generation, written by hand for the CPU in fp32 from its
 * {@link Architecture}: GPT-2's blocks (learned positions, LayerNorm, a fused q/k/v projection, a
 * GELU MLP) and the Llama family's (RoPE, RMSNorm, grouped-query attention, q/k norms, SwiGLU).
 * Every matrix-vector product is OpenBLAS's single-threaded {@code sgemv} on a share of the
 * weight's outputs per thread (batch-1 decoding reads every weight once per token, so it runs at
 * the memory's speed when the work is split over the cores); the norms, RoPE, the activations and
 * attention over the key/value cache are Java loops, into buffers allocated once. A prompt goes
 * through in chunks of positions, as matrix products, so its weights are read once per chunk. The
 * cache grows with the sequence, by doubling. It computes what {@link GptModel}'s graph computes at
 * each position (a test holds the two to the same logits).
 */
public final class CpuDecoder {
  /** Positions computed together when several are fed at once (a prompt). */
  public static final int CHUNK = 32;

  private static final int WARM_STEPS = 64;

  /** Multiply-adds below which one token's product runs on the calling thread alone. */
  private static final long SERIAL_WORK = 1L << 17;

  private static final float GELU_K = (float) Math.sqrt(2 / Math.PI);
  private static final float GELU_A = 0.044715f;

  private final ModelConfig c;
  private final Architecture arch;
  private final int d;
  private final int heads;
  private final int kvHeads;
  private final int hd;
  private final int qw;
  private final int kw;
  private final int width; // q, k and v columns of a row of qkv
  private final int mlp;
  private final int vocab;
  private final double[] inverseFrequencies; // null without RoPE
  private final Map<String, Buf> w = new java.util.HashMap<>();
  private final Buf x;
  private final Buf a;
  private final Buf qkv;
  private final Buf att;
  private final Buf gate; // the MLP's (first) projection, then its activation
  private final Buf up; // SwiGLU's up projection; GELU's tanh
  private final Buf logits;
  private final float[] cos;
  private final float[] sin;
  private float[][] keys; // per layer [position][kvHeads x hd]
  private float[][] values;
  private float[] scores;
  private int rowsFed; // positions in the last chunk
  private final float[] queryHead;
  private final float[] headOut;

  /** Whether this decoder computes {@code a}'s blocks. */
  public static boolean supports(Architecture a) {
    return a.layers().stream().allMatch(l -> l.attention().causal())
        && (GptKernels.supports(a) || LlamaKernels.supports(a));
  }

  /** Whether this decoder serves {@code c} with {@code weights} here: the CPU backend, fp32. */
  public static boolean applies(ModelConfig c, Map<String, INDArray> weights) {
    if (!supports(Architecture.of(c))
        || !Nd4j.getBackend().getClass().getName().contains(".cpu.")) {
      return false;
    }
    for (INDArray a : weights.values()) {
      if (!Buf.usable(a)) {
        return false;
      }
    }
    return true;
  }

  public CpuDecoder(ModelConfig config, Map<String, INDArray> weights) {
    arch = Architecture.of(config);
    if (!supports(arch)) {
      throw new IllegalArgumentException(
          "the CPU decoder computes GPT-2's and the Llama family's causal blocks; this model's are "
              + arch.layers().get(0));
    }
    c = config;
    Architecture.SelfAttention at = arch.layers().get(0).attention();
    d = config.dModel();
    heads = at.heads();
    kvHeads = at.kvHeads();
    hd = at.headDim();
    qw = heads * hd;
    kw = kvHeads * hd;
    width = qw + 2 * kw;
    mlp = arch.layers().get(0).mlp().output().in();
    vocab = config.vocabSize();
    inverseFrequencies =
        at.rotary() == null ? null : Rope.inverseFrequencies(at.rotary().settings());
    for (ParameterSpec p : arch.parameters()) {
      INDArray a = weights.get(p.name());
      if (a == null) {
        throw new IllegalArgumentException("no weight " + p.name());
      }
      w.put(p.name(), new Buf(a));
    }
    x = Buf.alloc((long) CHUNK * d);
    a = Buf.alloc((long) CHUNK * d);
    qkv = Buf.alloc((long) CHUNK * width);
    att = Buf.alloc((long) CHUNK * qw);
    gate = Buf.alloc((long) CHUNK * mlp);
    up = Buf.alloc((long) CHUNK * mlp);
    logits = Buf.alloc(vocab);
    queryHead = new float[hd];
    headOut = new float[hd];
    cos = new float[CHUNK * hd / 2];
    sin = new float[CHUNK * hd / 2];
    int initial = Math.min(config.contextLength(), 256);
    keys = new float[config.layers()][initial * kw];
    values = new float[config.layers()][initial * kw];
    scores = new float[initial];
    VectorKernels.warmUp();
    warmUp();
  }

  /**
   * Feeds {@code token} at {@code position} (the positions before it fed already, in order);
   * returns the logits for the position after it, {@code [vocab]}: a buffer this decoder reuses, so
   * read it before the next call.
   */
  public INDArray next(int token, int position) {
    return next(new int[] {token}, position);
  }

  /**
   * Feeds {@code tokens} at {@code position} onwards, several positions per product ({@link #CHUNK}
   * at most; a prompt is read once per chunk instead of once per token); returns the logits for the
   * position after the last, as {@link #next(int, int)}.
   */
  public INDArray next(int[] tokens, int position) {
    if (tokens.length == 0) {
      throw new IllegalArgumentException("no tokens to feed");
    }
    for (int token : tokens) {
      if (token < 0 || token >= vocab) {
        throw new IllegalArgumentException(
            "token id " + token + " is outside the vocabulary (size " + vocab + ")");
      }
    }
    ensureCapacity(position + tokens.length);
    Blas.singleThreadedBlas();
    try {
      for (int from = 0; from < tokens.length; from += CHUNK) {
        chunk(tokens, from, Math.min(tokens.length, from + CHUNK), position + from, c.layers());
      }
      // the logits of the last position only
      norm(arch.finalNorm(), x, (rowsFed - 1) * d, a, 0, d);
      Buf head = b(arch.head().weight()); // [vocab, d]
      products(a, 1, d, new Target[] {new Target(head, false, logits, 0, vocab, vocab)}, 0f);
      return logits.array;
    } finally {
      Blas.restoreBlas();
    }
  }

  /**
   * Positions {@code position..} get {@code tokens[from, to)}, through the first {@code layers}.
   */
  private void chunk(int[] tokens, int from, int to, int position, int layers) {
    int rows = to - from;
    rowsFed = rows;
    Buf embed = b(arch.embedding().tokens());
    Buf pos = arch.embedding().positions() == null ? null : b(arch.embedding().positions());
    for (int r = 0; r < rows; r++) {
      int token = tokens[from + r];
      for (int j = 0; j < d; j++) {
        float e = embed.f.get(token * d + j);
        x.f.put(r * d + j, pos == null ? e : e + pos.f.get((position + r) * d + j));
      }
    }
    if (inverseFrequencies != null) {
      int half = hd / 2;
      for (int r = 0; r < rows; r++) {
        for (int i = 0; i < half; i++) {
          float angle = (float) (position + r) * (float) inverseFrequencies[i];
          cos[r * half + i] = (float) Math.cos(angle);
          sin[r * half + i] = (float) Math.sin(angle);
        }
      }
    }
    for (int l = 0; l < layers; l++) {
      layer(arch.layers().get(l), l, position, rows);
    }
  }

  /**
   * Runs the Java loops (norms, RoPE, attention over the cache) through the JIT compiler before the
   * first real token, on the first layer only: interpreted, they made the first tokens take three
   * times as long. The cache entries written here are overwritten as real tokens arrive.
   */
  private void warmUp() {
    int positions = Math.min(c.contextLength(), 16);
    ensureCapacity(positions);
    Blas.singleThreadedBlas();
    try {
      for (int i = 0; i < WARM_STEPS; i++) {
        chunk(new int[] {0}, 0, 1, i % positions, 1);
      }
      chunk(new int[Math.min(positions, 4)], 0, Math.min(positions, 4), 0, 1);
    } finally {
      Blas.restoreBlas();
    }
  }

  private void layer(Architecture.Layer layer, int l, int t0, int rows) {
    Architecture.SelfAttention at = layer.attention();
    for (int r = 0; r < rows; r++) {
      norm(layer.attentionNorm(), x, r * d, a, r * d, d);
    }
    if (at.fused()) {
      products(a, rows, d, new Target[] {target(at.inputs().get(0), qkv, 0, width)}, 0f);
    } else {
      products(
          a,
          rows,
          d,
          new Target[] {
            target(at.inputs().get(0), qkv, 0, width),
            target(at.inputs().get(1), qkv, qw, width),
            target(at.inputs().get(2), qkv, qw + kw, width)
          },
          0f);
    }
    float[] kc = keys[l];
    float[] vc = values[l];
    for (int r = 0; r < rows; r++) {
      int row = r * width;
      int col = 0;
      for (Architecture.Linear in : at.inputs()) {
        if (in.bias() != null) {
          addBias(qkv, row + col, b(in.bias()), in.out());
        }
        col += in.out();
      }
      for (int h = 0; h < heads + kvHeads; h++) { // the query heads, then the key heads
        int o = row + h * hd;
        Architecture.Norm headNorm = h < heads ? at.qNorm() : at.kNorm();
        if (headNorm != null) {
          norm(headNorm, qkv, o, qkv, o, hd);
        }
        if (inverseFrequencies != null) {
          rope(qkv, o, r);
        }
      }
      qkv.f.get(row + qw, kc, (t0 + r) * kw, kw);
      qkv.f.get(row + qw + kw, vc, (t0 + r) * kw, kw);
    }
    for (int r = 0; r < rows; r++) {
      attend(kc, vc, t0 + r, r);
    }
    products(att, rows, qw, new Target[] {target(at.output(), x, 0, d)}, 1f);
    addOutputBias(at.output(), rows);
    for (int r = 0; r < rows; r++) {
      norm(layer.mlpNorm(), x, r * d, a, r * d, d);
    }
    Architecture.Mlp m = layer.mlp();
    int n = rows * mlp;
    if (m.activation() == Architecture.Activation.SWIGLU) {
      products(
          a,
          rows,
          d,
          new Target[] {
            target(m.inputs().get(0), gate, 0, mlp), target(m.inputs().get(1), up, 0, mlp)
          },
          0f);
      if (VectorApi.AVAILABLE) {
        VectorKernels.swiglu(gate.b, up.b, gate.b, 0, n);
      } else {
        for (int i = 0; i < n; i++) {
          float g = gate.f.get(i);
          gate.f.put(i, g / (1f + KernelMath.exp(-g)) * up.f.get(i));
        }
      }
    } else {
      products(a, rows, d, new Target[] {target(m.inputs().get(0), gate, 0, mlp)}, 0f);
      if (m.inputs().get(0).bias() != null) {
        for (int r = 0; r < rows; r++) {
          addBias(gate, r * mlp, b(m.inputs().get(0).bias()), mlp);
        }
      }
      if (VectorApi.AVAILABLE) {
        VectorKernels.gelu(gate.b, up.b, gate.b, 0, n, GELU_K, GELU_A);
      } else {
        for (int i = 0; i < n; i++) {
          double v = gate.f.get(i);
          double t = Math.tanh(GELU_K * (v + GELU_A * v * v * v));
          gate.f.put(i, (float) (0.5 * v * (1 + t)));
        }
      }
    }
    products(gate, rows, mlp, new Target[] {target(m.output(), x, 0, d)}, 1f);
    addOutputBias(m.output(), rows);
  }

  /** A projection into the residual stream: its bias, where it has one, added to each row. */
  private void addOutputBias(Architecture.Linear out, int rows) {
    if (out.bias() != null) {
      for (int r = 0; r < rows; r++) {
        addBias(x, r * d, b(out.bias()), d);
      }
    }
  }

  /** Each query head of row {@code r} over the cached positions {@code 0..t} of its group. */
  private void attend(float[] kc, float[] vc, int t, int r) {
    int rep = heads / kvHeads;
    float scale = (float) (1 / Math.sqrt(hd));
    float[] qh = queryHead;
    float[] out = headOut;
    for (int h = 0; h < heads; h++) {
      int g = h / rep;
      qkv.f.get(r * width + h * hd, qh, 0, hd);
      float max = Float.NEGATIVE_INFINITY;
      for (int j = 0; j <= t; j++) {
        float s = dot(qh, kc, j * kw + g * hd, hd) * scale;
        scores[j] = s;
        max = Math.max(max, s);
      }
      double sum = 0;
      for (int j = 0; j <= t; j++) {
        float e = KernelMath.exp(scores[j] - max);
        scores[j] = e;
        sum += e;
      }
      float inv = (float) (1 / sum);
      Arrays.fill(out, 0f);
      for (int j = 0; j <= t; j++) {
        axpy(scores[j] * inv, vc, j * kw + g * hd, out, hd);
      }
      att.f.put(r * qw + h * hd, out, 0, hd);
    }
  }

  private static float dot(float[] a, float[] b, int bo, int n) {
    if (VectorApi.AVAILABLE) {
      return VectorKernels.dot(a, 0, b, bo, n);
    }
    float s = 0;
    for (int i = 0; i < n; i++) {
      s += a[i] * b[bo + i];
    }
    return s;
  }

  private static void axpy(float alpha, float[] x, int xo, float[] y, int n) {
    if (VectorApi.AVAILABLE) {
      VectorKernels.axpy(alpha, x, xo, y, 0, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      y[i] += alpha * x[xo + i];
    }
  }

  /**
   * Where a linear layer's output goes: columns {@code [col, col + cols)} of rows of {@code ld}.
   */
  private record Target(Buf weight, boolean inOut, Buf out, int col, int cols, int ld) {}

  private Target target(Architecture.Linear lin, Buf out, int col, int ld) {
    return new Target(
        b(lin.weight()), lin.layout() == Architecture.Layout.IN_OUT, out, col, lin.out(), ld);
  }

  /**
   * {@code out = beta out + in W} for each target, over {@code rows} rows of {@code inCols}: one
   * row is a matrix-vector product per weight, the outputs of all the targets split over the
   * threads in one parallel loop (a loop's start and end cost about as much as a small product);
   * more rows are matrix products.
   */
  private static void products(Buf in, int rows, int inCols, Target[] targets, float beta) {
    if (rows > 1) {
      for (Target t : targets) {
        Blas.Gemm gemm = (long) rows * t.cols() * inCols < SERIAL_WORK ? Blas::gemm : Blas::pgemm;
        if (t.inOut()) { // W [in, out]
          gemm.run(
              NO,
              NO,
              rows,
              t.cols(),
              inCols,
              1f,
              in,
              0,
              inCols,
              t.weight(),
              0,
              t.cols(),
              beta,
              t.out(),
              t.col(),
              t.ld());
        } else { // W [out, in]
          gemm.run(
              NO,
              Blas.TR,
              rows,
              t.cols(),
              inCols,
              1f,
              in,
              0,
              inCols,
              t.weight(),
              0,
              inCols,
              beta,
              t.out(),
              t.col(),
              t.ld());
        }
      }
      return;
    }
    int total = 0;
    for (Target t : targets) {
      total += t.cols();
    }
    Parallel.Range body =
        (from, to) -> {
          int base = 0;
          for (Target t : targets) {
            int lo = Math.max(from, base) - base;
            int hi = Math.min(to, base + t.cols()) - base;
            if (lo < hi) {
              if (t.inOut()) { // y[lo, hi) = W[:, lo..hi)^T x
                openblas.cblas_sgemv(
                    ROW_MAJOR,
                    Blas.TR,
                    inCols,
                    hi - lo,
                    1f,
                    t.weight().at(lo),
                    t.cols(),
                    in.at(0),
                    1,
                    beta,
                    t.out().at(t.col() + lo),
                    1);
              } else { // y[lo, hi) = W[lo..hi, :] x
                openblas.cblas_sgemv(
                    ROW_MAJOR,
                    NO,
                    hi - lo,
                    inCols,
                    1f,
                    t.weight().at((long) lo * inCols),
                    inCols,
                    in.at(0),
                    1,
                    beta,
                    t.out().at(t.col() + lo),
                    1);
              }
            }
            base += t.cols();
          }
        };
    if ((long) total * inCols < SERIAL_WORK) {
      body.run(0, total); // waking other threads costs more than so small a product
    } else {
      Parallel.forRange(total, body);
    }
  }

  /**
   * {@code n}'s normalisation of {@code m} floats at {@code io} into {@code out} at {@code oo} (may
   * be in place): LayerNorm (with its bias) or RMSNorm.
   */
  private void norm(Architecture.Norm n, Buf in, int io, Buf out, int oo, int m) {
    Buf weight = b(n.weight());
    Buf bias = n.bias() == null ? null : b(n.bias());
    double mean = 0;
    if (n.kind() == Architecture.NormKind.LAYER_NORM) {
      for (int j = 0; j < m; j++) {
        mean += in.f.get(io + j);
      }
      mean /= m;
    }
    double ss = 0;
    for (int j = 0; j < m; j++) {
      double e = in.f.get(io + j) - mean;
      ss += e * e;
    }
    float rs = (float) (1 / Math.sqrt(ss / m + n.eps()));
    float mu = (float) mean;
    for (int j = 0; j < m; j++) {
      float y = (in.f.get(io + j) - mu) * rs * weight.f.get(j);
      out.f.put(oo + j, bias == null ? y : y + bias.f.get(j));
    }
  }

  /** RoPE on the head at {@code o}, at the position of row {@code r} of the chunk. */
  private void rope(Buf buf, int o, int r) {
    int half = hd / 2;
    int co = r * half;
    for (int i = 0; i < half; i++) {
      float ai = buf.f.get(o + i);
      float bi = buf.f.get(o + half + i);
      buf.f.put(o + i, ai * cos[co + i] - bi * sin[co + i]);
      buf.f.put(o + half + i, bi * cos[co + i] + ai * sin[co + i]);
    }
  }

  private static void addBias(Buf y, int o, Buf b, int m) {
    for (int j = 0; j < m; j++) {
      y.f.put(o + j, y.f.get(o + j) + b.f.get(j));
    }
  }

  private void ensureCapacity(int positions) {
    if (positions > c.contextLength()) {
      throw new IllegalStateException(
          "the sequence reached model.context-length " + c.contextLength());
    }
    if (scores.length >= positions) {
      return;
    }
    int cap = Math.min(c.contextLength(), Math.max(positions, 2 * scores.length));
    for (int l = 0; l < keys.length; l++) {
      keys[l] = Arrays.copyOf(keys[l], cap * kw);
      values[l] = Arrays.copyOf(values[l], cap * kw);
    }
    scores = Arrays.copyOf(scores, cap);
  }

  private Buf b(ParameterSpec p) {
    return w.get(p.name());
  }
}
