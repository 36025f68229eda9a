package dev.forja.cli;

import static dev.forja.cli.ForjaCliTest.forja;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.testing.S3Server;
import dev.forja.testing.TestDirs;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The S3 server goes down for a few seconds while forja run's prep stage works on it (its outputs
 * on S3): the stage fails, is run again once the store is back, and what is committed verifies file
 * by file; nothing the failed attempt half-wrote is left in the committed output.
 */
@Tag("storage")
class PipelineOutageTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void aStageWhoseStoreWentAwayRunsAgainAndCommitsWholeOutputs() throws Exception {
    Path dir = TestDirs.create("pipeline-outage-");
    // a bucket of its own: Hadoop caches one S3A client per bucket and JVM, and one that another
    // test made would keep that test's retry settings and ride over the outage
    String bucketName = "forja-outage";
    S3Server.createBucket(bucketName);
    String work = "s3a://" + bucketName + "/outage-" + System.nanoTime();
    Path conf = dir.resolve("pipeline.yaml");
    Files.writeString(
        conf,
        String.join(
            "\n",
            "spark: {master: 'local[2]', ui-enabled: false}",
            "corpus: {size-mb: 2, seed: 5}",
            "storage:",
            "  s3: {endpoint: '"
                + S3Server.endpoint()
                + "', access-key: "
                + S3Server.ACCESS_KEY
                + ", secret-key: "
                + S3Server.SECRET_KEY
                + ", path-style-access: true, ssl-enabled: false}",
            "  hadoop: {fs.s3a.attempts.maximum: 1, fs.s3a.retry.limit: 1,"
                + " fs.s3a.connection.establish.timeout: 2s}",
            "pipeline:",
            "  work: " + work,
            "  registry: " + dir.resolve("registry"),
            "  stages: [generate, prep]",
            "  stage-retries: 3",
            "  stage-retry-wait-seconds: 4",
            ""));
    Path bucket = S3Server.bucketDir(bucketName);
    String prefix = work.substring(work.lastIndexOf('/') + 1);
    AtomicBoolean restarted = new AtomicBoolean();
    Thread outage =
        new Thread(
            () -> {
              try {
                long deadline = System.nanoTime() + 300_000_000_000L;
                while (System.nanoTime() < deadline) {
                  Path w = bucket.resolve(prefix);
                  if (Files.isDirectory(w)) {
                    try (Stream<Path> s = Files.list(w)) {
                      if (s.anyMatch(p -> p.getFileName().toString().startsWith("prep-"))) {
                        S3Server.restart(3000);
                        restarted.set(true);
                        return;
                      }
                    }
                  }
                  Thread.sleep(50);
                }
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    outage.start();
    ForjaCliTest.Run run = forja("run", "--conf", conf.toString());
    outage.join();
    assertThat(restarted).isTrue();
    assertThat(run.code()).as(run.out() + run.err()).isZero();
    assertThat(run.err()).contains("stage prep failed").contains("running it again");

    Storage storage =
        new Storage(
            dev.forja.pipeline.ForjaConfig.load(java.util.List.of(conf), java.util.List.of())
                .storage());
    JsonNode summary = null;
    for (Storage.Entry e : storage.listFiles(URI.create(work + "/runs"))) {
      summary = JSON.readTree(storage.readString(e.uri()));
    }
    JsonNode prep = summary.get("stages").get(1);
    assertThat(prep.get("stage").asText()).isEqualTo("prep");
    assertThat(prep.get("attempts").asInt()).isGreaterThan(1);
    URI out = URI.create(prep.get("output").asText());
    CommitManifest m = CommitManifest.read(storage, out).orElseThrow();
    m.verify(storage, out, true); // every committed file whole, by size and SHA-256

    ForjaCliTest.Run again = forja("run", "--conf", conf.toString());
    assertThat(again.code()).as(again.out() + again.err()).isZero();
    assertThat(again.out()).contains("== generate     reused", "== prep         reused");
  }
}
