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
 * over the key/value cache in Java loops, into buffers allocated once. The cache grows with the
 * sequence, by doubling. It computes what {@link GptModel}'s Llama graph computes at each position
 * (a test holds the two to the same logits).
 */
public final class LlamaDecoder {
  private final ModelConfig c;
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
  private final Buf scratch; // xhat of a norm, unused afterwards
  private final float[] cos;
  private final float[] sin;
  private float[][] keys; // per layer [position][kvHeads x hd]
  private float[][] values;
  private float[] scores;

  /** Whether this decoder serves {@code c} with {@code weights} here: the CPU backend, fp32. */
  public static boolean applies(ModelConfig c, Map<String, INDArray> weights) {
    if (!c.llamaFamily() || !Nd4j.getBackend().getClass().getName().contains(".cpu.")) {
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
    for (ParameterSpec p : ParameterSpec.of(config)) {
      INDArray a = weights.get(p.name());
      if (a == null) {
        throw new IllegalArgumentException("no weight " + p.name());
      }
      w.put(p.name(), new Buf(a));
    }
    x = Buf.alloc(d);
    a = Buf.alloc(d);
    q = Buf.alloc(qw);
    k = Buf.alloc(kw);
    v = Buf.alloc(kw);
    att = Buf.alloc(qw);
    gate = Buf.alloc(mlp);
    up = Buf.alloc(mlp);
    logits = Buf.alloc(vocab);
    scratch = Buf.alloc(Math.max(d, qw));
    cos = new float[hd / 2];
    sin = new float[hd / 2];
    int initial = Math.min(config.contextLength(), 256);
    keys = new float[config.layers()][initial * kw];
    values = new float[config.layers()][initial * kw];
    scores = new float[initial];
    VectorKernels.warmUp();
  }

  /**
   * Feeds {@code token} at {@code position} (the positions before it fed already, in order);
   * returns the logits for the position after it, {@code [vocab]}: a buffer this decoder reuses, so
   * read it before the next call.
   */
  public INDArray next(int token, int position) {
    if (token < 0 || token >= vocab) {
      throw new IllegalArgumentException(
          "token id " + token + " is outside the vocabulary (size " + vocab + ")");
    }
    ensureCapacity(position + 1);
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
      float angle = (float) position * (float) inverseFrequencies[i];
      cos[i] = (float) Math.cos(angle);
      sin[i] = (float) Math.sin(angle);
    }
    Blas.singleThreadedBlas();
    try {
      Buf embed = w.get(ParameterSpec.EMBED);
      for (int j = 0; j < d; j++) {
        x.f.put(j, embed.f.get(token * d + j));
      }
      for (int l = 0; l < c.layers(); l++) {
        layer(l, position);
      }
      norm(x, 0, w.get(ParameterSpec.FINAL_NORM), a, 0, d);
      matvec(
          w.get(c.tiedEmbeddings() ? ParameterSpec.EMBED : GptModel.LM_HEAD),
          a,
          logits,
          vocab,
          d,
          0f);
      return logits.array;
    } finally {
      Blas.restoreBlas();
    }
  }

  private void layer(int l, int t) {
    norm(x, 0, p(l, "input_layernorm.weight"), a, 0, d);
    matvec(p(l, "self_attn.q_proj.weight"), a, q, qw, d, 0f);
    matvec(p(l, "self_attn.k_proj.weight"), a, k, kw, d, 0f);
    matvec(p(l, "self_attn.v_proj.weight"), a, v, kw, d, 0f);
    if (bias) {
      addBias(q, p(l, "self_attn.q_proj.bias"), qw);
      addBias(k, p(l, "self_attn.k_proj.bias"), kw);
      addBias(v, p(l, "self_attn.v_proj.bias"), kw);
    }
    for (int h = 0; h < heads; h++) {
      if (qkNorm) {
        norm(q, h * hd, p(l, "self_attn.q_norm.weight"), q, h * hd, hd);
      }
      rope(q, h * hd);
    }
    float[] kc = keys[l];
    float[] vc = values[l];
    for (int g = 0; g < kvHeads; g++) {
      if (qkNorm) {
        norm(k, g * hd, p(l, "self_attn.k_norm.weight"), k, g * hd, hd);
      }
      rope(k, g * hd);
    }
    k.f.get(0, kc, t * kw, kw);
    v.f.get(0, vc, t * kw, kw);
    attend(kc, vc, t);
    matvec(p(l, "self_attn.o_proj.weight"), att, x, d, qw, 1f);
    norm(x, 0, p(l, "post_attention_layernorm.weight"), a, 0, d);
    matvec(p(l, "mlp.gate_proj.weight"), a, gate, mlp, d, 0f);
    matvec(p(l, "mlp.up_proj.weight"), a, up, mlp, d, 0f);
    if (VectorApi.AVAILABLE) {
      VectorKernels.swiglu(gate.b, up.b, gate.b, 0, mlp);
    } else {
      for (int i = 0; i < mlp; i++) {
        float g = gate.f.get(i);
        gate.f.put(i, g / (1f + KernelMath.exp(-g)) * up.f.get(i));
      }
    }
    matvec(p(l, "mlp.down_proj.weight"), gate, x, d, mlp, 1f);
  }

  /** Each query head over the cached positions {@code 0..t} of its key/value head. */
  private void attend(float[] kc, float[] vc, int t) {
    int rep = heads / kvHeads;
    float scale = (float) (1 / Math.sqrt(hd));
    float[] qh = new float[hd];
    float[] out = new float[hd];
    for (int h = 0; h < heads; h++) {
      int g = h / rep;
      q.f.get(h * hd, qh, 0, hd);
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
      att.f.put(h * hd, out, 0, hd);
    }
  }

  private static float dot(float[] a, float[] b, int bo, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) {
      s += a[i] * b[bo + i];
    }
    return s;
  }

  private static void axpy(float alpha, float[] x, int xo, float[] y, int n) {
    for (int i = 0; i < n; i++) {
      y[i] += alpha * x[xo + i];
    }
  }

  /** {@code out = beta out + W in}, {@code W [rows, cols]}, the rows split over the threads. */
  private static void matvec(Buf wt, Buf in, Buf out, int rows, int cols, float beta) {
    Parallel.forRange(
        rows,
        (from, to) ->
            openblas.cblas_sgemv(
                ROW_MAJOR,
                NO,
                to - from,
                cols,
                1f,
                wt.at((long) from * cols),
                cols,
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
      scratch.f.put(j, xh);
      out.f.put(oo + j, xh * weight.f.get(j));
    }
  }

  private void rope(Buf buf, int o) {
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
      float ai = buf.f.get(o + i);
      float bi = buf.f.get(o + half + i);
      buf.f.put(o + i, ai * cos[i] - bi * sin[i]);
      buf.f.put(o + half + i, bi * cos[i] + ai * sin[i]);
    }
  }

  private static void addBias(Buf y, Buf b, int m) {
    for (int j = 0; j < m; j++) {
      y.f.put(j, y.f.get(j) + b.f.get(j));
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

  private Buf p(int l, String suffix) {
    return w.get(ParameterSpec.llamaLayer(l, suffix));
  }
}
