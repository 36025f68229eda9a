package dev.forja.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.cli.ClusterScripts.Result;
import dev.forja.pipeline.ForjaConfig;
import dev.forja.prep.PrepOutput;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.TokenShards;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.distributed.Tensors;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Forja on a real YARN, as a user runs it: {@code submit-scripts/local-cluster start --yarn} (a
 * ResourceManager and two NodeManagers beside HDFS and S3), every job through {@code forja-submit
 * --preset yarn} with the {@code HADOOP_CONF_DIR} the script writes, in client and cluster deploy
 * modes: corpus generate onto HDFS, prep, tokenizer, tokenize, and {@code train --workers 2} with
 * parameter averaging across two YARN containers and checkpoints on HDFS, each output read back
 * independently; an executor container killed mid-run (YARN gives a new one) ends with the weights
 * of the fault-free run; a job asking for more memory than YARN grants, or a training run whose
 * containers cannot hold its memory plan, fails naming the setting to change; the cron example
 * ({@code schedule/forja-nightly}) runs a pipeline cycle on YARN; {@code stop} leaves nothing
 * running.
 */
@Tag("yarn")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class YarnClusterIT {
  static final Path STATE = Path.of("target", "yarn-cluster-it").toAbsolutePath();
  static final String PORT_BASE = "28000";
  static final int RM_WEB = Integer.parseInt(PORT_BASE) + 38;
  static final String HDFS = "hdfs://127.0.0.1:" + (Integer.parseInt(PORT_BASE) + 20);
  static final String CONF = STATE.resolve("local-cluster.yaml").toString();

  /**
   * Steps of the compared runs: enough after the first checkpoint for YARN to replace a lost
   * executor container before the end.
   */
  static final int STEPS = 96;

  static final ClusterScripts SCRIPTS =
      new ClusterScripts(
          STATE, PORT_BASE, Map.of("HADOOP_CONF_DIR", STATE.resolve("hadoop-conf").toString()));

  private static Storage storage;

  @BeforeAll
  static void startCluster() throws Exception {
    Files.createDirectories(STATE.getParent());
    long t0 = System.nanoTime();
    Result start = SCRIPTS.script(400, "submit-scripts/local-cluster", "start", "--yarn");
    assertThat(start.code()).as(start.output()).isZero();
    assertThat(start.output()).contains("yarn      running").contains("ResourceManager 127.0.0.1");
    System.out.printf("local-cluster start --yarn: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    assertThat(STATE.resolve("hadoop-conf/yarn-site.xml")).exists();
    assertThat(STATE.resolve("hadoop-conf/core-site.xml")).content().contains(HDFS);
    storage = new Storage(ForjaConfig.load(List.of(Path.of(CONF)), List.of()).storage());
  }

  @AfterAll
  static void stopCluster() throws Exception {
    SCRIPTS.script(120, "submit-scripts/local-cluster", "stop");
  }

  /**
   * forja-submit on YARN: the yarn preset, this cluster's sizes, more presets, the deploy mode,
   * Spark settings ({@code key=value}), the command with this cluster's storage settings.
   */
  static String[] submit(
      List<String> presets, String deployMode, List<String> spark, List<String> command) {
    List<String> all =
        new ArrayList<>(
            List.of(
                "submit-scripts/forja-submit",
                "--preset",
                "yarn",
                "--preset",
                STATE.resolve("yarn.conf").toString()));
    presets.forEach(p -> all.addAll(List.of("--preset", p)));
    all.addAll(List.of("--deploy-mode", deployMode));
    spark.forEach(kv -> all.addAll(List.of("--conf", kv)));
    all.addAll(command);
    all.addAll(List.of("--conf", CONF));
    return all.toArray(String[]::new);
  }

  static String[] submit(String deployMode, List<String> spark, String... command) {
    return submit(List.of(), deployMode, spark, List.of(command));
  }

  static String[] submit(String deployMode, String... command) {
    return submit(deployMode, List.of(), command);
  }

  static String[] train(String deployMode, String run, String... spark) {
    return submit(
        List.of(),
        deployMode,
        List.of(spark),
        ClusterScripts.trainArgs(HDFS + "/shards", run, STEPS));
  }

  @Test
  @Order(1)
  void everyStageRunsOnYarnInClientAndClusterMode() throws Exception {
    // the first job stages Spark's jars and the runtime jar on HDFS; later jobs upload nothing
    Result gen =
        SCRIPTS.script(
            600,
            submit("client", "corpus", "generate", "--output", HDFS + "/corpus", "--size-mb", "2"));
    assertThat(gen.code()).as(gen.output()).isZero();
    assertThat(gen.output()).contains("files staged at " + HDFS + "/user/");
    CommitManifest corpus =
        CommitManifest.read(storage, URI.create(HDFS + "/corpus")).orElseThrow();
    corpus.verify(storage, URI.create(HDFS + "/corpus"), true);

    // cluster mode: the driver runs in the ApplicationMaster's container; its output is in the
    // application's aggregated logs
    Result prep =
        SCRIPTS.script(
            600,
            submit("cluster", "prep", "--input", HDFS + "/corpus", "--output", HDFS + "/prep"));
    assertThat(prep.code()).as(prep.output()).isZero();
    assertThat(prep.output()).contains("(0 uploaded, 0.0 MiB");
    String app = newestApplication();
    Result logs = logs(app);
    assertThat(logs.output()).contains("Report: " + HDFS + "/prep/report.html");
    PrepOutput prepOut = PrepOutput.open(storage, URI.create(HDFS + "/prep"), "test");
    prepOut.manifest().verify(storage, URI.create(HDFS + "/prep"), true);

    Result tok =
        SCRIPTS.script(
            600,
            submit(
                "client",
                "tokenizer",
                "train",
                "--input",
                HDFS + "/prep",
                "--output",
                HDFS + "/tokenizer",
                "--set",
                "tokenizer.vocab-size=600"));
    assertThat(tok.code()).as(tok.output()).isZero();
    Result shards =
        SCRIPTS.script(
            600,
            submit(
                "cluster",
                "tokenize",
                "--input",
                HDFS + "/prep",
                "--tokenizer",
                HDFS + "/tokenizer",
                "--output",
                HDFS + "/shards"));
    assertThat(shards.code()).as(shards.output()).isZero();
    try (TokenShards s =
        TokenShards.open(storage, URI.create(HDFS + "/shards"), TokenShards.Verify.CHECKSUMS)) {
      assertThat(s.split(ShardFormat.TRAIN).tokens()).isGreaterThan(100_000);
      assertThat(s.manifest().split(ShardFormat.TRAIN).documents())
          .isLessThanOrEqualTo(Long.parseLong(corpus.properties().get("documents")));
    }

    // training in cluster mode (the preset's): parameter averaging across two YARN containers,
    // checkpoints on HDFS; the driver's output is in the ApplicationMaster's log. (The killed run
    // below trains in client mode and must end with these weights.)
    long t0 = System.nanoTime();
    Result clean = SCRIPTS.script(600, train("cluster", HDFS + "/runs/clean"));
    assertThat(clean.code()).as(clean.output()).isZero();
    assertThat(clean.output()).doesNotContain("memoryOverhead raised"); // the preset's 1g holds
    System.out.printf(
        "train on YARN, cluster mode, submit to end: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    String trainApp = newestApplication();
    // two executor containers ran the rounds' tasks (the ApplicationMaster is container 1)
    String trainLogs = logs(trainApp).output();
    assertThat(trainLogs)
        .contains("executor memory: 1024 MiB heap + 1024 MiB overhead")
        .contains("distributed: 2 workers")
        .containsPattern("round [0-9]+ \\| w0 [0-9.]+ .* w1 [0-9.]+")
        .contains("completed at step " + STEPS);
    for (String container : List.of("_000002", "_000003")) {
      assertThat(trainLogs)
          .containsPattern("Container: container_[0-9_]+" + container)
          .contains("Running task");
    }
    CheckpointStore.Loaded last =
        CheckpointStore.load(
            storage,
            URI.create(HDFS + "/runs/clean/checkpoints/" + CheckpointStore.dirName(STEPS)));
    assertThat(last.state().step()).isEqualTo(STEPS);
    List<JsonNode> rounds = rounds(HDFS + "/runs/clean");
    assertThat(rounds).hasSize(STEPS / 2).allMatch(r -> r.path("workers").size() == 2);
    assertThat(executors(rounds)).hasSize(2);
  }

  /**
   * An executor container killed mid-run (after the first checkpoint; the driver in client mode):
   * YARN reports it lost, Spark asks for another, the round's tasks run again, and the run ends
   * with the weights of the fault-free run (cluster mode), bit for bit.
   */
  @Test
  @Order(2)
  void aKilledExecutorContainerIsReplacedAndTheWeightsEqualAFaultFreeRun() throws Exception {
    String run = HDFS + "/runs/killed";
    Path log = Files.createTempFile(STATE.getParent(), "yarn-killed-", ".log");
    Process driver = SCRIPTS.start(log, train("client", run));
    long deadline = System.nanoTime() + 400_000_000_000L;
    while (!storage.exists(URI.create(run + "/checkpoints/step-00000008/_MANIFEST.json"))
        && driver.isAlive()
        && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(driver.isAlive()).as(Files.readString(log)).isTrue();
    Optional<ProcessHandle> executor =
        ProcessHandle.allProcesses()
            .filter(
                ph -> {
                  String cmd = ph.info().commandLine().orElse("");
                  return cmd.contains("YarnCoarseGrainedExecutorBackend")
                      && cmd.contains(STATE.toString());
                })
            .findFirst();
    assertThat(executor).as("an executor container's JVM").isPresent();
    executor.get().destroyForcibly();
    assertThat(driver.waitFor(400, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    String out = Files.readString(log);
    assertThat(driver.exitValue()).as(out).isZero();
    assertThat(out).contains("completed at step " + STEPS);
    String logs = logs(newestApplication()).output();
    // a third executor container: YARN replaced the lost one, and it ran rounds
    assertThat(logs).containsPattern("Container: container_[0-9_]+_00000[4-9]");
    assertThat(executors(rounds(run))).hasSizeGreaterThan(2);
    assertSameWeights(HDFS + "/runs/clean", run, STEPS);
  }

  /**
   * The cron example as a scheduler runs it: {@code schedule/forja-nightly} with the yarn preset
   * runs a forja run cycle (prep, tokenizer, shards, two-worker training, evaluation, promotion) on
   * YARN in client mode, with stage outputs and the registry on HDFS; it promotes, logs the
   * outcome, and a second night reuses every stage.
   */
  @Test
  @Order(3)
  void theNightlyScheduleRunsAPipelineCycleOnYarn() throws Exception {
    storage.writeString(
        URI.create(HDFS + "/nightly/suite.yaml"),
        "name: nightly\nbootstrap-samples: 100\ntasks:\n"
            + "  - {name: text, type: perplexity, data: ${tokenize}, window: 16, stride: 8,"
            + " limit: 2}\n",
        true);
    Path pipeline = STATE.resolve("nightly.yaml");
    Files.writeString(
        pipeline,
        String.join(
            "\n",
            "tokenizer: {vocab-size: 600}",
            "model: {context-length: 16, d-model: 32, layers: 1, heads: 2}",
            "train: {steps: 16, micro-batch-size: 4, warmup-steps: 2, eval-every: 0,"
                + " eval-batches: 2, checkpoint-every: 8}",
            "distributed: {averaging-period: 4}",
            "pipeline:",
            "  work: " + HDFS + "/nightly/work",
            "  registry: " + HDFS + "/nightly/registry",
            "  input: [" + HDFS + "/corpus]",
            "  stages: [prep, tokenizer, tokenize, train, eval, promote]",
            "  train-workers: 2",
            "  eval-suite: " + HDFS + "/nightly/suite.yaml",
            "promote:",
            "  gate: [text/perplexity not-higher 5%]",
            ""));
    ClusterScripts nightly =
        new ClusterScripts(
            STATE,
            PORT_BASE,
            Map.of(
                "HADOOP_CONF_DIR", STATE.resolve("hadoop-conf").toString(),
                "FORJA_PIPELINE", pipeline.toString(),
                "FORJA_PRESET", "yarn " + STATE.resolve("yarn.conf")));
    Result first = nightly.script(900, "submit-scripts/schedule/forja-nightly", "--conf", CONF);
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(first.output())
        .contains("== train        runs")
        .contains("promoted: " + HDFS + "/nightly/work/train-")
        .containsPattern("forja-nightly: .* promoted");
    JsonNode champion =
        new ObjectMapper()
            .readTree(storage.readString(URI.create(HDFS + "/nightly/registry/champion.json")));
    assertThat(champion.path("model").asText()).startsWith(HDFS + "/nightly/work/train-");

    Result second = nightly.script(600, "submit-scripts/schedule/forja-nightly", "--conf", CONF);
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output().lines().filter(l -> l.startsWith("== ")).toList())
        .hasSize(6)
        .allMatch(l -> l.contains(" reused "));
  }

  @Test
  @Order(4)
  void memoryYarnCannotGrantIsRefusedNamingTheSettingToChange() throws Exception {
    // more than the largest container: refused before anything starts
    Result refused =
        SCRIPTS.script(
            300,
            submit(
                "client",
                List.of("spark.executor.memory=4g"),
                "corpus",
                "stats",
                "--input",
                HDFS + "/corpus",
                "--output",
                HDFS + "/stats-refused"));
    assertThat(refused.code()).as(refused.output()).isEqualTo(2);
    assertThat(refused.output())
        .contains("above the max threshold (3072 MB)")
        .contains("spark.executor.memory plus spark.executor.memoryOverhead");

    // a preset's overhead below the training plan: forja-submit raises it to the plan
    Path small = STATE.resolve("small-overhead.conf");
    Files.writeString(small, "spark.executor.memoryOverhead = 384m\n");
    Result raised =
        SCRIPTS.script(
            300,
            submit(
                List.of(small.toString()),
                "client",
                List.of(),
                ClusterScripts.trainArgs(HDFS + "/shards", HDFS + "/runs/raised", 2)));
    assertThat(raised.code()).as(raised.output()).isZero();
    assertThat(raised.output())
        .containsPattern("memoryOverhead raised from 384m to ([5-9][0-9]{2})m")
        .containsPattern("executor memory: 1024 MiB heap \\+ [5-9][0-9]{2} MiB overhead")
        .contains("completed at step 2");

    // given on the command line, it is kept, and a training run whose containers cannot hold its
    // memory plan is refused before any round, naming the overhead it needs
    Result thin =
        SCRIPTS.script(
            300,
            train("client", HDFS + "/runs/small-overhead", "spark.executor.memoryOverhead=384m"));
    assertThat(thin.code()).as(thin.output()).isEqualTo(2);
    assertThat(thin.output())
        .contains("spark.executor.memoryOverhead is 384 MiB")
        .containsPattern("--conf spark.executor.memoryOverhead=[0-9]+m");
  }

  @Test
  @Order(5)
  void stopLeavesNothingRunning() throws Exception {
    Result stop = SCRIPTS.script(120, "submit-scripts/local-cluster", "stop");
    assertThat(stop.code()).as(stop.output()).isZero();
    assertThat(stop.output()).contains("nothing left running");
    assertThat(ClusterScripts.processesMentioning(STATE.toString())).isEmpty();
  }

  /** The rounds a run's metrics.jsonl records. */
  private static List<JsonNode> rounds(String run) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String line : storage.readString(URI.create(run + "/metrics.jsonl")).split("\n")) {
      JsonNode n = new ObjectMapper().readTree(line);
      if (n.has("round")) {
        out.add(n.get("round"));
      }
    }
    return out;
  }

  /** The executors that ran the rounds' workers. */
  private static java.util.Set<String> executors(List<JsonNode> rounds) {
    java.util.Set<String> ids = new java.util.TreeSet<>();
    rounds.forEach(r -> r.path("workers").forEach(w -> ids.add(w.path("executor").asText())));
    return ids;
  }

  private static void assertSameWeights(String a, String b, int step) throws Exception {
    String ck = "/checkpoints/step-%08d".formatted(step);
    var x = CheckpointStore.load(storage, URI.create(a + ck));
    var y = CheckpointStore.load(storage, URI.create(b + ck));
    assertThat(y.state()).isEqualTo(x.state());
    Tensors wx = Tensors.of(x.weights());
    Tensors wy = Tensors.of(y.weights());
    for (int i = 0; i < wx.size(); i++) {
      assertThat(wy.data().get(i)).as(wx.names().get(i)).isEqualTo(wx.data().get(i));
    }
  }

  /** The application YARN accepted last, from the ResourceManager's REST API. */
  private static String newestApplication() throws Exception {
    JsonNode apps = rm("/apps");
    String newest = null;
    for (JsonNode a : apps.path("apps").path("app")) {
      String id = a.path("id").asText();
      if (newest == null || id.compareTo(newest) > 0) {
        newest = id;
      }
    }
    assertThat(newest).as(apps.toString()).isNotNull();
    return newest;
  }

  /**
   * {@code local-cluster logs APP} (yarn logs -applicationId), once the NodeManagers have finished
   * aggregating every container's logs (the ResourceManager's {@code logAggregationStatus}).
   */
  private static Result logs(String app) throws Exception {
    String status = "";
    for (int i = 0; i < 120; i++) {
      status = rm("/apps/" + app).path("app").path("logAggregationStatus").asText();
      if (List.of("SUCCEEDED", "FAILED", "TIME_OUT", "DISABLED").contains(status)) {
        break;
      }
      Thread.sleep(500);
    }
    assertThat(status).as("log aggregation of " + app).isEqualTo("SUCCEEDED");
    Result r = SCRIPTS.script(120, "submit-scripts/local-cluster", "logs", app);
    assertThat(r.code()).as(r.output()).isZero();
    return r;
  }

  /** A ResourceManager REST resource under /ws/v1/cluster. */
  private static JsonNode rm(String path) throws Exception {
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + RM_WEB + "/ws/v1/cluster" + path))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    return new ObjectMapper().readTree(r.body());
  }
}
