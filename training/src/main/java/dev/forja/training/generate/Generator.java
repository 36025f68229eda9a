package dev.forja.training.generate;

import dev.forja.training.model.GptModel;
import dev.forja.training.model.ModelConfig;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Incremental decoding for a causal model: one token at a time through the same weights (by their
 * Hugging Face names), keeping each layer's keys and values in a cache, so that a new token costs
 * one position's work, not the whole prefix's. In fp32 on the CPU the hand-written {@link
 * dev.forja.training.model.CpuDecoder} does it from the model's description; otherwise (other
 * precisions, other backends) eager ND4J ops. Tests hold both to the training graph's logits.
 */
public final class Generator {
  private final ModelConfig c;
  private final Map<String, INDArray> w;
  private final INDArray[] keys;
  private final INDArray[] values;
  private final double[] inverseFrequencies;
  private final dev.forja.training.model.CpuDecoder decoder;
  private int position;

  public Generator(ModelConfig config, Map<String, INDArray> weights) {
    if (config.objective() != ModelConfig.Objective.CAUSAL) {
      throw new IllegalArgumentException(
          "this checkpoint was trained with model.objective=masked (bidirectional attention):"
              + " it fills masks, it does not generate text left to right");
    }
    this.c = config;
    this.w = weights;
    this.decoder =
        dev.forja.training.model.CpuDecoder.applies(config, weights)
            ? new dev.forja.training.model.CpuDecoder(config, weights)
            : null;
    this.keys = new INDArray[config.layers()];
    this.values = new INDArray[config.layers()];
    INDArray wte =
        weights.get(
            config.llamaFamily() ? dev.forja.training.model.ParameterSpec.EMBED : GptModel.WTE);
    for (int l = 0; decoder == null && l < config.layers(); l++) {
      keys[l] =
          Nd4j.create(wte.dataType(), config.kvHeads(), config.contextLength(), config.headSize());
      values[l] =
          Nd4j.create(wte.dataType(), config.kvHeads(), config.contextLength(), config.headSize());
    }
    inverseFrequencies =
        config.llamaFamily()
            ? dev.forja.training.model.Rope.inverseFrequencies(config.llama())
            : null;
  }

  /** Which implementation decodes: the hand-written CPU decoder, or eager ND4J ops. */
  public String engine() {
    return decoder != null ? "cpu kernels" : "eager ND4J";
  }

  /** Forgets the cached prefix. */
  public void reset() {
    position = 0;
  }

  public int position() {
    return position;
  }

