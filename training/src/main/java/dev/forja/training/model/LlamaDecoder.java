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
 * One token at a time through a Llama-family model for generation, written by hand for the CPU in
 * fp32: every matrix-vector product is OpenBLAS's single-threaded {@code sgemv} on a share of the
 * weight's rows per thread (batch-1 decoding reads every weight once per token, so it runs at the
 * memory's speed when the rows are split over the cores), the norms, RoPE, SwiGLU and attention
 * over the key/value cache in Java loops, into buffers allocated once. A prompt goes through in
 * chunks of positions, as matrix products, so its weights are read once per chunk. The cache grows
 * with the sequence, by doubling. It computes what {@link GptModel}'s Llama graph computes at each
 * position (a test holds the two to the same logits).
 */
public final class LlamaDecoder {
  /** Positions computed together when several are fed at once (a prompt). */
  public static final int CHUNK = 32;

  private static final int WARM_STEPS = 64;

  private final ModelConfig c;
  private final Architecture arch;
  private final int d;
  private final int heads;
  private final int kvHeads;
  private final int hd;
  private final int qw;
  private final int kw;
  private final int mlp;
  private final int vocab;
  private final boolean bias;
  private final boolean qkNorm;
  private final double eps;
  private final double[] inverseFrequencies;
  private final Map<String, Buf> w = new java.util.HashMap<>();
  private final Buf x;
  private final Buf a;
  private final Buf q;
  private final Buf k;
  private final Buf v;
  private final Buf att;
  private final Buf gate;
  private final Buf up;
  private final Buf logits;
  private final float[] cos;
  private final float[] sin;
  private float[][] keys; // per layer [position][kvHeads x hd]
  private float[][] values;
  private float[] scores;
  private int rowsFed; // positions in the last chunk
  private final float[] queryHead;
  private final float[] headOut;

