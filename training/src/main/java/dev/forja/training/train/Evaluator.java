package dev.forja.training.train;

import dev.forja.shard.SequenceSampler;
import dev.forja.training.model.LossPass;

/**
 * Loss, perplexity and bits per byte on the validation split: the same {@code evalBatches}
 * micro-batches every time (the sampler restarts at its first sequence, masking is seeded by batch
 * number), so evaluations are comparable across steps and runs.
 */
public final class Evaluator {
  private final LossPass pass;
  private final Batches batches;
  private final int evalBatches;
  private final int[] byteLength;

  /**
   * @param byteLength UTF-8 bytes of each token id (0 for special tokens)
   */
  public Evaluator(LossPass pass, Batches batches, int evalBatches, int[] byteLength) {
    this.pass = pass;
    this.batches = batches;
    this.evalBatches = evalBatches;
    this.byteLength = byteLength;
  }

  public EvalResult evaluate(long step) {
    batches.sampler().seek(SequenceSampler.Cursor.START);
    double sum = 0;
    long tokens = 0;
    long bytes = 0;
    for (int i = 0; i < evalBatches; i++) {
      Batches.Batch b = batches.next(-1, i);
      sum += pass.loss(b.ids(), b.targets(), b.positions(), 1.0);
      tokens += b.predicted();
      for (int t : b.targets()) {
        if (t >= 0 && t < byteLength.length) {
          bytes += byteLength[t];
        }
      }
    }
    return new EvalResult(step, sum / tokens, tokens, bytes);
  }
}
