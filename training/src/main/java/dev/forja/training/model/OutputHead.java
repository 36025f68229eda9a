package dev.forja.training.model;

import static dev.forja.training.model.Blas.NO;
import static dev.forja.training.model.Blas.TR;
import static dev.forja.training.model.Blas.pgemm;

import dev.forja.training.runtime.Parallel;

/**
 * The output projection and the cross-entropy of the CPU kernels, forward and backward together, a
 * block of rows at a time: logits of a block, each row's loss, and (when training) the row's logits
 * turned into d loss / d logits, from which the input's gradient and the head's are taken before
 * the next block. Only one block of logits is ever held: {@link #MAX_LOGITS} floats bound it, which
 * matters for vocabularies of 150,000 tokens (the whole batch's logits would be a gigabyte and
 * more).
 */
final class OutputHead {
  /** Floats of logits held at once (the block's rows times the vocabulary), 256 MB. */
  static final long MAX_LOGITS = 64L << 20;

  private final int n;
  private final int d;
  private final int vocab;
  private final int block;
  private final Buf logits;
  private final double[] rowLoss;

  OutputHead(int n, int d, int vocab) {
    this.n = n;
    this.d = d;
    this.vocab = vocab;
    this.block = blockRows(n, vocab);
    this.logits = Buf.alloc((long) block * vocab);
    this.rowLoss = new double[n];
  }

  private static int blockRows(int n, int vocab) {
    return (int) Math.max(1, Math.min(n, MAX_LOGITS / vocab));
  }

  /** Floats this holds for {@code n} rows. */
  static long floats(long n, long vocab) {
    return blockRows((int) Math.min(Integer.MAX_VALUE, n), (int) vocab) * vocab;
  }

  /**
   * The scaled summed loss of {@code in [n, d] @ head^T} against {@code targets} (-1: none); when
   * {@code dIn} is given, {@code dIn = d loss / d in} (overwritten) and {@code dHead += d loss / d
   * head}.
   */
  double loss(Buf in, Buf head, int[] targets, double scale, Buf dIn, Buf dHead) {
    for (int t : targets) {
      if (t < -1 || t >= vocab) {
        throw new IllegalArgumentException(
            "target " + t + " is outside the vocabulary (size " + vocab + ")");
      }
    }
    boolean training = dIn != null;
    float s = (float) scale;
    for (int r0 = 0; r0 < n; r0 += block) {
      int rows = Math.min(block, n - r0);
      int first = r0;
      pgemm(NO, TR, rows, vocab, d, 1f, in, (long) r0 * d, d, head, 0, d, 0f, logits, 0, vocab);
      Parallel.forRange(
          rows,
          (from, to) -> {
            for (int r = from; r < to; r++) {
              rowLoss[first + r] =
                  KernelMath.crossEntropy(logits, vocab, r, targets[first + r], training, s);
            }
          });
      if (training) {
        pgemm(NO, NO, rows, d, vocab, 1f, logits, 0, vocab, head, 0, d, 0f, dIn, (long) r0 * d, d);
        if (dHead != null) { // null: a frozen head
          pgemm(
              TR, NO, vocab, d, rows, 1f, logits, 0, vocab, in, (long) r0 * d, d, 1f, dHead, 0, d);
        }
      }
    }
    double sum = 0;
    for (int r = 0; r < n; r++) {
      sum += rowLoss[r];
    }
    return sum * scale;
  }
}
