package dev.forja.training.model;

import java.util.ArrayList;
import java.util.List;

/**
 * A decoder-only transformer as typed blocks with their declared parameters: the description every
 * engine and tool reads. The SameDiff graph is built block by block from it; the hand-written
 * kernels and the decoder check that they implement its blocks and take the parameter names from
 * it; the parameter list ({@link ParameterSpec#of}), the parameter count, checkpoint and Hugging
 * Face names, initialisation and the weight-decay rule come from its parameters.
 *
 * <p>GPT-2 and the Llama family are two settings of the same blocks: an embedding (with learned
 * positions or none), pre-norm layers of self-attention and an MLP around the residual stream, a
 * final norm and the output head.
 *
 * @param embedding the token embedding, and learned positions where the model has them
 * @param layers the transformer layers, in order
 * @param finalNorm the norm before the head
 * @param head the output projection (the token embedding itself when tied)
 */
public record Architecture(
    Embedding embedding, List<Layer> layers, Norm finalNorm, Head head, ModelConfig config) {

  public Architecture {
    layers = List.copyOf(layers);
  }

  /** A part of the model with parameters. */
  public sealed interface Block permits Embedding, Norm, Linear, SelfAttention, Mlp, Layer, Head {
    /** Its parameters, in Hugging Face's order. */
    List<ParameterSpec> parameters();
  }

  /** Token embedding {@code [vocab, d]}; learned positions {@code [context, d]}, or null. */
  public record Embedding(ParameterSpec tokens, ParameterSpec positions) implements Block {
    @Override
    public List<ParameterSpec> parameters() {
      return positions == null ? List.of(tokens) : List.of(tokens, positions);
    }
  }

  /** How a norm normalises. */
  public enum NormKind {
    /** (x - mean) / sqrt(var + eps) * w (+ b): GPT-2. */
    LAYER_NORM,
    /** x / sqrt(mean(x^2) + eps) * w: the Llama family. */
    RMS_NORM
  }

  /** A norm over the last dimension; {@code bias} null where it has none. */
  public record Norm(NormKind kind, ParameterSpec weight, ParameterSpec bias, double eps)
      implements Block {
    @Override
    public List<ParameterSpec> parameters() {
      return bias == null ? List.of(weight) : List.of(weight, bias);
    }
  }

  /** How a linear layer's weight is laid out. */
  public enum Layout {
    /** GPT-2's {@code Conv1D}: {@code [in, out]}, {@code y = x W}. */
    IN_OUT,
    /** {@code nn.Linear}: {@code [out, in]}, {@code y = x W^T}. */
    OUT_IN
  }

  /** {@code y = x W (+ b)} in {@code layout}; {@code bias} null where it has none. */
  public record Linear(ParameterSpec weight, ParameterSpec bias, Layout layout, int in, int out)
      implements Block {
    @Override
    public List<ParameterSpec> parameters() {
      return bias == null ? List.of(weight) : List.of(weight, bias);
    }
  }

  /** Position information inside attention: rotary embeddings of the Llama family, or none. */
  public record Rotary(ModelConfig.Llama settings) {}

  /**
   * Scaled dot-product self-attention. {@code inputs} are one fused q/k/v projection (GPT-2's
   * {@code c_attn}, q then k then v in its output) or three (q, k, v); {@code kvHeads} key/value
   * heads each serve {@code heads / kvHeads} query heads; {@code qNorm}, {@code kNorm} (Qwen3) are
   * RMSNorms over each head before {@code rotary} (null where absent).
   */
  public record SelfAttention(
      int heads,
      int kvHeads,
      int headDim,
      boolean causal,
      List<Linear> inputs,
      Linear output,
      Norm qNorm,
      Norm kNorm,
      Rotary rotary)
      implements Block {
    public SelfAttention {
      inputs = List.copyOf(inputs);
      if (inputs.size() != 1 && inputs.size() != 3) {
        throw new IllegalArgumentException("attention needs 1 fused or 3 q/k/v projections");
      }
    }

    /** Whether q, k and v come from one projection. */
    public boolean fused() {
      return inputs.size() == 1;
    }

    @Override
    public List<ParameterSpec> parameters() {
      List<ParameterSpec> out = new ArrayList<>();
      inputs.forEach(l -> out.addAll(l.parameters()));
      out.addAll(output.parameters());
      if (qNorm != null) {
        out.addAll(qNorm.parameters());
        out.addAll(kNorm.parameters());
      }
      return out;
    }
  }

  /** The MLP's non-linearity. */
  public enum Activation {
    /** GPT-2's tanh GELU of one projection. */
    GELU_TANH,
    /** SiLU(gate) x up, of two projections (gate, up). */
    SWIGLU
  }

  /** {@code output(act(inputs))}: one input (GELU) or two (gate, up: SwiGLU). */
  public record Mlp(Activation activation, List<Linear> inputs, Linear output) implements Block {
    public Mlp {
      inputs = List.copyOf(inputs);
      if (inputs.size() != (activation == Activation.SWIGLU ? 2 : 1)) {
        throw new IllegalArgumentException(activation + " takes " + inputs.size() + " inputs");
      }
    }

    @Override
    public List<ParameterSpec> parameters() {
      List<ParameterSpec> out = new ArrayList<>();
      inputs.forEach(l -> out.addAll(l.parameters()));
      out.addAll(output.parameters());
      return out;
    }
  }

  /** A pre-norm layer: {@code x += attention(norm1(x)); x += mlp(norm2(x))}. */
  public record Layer(int index, Norm attentionNorm, SelfAttention attention, Norm mlpNorm, Mlp mlp)
      implements Block {
    @Override
    public List<ParameterSpec> parameters() {
      List<ParameterSpec> out = new ArrayList<>(attentionNorm.parameters());
      out.addAll(attention.parameters());
      out.addAll(mlpNorm.parameters());
      out.addAll(mlp.parameters());
      return out;
    }
  }

  /** The output projection {@code [vocab, d]}: the token embedding when {@code tied}. */
  public record Head(ParameterSpec weight, boolean tied) implements Block {
    @Override
    public List<ParameterSpec> parameters() {
      return tied ? List.of() : List.of(weight);
    }
  }

  /** Every parameter, in Hugging Face's order (the tied head counted once). */
  public List<ParameterSpec> parameters() {
    List<ParameterSpec> out = new ArrayList<>(embedding.parameters());
    layers.forEach(l -> out.addAll(l.parameters()));
    out.addAll(finalNorm.parameters());
    out.addAll(head.parameters());
    return out;
  }

  /** The description of {@code c}. */
  public static Architecture of(ModelConfig c) {
    return c.llamaFamily() ? llama(c) : gpt2(c);
  }

  // ---------------------------------------------------------------- GPT-2

  private static Architecture gpt2(ModelConfig c) {
    int d = c.dModel();
    int mlp = c.mlpWidth();
    double std = c.initStd();
    double projStd = std / Math.sqrt(2.0 * c.layers()); // GPT-2's scaled residual projections
    boolean causal = c.objective() == ModelConfig.Objective.CAUSAL;
    ParameterSpec wte = ParameterSpec.normal(GptModel.WTE, std, false, c.vocabSize(), d);
    Embedding embedding =
        new Embedding(
            wte, ParameterSpec.normal(GptModel.WPE, std / 2, false, c.contextLength(), d));
    List<Layer> layers = new ArrayList<>();
    for (int i = 0; i < c.layers(); i++) {
      String p = "transformer.h." + i + ".";
      SelfAttention attention =
          new SelfAttention(
              c.heads(),
              c.heads(),
              c.headSize(),
              causal,
              List.of(conv1d(c, p + "attn.c_attn", d, 3 * d, std)),
              conv1d(c, p + "attn.c_proj", d, d, projStd),
              null,
              null,
              null);
      Mlp m =
          new Mlp(
              Activation.GELU_TANH,
              List.of(conv1d(c, p + "mlp.c_fc", d, mlp, std)),
              conv1d(c, p + "mlp.c_proj", mlp, d, projStd));
      layers.add(new Layer(i, layerNorm(c, p + "ln_1"), attention, layerNorm(c, p + "ln_2"), m));
    }
    Norm finalNorm = layerNorm(c, "transformer.ln_f");
    Head head =
        new Head(
            c.tiedEmbeddings()
                ? wte
                : ParameterSpec.normal(GptModel.LM_HEAD, std, true, c.vocabSize(), d),
            c.tiedEmbeddings());
    return new Architecture(embedding, layers, finalNorm, head, c);
  }

  private static Norm layerNorm(ModelConfig c, String prefix) {
    long d = c.dModel();
    return new Norm(
        NormKind.LAYER_NORM,
        ParameterSpec.ones(prefix + ".weight", d),
        c.bias() ? ParameterSpec.zeros(prefix + ".bias", d) : null,
        c.normEpsilon());
  }

  private static Linear conv1d(ModelConfig c, String prefix, int in, int out, double std) {
    return new Linear(
        ParameterSpec.normal(prefix + ".weight", std, true, in, out),
        c.bias() ? ParameterSpec.zeros(prefix + ".bias", out) : null,
        Layout.IN_OUT,
        in,
        out);
  }

  // ---------------------------------------------------------------- the Llama family

  private static Architecture llama(ModelConfig c) {
    ModelConfig.Llama l = c.llama();
    int d = c.dModel();
    int hd = l.headDim();
    int q = c.heads() * hd;
    int kv = l.kvHeads() * hd;
    double std = c.initStd();
    boolean causal = c.objective() == ModelConfig.Objective.CAUSAL;
    ParameterSpec embed = ParameterSpec.normal(ParameterSpec.EMBED, std, false, c.vocabSize(), d);
    List<Layer> layers = new ArrayList<>();
    for (int i = 0; i < c.layers(); i++) {
      String p = "model.layers." + i + ".";
      boolean b = l.attentionBias();
      SelfAttention attention =
          new SelfAttention(
              c.heads(),
              l.kvHeads(),
              hd,
              causal,
              List.of(
                  linear(p + "self_attn.q_proj", d, q, std, b),
                  linear(p + "self_attn.k_proj", d, kv, std, b),
                  linear(p + "self_attn.v_proj", d, kv, std, b)),
              linear(p + "self_attn.o_proj", q, d, std, false),
              l.qkNorm() ? rmsNorm(c, p + "self_attn.q_norm", hd) : null,
              l.qkNorm() ? rmsNorm(c, p + "self_attn.k_norm", hd) : null,
              new Rotary(l));
      Mlp m =
          new Mlp(
              Activation.SWIGLU,
              List.of(
                  linear(p + "mlp.gate_proj", d, l.mlpHidden(), std, false),
                  linear(p + "mlp.up_proj", d, l.mlpHidden(), std, false)),
              linear(p + "mlp.down_proj", l.mlpHidden(), d, std, false));
      layers.add(
          new Layer(
              i,
              rmsNorm(c, p + "input_layernorm", d),
              attention,
              rmsNorm(c, p + "post_attention_layernorm", d),
              m));
    }
    Head head =
        new Head(
            c.tiedEmbeddings()
                ? embed
                : ParameterSpec.normal(GptModel.LM_HEAD, std, true, c.vocabSize(), d),
            c.tiedEmbeddings());
    return new Architecture(
        new Embedding(embed, null), layers, rmsNorm(c, "model.norm", d), head, c);
  }

  private static Norm rmsNorm(ModelConfig c, String prefix, long width) {
    return new Norm(
        NormKind.RMS_NORM, ParameterSpec.ones(prefix + ".weight", width), null, c.normEpsilon());
  }

  private static Linear linear(String prefix, int in, int out, double std, boolean bias) {
    return new Linear(
        ParameterSpec.normal(prefix + ".weight", std, true, out, in),
        bias ? ParameterSpec.zeros(prefix + ".bias", out) : null,
        Layout.OUT_IN,
        in,
        out);
  }
}
