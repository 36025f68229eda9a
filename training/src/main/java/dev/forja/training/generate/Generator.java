package dev.forja.training.generate;

import dev.forja.training.model.Architecture;
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
  private final Architecture arch;
  private final Architecture.SelfAttention attention0;
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
    this.arch = Architecture.of(config);
    this.attention0 = arch.layers().get(0).attention();
    this.w = weights;
    this.decoder =
        dev.forja.training.model.CpuDecoder.applies(config, weights)
            ? new dev.forja.training.model.CpuDecoder(config, weights)
            : null;
    this.keys = new INDArray[config.layers()];
    this.values = new INDArray[config.layers()];
    INDArray embed = weights.get(arch.embedding().tokens().name());
    for (int l = 0; decoder == null && l < config.layers(); l++) {
      keys[l] =
          Nd4j.create(
              embed.dataType(), attention0.kvHeads(), config.contextLength(), attention0.headDim());
      values[l] =
          Nd4j.create(
              embed.dataType(), attention0.kvHeads(), config.contextLength(), attention0.headDim());
    }
    inverseFrequencies =
        attention0.rotary() == null
            ? null
            : dev.forja.training.model.Rope.inverseFrequencies(attention0.rotary().settings());
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
    return nextEager(token);
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

  /** One position with eager ND4J ops, block by block as the model's description says. */
  private INDArray nextEager(int token) {
    int t = position;
    int h = attention0.heads();
    int kvh = attention0.kvHeads();
    int hd = attention0.headDim();
    int rep = h / kvh;
    Architecture.Embedding e = arch.embedding();
    INDArray x = p(e.tokens()).getRow(token).dup().reshape(1, c.dModel());
    if (e.positions() != null) {
      x.addi(p(e.positions()).getRow(t).reshape(1, c.dModel()));
    }
    INDArray cos = null;
    INDArray sin = null;
    if (inverseFrequencies != null) {
      double[][] cs = dev.forja.training.model.Rope.cosSin(inverseFrequencies, hd, t);
      cos = Nd4j.createFromArray(cs[0]).reshape(1, hd).castTo(x.dataType());
      sin = Nd4j.createFromArray(cs[1]).reshape(1, hd).castTo(x.dataType());
    }
    for (int i = 0; i < arch.layers().size(); i++) {
      Architecture.Layer layer = arch.layers().get(i);
      Architecture.SelfAttention at = layer.attention();
      INDArray a = norm(layer.attentionNorm(), x);
      INDArray q;
      INDArray k;
      INDArray v;
      if (at.fused()) {
        INDArray qkv = linear(at.inputs().get(0), a);
        q = qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(0, h * hd)).dup();
        k = qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(h * hd, (h + kvh) * hd)).dup();
        v =
            qkv.get(NDArrayIndex.all(), NDArrayIndex.interval((h + kvh) * hd, (h + 2 * kvh) * hd))
                .dup();
      } else {
        q = linear(at.inputs().get(0), a);
        k = linear(at.inputs().get(1), a);
        v = linear(at.inputs().get(2), a);
      }
      q = q.reshape(h, hd);
      k = k.reshape(kvh, hd);
      v = v.reshape(kvh, hd);
      if (at.qNorm() != null) {
        q = norm(at.qNorm(), q);
        k = norm(at.kNorm(), k);
      }
      if (cos != null) {
        q = rope(q, cos, sin);
        k = rope(k, cos, sin);
      }
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
      x = x.add(linear(at.output(), merged.reshape(1, h * hd)));
      INDArray m = norm(layer.mlpNorm(), x);
      Architecture.Mlp mlp = layer.mlp();
      INDArray act;
      if (mlp.activation() == Architecture.Activation.SWIGLU) {
        INDArray gate = linear(mlp.inputs().get(0), m);
        act = gate.mul(Transforms.sigmoid(gate, true)).muli(linear(mlp.inputs().get(1), m));
      } else {
        act = gelu(linear(mlp.inputs().get(0), m));
      }
      x = x.add(linear(mlp.output(), act));
    }
    INDArray xf = norm(arch.finalNorm(), x);
    INDArray head = p(arch.head().weight());
    position++;
    return Nd4j.gemm(xf, head, false, true).reshape(head.rows());
  }

  private INDArray p(dev.forja.training.model.ParameterSpec spec) {
    return w.get(spec.name());
  }

  /** {@code x W (+ b)} in the layer's layout: GPT-2's {@code [in, out]} or {@code [out, in]}. */
  private INDArray linear(Architecture.Linear l, INDArray x) {
    INDArray y =
        l.layout() == Architecture.Layout.IN_OUT
            ? x.mmul(p(l.weight()))
            : Nd4j.gemm(x, p(l.weight()), false, true);
    return l.bias() == null ? y : y.addiRowVector(p(l.bias()));
  }

  /** The norm of each row: LayerNorm or RMSNorm, its weight, and its bias where it has one. */
  private INDArray norm(Architecture.Norm n, INDArray x) {
    INDArray y;
    if (n.kind() == Architecture.NormKind.RMS_NORM) {
      INDArray ms = x.mul(x).mean(true, 1);
      y = x.div(Transforms.sqrt(ms.addi(n.eps()), false));
    } else {
      INDArray centered = x.sub(x.mean(true, 1));
      INDArray var = centered.mul(centered).mean(true, 1);
      y = centered.div(Transforms.sqrt(var.addi(n.eps()), false));
    }
    y = y.mulRowVector(p(n.weight()));
    return n.bias() == null ? y : y.addiRowVector(p(n.bias()));
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

  private static INDArray gelu(INDArray x) {
    INDArray inner = x.add(x.mul(x).mul(x).muli(0.044715)).muli(Math.sqrt(2 / Math.PI));
    return x.mul(0.5).muli(Transforms.tanh(inner, false).addi(1.0));
  }

  /**
   * The text {@code out} adds after {@code prompt}: decoded together and the prompt's text taken
   * off, so that a tokenizer whose decoding depends on the position (SentencePiece drops the space
   * of a leading {@code ▁}) continues the prompt exactly.
   */
  public static String continuation(dev.forja.tokenizer.BpeTokenizer tok, int[] prompt, int[] out) {
    int[] all = java.util.Arrays.copyOf(prompt, prompt.length + out.length);
    System.arraycopy(out, 0, all, prompt.length, out.length);
    String full = tok.decode(all);
    String head = tok.decode(prompt);
    return full.startsWith(head) ? full.substring(head.length()) : tok.decode(out);
  }
}
