package dev.forja.cli;

import static dev.forja.cli.ForjaCliTest.forja;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.testing.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * forja run killed for real (its JVM, from submit-scripts/forja): killed while training, the next
 * run reuses prep, the tokenizer and the shards and resumes the training run from its checkpoint,
 * taking over the lock the dead run left; halted between writing the new champion and moving it
 * into place, the registry still names the old champion, whole, and the next run completes the
 * promotion without redoing anything before it.
 */
@Tag("pipeline")
class PipelineKillIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  private static Process start(Path log, String javaOpts, String... args) throws Exception {
    List<String> cmd =
        new java.util.ArrayList<>(List.of(ROOT.resolve("submit-scripts/forja").toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("FORJA_DRIVER_MEMORY", "1g");
    if (javaOpts != null) {
      pb.environment().put("FORJA_JAVA_OPTS", javaOpts);
    }
    return pb.start();
  }

  private static boolean checkpointed(Path work) throws Exception {
    if (!Files.isDirectory(work)) {
      return false;
    }
    try (Stream<Path> s = Files.walk(work, 4)) {
      return s.anyMatch(
          p ->
              p.getFileName().toString().equals("_MANIFEST.json")
                  && p.getParent().getFileName().toString().startsWith("step-")
                  && p.toString().contains("/train-"));
    }
  }

  @Test
  void killedCyclesResumeAndNeverLeaveAMixedChampion() throws Exception {
    Path dir = TestDirs.create("pipeline-kill-");
    Path conf = PipelineRunTest.setup(dir, 400, 50);
    Path log = dir.resolve("killed.log");

    // 1. killed while training
    Process p = start(log, null, "run", "--conf", conf.toString());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
    while (!checkpointed(dir.resolve("work")) && p.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(p.isAlive()).as(Files.readString(log)).isTrue();
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    p.waitFor(30, TimeUnit.SECONDS);
    assertThat(Files.readString(log)).contains("== train        runs");
    assertThat(dir.resolve("registry/" + Lock.FILE)).exists(); // the dead run's

    // the next run, in a JVM of its own too (training prints its progress to the process's
    // standard output)
    Path log1 = dir.resolve("resumed.log");
    Process again = start(log1, null, "run", "--conf", conf.toString());
    assertThat(again.waitFor(300, TimeUnit.SECONDS)).isTrue();
    String resumed = Files.readString(log1);
    assertThat(again.exitValue()).as(resumed).isZero();
    assertThat(resumed)
        .contains("== generate     reused", "== prep         reused", "== tokenize     reused")
        .contains("== train        runs")
        .contains("stopped before it finished")
        .contains("resuming from")
        .contains("taking over the lock")
        .contains("that process has ended")
        .contains("promoted: ");
    JsonNode first = JSON.readTree(dir.resolve("registry/champion.json").toFile());

    // 2. halted in the middle of the promotion: the old champion stays, whole
    Path marker = dir.resolve("halted");
    Path log2 = dir.resolve("promotion.log");
    String[] cycle2 = {
      "run", "--conf", conf.toString(), "--set", "pipeline.sft-input=" + dir.resolve("good2.jsonl")
    };
    Files.copy(dir.resolve("good.jsonl"), dir.resolve("good2.jsonl"));
    Files.writeString(dir.resolve("good2.jsonl"), "\n", java.nio.file.StandardOpenOption.APPEND);
    Process q = start(log2, "-D" + Registry.HALT_PROPERTY + "=" + marker, cycle2);
    assertThat(q.waitFor(300, TimeUnit.SECONDS)).isTrue();
    assertThat(q.exitValue()).as(Files.readString(log2)).isEqualTo(137);
    assertThat(marker).exists();
    JsonNode still = JSON.readTree(dir.resolve("registry/champion.json").toFile());
    assertThat(still).isEqualTo(first);

    ForjaCliTest.Run completed = forja(cycle2);
    assertThat(completed.code()).as(completed.out() + completed.err()).isZero();
    assertThat(completed.out())
        .contains("== finetune     reused", "== eval         reused", "== promote      runs")
        .contains("promoted: ");
    JsonNode now = JSON.readTree(dir.resolve("registry/champion.json").toFile());
    assertThat(now.get("model").asText()).isNotEqualTo(first.get("model").asText());
    assertThat(now.get("previous").get("model").asText()).isEqualTo(first.get("model").asText());
  }
}
