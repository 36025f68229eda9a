package dev.forja.shard;

/** Shards that cannot be used: missing, corrupt, or made with another tokenizer. */
public class ShardException extends RuntimeException {
  public ShardException(String message) {
    super(message);
  }

  public ShardException(String message, Throwable cause) {
    super(message, cause);
  }
}