  /** Whether this decoder serves {@code c} with {@code weights} here: the CPU backend, fp32. */
  public static boolean applies(ModelConfig c, Map<String, INDArray> weights) {
    if (!LlamaKernels.supports(Architecture.of(c))
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

  public LlamaDecoder(ModelConfig config, Map<String, INDArray> weights) {
    arch = Architecture.of(config);
    if (!LlamaKernels.supports(arch)) {
      throw new IllegalArgumentException(
          "the CPU decoder computes the Llama family's blocks; this model's are "
              + arch.layers().get(0));
    }
    c = config;
    ModelConfig.Llama l = config.llama();
    d = config.dModel();
    heads = config.heads();
    kvHeads = l.kvHeads();
    hd = l.headDim();
    qw = heads * hd;
    kw = kvHeads * hd;
    mlp = l.mlpHidden();
    vocab = config.vocabSize();
    bias = l.attentionBias();
    qkNorm = l.qkNorm();
    eps = config.normEpsilon();
    inverseFrequencies = Rope.inverseFrequencies(l);
    for (ParameterSpec p : arch.parameters()) {
      INDArray a = weights.get(p.name());
      if (a == null) {
        throw new IllegalArgumentException("no weight " + p.name());
      }
      w.put(p.name(), new Buf(a));
    }
    x = Buf.alloc((long) CHUNK * d);
    a = Buf.alloc((long) CHUNK * d);
    q = Buf.alloc((long) CHUNK * qw);
    k = Buf.alloc((long) CHUNK * kw);
    v = Buf.alloc((long) CHUNK * kw);
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
      int last = (rowsFed - 1) * d;
      norm(x, last, b(arch.finalNorm().weight()), a, 0, d);
      product(b(arch.head().weight()), a, logits, 1, vocab, d, 0f);
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
    for (int r = 0; r < rows; r++) {
      int token = tokens[from + r];
      for (int j = 0; j < d; j++) {
        x.f.put(r * d + j, embed.f.get(token * d + j));
      }
    }
    int half = hd / 2;
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < half; i++) {
        float angle = (float) (position + r) * (float) inverseFrequencies[i];
        cos[r * half + i] = (float) Math.cos(angle);
        sin[r * half + i] = (float) Math.sin(angle);
      }
    }
    for (int l = 0; l < layers; l++) {
      layer(l, position, rows);
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

  private void layer(int l, int t0, int rows) {
    for (int r = 0; r < rows; r++) {
      norm(x, r * d, b(L(l).attentionNorm().weight()), a, r * d, d);
    }
    products(
        a,
        rows,
        d,
        new Buf[] {
          b(L(l).attention().inputs().get(0).weight()),
          b(L(l).attention().inputs().get(1).weight()),
          b(L(l).attention().inputs().get(2).weight())
        },
        new Buf[] {q, k, v},
        new int[] {qw, kw, kw});
    float[] kc = keys[l];
    float[] vc = values[l];
    for (int r = 0; r < rows; r++) {
      if (bias) {
        addBias(q, r * qw, b(L(l).attention().inputs().get(0).bias()), qw);
        addBias(k, r * kw, b(L(l).attention().inputs().get(1).bias()), kw);
        addBias(v, r * kw, b(L(l).attention().inputs().get(2).bias()), kw);
      }
      for (int h = 0; h < heads; h++) {
        int o = r * qw + h * hd;
        if (qkNorm) {
          norm(q, o, b(L(l).attention().qNorm().weight()), q, o, hd);
        }
        rope(q, o, r);
      }
      for (int g = 0; g < kvHeads; g++) {
        int o = r * kw + g * hd;
        if (qkNorm) {
          norm(k, o, b(L(l).attention().kNorm().weight()), k, o, hd);
        }
        rope(k, o, r);
      }
      k.f.get(r * kw, kc, (t0 + r) * kw, kw);
      v.f.get(r * kw, vc, (t0 + r) * kw, kw);
    }
    for (int r = 0; r < rows; r++) {
      attend(kc, vc, t0 + r, r);
    }
    product(b(L(l).attention().output().weight()), att, x, rows, d, qw, 1f);
    for (int r = 0; r < rows; r++) {
      norm(x, r * d, b(L(l).mlpNorm().weight()), a, r * d, d);
    }
    products(
        a,
        rows,
        d,
        new Buf[] {b(L(l).mlp().inputs().get(0).weight()), b(L(l).mlp().inputs().get(1).weight())},
        new Buf[] {gate, up},
        new int[] {mlp, mlp});
    if (VectorApi.AVAILABLE) {
      VectorKernels.swiglu(gate.b, up.b, gate.b, 0, rows * mlp);
    } else {
      for (int i = 0; i < rows * mlp; i++) {
        float g = gate.f.get(i);
        gate.f.put(i, g / (1f + KernelMath.exp(-g)) * up.f.get(i));
      }
    }
    product(b(L(l).mlp().output().weight()), gate, x, rows, d, mlp, 1f);
  }

  /** Each query head of row {@code r} over the cached positions {@code 0..t} of its group. */
  private void attend(float[] kc, float[] vc, int t, int r) {
    int rep = heads / kvHeads;
    float scale = (float) (1 / Math.sqrt(hd));
    float[] qh = queryHead;
    float[] out = headOut;
    for (int h = 0; h < heads; h++) {
      int g = h / rep;
      q.f.get(r * qw + h * hd, qh, 0, hd);
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
   * {@code outs[i] = in W_i^T} for several weights of the same input: for one row, the weights'
   * rows together split over the threads in one parallel loop (a loop's start and end cost about as
   * much as a small product).
   */
  private static void products(Buf in, int rows, int inCols, Buf[] ws, Buf[] outs, int[] outCols) {
    if (rows > 1) {
      for (int i = 0; i < ws.length; i++) {
        product(ws[i], in, outs[i], rows, outCols[i], inCols, 0f);
      }
      return;
    }
    int total = 0;
    for (int m : outCols) {
      total += m;
    }
    Parallel.forRange(
        total,
        (from, to) -> {
          int base = 0;
          for (int i = 0; i < ws.length; i++) {
            int lo = Math.max(from, base);
            int hi = Math.min(to, base + outCols[i]);
            if (lo < hi) {
              openblas.cblas_sgemv(
                  ROW_MAJOR,
                  NO,
                  hi - lo,
                  inCols,
                  1f,
                  ws[i].at((long) (lo - base) * inCols),
                  inCols,
                  in.at(0),
                  1,
                  0f,
                  outs[i].at(lo - base),
                  1);
            }
            base += outCols[i];
          }
        });
  }

  /**
   * {@code out = beta out + in W^T} for {@code rows} rows, {@code W [outCols, inCols]}: one row is
   * a matrix-vector product split over the threads by the weight's rows; more are a matrix product.
   */
  private static void product(
      Buf wt, Buf in, Buf out, int rows, int outCols, int inCols, float beta) {
    if (rows > 1) {
      Blas.pgemm(
          NO, Blas.TR, rows, outCols, inCols, 1f, in, 0, inCols, wt, 0, inCols, beta, out, 0,
          outCols);
      return;
    }
    Parallel.forRange(
        outCols,
        (from, to) ->
            openblas.cblas_sgemv(
                ROW_MAJOR,
                NO,
                to - from,
                inCols,
                1f,
                wt.at((long) from * inCols),
                inCols,
                in.at(0),
                1,
                beta,
                out.at(from),
                1));
  }

  /** RMSNorm of {@code m} floats at {@code io} into {@code out} at {@code oo} (may be in place). */
  private void norm(Buf in, int io, Buf weight, Buf out, int oo, int m) {
    double ss = 0;
    for (int j = 0; j < m; j++) {
      float e = in.f.get(io + j);
      ss += e * e;
    }
    float rs = (float) (1 / Math.sqrt(ss / m + eps));
    for (int j = 0; j < m; j++) {
      float xh = in.f.get(io + j) * rs;
      out.f.put(oo + j, xh * weight.f.get(j));
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

  private Architecture.Layer L(int l) {
    return arch.layers().get(l);
  }

  private Buf b(ParameterSpec p) {
    return w.get(p.name());
  }
}
