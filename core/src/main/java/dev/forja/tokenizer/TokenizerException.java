package dev.forja.tokenizer;

/** A tokenizer file or setting that cannot be used; the message says what and where. */
public class TokenizerException extends RuntimeException {
  public TokenizerException(String message) {
    super(message);
  }

  public TokenizerException(String message, Throwable cause) {
    super(message, cause);
  }
}
