package dev.forja.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.pipeline.GateRule;
import dev.forja.prep.corpus.InstructionSet;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model registry: {@code champion.json} (the model in service, its bundle, its metrics and the
 * decision that promoted it), {@code history/} (one file per promotion or rollback) and each
 * candidate's {@code decision.json} in its promote stage's output. {@code champion.json} is one
 * object written whole: on S3 a single PUT, elsewhere a temporary file renamed over it in one
 * operation, so a reader sees the old champion or the new one, never a mix and never none.
 */
final class Registry {
  static final String CHAMPION = "champion.json";
  static final String HISTORY = "history";
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Registry() {}

  /**
   * Applies the gate to the candidate's metrics against the champion's (both from the same
   * evaluation), writes the decision, and promotes a candidate that passes.
   */
  static void decide(
      Storage storage,
      URI registry,
      URI output,
      URI candidate,
      URI bundle,
      JsonNode results,
      List<String> gate,
      ArrayNode lineage,
      PrintStream out)
      throws IOException {
    Map<String, Double> mine = metrics(results, "candidate");
    Map<String, Double> theirs = metrics(results, "champion");
    JsonNode champion = read(storage, Storage.resolve(registry, CHAMPION));
    List<String> passed = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    for (String text : gate) {
      GateRule rule = GateRule.parse(text);
      String key = rule.task() + "/" + rule.metric();
      Double c = mine.get(key);
      if (c == null) {
        failed.add(
            key + ": the evaluation has no such metric for the candidate; it has " + mine.keySet());
        continue;
      }
      if (champion == null) {
        passed.add(key + ": no champion yet (candidate " + c + ")");
        continue;
      }
      Double h = theirs.get(key);
      if (h == null) {
        failed.add(key + ": the evaluation has no such metric for the champion");
        continue;
      }
      (rule.passes(c, h) ? passed : failed).add(rule.describe(c, h));
    }
    boolean promoted = failed.isEmpty();
    ObjectNode d = JSON.createObjectNode();
    d.put("model", candidate.toString());
    if (bundle != null) {
      d.put("bundle", bundle.toString());
    }
    d.put("promoted", promoted);
    d.put(
        "reason",
        promoted
            ? (champion == null ? "the first champion" : "passed every rule of promote.gate")
            : "failed " + String.join("; ", failed));
    d.set("passed", JSON.valueToTree(passed));
    d.set("failed", JSON.valueToTree(failed));
    d.set("metrics", JSON.valueToTree(mine));
    if (champion != null) {
      d.put("champion", champion.path("model").asText());
    }
    d.put("decided", Instant.now().toString());
    d.set("lineage", lineage);
    storage.writeString(Storage.resolve(output, "decision.json"), JSON.writeValueAsString(d), true);
    if (promoted) {
      ObjectNode c = d.deepCopy();
      c.put("decision", Storage.resolve(output, "decision.json").toString());
      if (champion != null) {
        c.set("previous", champion);
      }
      setChampion(storage, registry, c, "promote");
    }
    CommitManifest.commit(storage, output, "forja-promotion", Map.of("promoted", "" + promoted));
  }

