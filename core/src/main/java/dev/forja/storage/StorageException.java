package dev.forja.storage;

/** A storage URI that cannot be used as configured; the message says which keys to set. */
public final class StorageException extends RuntimeException {
  public StorageException(String message) {
    super(message);
  }

  public StorageException(String message, Throwable cause) {
    super(message, cause);
  }
}
