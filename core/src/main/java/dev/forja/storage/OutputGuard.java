package dev.forja.storage;

import java.io.IOException;
import java.net.URI;

/** Refuses to write into an output location that already holds data, unless told to replace it. */
public final class OutputGuard {
  private OutputGuard() {}

  /**
   * Throws {@link OutputExistsException} when {@code output} holds files and not {@code overwrite};
   * otherwise leaves it empty (what it held deleted, with {@code overwrite}; empty directories
   * without).
   */
  public static void prepare(Storage storage, URI output, boolean overwrite) throws IOException {
    storage.requireUsable(output);
    if (!storage.listFiles(output).isEmpty()) {
      if (!overwrite) {
        throw new OutputExistsException(
            "Cannot write to "
                + output
                + ": it already holds data (choose another --output, or pass --overwrite to replace"
                + " it)");
      }
      storage.delete(output, true);
      return;
    }
    // no files, but maybe the empty directories a killed job left behind (a Spark write's own
    // directory, say): no data, and in the way of writes that refuse an existing path
    for (Storage.Entry e : storage.list(output)) {
      storage.delete(e.uri(), true);
    }
  }

  /** The output location holds data and {@code --overwrite} was not given. */
  public static final class OutputExistsException extends RuntimeException {
    public OutputExistsException(String message) {
      super(message);
    }
  }
}