  /** Each metric of {@code model} in an evaluation's results, as {@code task/metric}. */
  static Map<String, Double> metrics(JsonNode results, String model) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (JsonNode m : results.path("metrics")) {
      if (m.path("model").asText().equals(model)) {
        out.put(
            m.path("task").asText() + "/" + m.path("metric").asText(), m.path("value").asDouble());
      }
    }
    return out;
  }

  /**
   * A registry file, or null where there is none. S3 refuses a read whose object was replaced while
   * it read (its ETag changed: HTTP 412), which is never a mix of two versions; such a read is
   * tried again, a few times.
   */
  static JsonNode read(Storage storage, URI file) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        return storage.exists(file) ? JSON.readTree(storage.readString(file)) : null;
      } catch (IOException e) {
        if (attempt == 5 || !changedWhileRead(e)) {
          throw e;
        }
        try {
          Thread.sleep(50L * attempt);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  private static boolean changedWhileRead(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = String.valueOf(t.getMessage());
      if (t.getClass().getSimpleName().equals("RemoteFileChangedException")
          || m.contains("Status Code: 412")
          || m.contains("preconditions you specified did not hold")) {
        return true;
      }
    }
    return false;
  }

  /** Writes {@code champion.json} whole, then its history entry. */
  static void setChampion(Storage storage, URI registry, ObjectNode champion, String action)
      throws IOException {
    URI target = Storage.resolve(registry, CHAMPION);
    String text = JSON.writeValueAsString(champion);
    if ("s3a".equals(target.getScheme()) || "s3".equals(target.getScheme())) {
      storage.writeString(target, text, true); // one PUT: the object is replaced whole
    } else {
      URI tmp = Storage.resolve(registry, CHAMPION + ".tmp-" + System.nanoTime());
      storage.writeString(tmp, text, false);
      haltForTests();
      replace(storage, tmp, target);
    }
    ObjectNode h = JSON.createObjectNode();
    h.put("action", action);
    h.put("at", Instant.now().toString());
    h.put("model", champion.path("model").asText());
    h.set("metrics", champion.path("metrics"));
    h.put("reason", champion.path("reason").asText());
    storage.writeString(
        Storage.resolve(
            Storage.resolve(registry, HISTORY),
            Instant.now().toString().replace(":", "").replace(".", "") + "-" + action + ".json"),
        JSON.writeValueAsString(h),
        false);
  }

  /**
   * Moves {@code tmp} over {@code target} in one step, so that a reader finds the old file or the
   * new one, never none: POSIX rename on the local file system, HDFS's rename with overwrite (one
   * NameNode operation) elsewhere.
   */
  private static void replace(Storage storage, URI tmp, URI target) throws IOException {
    if ("file".equals(target.getScheme())) {
      java.nio.file.Files.move(
          java.nio.file.Path.of(tmp),
          java.nio.file.Path.of(target),
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      return;
    }
    var conf = storage.fileSystem(target).getConf();
    URI root = URI.create(target.getScheme() + "://" + target.getRawAuthority() + "/");
    org.apache.hadoop.fs.FileContext.getFileContext(root, conf)
        .rename(
            new org.apache.hadoop.fs.Path(tmp),
            new org.apache.hadoop.fs.Path(target),
            org.apache.hadoop.fs.Options.Rename.OVERWRITE);
  }

  /** Test hook: the system property's marker file names a JVM to halt mid-promotion, once. */
  static final String HALT_PROPERTY = "forja.test.halt-in-promotion";

  /**
   * For the killed-promotion test: with {@value #HALT_PROPERTY}{@code =MARKER}, the JVM halts (exit
   * 137, as if killed) between writing the new champion and moving it into place, the first time
   * (the marker file records it). Never set in production.
   */
  private static void haltForTests() {
    String marker = System.getProperty(HALT_PROPERTY);
    if (marker == null || marker.isBlank()) {
      return;
    }
    try {
      java.nio.file.Files.createFile(java.nio.file.Path.of(marker));
    } catch (java.nio.file.FileAlreadyExistsException e) {
      return;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    System.err.println("fault injection: halting in the middle of a promotion");
    Runtime.getRuntime().halt(137);
  }

  /** The promotions and rollbacks, oldest first. */
  static List<JsonNode> history(Storage storage, URI registry) throws IOException {
    URI dir = Storage.resolve(registry, HISTORY);
    List<JsonNode> out = new ArrayList<>();
    if (!storage.exists(dir)) {
      return out;
    }
    List<Storage.Entry> files = new ArrayList<>(storage.listFiles(dir));
    files.sort(java.util.Comparator.comparing(e -> e.uri().toString()));
    for (Storage.Entry e : files) {
      out.add(JSON.readTree(storage.readString(e.uri())));
    }
    return out;
  }

  /** Makes the champion's predecessor the champion again. */
  static JsonNode rollback(Storage storage, URI registry) throws IOException {
    JsonNode champion = read(storage, Storage.resolve(registry, CHAMPION));
    if (champion == null) {
      throw new IllegalArgumentException(registry + " has no champion to roll back");
    }
    if (!champion.has("previous")) {
      throw new IllegalArgumentException(
          "the champion "
              + champion.path("model").asText()
              + " has no predecessor to roll back to");
    }
    ObjectNode prev = (ObjectNode) champion.get("previous").deepCopy();
    prev.put("reason", "rolled back from " + champion.path("model").asText());
    setChampion(storage, registry, prev, "rollback");
    return prev;
  }

  /** The instructions stage: the generated instruction set and held-out evaluation data. */
  static void writeInstructions(Storage storage, URI output) throws IOException {
    if (storage.exists(output)) { // what an interrupted run left
      storage.delete(output, true);
    }
    StringBuilder train = new StringBuilder();
    for (InstructionSet.Example e : InstructionSet.languageOfSentence(300, false)) {
      train
          .append(
              JSON.copy()
                  .disable(SerializationFeature.INDENT_OUTPUT)
                  .writeValueAsString(Map.of("prompt", e.prompt(), "completion", e.completion())))
          .append('\n');
    }
    StringBuilder gen = new StringBuilder();
    StringBuilder mc = new StringBuilder();
    ObjectMapper line = JSON.copy().disable(SerializationFeature.INDENT_OUTPUT);
    for (InstructionSet.Example e : InstructionSet.languageOfSentence(60, true)) {
      gen.append(
              line.writeValueAsString(
                  Map.of("prompt", e.prompt(), "references", List.of(e.completion()))))
          .append('\n');
      mc.append(line.writeValueAsString(InstructionSet.multipleChoice(e))).append('\n');
    }
    storage.writeString(Storage.resolve(output, "train.jsonl"), train.toString(), true);
    storage.writeString(Storage.resolve(output, "language-id.jsonl"), gen.toString(), true);
    storage.writeString(Storage.resolve(output, "language-mc.jsonl"), mc.toString(), true);
    CommitManifest.commit(storage, output, "forja-instructions", Map.of("examples", "300"));
  }
}
