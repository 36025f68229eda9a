package dev.forja.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.cli.ClusterScripts.Result;
import dev.forja.pipeline.ForjaConfig;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.testing.GrammarShards;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.distributed.Tensors;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The distributed path end to end, as a user runs it: {@code submit-scripts/local-cluster start}
 * (Spark Master + 2 Workers, HDFS, S3), Forja jobs through {@code submit-scripts/forja-submit}
 * (generate a corpus onto HDFS; count it from HDFS into S3; train with 2 workers, the driver killed
 * mid-run and the command rerun) on two executor JVMs, then {@code stop}, which must leave no
 * process behind.
 */
@Tag("cluster")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalClusterIT {
  static final Path STATE = Path.of("target", "local-cluster-it").toAbsolutePath();
  static final String PORT_BASE = "27000";
  static final ClusterScripts SCRIPTS = new ClusterScripts(STATE, PORT_BASE, Map.of());

  static final String PRESET = STATE.resolve("spark.conf").toString();
  static final String CONF = STATE.resolve("local-cluster.yaml").toString();
  static final String HDFS = "hdfs://127.0.0.1:" + (Integer.parseInt(PORT_BASE) + 20);

  static Result script(long timeoutSeconds, String... command) throws Exception {
    return SCRIPTS.script(timeoutSeconds, command);
  }

  static Process start(Path log, String... command) throws IOException {
    return SCRIPTS.start(log, command);
  }

  static void kill(Process p) throws InterruptedException {
    ClusterScripts.kill(p);
  }

  @BeforeAll
  static void startCluster() throws Exception {
    Files.createDirectories(STATE.getParent());
    Result start = script(300, "submit-scripts/local-cluster", "start");
    assertThat(start.code()).as(start.output()).isZero();
    assertThat(start.output()).contains("workers registered with the master: 2");
  }

  @AfterAll
  static void stopCluster() throws Exception {
    script(120, "submit-scripts/local-cluster", "stop");
  }

  @Test
  @Order(1)
  void forjaJobsRunOnTwoExecutorsAgainstHdfsAndS3() throws Exception {
    String preset = PRESET;
    String conf = CONF;
    String hdfs = HDFS;
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
            .isGreaterThanOrEqualTo(2);
      }
    }
  }

  static String[] train(String shards, String run) {
    List<String> cmd = new ArrayList<>(List.of("submit-scripts/forja-submit", "--preset", PRESET));
    cmd.addAll(ClusterScripts.trainArgs(shards, run, 24));
    cmd.addAll(List.of("--conf", CONF));
    return cmd.toArray(String[]::new);
  }

  @Test
  @Order(2)
  void aDriverKilledMidRunResumesWhereItsLastCheckpointLeftAndEndsBitIdentical() throws Exception {
    ForjaConfig cfg = ForjaConfig.load(List.of(Path.of(CONF)), List.of());
    Storage storage = new Storage(cfg.storage());
    String shards = HDFS + "/grammar";
    GrammarShards.write(storage, URI.create(shards), 40_000, 4_000);

    Result clean = script(400, train(shards, HDFS + "/runs/clean"));
    assertThat(clean.code()).as(clean.output()).isZero();
    assertThat(clean.output()).contains("distributed: 2 workers").contains("completed at step 24");

    evaluatesOnTheClusterAsInTheDriver(storage, shards, HDFS + "/runs/clean");

    String run = HDFS + "/runs/killed";
    Path log = Files.createTempFile(STATE.getParent(), "killed-", ".log");
    Process driver = start(log, train(shards, run));
    long deadline = System.nanoTime() + 400_000_000_000L;
    // a manifest file is visible on HDFS as soon as it is created: wait until one reads complete
    while (!committed(storage, URI.create(run))
        && driver.isAlive()
        && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(driver.isAlive()).as(Files.readString(log)).isTrue();
    kill(driver);
    assertThat(storage.exists(URI.create(run + "/checkpoints/step-00000024/_MANIFEST.json")))
        .isFalse();

    Result again = script(400, train(shards, run));
    assertThat(again.code()).as(again.output()).isZero();
    assertThat(again.output()).contains("resuming from").contains("completed at step 24");

    var a =
        CheckpointStore.load(storage, URI.create(HDFS + "/runs/clean/checkpoints/step-00000024"));
    var b = CheckpointStore.load(storage, URI.create(run + "/checkpoints/step-00000024"));
    assertThat(b.state()).isEqualTo(a.state());
    Tensors wa = Tensors.of(a.weights());
    Tensors wb = Tensors.of(b.weights());
    for (int i = 0; i < wa.size(); i++) {
      assertThat(wb.data().get(i)).as(wa.names().get(i)).isEqualTo(wa.data().get(i));
    }
  }

  /**
   * forja eval as a Spark job on the cluster (the suite on S3, the model and shards on HDFS, the
   * examples spread over the two Workers' executors, each loading the model from HDFS) gives the
   * results the driver computes alone: to 1e-8 here, because these executors split matrix products
   * over another number of threads than this JVM (the last bits of a product's sums follow the
   * split); with the same threads they are bit-identical (FinetuneLearningTest).
   */
  static void evaluatesOnTheClusterAsInTheDriver(Storage storage, String shards, String run)
      throws Exception {
    String yaml =
        "name: cluster\nrun-on: spark\nbootstrap-samples: 100\ntasks:\n"
            + "  - {name: text, type: perplexity, data: "
            + shards
            + ", window: 16, stride: 8, limit: 2}\n";
    storage.writeString(URI.create("s3a://forja/eval/suite.yaml"), yaml, true);
    Result eval =
        script(
            300,
            "submit-scripts/forja-submit",
            "--preset",
            PRESET,
            "eval",
            "--conf",
            CONF,
            "--model",
            "clean=" + run,
            "--suite",
            "s3a://forja/eval/suite.yaml",
            "--output",
            "s3a://forja/eval/out");
    assertThat(eval.code()).as(eval.output()).isZero();
    assertThat(eval.output()).contains("examples/s, spark)");
    JsonNode onCluster =
        new ObjectMapper()
            .readTree(storage.readString(URI.create("s3a://forja/eval/out/results.json")));
    var driver =
        new dev.forja.training.eval.Evaluation(
                storage,
                dev.forja.training.eval.EvalSuite.parse(
                        yaml, URI.create("s3a://forja/eval/suite.yaml"))
                    .withRunOn("driver"),
                null,
                new java.io.PrintWriter(java.io.Writer.nullWriter()))
            .run(List.of(dev.forja.training.eval.EvalModel.Spec.parse("clean=" + run)));
    assertThat(onCluster.get("metrics")).hasSize(driver.metrics().size());
    for (int i = 0; i < driver.metrics().size(); i++) {
      JsonNode m = onCluster.get("metrics").get(i);
      assertThat(m.get("metric").asText()).isEqualTo(driver.metrics().get(i).metric());
      double want = driver.metrics().get(i).value();
      assertThat(m.get("value").asDouble())
          .as(m.get("metric").asText())
          .isCloseTo(want, org.assertj.core.api.Assertions.within(Math.abs(want) * 1e-8));
    }
  }

  static boolean committed(Storage storage, URI run) {
    try (CheckpointStore store =
        new CheckpointStore(
            storage, run, new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))) {
      return !store.committedSteps().isEmpty();
    } catch (IOException | RuntimeException e) {
      return false; // a manifest still being written
    }
  }

  /**
   * forja run through forja-submit on the cluster: stage outputs on HDFS, the registry and the
   * suite on S3, training on the two Workers. A first cycle killed while it trains is run again: it
   * reuses the stages before train, resumes training from its checkpoint and promotes
   * (champion.json one PUT on S3); a third run reuses every stage.
   */
  @Test
  @Order(3)
  void aPipelineCyclePromotesOnTheClusterAndASecondReusesEveryStage() throws Exception {
    ForjaConfig cfg = ForjaConfig.load(List.of(Path.of(CONF)), List.of());
    Storage storage = new Storage(cfg.storage());
    storage.writeString(
        URI.create("s3a://forja/cycle/suite.yaml"),
        "name: cycle\nbootstrap-samples: 100\ntasks:\n"
            + "  - {name: text, type: perplexity, data: ${tokenize}, window: 16, stride: 8,"
            + " limit: 2}\n",
        true);
    Path pipeline = STATE.resolve("pipeline.yaml");
    Files.writeString(
        pipeline,
        String.join(
            "\n",
            "corpus: {size-mb: 1}",
            "tokenizer: {vocab-size: 600}",
            "model: {context-length: 16, d-model: 32, layers: 1, heads: 2}",
            "train: {steps: 64, micro-batch-size: 4, warmup-steps: 2, eval-every: 0,"
                + " eval-batches: 2, checkpoint-every: 8}",
            "distributed: {averaging-period: 4}",
            "pipeline:",
            "  work: " + HDFS + "/cycles/work",
            "  registry: s3a://forja/cycle/registry",
            "  stages: [generate, prep, tokenizer, tokenize, train, eval, promote]",
            "  train-workers: 2",
            "  eval-suite: s3a://forja/cycle/suite.yaml",
            "promote:",
            "  gate: [text/perplexity not-higher 5%]",
            ""));
    String[] run = {
      "submit-scripts/forja-submit",
      "--preset",
      PRESET,
      "run",
      "--conf",
      CONF,
      "--conf",
      pipeline.toString()
    };
    // killed while it trains, once the training run has a checkpoint on HDFS
    Path log = Files.createTempFile(STATE.getParent(), "cycle-killed-", ".log");
    Process killed = start(log, run);
    URI work = URI.create(HDFS + "/cycles/work");
    long deadline = System.nanoTime() + 400_000_000_000L;
    while (killed.isAlive() && !trainCheckpointed(storage, work) && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(killed.isAlive()).as(Files.readString(log)).isTrue();
    kill(killed);
    // the next run reuses the stages before train, resumes training where the checkpoint left
    // it, takes over the dead run's lock and promotes
    Result first = script(600, run);
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(first.output())
        .contains("== generate     reused", "== prep         reused", "== tokenize     reused")
        .contains("== train        runs")
        .contains("stopped before it finished")
        .contains("resuming from")
        .contains("promoted: " + HDFS);
    JsonNode champion =
        new ObjectMapper()
            .readTree(storage.readString(URI.create("s3a://forja/cycle/registry/champion.json")));
    assertThat(champion.get("model").asText()).startsWith(HDFS + "/cycles/work/train-");
    assertThat(storage.exists(URI.create(champion.get("model").asText() + "/checkpoints")))
        .isTrue();

    Result second = script(600, run);
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output().lines().filter(l -> l.startsWith("== ")).toList())
        .hasSize(7)
        .allMatch(l -> l.contains(" reused "));
  }

  /** Whether a training run under {@code work} has committed a checkpoint. */
  private static boolean trainCheckpointed(Storage storage, URI work) throws IOException {
    if (!storage.exists(work)) {
      return false;
    }
    for (Storage.Entry e : storage.list(work)) {
      String name = e.uri().getPath().replaceAll("/+$", "");
      if (name.substring(name.lastIndexOf('/') + 1).startsWith("train-")
          && storage.exists(Storage.resolve(e.uri(), "checkpoints/step-00000008/_MANIFEST.json"))) {
        return true;
      }
    }
    return false;
  }

  @Test
  @Order(4)
  void stopLeavesNothingRunning() throws Exception {
    Result stop = script(120, "submit-scripts/local-cluster", "stop");
    assertThat(stop.code()).as(stop.output()).isZero();
    assertThat(stop.output()).contains("nothing left running");
    assertThat(processesMentioning(STATE.toString())).isEmpty();
  }

  static List<String> processesMentioning(String text) {
    return ClusterScripts.processesMentioning(text);
  }
}
