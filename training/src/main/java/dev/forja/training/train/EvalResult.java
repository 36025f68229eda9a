package dev.forja.training.train;

/**
 * Loss on the validation split.
 *
 * @param step the step evaluated after
 * @param loss mean loss per predicted token (nats)
 * @param tokens tokens predicted
 * @param bytes UTF-8 bytes of the predicted tokens
 */
public record EvalResult(long step, double loss, long tokens, long bytes) {
  public double perplexity() {
    return Math.exp(loss);
  }

  /** Bits per UTF-8 byte: comparable across tokenizers. */
  public double bitsPerByte() {
    return bytes == 0 ? Double.NaN : loss * tokens / Math.log(2) / bytes;
  }
}
