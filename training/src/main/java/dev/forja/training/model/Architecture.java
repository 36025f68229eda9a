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
    Embedding embedding,
    List<Layer> layers,
    Norm finalNorm,
    Head head,
    ModelConfig config,
    boolean bf16Base) {

  public Architecture {
    layers = List.copyOf(layers);
  }

  public Architecture(
      Embedding embedding, List<Layer> layers, Norm finalNorm, Head head, ModelConfig config) {
    this(embedding, layers, finalNorm, head, config, false);
  }

  /**
   * The names of the parameters held in bfloat16: with {@code bf16Base}, the frozen weights of the
   * linear layers (the head and embeddings excepted), which the engines upcast per product.
   */
  public java.util.Set<String> halfPrecision() {
    java.util.Set<String> out = new java.util.LinkedHashSet<>();
    if (bf16Base) {
      for (Linear l : linears()) {
        if (!l.weight().trainable()) {
          out.add(l.weight().name());
        }
      }
    }
    return out;
  }

  /** A part of the model with parameters. */
  public sealed interface Block
      permits Embedding, Norm, Linear, Lora, SelfAttention, Mlp, Layer, Head {
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

  /**
   * {@code y = x W (+ b)} in {@code layout}, plus {@code lora}'s low-rank update where it has one;
   * {@code bias} and {@code lora} null where it has none.
   */
  public record Linear(
      ParameterSpec weight, ParameterSpec bias, Layout layout, int in, int out, Lora lora)
      implements Block {
    public Linear(ParameterSpec weight, ParameterSpec bias, Layout layout, int in, int out) {
      this(weight, bias, layout, in, out, null);
    }

    /** The module's Hugging Face name: the weight's without {@code .weight}. */
    public String module() {
      return weight.name().substring(0, weight.name().length() - ".weight".length());
    }

    @Override
    public List<ParameterSpec> parameters() {
      List<ParameterSpec> out = new ArrayList<>(List.of(weight));
      if (bias != null) {
        out.add(bias);
      }
      if (lora != null) {
        out.addAll(lora.parameters());
      }
      return out;
    }
  }

  /**
   * A LoRA adapter on a linear layer (PEFT's): {@code y += scale * dropout(x) A^T B^T}, {@code A
   * [rank, in]} and {@code B [out, rank]} in {@code nn.Linear}'s layout whatever the base's layout
   * (PEFT's {@code fan_in_fan_out} transposes only the base weight).
   */
  public record Lora(ParameterSpec a, ParameterSpec b, int rank, double scale, double dropout)
      implements Block {
    @Override
    public List<ParameterSpec> parameters() {
      return List.of(a, b);
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

  /** Every linear layer, in order (the head excluded). */
  public List<Linear> linears() {
    List<Linear> out = new ArrayList<>();
    for (Layer l : layers) {
      out.addAll(l.attention().inputs());
      out.add(l.attention().output());
      out.addAll(l.mlp().inputs());
      out.add(l.mlp().output());
    }
    return out;
  }

  /** Whether any linear layer carries a LoRA adapter. */
  public boolean hasLora() {
    return linears().stream().anyMatch(l -> l.lora() != null);
  }

  /**
   * This model with {@code lora}'s adapters on its target modules and every other parameter frozen
   * but those of {@link LoraSettings#modulesToSave}: what a LoRA fine-tune trains. A target or
   * module to save that names nothing is an error naming the model's modules.
   */
  public Architecture withLora(LoraSettings lora) {
    java.util.Set<String> unusedTargets = new java.util.LinkedHashSet<>(lora.targetModules());
    java.util.Set<String> unusedSaved = new java.util.LinkedHashSet<>(lora.modulesToSave());
    java.util.function.UnaryOperator<ParameterSpec> freeze =
        p -> {
          String module = p.name().substring(0, p.name().lastIndexOf('.'));
          for (String m : lora.modulesToSave()) {
            if (LoraSettings.matches(module, m)) {
              unusedSaved.remove(m);
              return p.withTrainable(true);
            }
          }
          return p.withTrainable(false);
        };
    java.util.function.UnaryOperator<Linear> adapt =
        l -> {
          ParameterSpec bias = l.bias() == null ? null : freeze.apply(l.bias());
          Linear frozen =
              new Linear(freeze.apply(l.weight()), bias, l.layout(), l.in(), l.out(), null);
          String target = lora.target(l.module());
          if (target == null) {
            return frozen;
          }
          unusedTargets.remove(target);
          unusedTargets.remove(LoraSettings.ALL_LINEAR);
          int r = lora.rank();
          // PEFT's initialisation: A Kaiming-uniform (a = sqrt(5): bound 1 / sqrt(in)), B zero
          ParameterSpec a =
              new ParameterSpec(
                  l.module() + ".lora_A.weight",
                  new long[] {r, l.in()},
                  true,
                  ParameterSpec.Init.uniform(1 / Math.sqrt(l.in())),
                  true);
          ParameterSpec b =
              new ParameterSpec(
                  l.module() + ".lora_B.weight",
                  new long[] {l.out(), r},
                  true,
                  ParameterSpec.Init.ZEROS,
                  true);
          return new Linear(
              frozen.weight(),
              bias,
              l.layout(),
              l.in(),
              l.out(),
              new Lora(a, b, r, lora.scale(), lora.dropout()));
        };
    List<Layer> ls = new ArrayList<>();
    for (Layer l : layers) {
      SelfAttention at = l.attention();
      SelfAttention a2 =
          new SelfAttention(
              at.heads(),
              at.kvHeads(),
              at.headDim(),
              at.causal(),
              at.inputs().stream().map(adapt).toList(),
              adapt.apply(at.output()),
              freezeNorm(at.qNorm(), freeze),
              freezeNorm(at.kNorm(), freeze),
              at.rotary());
      Mlp m = l.mlp();
      Mlp m2 =
          new Mlp(m.activation(), m.inputs().stream().map(adapt).toList(), adapt.apply(m.output()));
      ls.add(
          new Layer(
              l.index(),
              freezeNorm(l.attentionNorm(), freeze),
              a2,
              freezeNorm(l.mlpNorm(), freeze),
              m2));
    }
    ParameterSpec tokens = freeze.apply(embedding.tokens());
    Embedding e =
        new Embedding(
            tokens, embedding.positions() == null ? null : freeze.apply(embedding.positions()));
    Head h = new Head(head.tied() ? tokens : freeze.apply(head.weight()), head.tied());
    Architecture out =
        new Architecture(e, ls, freezeNorm(finalNorm, freeze), h, config, lora.bf16Base());
    if (!unusedTargets.isEmpty() || !unusedSaved.isEmpty()) {
      java.util.Set<String> modules = new java.util.LinkedHashSet<>();
      for (Linear l : linears()) {
        modules.add(l.module().substring(l.module().lastIndexOf('.') + 1));
      }
      throw new IllegalArgumentException(
          (unusedTargets.isEmpty()
                  ? "train.lora.modules-to-save " + unusedSaved
                  : "train.lora.target-modules " + unusedTargets)
              + " name no module of this "
              + (config.llamaFamily() ? "Llama-family" : "GPT-2")
              + " model: its linear layers are "
              + modules
              + " (or all-linear); modules to save are named as Hugging Face names them, e.g. "
              + (config.llamaFamily() ? "embed_tokens, lm_head" : "wte, lm_head"));
    }
    return out;
  }

  private static Norm freezeNorm(Norm n, java.util.function.UnaryOperator<ParameterSpec> f) {
    return n == null
        ? null
        : new Norm(
            n.kind(), f.apply(n.weight()), n.bias() == null ? null : f.apply(n.bias()), n.eps());
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
