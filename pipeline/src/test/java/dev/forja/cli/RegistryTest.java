package dev.forja.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.MiniHdfs;
import dev.forja.testing.S3Server;
import dev.forja.testing.TestDirs;
import java.io.PrintStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The registry on each store (local files, HDFS, S3): promotions replace {@code champion.json}
 * whole while a reader polls it (as forja run and the model commands read it), and the reader finds
 * the old champion or the new one every time, never none and never a partial file; no temporary
 * file stays behind; a rollback restores the predecessor; the history has an entry per change.
 */
@Tag("storage")
class RegistryTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @ParameterizedTest
  @ValueSource(strings = {"file", "hdfs", "s3a"})
  void aReaderSeesTheOldOrTheNewChampionNeverNoneNorAMix(String store) throws Exception {
    StorageConfig config =
        switch (store) {
          case "hdfs" -> MiniHdfs.storageConfig();
          case "s3a" -> S3Server.storageConfig();
          default -> StorageConfig.defaults();
        };
    Storage storage = new Storage(config);
    String name = "registry-" + System.nanoTime();
    URI registry =
        switch (store) {
          case "hdfs" -> Storage.resolve(MiniHdfs.uri(), name);
          case "s3a" -> URI.create("s3a://" + S3Server.BUCKET + "/" + name);
          default -> TestDirs.create("registry-").toUri();
        };
    URI file = Storage.resolve(registry, Registry.CHAMPION);
    // a champion record of some size, so that a partial write would show as broken JSON
    String padding = "x".repeat(20_000);
    promote(storage, registry, 0, padding);

    AtomicBoolean done = new AtomicBoolean();
    List<String> seen = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    Thread reader =
        new Thread(
            () -> {
              while (!done.get()) {
                try {
                  JsonNode c = Registry.read(storage, file);
                  if (c == null) {
                    problems.add("no champion.json");
                    continue;
                  }
                  seen.add(c.path("model").asText());
                } catch (Exception e) { // gone between exists and read, or partial JSON
                  problems.add(e.toString());
                }
              }
            });
    reader.start();
    int promotions = 12;
    for (int i = 1; i <= promotions; i++) {
      promote(storage, registry, i, padding);
    }
    done.set(true);
    reader.join();
    assertThat(problems).isEmpty();
    assertThat(seen).isNotEmpty().allMatch(m -> m.matches("file:/models/m[0-9]+"));

    JsonNode champion = JSON.readTree(storage.readString(file));
    assertThat(champion.path("model").asText()).isEqualTo("file:/models/m" + promotions);
    assertThat(champion.path("previous").path("model").asText())
        .isEqualTo("file:/models/m" + (promotions - 1));
    assertThat(storage.list(registry))
        .extracting(e -> e.uri().getPath().replaceAll(".*/", ""))
        .containsExactlyInAnyOrder(Registry.CHAMPION, Registry.HISTORY);
    assertThat(storage.list(Storage.resolve(registry, Registry.HISTORY))).hasSize(promotions + 1);

    JsonNode back = Registry.rollback(storage, registry);
    assertThat(back.path("model").asText()).isEqualTo("file:/models/m" + (promotions - 1));
    assertThat(JSON.readTree(storage.readString(file)).path("reason").asText())
        .isEqualTo("rolled back from file:/models/m" + promotions);
    assertThat(storage.list(Storage.resolve(registry, Registry.HISTORY))).hasSize(promotions + 2);
  }

  /** Decides candidate {@code i} against the champion with no gate: it is promoted. */
  private static void promote(Storage storage, URI registry, int i, String padding)
      throws Exception {
    ObjectNode results = JSON.createObjectNode();
    var metrics = results.putArray("metrics");
    for (String model : List.of("candidate", "champion")) {
      metrics.addObject().put("model", model).put("task", "t").put("metric", "m").put("value", i);
    }
    var lineage = JSON.createArrayNode();
    lineage.addObject().put("stage", "train").put("note", padding);
    URI output = Storage.resolve(registry, "../promote-" + registry.hashCode() + "-" + i);
    Registry.decide(
        storage,
        registry,
        output.normalize(),
        URI.create("file:/models/m" + i),
        null,
        results,
        List.of(),
        lineage,
        new PrintStream(java.io.OutputStream.nullOutputStream()));
  }
}
