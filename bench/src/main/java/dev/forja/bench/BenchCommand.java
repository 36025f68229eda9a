package dev.forja.bench;

import dev.forja.cli.ConfigOptions;
import dev.forja.cli.Forja;
import dev.forja.cli.ForjaPlugin;
import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.Jobs;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.PrepResult;
import dev.forja.prep.corpus.CorpusConfig;
import dev.forja.prep.corpus.CorpusGenerateJob;
import dev.forja.prep.job.PrepJob;
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

/**
 * {@code forja bench}: the measurements behind {@code docs/benchmarks.md}. Found by {@link
 * dev.forja.cli.Forja} through {@link ForjaPlugin} when this module's jar is on the classpath.
 */
@Command(
    name = "bench",
    description =
        "Benchmarks: prep throughput, dedup quality, tokenizer encode speed, BPE training time,"
            + " training speed, parameter-averaging overhead.",
    subcommands = {
      BenchCommand.Prep.class,
      BenchCommand.PrepStages.class,
      BenchCommand.Dedup.class,
      BenchCommand.Tokenizer.class,
      BenchCommand.BpeTrain.class,
      BenchCommand.Train.class,
      BenchCommand.Step.class,
      BenchCommand.Distributed.class,
      BenchCommand.Eval.class,
      BenchCommand.Scoring.class
    })
