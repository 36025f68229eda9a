package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.Jobs;
import dev.forja.prep.PrepOutput;
import dev.forja.prep.PrepResult;
import dev.forja.prep.job.PrepJob;
import java.io.PrintWriter;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja prep}. */
@Command(
    name = "prep",
    description =
        "Clean, filter, redact and deduplicate raw corpora (text, HTML, JSONL, Parquet; gzip, bzip2,"
            + " zstd) into kept, rejected and quarantined records with stats and a report.")
final class PrepCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(
      names = "--input",
      required = true,
      arity = "1..*",
      paramLabel = "URI",
      description =
          "Files, directories or globs; FORMAT=URI forces a format (text, html, jsonl, parquet).")
  List<String> inputs = new ArrayList<>();

  @Option(
      names = "--output",
      required = true,
      paramLabel = "URI",
      description = "Output directory.")
  URI output;

  @Option(
      names = "--format",
      paramLabel = "parquet|jsonl",
      description = "Output format (prep.output.format).")
  String format;

  @Option(names = "--overwrite", description = "Replace the output if it holds data.")
  boolean overwrite;

  @Option(
      names = "--dedup-against",
      paramLabel = "URI",
      description =
          "An earlier prep output: drop documents it already holds (repeat for several, e.g."
              + " every earlier window).")
  List<URI> dedupAgainst = new ArrayList<>();

  @Option(
      names = "--decontaminate-against",
      paramLabel = "URI",
      description =
          "An evaluation set (text, one item per line, or JSONL): drop documents sharing long n-grams with it.")
  URI decontaminateAgainst;

  @Override
  public Integer call() throws Exception {
    if (format != null) {
      config.overrides.add("prep.output.format=" + format);
    }
    ForjaConfig cfg = config.load();
    List<URI> uris = new ArrayList<>(List.of(output));
    uris.addAll(dedupAgainst);
    PrepJob.Options opts =
        new PrepJob.Options(
            inputs, output, overwrite, dedupAgainst, decontaminateAgainst, cfg.values());
    PrepResult r =
        Jobs.withSpark(
            cfg, "prep", uris, spark -> PrepJob.run(spark, cfg.storage(), cfg.prep(), opts));
    PrintWriter out = spec.commandLine().getOut();
    out.printf(
        Locale.ROOT,
        "%,d input records = %,d kept + %,d rejected + %,d quarantined (%d files, %.1f MiB in %.1f s: %.2f MiB/s)%n",
        r.inputRecords(),
        r.kept(),
        r.rejected(),
        r.quarantined(),
        r.inputFiles(),
        r.inputBytes() / 1048576.0,
        r.seconds(),
        r.megabytesPerSecond());
    r.reasons().forEach((k, v) -> out.printf(Locale.ROOT, "  %-48s %,d%n", k, v));
    out.println("Seconds by phase: " + r.phaseSeconds());
    out.println("Report: " + dev.forja.storage.Storage.resolve(output, PrepOutput.REPORT_HTML));
    out.flush();
    return 0;
  }
}
