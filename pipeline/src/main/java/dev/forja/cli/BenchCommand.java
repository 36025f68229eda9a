package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.Jobs;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.PrepJob;
import dev.forja.prep.corpus.CorpusConfig;
import dev.forja.prep.corpus.CorpusGenerateJob;
import dev.forja.prep.dedup.DedupBenchmark;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import java.io.PrintWriter;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja bench prep|dedup}: the figures the README and release notes quote. */
@Command(
    name = "bench",
    description = "Benchmarks: prep throughput, dedup quality.",
    subcommands = {BenchCommand.Prep.class, BenchCommand.Dedup.class})
final class BenchCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "Missing subcommand: prep or dedup");
  }

  @Command(
      name = "prep",
      description =
          "Generate (once) a corpus of --size-mb and time forja prep on it, with and without"
              + " near-dedup; prints MiB/s of raw input.")
  static final class Prep implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--size-mb",
        defaultValue = "256",
        description = "Corpus size in MiB (default ${DEFAULT-VALUE}).")
    int sizeMb;

    @Option(
        names = "--work",
        defaultValue = "work/bench",
        description = "Where the corpus and outputs go (default ${DEFAULT-VALUE}).")
    URI work;

    @Option(
        names = "--modes",
        defaultValue = "full,no-near-dedup",
        split = ",",
        description = "Runs to time: full, no-near-dedup (default ${DEFAULT-VALUE}).")
    List<String> modes = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      PrintWriter out = spec.commandLine().getOut();
      URI corpus = Storage.resolve(work, "corpus-" + sizeMb + "mb");
      Storage storage = new Storage(cfg.storage());
      CorpusConfig cc = cfg.corpus().withSizeMb(sizeMb);
      List<String> results = new ArrayList<>();
      Jobs.withSpark(
          cfg,
          "bench prep",
          List.of(work),
          spark -> {
            if (CommitManifest.read(storage, corpus).isEmpty()) {
              CorpusGenerateJob.Result g =
                  CorpusGenerateJob.run(spark, cfg.storage(), cc, corpus, true);
              out.printf(
                  Locale.ROOT,
                  "generated %.0f MiB in %.1f s%n",
                  g.bytes() / 1048576.0,
                  g.seconds());
            }
            for (String mode : modes) {
              PrepConfig p = cfg.prep();
              if (mode.equals("no-near-dedup")) {
                p = p.withDedup(p.dedup().withNear(false));
              } else if (!mode.equals("full")) {
                throw new IllegalArgumentException(
                    "--modes: unknown mode '" + mode + "' (full, no-near-dedup)");
              }
              URI outDir = Storage.resolve(work, "prep-" + sizeMb + "mb-" + mode);
              PrepJob.Result r =
                  PrepJob.run(
                      spark,
                      cfg.storage(),
                      p,
                      new PrepJob.Options(
                          List.of(corpus.toString()), outDir, true, null, null, Map.of()));
              String line =
                  String.format(
                      Locale.ROOT,
                      "prep %-14s %6.0f MiB  %7.1f s  %6.2f MiB/s  (kept %,d of %,d; phases %s)",
                      mode,
                      r.inputBytes() / 1048576.0,
                      r.seconds(),
                      r.megabytesPerSecond(),
                      r.kept(),
                      r.inputRecords(),
                      r.phaseSeconds());
              results.add(line);
              out.println(line);
              out.flush();
            }
            return null;
          });
      out.println(
          "cores: "
              + Runtime.getRuntime().availableProcessors()
              + ", master: "
              + (cfg.spark().master().isEmpty() ? "local[*]" : cfg.spark().master()));
      results.forEach(out::println);
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "dedup",
      description =
          "Near-dedup recall at Jaccard >= 0.8 and false positives at <= 0.5 on planted pairs.")
  static final class Dedup implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--pairs",
        defaultValue = "5000",
        description = "Planted pairs (default ${DEFAULT-VALUE}).")
    int pairs;

    @Option(names = "--seed", defaultValue = "1", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      DedupBenchmark.Result r =
          Jobs.withSpark(
              cfg,
              "bench dedup",
              List.of(),
              spark -> DedupBenchmark.run(spark, cfg.prep().dedup(), pairs, seed));
      PrintWriter out = spec.commandLine().getOut();
      PrepConfig.Dedup d = cfg.prep().dedup();
      out.printf(
          Locale.ROOT,
          "MinHash %s %d-grams, %d bands x %d rows, min Jaccard %.2f%n",
          d.shingle(),
          d.ngram(),
          d.bands(),
          d.rows(),
          d.minJaccard());
      out.printf(
          Locale.ROOT,
          "recall at J >= 0.8: %.4f (%d of %d pairs)%n",
          r.recallAtHigh(),
          r.highFound(),
          r.highPairs());
      out.printf(
          Locale.ROOT,
          "false positives at J <= 0.5: %.4f (%d of %d pairs)%n",
          r.falsePositiveRateAtLow(),
          r.lowFound(),
          r.lowPairs());
      out.printf(
          Locale.ROOT, "LSH candidate pairs: %,d; %.1f s%n", r.candidatePairs(), r.seconds());
      out.flush();
      return 0;
    }
  }
}
