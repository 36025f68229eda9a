package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.spark.ProgressListener;
import dev.forja.spark.SparkSessions;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.training.eval.EvalModel;
import dev.forja.training.eval.EvalReport;
import dev.forja.training.eval.EvalSuite;
import dev.forja.training.eval.Evaluation;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja eval}. */
@Command(
    name = "eval",
    description =
        "Evaluate models side by side on a suite (perplexity, generation with BLEU/chrF/ROUGE/exact"
            + " match, multiple choice, latency); writes results.json, examples.jsonl and a"
            + " report.")
final class EvalCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(
      names = "--model",
      required = true,
      paramLabel = "[NAME=]URI[,adapter=URI][,select=S]",
      description =
          "A model to evaluate (repeat to compare): a checkpoint, a run directory (its"
              + " checkpoint at the best validation loss where it kept it, else its latest;"
              + " select=latest|best|step-N to choose), a Forja-imported or Hugging Face model"
              + " directory; adapter= applies a LoRA adapter (PEFT directory or LoRA checkpoint).")
  List<String> models;

  @Option(names = "--suite", required = true, paramLabel = "URI", description = "The suite YAML.")
  URI suite;

  @Option(
      names = "--output",
      paramLabel = "URI",
      description = "Where the results and report go (default: eval-SUITE in this directory).")
  URI output;

  @Option(
      names = "--run-on",
      paramLabel = "WHERE",
      description = "driver, spark or auto: overrides the suite's run-on.")
  String runOn;

  @Option(names = "--overwrite", description = "Replace an existing output.")
  boolean overwrite;

  @Override
  public Integer call() throws Exception {
    ForjaConfig cfg = config.load();
    Storage storage = new Storage(cfg.storage());
    URI suiteUri = Storage.locate(suite.toString());
    EvalSuite s = EvalSuite.parse(storage.readString(suiteUri), suiteUri);
    if (runOn != null) {
      s = s.withRunOn(runOn);
    }
    List<EvalModel.Spec> specs = new ArrayList<>();
    for (String m : models) {
      specs.add(EvalModel.Spec.parse(m));
    }
    if (specs.stream().map(EvalModel.Spec::name).distinct().count() < specs.size()) {
      throw new IllegalArgumentException(
          "two --model entries have the same name: give each a NAME= prefix");
    }
    URI out =
        output != null
            ? output
            : java.nio.file.Path.of("eval-" + s.name()).toAbsolutePath().toUri();
    OutputGuard.prepare(storage, out, overwrite);
    java.io.PrintWriter err = spec.commandLine().getErr();
    SparkSession[] session = new SparkSession[1];
    Evaluation.Result r;
    try {
      r =
          new Evaluation(
                  storage,
                  s,
                  () -> {
                    if (session[0] == null) {
                      session[0] = SparkSessions.start(cfg.spark(), cfg.storage());
                      session[0]
                          .sparkContext()
                          .addSparkListener(new ProgressListener("eval", System.err, 2000));
                    }
                    return session[0];
                  },
                  err)
              .run(specs);
    } finally {
      if (session[0] != null) {
        session[0].stop();
      }
    }
    EvalReport.write(storage, out, r);
    var w = spec.commandLine().getOut();
    w.println();
    for (Evaluation.Metric m : r.metrics()) {
      if (m.metric().endsWith("_precision") || m.metric().endsWith("_recall")) {
        continue;
      }
      w.printf(
          Locale.ROOT,
          "%-16s %-18s %-26s %12s%s%n",
          m.model(),
          m.task(),
          m.metric(),
          String.format(Locale.ROOT, "%.4f", m.value()),
          m.ciLow() == null
              ? ""
              : String.format(Locale.ROOT, "  [%.4f, %.4f]", m.ciLow(), m.ciHigh()));
    }
    w.println("Report: " + Storage.resolve(out, EvalReport.REPORT_HTML));
    w.flush();
    return 0;
  }
}
