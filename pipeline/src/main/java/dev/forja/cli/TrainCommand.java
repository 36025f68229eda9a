package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.Jobs;
import dev.forja.storage.Storage;
import dev.forja.training.TrainRun;
import dev.forja.training.train.MemoryPlan;
import dev.forja.training.train.TrainingResult;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja train}. */
@Command(
    name = "train",
    description =
        "Train a GPT on token shards into a run directory (checkpoints, metrics.jsonl); resumes"
            + " from the run's newest good checkpoint when there is one.")
final class TrainCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(
      names = "--data",
      required = true,
      paramLabel = "URI",
      description = "Token shards written by forja tokenize.")
  URI data;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "URI",
      description = "Run directory (file:, hdfs:, s3a:); a run that has checkpoints resumes.")
  URI output;

  @Option(
      names = "--steps",
      paramLabel = "N",
      description = "Optimizer steps of the whole run (train.steps).")
  Long steps;

  @Option(
      names = "--workers",
      paramLabel = "N",
      description =
          "Train on N Spark tasks with parameter averaging (distributed.workers); 0: in this JVM.")
  Integer workers;

  @Option(
      names = "--init-from",
      paramLabel = "URI",
      description =
          "Start from this checkpoint's weights and architecture, e.g. one forja model import"
              + " wrote (train.init-from).")
  String initFrom;

  @Option(
      names = "--stop-after",
      paramLabel = "N",
      description =
          "End this invocation after N steps, checkpointed (a time-boxed slot); rerun to go on.")
  long stopAfter;

  @Option(
      names = "--memory-plan",
      description =
          "Print the native memory each training worker needs outside the Java heap, as"
              + " spark.executor.memoryOverhead=Nm, and stop (forja-submit sizes YARN containers"
              + " with it).")
  boolean memoryPlan;

  @Override
  public Integer call() throws Exception {
    if (steps != null) {
      config.overrides.add("train.steps=" + steps);
    }
    if (workers != null) {
      config.overrides.add("distributed.workers=" + workers);
    }
    if (initFrom != null) {
      config.overrides.add("train.init-from=" + initFrom);
    }
    ForjaConfig cfg = config.load();
    if (memoryPlan) {
      printMemoryPlan(
          new Storage(cfg.storage()),
          request(cfg, cfg.model(), data, output, stopAfter),
          spec.commandLine().getOut());
      return 0;
    }
    train(cfg, data, output, stopAfter, spec.commandLine().getOut());
    return 0;
  }

  /**
   * {@code --memory-plan}: what each training worker of the run needs outside the Java heap, as the
   * {@code spark.executor.memoryOverhead} line forja-submit reads.
   */
  static void printMemoryPlan(Storage storage, TrainRun.Request request, java.io.PrintWriter w)
      throws java.io.IOException {
    MemoryPlan plan = TrainRun.plan(storage, request);
    w.printf(
        Locale.ROOT,
        "# %,d MiB of parameters and optimizer state, %,d MiB of activations, and ND4J's"
            + " libraries%n",
        plan.parameterBytes() >> 20,
        plan.activationBytes() >> 20);
    w.println("spark.executor.memoryOverhead=" + TrainRun.workerNativeMib(plan) + "m");
    w.flush();
  }

  /** The run the loaded config describes (with {@code model}'s architecture), in fp32. */
  static TrainRun.Request request(
      ForjaConfig cfg,
      dev.forja.training.model.ModelConfig model,
      URI data,
      URI output,
      long stopAfter) {
    return new TrainRun.Request(
        data, output, model, cfg.train(), stopAfter, DataType.FLOAT, List.of(), cfg.distributed());
  }

  /**
   * Runs {@link TrainRun} with the loaded config (Spark started only for distributed training) and
   * prints the summary to {@code w}.
   */
  static TrainingResult train(
      ForjaConfig cfg, URI data, URI output, long stopAfter, java.io.PrintWriter w)
      throws Exception {
    PrintStream out =
        new PrintStream(
            new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    SparkSession[] session = {null};
    Supplier<JavaSparkContext> spark =
        () -> {
          session[0] = Jobs.startForTraining(cfg);
          return JavaSparkContext.fromSparkContext(session[0].sparkContext());
        };
    TrainingResult r;
    try {
      r =
          TrainRun.run(
              new Storage(cfg.storage()),
              request(cfg, cfg.model(), data, output, stopAfter),
              out,
              spark);
    } finally {
      if (session[0] != null) {
        session[0].stop();
      }
    }
    w.printf(
        Locale.ROOT,
        "%s at step %d: %,d tokens seen, %,.0f tokens/s this invocation%s%n",
        r.stopReason(),
        r.state().step(),
        r.state().tokensSeen(),
        r.tokensPerSecond(),
        r.lastEval() == null
            ? ""
            : String.format(
                Locale.ROOT,
                "; validation loss %.4f (perplexity %.2f, %.4f bits/byte)",
                r.lastEval().loss(),
                r.lastEval().perplexity(),
                r.lastEval().bitsPerByte()));
    w.println("Checkpoints: " + Storage.resolve(output, "checkpoints"));
    w.println("Metrics:     " + Storage.resolve(output, "metrics.jsonl"));
    w.flush();
    return r;
  }
}
