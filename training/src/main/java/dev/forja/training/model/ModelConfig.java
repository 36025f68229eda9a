package dev.forja.training.model;

import java.io.Serializable;

/**
 * A decoder-only (or, with {@link Objective#MASKED}, encoder-style) transformer's shape, immutable.
 * The compact constructor validates and {@link #headSize()} derives. Presets: {@link #tiny} for
 * tests, {@link #small} in the GPT-2 124M shape.
 *
 * @param vocabSize tokens in the vocabulary
 * @param contextLength the longest sequence (learned position embeddings)
 * @param layers transformer blocks
 * @param dModel width of the residual stream
 * @param heads attention heads; must divide {@code dModel}
 * @param mlpRatio MLP width as a multiple of {@code dModel} (GPT-2: 4)
 * @param dropout dropout probability (0 disables it)
 * @param bias whether linear layers and norms have biases
 * @param tiedEmbeddings whether the output projection is the token embedding (GPT-2: yes)
 * @param normEpsilon layer-norm epsilon (GPT-2: 1e-5)
 * @param initStd standard deviation of the initial weights (GPT-2: 0.02)
 * @param objective causal language modelling, or BERT-style masked tokens with bidirectional
 *     attention
 */
public record ModelConfig(
    int vocabSize,
    int contextLength,
    int layers,
    int dModel,
    int heads,
    int mlpRatio,
    double dropout,
    boolean bias,
    boolean tiedEmbeddings,
    double normEpsilon,
    double initStd,
    Objective objective)
    implements Serializable {

  /** What the model is trained to predict. */
  public enum Objective {
    CAUSAL,
    MASKED
  }

  public ModelConfig {
    require(vocabSize >= 2, "model.vocab-size must be at least 2, got " + vocabSize);
    require(contextLength >= 1, "model.context-length must be positive, got " + contextLength);
    require(layers >= 1, "model.layers must be positive, got " + layers);
    require(heads >= 1, "model.heads must be positive, got " + heads);
    require(
        dModel >= heads && dModel % heads == 0,
        "model.d-model (" + dModel + ") must be a multiple of model.heads (" + heads + ")");
    require(mlpRatio >= 1, "model.mlp-ratio must be positive, got " + mlpRatio);
    require(dropout >= 0 && dropout < 1, "model.dropout must be in [0, 1), got " + dropout);
    require(normEpsilon > 0, "model.norm-epsilon must be positive, got " + normEpsilon);
    require(initStd > 0, "model.init-std must be positive, got " + initStd);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  public int headSize() {
    return dModel / heads;
  }

  public int mlpWidth() {
    return dModel * mlpRatio;
  }

  /** Trainable parameters (the tied output projection counted once). */
  public long parameters() {
    long d = dModel;
    long perLayer =
        2 * (2 * d)
            + (d * 3 * d + 3 * d)
            + (d * d + d)
            + (d * mlpWidth() + mlpWidth())
            + (mlpWidth() * d + d);
    if (!bias) {
      perLayer -= 2 * d + 3 * d + d + mlpWidth() + d;
    }
    long total = (long) vocabSize * d + (long) contextLength * d + layers * perLayer + 2 * d;
    if (!tiedEmbeddings) {
      total += (long) vocabSize * d;
    }
    return total;
  }

  /** Two layers of width 16: trains in seconds, for tests. */
  public static ModelConfig tiny(int vocabSize) {
    return new ModelConfig(
        vocabSize, 32, 2, 16, 2, 4, 0.0, true, true, 1e-5, 0.02, Objective.CAUSAL);
  }

  /** GPT-2 124M's shape. */
  public static ModelConfig small(int vocabSize) {
    return new ModelConfig(
        vocabSize, 1024, 12, 768, 12, 4, 0.0, true, true, 1e-5, 0.02, Objective.CAUSAL);
  }
}
