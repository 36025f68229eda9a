package dev.forja.training.model;

import dev.forja.config.ConfigReader;
import java.io.Serializable;
import java.util.List;
import java.util.Locale;

/**
 * A decoder-only (or, with {@link Objective#MASKED}, encoder-style) transformer's shape, immutable.
 * The compact constructor validates and {@link #headSize()} derives. Presets: {@link #tiny} for
 * tests, {@link #small} in the GPT-2 124M shape.
 *
 * @param vocabSize tokens in the vocabulary; 0 in a config file means "the tokenizer's", resolved
 *     with {@link #withVocabSize} before a model is built
 * @param contextLength the longest sequence (learned position embeddings)
 * @param layers transformer blocks
 * @param dModel width of the residual stream
 * @param heads attention heads; must divide {@code dModel}
 * @param mlpRatio MLP width as a multiple of {@code dModel} (GPT-2: 4)
 * @param bias whether linear layers and norms have biases
 * @param tiedEmbeddings whether the output projection is the token embedding (GPT-2: yes)
 * @param normEpsilon layer-norm epsilon (GPT-2: 1e-5)
 * @param initStd standard deviation of the initial weights (GPT-2: 0.02)
 * @param objective causal language modelling, or BERT-style masked tokens with bidirectional
 *     attention
 * @param llama the Llama family's switches (RMSNorm, SwiGLU, grouped-query attention, RoPE); null
 *     for GPT-2 (LayerNorm, GELU MLP, learned positions). {@code bias} and {@code mlpRatio} do not
 *     apply to it
 */