  /**
   * Feeds one token at the next position; returns the logits for the position after it, [V] (a
   * buffer the next call may overwrite).
   */
  public INDArray next(int token) {
    if (position >= c.contextLength()) {
      throw new IllegalStateException(
          "the sequence reached model.context-length " + c.contextLength());
    }
    if (decoder != null) {
      INDArray logits = decoder.next(token, position);
      position++;
      return logits;
    }
    if (c.llamaFamily()) {
      return nextLlama(token);
    }
    int d = c.dModel();
    int hs = c.headSize();
    int t = position;
    INDArray x = w.get(GptModel.WTE).getRow(token).add(w.get(GptModel.WPE).getRow(t)).reshape(1, d);
    for (int l = 0; l < c.layers(); l++) {
      INDArray a = norm(x, GptModel.layer(l, "ln_1"));
      INDArray qkv = linear(a, GptModel.layer(l, "attn.c_attn"));
      INDArray q = qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(0, d)).reshape(c.heads(), hs);
      INDArray k =
          qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(d, 2 * d)).reshape(c.heads(), hs);
      INDArray v =
          qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(2 * d, 3 * d)).reshape(c.heads(), hs);
      keys[l].get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all()).assign(k);
      values[l].get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all()).assign(v);
      INDArray merged = Nd4j.create(x.dataType(), 1, d);
      for (int h = 0; h < c.heads(); h++) {
        INDArray kh =
            keys[l].get(NDArrayIndex.point(h), NDArrayIndex.interval(0, t + 1), NDArrayIndex.all());
        INDArray vh =
            values[l].get(
                NDArrayIndex.point(h), NDArrayIndex.interval(0, t + 1), NDArrayIndex.all());
        INDArray scores = q.getRow(h).reshape(1, hs).mmul(kh.transpose()).muli(1.0 / Math.sqrt(hs));
        INDArray probs = Transforms.softmax(scores, true);
        merged
            .get(NDArrayIndex.all(), NDArrayIndex.interval(h * hs, (h + 1) * hs))
            .assign(probs.mmul(vh));
      }
      x = x.add(linear(merged, GptModel.layer(l, "attn.c_proj")));
      INDArray m = norm(x, GptModel.layer(l, "ln_2"));
      x =
          x.add(
              linear(
                  gelu(linear(m, GptModel.layer(l, "mlp.c_fc"))), GptModel.layer(l, "mlp.c_proj")));
    }
    INDArray xf = normNamed(x, GptModel.LN_F_WEIGHT, GptModel.LN_F_BIAS);
    INDArray head = c.tiedEmbeddings() ? w.get(GptModel.WTE) : w.get(GptModel.LM_HEAD);
    position++;
    return xf.mmul(head.transpose()).reshape(head.rows());
  }

  /**
   * Feeds {@code tokens} at the next positions; returns the logits for the position after the last
   * (the CPU decoder computes several positions per product).
   */
  public INDArray feed(int[] tokens) {
    if (decoder == null || tokens.length == 1) {
      INDArray logits = null;
      for (int id : tokens) {
        logits = next(id);
      }
      return logits;
    }
    INDArray logits = decoder.next(tokens, position);
    position += tokens.length;
    return logits;
  }

  private INDArray nextLlama(int token) {
    ModelConfig.Llama l = c.llama();
    int d = c.dModel();
    int hd = l.headDim();
    int h = c.heads();
    int kvh = l.kvHeads();
    int rep = h / kvh;
    int t = position;
    double eps = c.normEpsilon();
    INDArray embed = w.get(dev.forja.training.model.ParameterSpec.EMBED);
    INDArray x = embed.getRow(token).dup().reshape(1, d);
    double[][] cs = dev.forja.training.model.Rope.cosSin(inverseFrequencies, hd, t);
    INDArray cos = Nd4j.createFromArray(cs[0]).reshape(1, hd).castTo(x.dataType());
    INDArray sin = Nd4j.createFromArray(cs[1]).reshape(1, hd).castTo(x.dataType());
    for (int i = 0; i < c.layers(); i++) {
      String p = "model.layers." + i + ".";
      INDArray a = rms(x, w.get(p + "input_layernorm.weight"), eps);
      INDArray q = proj(a, p + "self_attn.q_proj").reshape(h, hd);
      INDArray k = proj(a, p + "self_attn.k_proj").reshape(kvh, hd);
      INDArray v = proj(a, p + "self_attn.v_proj").reshape(kvh, hd);
      if (l.qkNorm()) {
        q = rms(q, w.get(p + "self_attn.q_norm.weight"), eps);
        k = rms(k, w.get(p + "self_attn.k_norm.weight"), eps);
      }
      q = rope(q, cos, sin);
      k = rope(k, cos, sin);
      keys[i].get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all()).assign(k);
      values[i].get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all()).assign(v);
      // the query heads that share a key/value head attend together: one product per group
      INDArray merged = Nd4j.create(x.dataType(), h, hd);
      for (int g = 0; g < kvh; g++) {
        INDArray kg =
            keys[i].get(NDArrayIndex.point(g), NDArrayIndex.interval(0, t + 1), NDArrayIndex.all());
        INDArray vg =
            values[i].get(
                NDArrayIndex.point(g), NDArrayIndex.interval(0, t + 1), NDArrayIndex.all());
        INDArray qg = q.get(NDArrayIndex.interval(g * rep, (g + 1) * rep), NDArrayIndex.all());
        INDArray scores = Nd4j.gemm(qg, kg, false, true).muli(1.0 / Math.sqrt(hd));
        INDArray probs = Transforms.softmax(scores, false);
        merged
            .get(NDArrayIndex.interval(g * rep, (g + 1) * rep), NDArrayIndex.all())
            .assign(probs.mmul(vg));
      }
      merged = merged.reshape(1, h * hd);
      x = x.add(Nd4j.gemm(merged, w.get(p + "self_attn.o_proj.weight"), false, true));
      INDArray m = rms(x, w.get(p + "post_attention_layernorm.weight"), eps);
      INDArray gate = Nd4j.gemm(m, w.get(p + "mlp.gate_proj.weight"), false, true);
      INDArray up = Nd4j.gemm(m, w.get(p + "mlp.up_proj.weight"), false, true);
      INDArray act = gate.mul(Transforms.sigmoid(gate, true)).muli(up);
      x = x.add(Nd4j.gemm(act, w.get(p + "mlp.down_proj.weight"), false, true));
    }
    INDArray xf = rms(x, w.get(dev.forja.training.model.ParameterSpec.FINAL_NORM), eps);
    INDArray head = c.tiedEmbeddings() ? embed : w.get(GptModel.LM_HEAD);
    position++;
    return Nd4j.gemm(xf, head, false, true).reshape(head.rows());
  }

  private INDArray proj(INDArray x, String prefix) {
    INDArray y = Nd4j.gemm(x, w.get(prefix + ".weight"), false, true);
    INDArray b = w.get(prefix + ".bias");
    return b == null ? y : y.addiRowVector(b);
  }

  /** RMSNorm of each row. */
  private static INDArray rms(INDArray x, INDArray weight, double eps) {
    INDArray ms = x.mul(x).mean(true, 1);
    return x.div(Transforms.sqrt(ms.addi(eps), false)).mulRowVector(weight);
  }

  /** RoPE on each row (a head) at one position: {@code x cos + rotate_half(x) sin}. */
  private static INDArray rope(INDArray x, INDArray cos, INDArray sin) {
    int half = (int) x.columns() / 2;
    INDArray rotated =
        Nd4j.concat(
            1,
            x.get(NDArrayIndex.all(), NDArrayIndex.interval(half, 2 * half)).neg(),
            x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, half)));
    return x.mulRowVector(cos).addi(rotated.mulRowVector(sin));
  }

  /**
   * Feeds the prompt, then samples up to {@code maxTokens} tokens, stopping early at a token for
   * which {@code stop} holds (that token is not returned) or at the context length.
   */
  public int[] generate(
      int[] prompt, int maxTokens, Sampling sampling, SplittableRandom rng, IntPredicate stop) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("the prompt is empty: give at least one token");
    }
    reset();
    INDArray logits = feed(prompt);
    int[] out = new int[maxTokens];
    int n = 0;
    while (n < maxTokens) {
      int id = sampling.sample(logits.toFloatVector(), rng);
      if (stop.test(id)) {
        break;
      }
      out[n++] = id;
      if (position >= c.contextLength()) {
        break;
      }
      logits = next(id);
    }
    return java.util.Arrays.copyOf(out, n);
  }

  private INDArray linear(INDArray x, String prefix) {
    INDArray y = x.mmul(w.get(prefix + ".weight"));
    INDArray b = w.get(prefix + ".bias");
    return b == null ? y : y.addiRowVector(b);
  }

  private INDArray norm(INDArray x, String prefix) {
    return normNamed(x, prefix + ".weight", prefix + ".bias");
  }

  private INDArray normNamed(INDArray x, String weight, String bias) {
    INDArray centered = x.sub(x.mean(true, 1));
    INDArray var = centered.mul(centered).mean(true, 1);
    INDArray y =
        centered.div(Transforms.sqrt(var.add(c.normEpsilon()), false)).mulRowVector(w.get(weight));
    INDArray b = w.get(bias);
    return b == null ? y : y.addiRowVector(b);
  }

  private static INDArray gelu(INDArray x) {
    INDArray inner = x.add(x.mul(x).mul(x).muli(0.044715)).muli(Math.sqrt(2 / Math.PI));
    return x.mul(0.5).muli(Transforms.tanh(inner, false).addi(1.0));
  }
}
