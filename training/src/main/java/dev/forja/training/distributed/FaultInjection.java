package dev.forja.training.distributed;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * For fault-tolerance tests: the executor JVM that runs {@code worker} in {@code round} halts (exit
 * 137, no shutdown hooks, as if killed by the OS) after its first local step, once: a marker file
 * records that it happened, so Spark's retry runs normally. Set with the system property {@code
 * forja.test.kill-executor=ROUND:WORKER:MARKER_PATH} on the driver; never in production.
 */
public record FaultInjection(long round, int worker, String marker) implements Serializable {
  public static final String PROPERTY = "forja.test.kill-executor";

  /** The hook the driver's system property asks for, or null. */
  public static FaultInjection fromSystemProperty() {
    String v = System.getProperty(PROPERTY);
    if (v == null || v.isBlank()) {
      return null;
    }
    String[] p = v.split(":", 3);
    return new FaultInjection(Long.parseLong(p[0]), Integer.parseInt(p[1]), p[2]);
  }

  /** Halts this JVM if this is the chosen worker's first attempt in the chosen round. */
  void maybeKill(long round, int worker) {
    if (round != this.round || worker != this.worker) {
      return;
    }
    try {
      Files.createFile(Path.of(marker));
    } catch (java.nio.file.FileAlreadyExistsException e) {
      return;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    System.err.println("fault injection: halting executor JVM in round " + round);
    Runtime.getRuntime().halt(137);
  }
}