public final class BenchCommand implements Runnable, ForjaPlugin {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(),
        "Missing subcommand: prep, prep-stages, dedup, tokenizer, bpe-train, train, step,"
            + " distributed, eval or scoring");
  }

  /** Phase times as {@code read-and-filter 6.3 s, dedup 6.9 s, ...}. */
  static String phases(Map<String, Double> seconds) {
    StringBuilder b = new StringBuilder();
    seconds.forEach(
        (phase, s) ->
            b.append(b.length() == 0 ? "" : ", ")
                .append(String.format(Locale.ROOT, "%s %.1f s", phase, s)));
    return b.toString();
  }

  /**
   * {@code --lora}: train a LoRA adapter instead of every weight, on a randomly initialised base
   * that the benchmark writes to its scratch directory ({@code TrainBenchmark.loraBase}).
   */
  static final class LoraOption {
    @Option(
        names = "--lora",
        description =
            "Train a LoRA adapter (train.lora.*: rank, modules, set with --set) on a randomly"
                + " initialised base written to the scratch directory (bench train: checkpoints"
                + " and resumes are not timed).")
    boolean enabled;

    void apply(ConfigOptions config, java.nio.file.Path dir) {
      if (enabled) {
        config.set("train.lora.enabled=true");
        config.set("train.init-from=" + dir.resolve("lora-base").toUri());
      }
    }
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
            generateCorpusIfMissing(spark, cfg, cc, corpus, out);
            for (String mode : modes) {
              PrepConfig p = cfg.prep();
              if (mode.equals("no-near-dedup")) {
                p = p.withDedup(p.dedup().withNear(false));
              } else if (!mode.equals("full")) {
                throw new IllegalArgumentException(
                    "--modes: unknown mode '" + mode + "' (full, no-near-dedup)");
              }
              URI outDir = Storage.resolve(work, "prep-" + sizeMb + "mb-" + mode);
              PrepResult r =
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
                      phases(r.phaseSeconds()));
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

  /** Generates the benchmark corpus unless a committed one is there already (it is reused). */
  static void generateCorpusIfMissing(
      org.apache.spark.sql.SparkSession spark,
      ForjaConfig cfg,
      CorpusConfig cc,
      URI corpus,
      PrintWriter out)
      throws java.io.IOException {
    if (CommitManifest.read(new Storage(cfg.storage()), corpus).isEmpty()) {
      CorpusGenerateJob.Result g = CorpusGenerateJob.run(spark, cfg.storage(), cc, corpus, true);
      out.printf(Locale.ROOT, "generated %.0f MiB in %.1f s%n", g.bytes() / 1048576.0, g.seconds());
    }
  }

  @Command(
      name = "prep-stages",
      description =
          "Time each per-document step of forja prep (read, every stage, dedup keys: exact key and"
              + " MinHash signature) on one thread,"
              + " without Spark, on the first documents of a file; prints us/doc and MiB/s.")
  static final class PrepStages implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--input",
        description =
            "A file to read (default: the first shard of a generated corpus under --work,"
                + " generated if missing).")
    String input;

    @Option(
        names = "--work",
        defaultValue = "work/bench",
        description = "Where the generated corpus goes (default ${DEFAULT-VALUE}).")
    URI work;

    @Option(
        names = "--docs",
        defaultValue = "20000",
        description = "Documents to time (default ${DEFAULT-VALUE}).")
    int docs;

    @Option(
        names = "--rounds",
        defaultValue = "6",
        description = "Passes over them; the first half warm up (default ${DEFAULT-VALUE}).")
    int rounds;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      PrintWriter out = spec.commandLine().getOut();
      Storage storage = new Storage(cfg.storage());
      String file = input;
      if (file == null) {
        URI corpus = Storage.resolve(work, "corpus-64mb");
        if (CommitManifest.read(storage, corpus).isEmpty()) {
          Jobs.withSpark(
              cfg,
              "bench prep-stages",
              List.of(work),
              spark -> {
                generateCorpusIfMissing(spark, cfg, cfg.corpus().withSizeMb(64), corpus, out);
                return null;
              });
        }
        file = Storage.resolve(corpus, "docs-00000.jsonl").toString();
      }
      StageBenchmark.Result r =
          StageBenchmark.run(
              PrepJob.stages(cfg.prep(), storage),
              cfg.prep(),
              StageBenchmark.input(storage, file),
              docs,
              rounds);
      out.printf(
          Locale.ROOT,
          "%,d documents, %.1f MiB of raw input, one thread%n",
          r.docs(),
          r.bytes() / 1048576.0);
      double total = 0;
      for (StageBenchmark.Step s : r.steps()) {
        total += s.microsPerDoc();
        out.printf(
            Locale.ROOT,
            "%-10s %9.1f us/doc %9.2f MiB/s%n",
            s.name(),
            s.microsPerDoc(),
            s.mibPerSecond());
      }
      out.printf(
          Locale.ROOT,
          "%-10s %9.1f us/doc %9.2f MiB/s%n",
          "total",
          total,
          r.bytes() / 1048576.0 / (total * r.docs() / 1e6));
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

  @Command(
      name = "tokenizer",
      description =
          "Single-thread encode throughput with GPT-2's vocabulary, Forja against jtokkit, after"
              + " checking identical ids.")
  static final class Tokenizer implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--input",
        arity = "1..*",
        paramLabel = "FILE",
        description =
            "UTF-8 text files; default: the English licence and copyright texts under"
                + " /usr/share (every Debian machine has them).")
    List<java.nio.file.Path> inputs = new ArrayList<>();

    @Option(
        names = "--rounds",
        defaultValue = "5",
        description = "Timed rounds after one warm-up (default ${DEFAULT-VALUE}).")
    int rounds;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      List<java.nio.file.Path> files = new ArrayList<>(inputs);
      if (files.isEmpty()) {
        files.addAll(debianTexts());
      }
      List<String> docs = new ArrayList<>();
      for (java.nio.file.Path f : files) {
        String text = java.nio.file.Files.readString(f);
        for (int i = 0; i < text.length(); ) {
          int end = Math.min(text.length(), i + 16384);
          int nl = text.indexOf('\n', end);
          end = nl < 0 ? text.length() : nl + 1;
          docs.add(text.substring(i, end));
          i = end;
        }
      }
      out.printf(Locale.ROOT, "%d files, %d documents%n", files.size(), docs.size());
      var r = TokenizerBenchmark.run(docs, rounds, out);
      out.printf(
          Locale.ROOT,
          "Median: forja %.1f MB/s (cold cache), %.1f MB/s (warm); jtokkit 1.1.0 %.1f MB/s;"
              + " forja/jtokkit = %.2fx%n",
          r.forjaCold(),
          r.forjaWarm(),
          r.jtokkit(),
          r.ratio());
      out.flush();
      return 0;
    }

    static List<java.nio.file.Path> debianTexts() throws java.io.IOException {
      List<java.nio.file.Path> out = new ArrayList<>();
      for (String dir : List.of("/usr/share/common-licenses", "/usr/share/doc")) {
        java.nio.file.Path d = java.nio.file.Path.of(dir);
        if (java.nio.file.Files.isDirectory(d)) {
          try (var s = java.nio.file.Files.walk(d, 2)) {
            s.filter(java.nio.file.Files::isRegularFile)
                .filter(
                    p -> dir.endsWith("licenses") || p.getFileName().toString().equals("copyright"))
                .sorted()
                .forEach(out::add);
          }
        }
      }
      if (out.isEmpty()) {
        throw new IllegalArgumentException("No text under /usr/share; give --input FILE");
      }
      return out;
    }
  }

  @Command(
      name = "bpe-train",
      description =
          "Time BPE training (Spark pre-token counting + merges) on a text file, one document per"
              + " line, and spm_train --model_type=bpe on the same file when it is installed.")
  static final class BpeTrain implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(names = "--input", required = true, paramLabel = "FILE", description = "Text file.")
    java.nio.file.Path input;

    @Option(
        names = "--vocab-size",
        defaultValue = "32000",
        description = "Vocabulary size (default ${DEFAULT-VALUE}).")
    int vocabSize;

    @Option(
        names = "--spm-threads",
        defaultValue = "2",
        description = "spm_train --num_threads (default ${DEFAULT-VALUE}).")
    int spmThreads;

    @Option(names = "--no-spm", description = "Skip spm_train.")
    boolean noSpm;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      PrintWriter out = spec.commandLine().getOut();
      long size = java.nio.file.Files.size(input);
      long t0 = System.nanoTime();
      var result =
          Jobs.withSpark(
              cfg,
              "bench bpe-train",
              List.of(),
              spark -> {
                long c0 = System.nanoTime();
                var counts =
                    dev.forja.prep.tokens.TokenizerTrainJob.countPreTokens(
                        spark
                            .read()
                            .text(input.toUri().toString())
                            .withColumnRenamed("value", "text"),
                        cfg.tokenizer().pattern());
                double countS = (System.nanoTime() - c0) / 1e9;
                var r =
                    new dev.forja.tokenizer.BpeTrainer(
                            vocabSize,
                            cfg.tokenizer().minFrequency(),
                            cfg.tokenizer().specialTokens(),
                            cfg.tokenizer().pattern())
                        .train(counts);
                return new Object[] {countS, r};
              });
      double wall = (System.nanoTime() - t0) / 1e9;
      double countS = (Double) result[0];
      var r = (dev.forja.tokenizer.BpeTrainer.Result) result[1];
      out.printf(
          Locale.ROOT,
          "forja: %.1f MB, vocab %,d (%s): %.1f s wall (Spark start included), %.1f s counting"
              + " %,d distinct pre-tokens, %.1f s merging; %.2f bytes/token%n",
          size / 1e6,
          r.stats().vocabSize(),
          r.stats().stopReason(),
          wall,
          countS,
          r.stats().distinctPreTokens(),
          r.stats().seconds(),
          r.stats().bytesPerToken());
      out.flush();
      if (!noSpm) {
        java.nio.file.Path prefix = java.nio.file.Files.createTempDirectory("spm").resolve("m");
        List<String> cmd =
            List.of(
                "spm_train",
                "--input=" + input,
                "--model_prefix=" + prefix,
                "--vocab_size=" + vocabSize,
                "--model_type=bpe",
                "--num_threads=" + spmThreads,
                "--input_sentence_size=0",
                "--minloglevel=1");
        long s0 = System.nanoTime();
        Process p;
        try {
          p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
          out.println("spm_train not found (Debian: apt-get install sentencepiece); skipped");
          return 0;
        }
        byte[] log = p.getInputStream().readAllBytes();
        int rc = p.waitFor();
        double spm = (System.nanoTime() - s0) / 1e9;
        if (rc != 0) {
          out.println(
              "spm_train failed ("
                  + rc
                  + "): "
                  + new String(log, java.nio.charset.StandardCharsets.UTF_8));
          return 1;
        }
        out.printf(
            Locale.ROOT,
            "spm_train --model_type=bpe --num_threads=%d: %.1f s wall; forja/spm time = %.2f%n",
            spmThreads,
            spm,
            wall / spm);
      }
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "train",
      description =
          "Training throughput (tokens/s, GFLOP/s, share of the sgemm peak), peak RSS,"
              + " checkpoint write/read time and resume time for one configuration (--conf, e.g."
              + " conf/presets/bench-a.yaml).")
  static final class Train implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--steps",
        defaultValue = "10",
        description = "Timed steps (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(
        names = "--warmup",
        defaultValue = "2",
        description = "Untimed steps first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(
        names = "--work",
        paramLabel = "DIR",
        description =
            "Scratch directory; tokens.bin there is the token stream (default: a temp dir).")
    java.nio.file.Path work;

    @Option(
        names = "--checkpoint-uri",
        arity = "1..*",
        paramLabel = "URI",
        description =
            "Where to time checkpoint writes and reads (file:, hdfs:, s3a:); default: --work.")
    List<URI> checkpointUris = new ArrayList<>();

    @Mixin LoraOption lora;

    @Override
    public Integer call() throws Exception {
      java.nio.file.Path dir =
          work != null ? work : java.nio.file.Files.createTempDirectory("forja-bench-train");
      lora.apply(config, dir);
      dev.forja.pipeline.ForjaConfig cfg = config.load();
      if (cfg.model().vocabSize() == 0) {
        throw new IllegalArgumentException(
            "forja bench train needs model.vocab-size (e.g. --conf conf/presets/bench-a.yaml)");
      }
      java.nio.file.Files.createDirectories(dir);
      List<URI> targets =
          checkpointUris.isEmpty() ? List.of(dir.resolve("ck").toUri()) : checkpointUris;
      PrintWriter out = spec.commandLine().getOut();
      TrainBenchmark.run(
          cfg.model(),
          cfg.train(),
          steps,
          warmup,
          dir,
          targets,
          new dev.forja.storage.Storage(cfg.storage()),
          out);
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "step",
      description =
          "One forward and backward pass without the optimizer (--conf, e.g."
              + " conf/presets/qwen2.5-0.5b.yaml with --set train.micro-batch-size=4 --set"
              + " train.sequence-length=512): its time and the process's peak RSS against the"
              + " memory plan.")
  static final class Step implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--passes",
        defaultValue = "2",
        description = "Passes; the last is timed (default ${DEFAULT-VALUE}).")
    int passes;

    @Override
    public Integer call() {
      dev.forja.pipeline.ForjaConfig cfg = config.load();
      if (cfg.model().vocabSize() == 0) {
        throw new IllegalArgumentException(
            "forja bench step needs model.vocab-size (e.g. --conf conf/presets/qwen2.5-0.5b.yaml)");
      }
      if (passes < 1) {
        throw new IllegalArgumentException("--passes must be at least 1, got " + passes);
      }
      PrintWriter out = spec.commandLine().getOut();
      StepBenchmark.run(cfg.model(), cfg.train(), passes, out);
      return 0;
    }
  }

  @Command(
      name = "distributed",
      description =
          "Parameter averaging on Spark: per-round compute, broadcast, stage and aggregation time,"
              + " the overhead's share and the bytes moved, for each averaging period K.")
  static final class Distributed implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--workers",
        defaultValue = "2",
        description = "Workers (distributed.workers; default ${DEFAULT-VALUE}).")
    int workers;

    @Option(
        names = "--periods",
        split = ",",
        defaultValue = "1,4,16",
        paramLabel = "K,...",
        description = "Averaging periods to measure (default ${DEFAULT-VALUE}).")
    List<Integer> periods;

    @Option(
        names = "--rounds",
        defaultValue = "2",
        description = "Measured rounds per K, after one untimed (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(
        names = "--work",
        paramLabel = "DIR",
        description =
            "Scratch directory every executor can read (default: a temp dir; fine on one"
                + " machine).")
    java.nio.file.Path work;

    @Mixin LoraOption lora;

    @Override
    public Integer call() throws Exception {
      config.set("distributed.workers=" + workers);
      java.nio.file.Path dir =
          work != null ? work : java.nio.file.Files.createTempDirectory("forja-bench-dist");
      lora.apply(config, dir);
      dev.forja.pipeline.ForjaConfig cfg = config.load();
      if (cfg.model().vocabSize() == 0) {
        throw new IllegalArgumentException(
            "forja bench distributed needs model.vocab-size (e.g. --conf"
                + " conf/presets/bench-a.yaml)");
      }
      java.nio.file.Files.createDirectories(dir);
      PrintWriter out = spec.commandLine().getOut();
      var session = dev.forja.pipeline.Jobs.startForTraining(cfg);
      try {
        DistributedBenchmark.run(
            org.apache.spark.api.java.JavaSparkContext.fromSparkContext(session.sparkContext()),
            new dev.forja.storage.Storage(cfg.storage()),
            cfg.model(),
            cfg.train(),
            cfg.distributed(),
            periods,
            rounds,
            dir,
            out);
      } finally {
        session.stop();
      }
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "eval",
      description =
          "forja eval's generation throughput: prompts per second in the driver and over 1 and 2"
              + " Spark workers (local Spark; one model per worker).")
  static final class Eval implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--model",
        required = true,
        paramLabel = "[NAME=]URI",
        description = "The model (as forja eval --model takes it), e.g. the quickstart's run.")
    String model;

    @Option(
        names = "--prompts",
        defaultValue = "600",
        description = "Generation prompts (default ${DEFAULT-VALUE}).")
    int prompts;

    @Option(
        names = "--max-new-tokens",
        defaultValue = "16",
        description = "Tokens generated per prompt at most (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(
        names = "--workers",
        split = ",",
        defaultValue = "1,2",
        paramLabel = "N,...",
        description = "Spark workers (local[N]) to measure (default ${DEFAULT-VALUE}).")
    List<Integer> workers;

    @Override
    public Integer call() throws Exception {
      java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("forja-bench-eval");
      EvalBenchmark.writePrompts(dir.resolve("prompts.jsonl"), prompts);
      java.nio.file.Path suiteFile = dir.resolve("suite.yaml");
      String yaml =
          "name: bench\nbootstrap-samples: 0\ntasks:\n  - {name: gen, type: generation, data:"
              + " prompts.jsonl, max-new-tokens: "
              + maxNewTokens
              + ", metrics: [exact-match, chrf, rouge]}\n";
      java.nio.file.Files.writeString(suiteFile, yaml);
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter quiet = new PrintWriter(java.io.Writer.nullWriter());
      List<String> where = new ArrayList<>(List.of("driver"));
      workers.forEach(w -> where.add("spark:" + w));
      double driverRate = 0;
      for (String w : where) {
        dev.forja.training.eval.EvalSuite suite =
            dev.forja.training.eval.EvalSuite.parse(yaml, suiteFile.toUri())
                .withRunOn(w.equals("driver") ? "driver" : "spark");
        ConfigOptions c = config;
        if (!w.equals("driver")) {
          c.set("spark.master=local[" + w.substring(6) + "]");
        }
        dev.forja.pipeline.ForjaConfig cfg = c.load();
        dev.forja.storage.Storage storage = new dev.forja.storage.Storage(cfg.storage());
        org.apache.spark.sql.SparkSession session =
            w.equals("driver")
                ? null
                : dev.forja.spark.SparkSessions.start(cfg.spark(), cfg.storage());
        try {
          var spec1 = dev.forja.training.eval.EvalModel.Spec.parse(model);
          var ev = new dev.forja.training.eval.Evaluation(storage, suite, () -> session, quiet);
          ev.run(List.of(spec1)); // warm-up: the models load in each JVM slot
          long t0 = System.nanoTime();
          var r = ev.run(List.of(spec1));
          double s = (System.nanoTime() - t0) / 1e9;
          double tokens =
              r.metrics().stream()
                      .filter(m -> m.metric().equals("generated_tokens_mean"))
                      .findFirst()
                      .orElseThrow()
                      .value()
                  * prompts;
          double rate = prompts / s;
          if (w.equals("driver")) {
            driverRate = rate;
          }
          out.printf(
              Locale.ROOT,
              "%-9s %,d prompts in %.2f s: %.1f prompts/s, %.0f generated tokens/s%s%n",
              w.equals("driver")
                  ? "driver"
                  : w.substring(6) + " worker" + (w.endsWith(":1") ? "" : "s"),
              prompts,
              s,
              rate,
              tokens / s,
              w.equals("driver")
                  ? ""
                  : String.format(Locale.ROOT, " (%.2fx the driver)", rate / driverRate));
          out.flush();
        } finally {
          if (session != null) {
            session.stop();
          }
        }
      }
      return 0;
    }
  }

  @Command(
      name = "scoring",
      description =
          "Scoring speed: corpus BLEU, chrF and ROUGE-1/2/L on many sentence pairs; --write keeps"
              + " the pairs for sacreBLEU and torchmetrics"
              + " (submit-scripts/bench-scoring-vs-python).")
  static final class Scoring implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--pairs",
        defaultValue = "100000",
        description = "Sentence pairs (default ${DEFAULT-VALUE}).")
    int pairs;

    @Option(
        names = "--rounds",
        defaultValue = "3",
        description = "Timed rounds after one warm-up (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--write", paramLabel = "FILE", description = "Write the pairs as JSONL.")
    java.nio.file.Path write;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the results as JSON.")
    java.nio.file.Path json;

    @Override
    public Integer call() throws Exception {
      List<String> texts = new ArrayList<>();
      for (java.nio.file.Path f : Tokenizer.debianTexts()) {
        texts.add(java.nio.file.Files.readString(f));
      }
      List<String[]> p = EvalBenchmark.pairs(texts, pairs);
      if (write != null) {
        EvalBenchmark.writePairs(write, p);
      }
      PrintWriter out = spec.commandLine().getOut();
      out.printf(Locale.ROOT, "%,d pairs%n", p.size());
      var r = EvalBenchmark.score(p, rounds, out);
      if (json != null) {
        java.nio.file.Files.writeString(
            json, new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(r));
      }
      return 0;
    }
  }
}
