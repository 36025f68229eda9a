package dev.forja.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.time.Instant;

/**
 * The registry's lock: {@code lock.json} naming its owner (run, host, process) and when its lease
 * ends. A second run is refused while a lease holds; a lease that ran out (its run was killed) is
 * taken over, and so is one whose owner was a process on this host that no longer exists (a run
 * killed here). The run renews the lease at every stage and deletes the file at the end.
 */
final class Lock {
  static final String FILE = "lock.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Storage storage;
  private final URI file;
  private final String owner;
  private final long leaseSeconds;
  private final String host;

  private Lock(Storage storage, URI file, String owner, long leaseSeconds) {
    this.storage = storage;
    this.file = file;
    this.owner = owner;
    this.leaseSeconds = leaseSeconds;
    this.host = hostName();
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      return "unknown";
    }
  }

  /** Whether the lock's owner was a process of this host that has ended. */
  private static boolean ownerGone(JsonNode held) {
    if (!hostName().equals(held.path("host").asText()) || !held.path("pid").canConvertToLong()) {
      return false;
    }
    return ProcessHandle.of(held.path("pid").asLong()).map(h -> !h.isAlive()).orElse(true);
  }

  static Lock acquire(Storage storage, URI registry, String run, long leaseSeconds)
      throws IOException {
    URI file = Storage.resolve(registry, FILE);
    String owner =
        run
            + " on "
            + InetAddress.getLocalHost().getHostName()
            + " pid "
            + ProcessHandle.current().pid();
    if (storage.exists(file)) {
      JsonNode held = JSON.readTree(storage.readString(file));
      Instant expires = Instant.parse(held.path("expires").asText(Instant.EPOCH.toString()));
      boolean gone = ownerGone(held);
      if (Instant.now().isBefore(expires) && !gone) {
        throw new IllegalStateException(
            "the registry "
                + registry
                + " is locked by "
                + held.path("owner").asText()
                + " until "
                + expires
                + " (its lease): another run is working on it. A killed run's lock is taken over"
                + " once its lease ends (pipeline.lock-lease-seconds), or at once on the host it"
                + " ran on");
      }
      System.err.println(
          "forja run: taking over the lock of "
              + held.path("owner").asText()
              + (gone ? " (that process has ended)" : ", expired " + expires));
      storage.delete(file, false);
    }
    Lock lock = new Lock(storage, file, owner, leaseSeconds);
    lock.write(false);
    // two runs that both saw no lock: the one whose file is there now holds it
    JsonNode now = JSON.readTree(storage.readString(file));
    if (!owner.equals(now.path("owner").asText())) {
      throw new IllegalStateException(
          "the registry "
              + registry
              + " was locked by "
              + now.path("owner").asText()
              + " just now");
    }
    return lock;
  }

  private void write(boolean overwrite) throws IOException {
    ObjectNode n = JSON.createObjectNode();
    n.put("owner", owner);
    n.put("host", host);
    n.put("pid", ProcessHandle.current().pid());
    n.put("acquired", Instant.now().toString());
    n.put("expires", Instant.now().plusSeconds(leaseSeconds).toString());
    storage.writeString(file, n.toString(), overwrite);
  }

  void renew() throws IOException {
    write(true);
  }

  void release() throws IOException {
    JsonNode now = storage.exists(file) ? JSON.readTree(storage.readString(file)) : null;
    if (now != null && owner.equals(now.path("owner").asText())) {
      storage.delete(file, false);
    }
  }
}