public record ModelConfig(
    int vocabSize,
    int contextLength,
    int layers,
    int dModel,
    int heads,
    int mlpRatio,
    boolean bias,
    boolean tiedEmbeddings,
    double normEpsilon,
    double initStd,
    Objective objective,
    Llama llama)
    implements Serializable {

  /** A GPT-2 shape. */
  public ModelConfig(
      int vocabSize,
      int contextLength,
      int layers,
      int dModel,
      int heads,
      int mlpRatio,
      boolean bias,
      boolean tiedEmbeddings,
      double normEpsilon,
      double initStd,
      Objective objective) {
    this(
        vocabSize,
        contextLength,
        layers,
        dModel,
        heads,
        mlpRatio,
        bias,
        tiedEmbeddings,
        normEpsilon,
        initStd,
        objective,
        null);
  }

  /**
   * The Llama family as switches: Llama 2/3.x, Mistral (full attention), Qwen2/2.5 ({@code
   * attentionBias}), Qwen3 ({@code qkNorm}), SmolLM/SmolLM2 and TinyLlama.
   *
   * @param modelType Hugging Face's {@code model_type}: llama, mistral, qwen2 or qwen3
   * @param kvHeads key/value heads (grouped-query attention); must divide the heads
   * @param headDim width of each head ({@code head_dim}; often d-model / heads)
   * @param mlpHidden the SwiGLU MLP's width ({@code intermediate_size})
   * @param ropeTheta RoPE's base
   * @param ropeScaling none, linear or llama3
   * @param ropeFactor the scaling factor (linear, llama3)
   * @param lowFreqFactor llama3's low-frequency factor
   * @param highFreqFactor llama3's high-frequency factor
   * @param originalContext llama3's original context length
   * @param attentionBias biases on the q, k and v projections (Qwen2)
   * @param qkNorm an RMSNorm over each head of q and k before RoPE (Qwen3)
   */
  public record Llama(
      String modelType,
      int kvHeads,
      int headDim,
      int mlpHidden,
      double ropeTheta,
      String ropeScaling,
      double ropeFactor,
      double lowFreqFactor,
      double highFreqFactor,
      int originalContext,
      boolean attentionBias,
      boolean qkNorm)
      implements Serializable {
    public static final List<String> SCALINGS = List.of("none", "linear", "llama3");

    public Llama {
      require(kvHeads >= 1, "num_key_value_heads must be positive, got " + kvHeads);
      require(headDim >= 2 && headDim % 2 == 0, "head_dim must be even, got " + headDim);
      require(mlpHidden >= 1, "intermediate_size must be positive, got " + mlpHidden);
      require(ropeTheta > 0, "rope_theta must be positive, got " + ropeTheta);
      require(
          SCALINGS.contains(ropeScaling),
          "rope scaling '" + ropeScaling + "' is not supported (supported: " + SCALINGS + ")");
      require(
          ropeScaling.equals("none") || ropeFactor > 0,
          "the rope scaling factor must be positive, got " + ropeFactor);
    }
  }

  /** What the model is trained to predict. */
  public enum Objective {
    CAUSAL,
    MASKED
  }

  public ModelConfig {
    require(
        vocabSize == 0 || vocabSize >= 2,
        "model.vocab-size must be at least 2 (or 0 for the tokenizer's), got " + vocabSize);
    require(contextLength >= 1, "model.context-length must be positive, got " + contextLength);
    require(layers >= 1, "model.layers must be positive, got " + layers);
    require(heads >= 1, "model.heads must be positive, got " + heads);
    require(
        llama != null || (dModel >= heads && dModel % heads == 0),
        "model.d-model (" + dModel + ") must be a multiple of model.heads (" + heads + ")");
    require(
        llama == null || heads % llama.kvHeads() == 0,
        "the attention heads ("
            + heads
            + ") must be a multiple of the key/value heads ("
            + (llama == null ? 0 : llama.kvHeads())
            + ")");
    require(mlpRatio >= 1, "model.mlp-ratio must be positive, got " + mlpRatio);
    require(normEpsilon > 0, "model.norm-epsilon must be positive, got " + normEpsilon);
    require(initStd > 0, "model.init-std must be positive, got " + initStd);
  }

  /** Reads {@code model.*}; every default is GPT-2's, at the {@link #tiny} size. */
  public static ModelConfig read(ConfigReader r) {
    int vocab =
        r.intIn(
            "model.vocab-size",
            0,
            0,
            1 << 24,
            "Vocabulary size; 0 takes the tokenizer's (the shards' manifest).");
    int context =
        r.intIn(
            "model.context-length",
            128,
            1,
            1 << 20,
            "Longest sequence (GPT-2: positions learned; the Llama family: RoPE).");
    int layers = r.intIn("model.layers", 2, 1, 1024, "Transformer blocks.");
    int d = r.intIn("model.d-model", 64, 1, 1 << 16, "Width of the residual stream.");
    int heads = r.intIn("model.heads", 2, 1, 1024, "Attention heads; must divide model.d-model.");
    int mlp = r.intIn("model.mlp-ratio", 4, 1, 64, "MLP width as a multiple of model.d-model.");
    boolean bias = r.bool("model.bias", true, "Biases in linear layers and norms.");
    boolean tied =
        r.bool("model.tied-embeddings", true, "Output projection shares the token embedding.");
    double eps = r.doubleIn("model.norm-epsilon", 1e-5, 1e-12, 1, "LayerNorm epsilon.");
    double std = r.doubleIn("model.init-std", 0.02, 1e-6, 10, "Std of the initial weights.");
    String objective =
        r.choice(
            "model.objective",
            "causal",
            List.of("causal", "masked"),
            "causal: next-token LM; masked: BERT-style masked tokens, bidirectional attention.");
    String family =
        r.choice(
            "model.family",
            "gpt2",
            FAMILIES,
            "gpt2 (LayerNorm, GELU, learned positions), or the Llama family as Hugging Face names"
                + " it: llama, mistral (RMSNorm, SwiGLU, grouped-query attention, RoPE), qwen2"
                + " (with q/k/v biases), qwen3 (with q/k RMSNorm).");
    int kvHeads =
        r.intIn(
            "model.kv-heads",
            0,
            0,
            1024,
            "Llama family: key/value heads (grouped-query attention); 0: model.heads.");
    int headDim =
        r.intIn(
            "model.head-dim", 0, 0, 1 << 12, "Llama family: width of a head; 0: d-model / heads.");
    int mlpHidden =
        r.intIn(
            "model.mlp-hidden",
            0,
            0,
            1 << 20,
            "Llama family: SwiGLU width (intermediate_size); 0: model.mlp-ratio x d-model.");
    double theta = r.doubleIn("model.rope-theta", 10000, 1, 1e12, "Llama family: RoPE's base.");
    String scaling =
        r.choice(
            "model.rope-scaling",
            "none",
            Llama.SCALINGS,
            "Llama family: RoPE scaling: none, linear or llama3.");
    double factor = r.doubleIn("model.rope-factor", 1, 1e-6, 1e6, "RoPE scaling factor.");
    double low =
        r.doubleIn(
            "model.rope-low-freq-factor", 1, 1e-6, 1e6, "llama3 scaling: low-frequency factor.");
    double high =
        r.doubleIn(
            "model.rope-high-freq-factor", 4, 1e-6, 1e6, "llama3 scaling: high-frequency factor.");
    int original =
        r.intIn(
            "model.rope-original-context",
            0,
            0,
            1 << 24,
            "llama3 scaling: the original context length; 0: model.context-length.");
    boolean llama = !family.equals("gpt2");
    int kv = kvHeads == 0 ? heads : kvHeads;
    boolean valid;
    if (llama) {
      boolean kvDivides = heads % kv == 0;
      boolean widthKnown = headDim > 0 || d % heads == 0;
      boolean widthEven = (headDim > 0 ? headDim : d / heads) % 2 == 0;
      r.require(
          kvDivides,
          "model.kv-heads",
          "model.heads (" + heads + ") must be a multiple of model.kv-heads (" + kv + ")");
      r.require(
          widthKnown,
          "model.head-dim",
          "must be set when model.d-model (" + d + ") is not a multiple of model.heads");
      r.require(widthEven, "model.head-dim", "must be even (RoPE rotates pairs of dimensions)");
      valid = kvDivides && widthKnown && widthEven;
    } else {
      valid = heads <= d && d % heads == 0;
      r.require(
          valid,
          "model.heads",
          "model.d-model (" + d + ") must be a multiple of model.heads (" + heads + ")");
    }
    if (!valid) { // reported above; keep the record valid so that other problems are collected too
      heads = llama ? 2 : 1;
      kv = 1;
      headDim = 2;
    }
    Llama l =
        llama
            ? new Llama(
                family,
                kv,
                headDim == 0 ? d / heads : headDim,
                mlpHidden == 0 ? mlp * d : mlpHidden,
                theta,
                scaling,
                factor,
                low,
                high,
                original == 0 ? context : original,
                family.equals("qwen2"),
                family.equals("qwen3"))
            : null;
    return new ModelConfig(
        vocab,
        context,
        layers,
        d,
        heads,
        mlp,
        bias && !llama,
        tied,
        eps,
        std,
        Objective.valueOf(objective.toUpperCase(Locale.ROOT)),
        l);
  }

  /** {@code model.family}: GPT-2, or a Llama-family model type as Hugging Face names it. */
  public static final List<String> FAMILIES = List.of("gpt2", "llama", "mistral", "qwen2", "qwen3");

  /** This shape with {@code vocabSize} tokens. */
  public ModelConfig withVocabSize(int v) {
    return new ModelConfig(
        v,
        contextLength,
        layers,
        dModel,
        heads,
        mlpRatio,
        bias,
        tiedEmbeddings,
        normEpsilon,
        initStd,
        objective,
        llama);
  }

  /** Whether this is a Llama-family model ({@link #llama}). */
  public boolean llamaFamily() { // not isLlama: Jackson would write it as a property
    return llama != null;
  }

  /** Key/value heads: the heads, or fewer with grouped-query attention. */
  public int kvHeads() {
    return llama == null ? heads : llama.kvHeads();
  }

  /**
   * Floating-point operations of one training step per token: 6 x (non-embedding parameters + the
   * output projection) for the matmuls forward and backward, plus 12 x layers x length x d-model
   * for attention scores and values (the PaLM / nanoGPT MFU formula).
   */
  public double flopsPerToken(int length) {
    double positions = llama == null ? (double) contextLength * dModel : 0;
    double nonEmbedding = parameters() - positions;
    return 6 * nonEmbedding + 12.0 * layers * length * heads * headSize();
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  public int headSize() {
    return llama == null ? dModel / heads : llama.headDim();
  }

  public int mlpWidth() {
    return llama == null ? dModel * mlpRatio : llama.mlpHidden();
  }

  /** Trainable parameters (the tied output projection counted once): {@link ParameterSpec#of}. */
  public long parameters() {
    long total = 0;
    for (ParameterSpec p : ParameterSpec.of(this)) {
      total += p.count();
    }
    return total;
  }

  /** Two layers of width 16: trains in seconds, for tests. */
  public static ModelConfig tiny(int vocabSize) {
    return new ModelConfig(vocabSize, 32, 2, 16, 2, 4, true, true, 1e-5, 0.02, Objective.CAUSAL);
  }

  /** GPT-2 124M's shape. */
  public static ModelConfig small(int vocabSize) {
    return new ModelConfig(
        vocabSize, 1024, 12, 768, 12, 4, true, true, 1e-5, 0.02, Objective.CAUSAL);
  }
}
