package dev.forja.training.train;

import dev.forja.shard.SequenceSampler;
import dev.forja.shard.ShardFormat;
import dev.forja.training.model.ModelConfig;
import java.util.SplittableRandom;

/**
 * Micro-batches from a {@link SequenceSampler}. Causal: inputs are a window's first {@code length}
 * tokens, targets the same shifted by one. Masked: BERT's rule: each position is chosen with {@code
 * train.mask-probability}; a chosen token becomes the mask token 80% of the time, a random token
 * 10%, itself 10%; only chosen positions have targets (others are -1). The masking randomness is a
 * function of (seed, step, micro-batch), so a resumed run masks exactly as an uninterrupted one.
 *
 * <p>Rows of supervised examples ({@link SequenceSampler#rows()}): inputs are the row, the target
 * of position {@code t} is token {@code t + 1} where that token is flagged as trained and does not
 * start the next example (else -1), the last position has none, and each position's index restarts
 * at every example's first token ({@link Batch#positions()}): the passes isolate examples by it.
 */
public final class Batches {
  /**
   * One micro-batch, row-major {@code [batch, length]}; {@code predicted} targets are not -1;
   * {@code positions} each token's position within its example, or null when each row is one
   * sequence (positions 0 to length - 1); {@code dropoutKey} the key of its LoRA dropout masks, a
   * function of the seed, step and micro-batch like the masking.
   */
  public record Batch(int[] ids, int[] targets, int predicted, int[] positions, long dropoutKey) {
    public Batch(int[] ids, int[] targets, int predicted) {
      this(ids, targets, predicted, null, 0);
    }
  }

  private final SequenceSampler sampler;
  private final int batch;
  private final int length;
  private final ModelConfig.Objective objective;
  private final double maskProbability;
  private final int maskId;
  private final int vocab;
  private final long seed;
  private final int[] window;
  private final byte[] flags;

  public Batches(
      SequenceSampler sampler,
      int batch,
      ModelConfig.Objective objective,
      double maskProbability,
      int maskId,
      int vocab,
      long seed) {
    this.sampler = sampler;
    this.batch = batch;
    this.length = sampler.length();
    this.objective = objective;
    this.maskProbability = maskProbability;
    this.maskId = maskId;
    this.vocab = vocab;
    this.seed = seed;
    this.window = new int[length + 1];
    this.flags = new byte[length + 1];
  }

  public SequenceSampler sampler() {
    return sampler;
  }

  /** The next micro-batch; {@code step} and {@code micro} select the masking randomness. */
  public Batch next(long step, int micro) {
    int[] ids = new int[batch * length];
    int[] targets = new int[batch * length];
    long key = seed ^ (0x9E3779B97F4A7C15L * (step * 1_000_003L + micro + 1));
    if (sampler.rows()) {
      return rows(ids, targets, key);
    }
    int predicted = 0;
    SplittableRandom rng = new SplittableRandom(key);
    for (int b = 0; b < batch; b++) {
      sampler.next(window);
      int off = b * length;
      if (objective == ModelConfig.Objective.CAUSAL) {
        System.arraycopy(window, 0, ids, off, length);
        System.arraycopy(window, 1, targets, off, length);
        predicted += length;
      } else {
        predicted += mask(window, ids, targets, off, rng);
      }
    }
    return new Batch(ids, targets, predicted, null, key);
  }

  private Batch rows(int[] ids, int[] targets, long key) {
    int[] positions = new int[batch * length];
    int predicted = 0;
    for (int b = 0; b < batch; b++) {
      sampler.next(window, flags);
      int off = b * length;
      System.arraycopy(window, 0, ids, off, length);
      int pos = 0;
      for (int t = 0; t < length; t++) {
        if ((flags[t] & ShardFormat.START) != 0) {
          pos = 0;
        }
        positions[off + t] = pos++;
        boolean trained =
            t + 1 < length
                && (flags[t + 1] & ShardFormat.LOSS) != 0
                && (flags[t + 1] & ShardFormat.START) == 0;
        targets[off + t] = trained ? window[t + 1] : -1;
        predicted += trained ? 1 : 0;
      }
    }
    return new Batch(ids, targets, predicted, positions, key);
  }

  private int mask(int[] src, int[] ids, int[] targets, int off, SplittableRandom rng) {
    int chosen = 0;
    for (int t = 0; t < length; t++) {
      int token = src[t];
      if (rng.nextDouble() < maskProbability) {
        chosen++;
        targets[off + t] = token;
        double r = rng.nextDouble();
        ids[off + t] = r < 0.8 ? maskId : r < 0.9 ? rng.nextInt(vocab) : token;
      } else {
        targets[off + t] = -1;
        ids[off + t] = token;
      }
    }
    if (chosen == 0) { // every sequence predicts at least one token
      int t = rng.nextInt(length);
      targets[off + t] = src[t];
      ids[off + t] = maskId;
      chosen = 1;
    }
    return chosen;
  }
}
