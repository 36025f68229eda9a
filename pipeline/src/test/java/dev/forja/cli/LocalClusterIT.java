package dev.forja.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.pipeline.ForjaConfig;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The distributed path end to end, as a user runs it: {@code submit-scripts/local-cluster start}
 * (Spark Master + 2 Workers, HDFS, S3), two Forja jobs through {@code submit-scripts/forja-submit}
 * (generate a corpus onto HDFS; count it from HDFS into S3) on two executor JVMs, then {@code
 * stop}, which must leave no process behind.
 */
@Tag("cluster")
class LocalClusterIT {
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  static final Path STATE = Path.of("target", "local-cluster-it").toAbsolutePath();
  static final String PORT_BASE = "27000";

  record Result(int code, String output) {}

  static Result script(long timeoutSeconds, String... command) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(command));
    cmd.set(0, ROOT.resolve(cmd.get(0)).toString());
    Path log = Files.createTempFile(STATE.getParent(), "script-", ".log");
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("FORJA_LOCAL_DIR", STATE.toString());
    pb.environment().put("FORJA_PORT_BASE", PORT_BASE);
    pb.environment().put("FORJA_DRIVER_MEMORY", "1g");
    pb.environment().remove("SPARK_HOME");
    Process p = pb.start();
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return new Result(124, Files.readString(log));
    }
    return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }

  @AfterAll
  static void stopCluster() throws Exception {
    script(120, "submit-scripts/local-cluster", "stop");
  }

  @Test
  void forjaJobsRunOnTwoExecutorsAgainstHdfsAndS3AndStopLeavesNothing() throws Exception {
    Files.createDirectories(STATE.getParent());
    Result start = script(300, "submit-scripts/local-cluster", "start");
    assertThat(start.code()).as(start.output()).isZero();
    assertThat(start.output()).contains("workers registered with the master: 2");

    String preset = STATE.resolve("spark.conf").toString();
    String conf = STATE.resolve("local-cluster.yaml").toString();
    String hdfs = "hdfs://127.0.0.1:" + (Integer.parseInt(PORT_BASE) + 20);
    Result gen =
        script(
            300,
            "submit-scripts/forja-submit",
            "--preset",
            preset,
            "corpus",
            "generate",
            "--conf",
            conf,
            "--output",
            hdfs + "/corpus",
            "--size-mb",
            "2");
    assertThat(gen.code()).as(gen.output()).isZero();
    assertThat(gen.output()).contains("Wrote ").contains("to " + hdfs + "/corpus");

    Result stats =
        script(
            300,
            "submit-scripts/forja-submit",
            "--preset",
            preset,
            "corpus",
            "stats",
            "--conf",
            conf,
            "--input",
            hdfs + "/corpus",
            "--output",
            "s3a://forja/stats");
    assertThat(stats.code()).as(stats.output()).isZero();

    // What the jobs wrote, read back independently through the same storage settings.
    ForjaConfig cfg = ForjaConfig.load(List.of(Path.of(conf)), List.of());
    Storage storage = new Storage(cfg.storage());
    CommitManifest corpus =
        CommitManifest.read(storage, URI.create(hdfs + "/corpus")).orElseThrow();
    corpus.verify(storage, URI.create(hdfs + "/corpus"), true);
    JsonNode json =
        new ObjectMapper().readTree(storage.readString(URI.create("s3a://forja/stats/stats.json")));
    assertThat(json.get("documents").asLong())
        .isEqualTo(Long.parseLong(corpus.properties().get("documents")));
    assertThat(json.get("malformed")).isNull();

    // Both Workers launched executor JVMs for both applications.
    for (String worker : List.of("worker-1", "worker-2")) {
      try (Stream<Path> apps = Files.list(STATE.resolve(worker))) {
        assertThat(apps.filter(p -> p.getFileName().toString().startsWith("app-")).count())
            .as(worker + " ran executors")
            .isEqualTo(2);
      }
    }

    Result stop = script(120, "submit-scripts/local-cluster", "stop");
    assertThat(stop.code()).as(stop.output()).isZero();
    assertThat(stop.output()).contains("nothing left running");
    assertThat(processesMentioning(STATE.toString())).isEmpty();
  }

  static List<String> processesMentioning(String text) throws IOException {
    List<String> found = new ArrayList<>();
    ProcessHandle.allProcesses()
        .forEach(
            ph -> {
              String cmd = ph.info().commandLine().orElse("");
              if (cmd.contains(text + File.separator)
                  && ph.pid() != ProcessHandle.current().pid()) {
                found.add(ph.pid() + " " + cmd);
              }
            });
    return found;
  }
}
