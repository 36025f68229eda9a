package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.Jobs;
import dev.forja.prep.corpus.CorpusConfig;
import dev.forja.prep.corpus.CorpusGenerateJob;
import dev.forja.prep.corpus.CorpusStatsJob;
import java.io.PrintWriter;
import java.net.URI;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja corpus generate|stats}. */
@Command(
    name = "corpus",
    description = "Generate the embedded default corpus, or count what a raw corpus holds.",
    subcommands = {
      CorpusCommand.Generate.class,
      CorpusCommand.Stats.class,
      CorpusCommand.Instructions.class
    })
final class CorpusCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "Missing subcommand: generate or stats");
  }

  @Command(
      name = "generate",
      description =
          "Write a deterministic multilingual (en, es, pt) JSONL corpus with planted duplicates,"
              + " personal data and junk.")
  static final class Generate implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--output",
        required = true,
        paramLabel = "URI",
        description = "Output directory.")
    URI output;

    @Option(
        names = "--size-mb",
        paramLabel = "N",
        description = "Approximate size in MiB (corpus.size-mb).")
    Integer sizeMb;

    @Option(names = "--seed", paramLabel = "S", description = "Generator seed (corpus.seed).")
    Long seed;

    @Option(names = "--overwrite", description = "Replace the output if it holds data.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      CorpusConfig corpus = cfg.corpus();
      if (sizeMb != null) {
        if (sizeMb < 1) {
          throw new IllegalArgumentException("--size-mb must be at least 1, got " + sizeMb);
        }
        corpus = corpus.withSizeMb(sizeMb);
      }
      if (seed != null) {
        corpus = corpus.withSeed(seed);
      }
      CorpusConfig finalCorpus = corpus;
      CorpusGenerateJob.Result r =
          Jobs.withSpark(
              cfg,
              "corpus generate",
              java.util.List.of(output),
              spark -> CorpusGenerateJob.run(spark, cfg.storage(), finalCorpus, output, overwrite));
      PrintWriter out = spec.commandLine().getOut();
      out.printf(
          Locale.ROOT,
          "Wrote %,d documents (%.1f MiB) in %d shards to %s in %.1f s (%.1f MiB/s)%n",
          r.documents(),
          r.bytes() / 1048576.0,
          r.shards(),
          r.output(),
          r.seconds(),
          r.megabytesPerSecond());
      out.println("Planted: " + r.kinds());
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "stats",
      description = "Count documents, bytes, languages and kinds of a JSONL corpus.")
  static final class Stats implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--input",
        required = true,
        paramLabel = "URI",
        description = "Corpus file or directory.")
    URI input;

    @Option(
        names = "--output",
        paramLabel = "URI",
        description = "Directory to write stats.json to.")
    URI output;

    @Option(names = "--overwrite", description = "Replace an existing stats.json.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      java.util.List<URI> uris =
          output == null ? java.util.List.of(input) : java.util.List.of(input, output);
      CorpusStatsJob.Result r =
          Jobs.withSpark(
              cfg,
              "corpus stats",
              uris,
              spark -> CorpusStatsJob.run(spark, cfg.storage(), input, output, overwrite));
      PrintWriter out = spec.commandLine().getOut();
      r.counts().forEach((k, v) -> out.printf(Locale.ROOT, "%-28s %,d%n", k, v));
      if (output != null) {
        out.println("Wrote " + dev.forja.storage.Storage.resolve(output, "stats.json"));
      }
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "instructions",
      description =
          "Write a generated instruction set (name the language of a sentence) as JSONL"
              + " {prompt, completion} lines for forja sft-data; --held-out: other sentences.")
  static final class Instructions implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(
        names = "--output",
        paramLabel = "FILE",
        description = "JSONL file; standard output if absent.")
    java.nio.file.Path output;

    @Option(
        names = "--examples",
        defaultValue = "300",
        paramLabel = "N",
        description = "How many (default ${DEFAULT-VALUE}).")
    int examples;

    @Option(names = "--held-out", description = "The held-out set, for evaluation.")
    boolean heldOut;

    @Option(names = "--prompts-only", description = "Print only the prompts, one per line.")
    boolean promptsOnly;

    @Option(
        names = "--multiple-choice",
        description =
            "Write multiple-choice items for forja eval: {context, choices, answer} (the three"
                + " language names).")
    boolean multipleChoice;

    @Override
    public Integer call() throws Exception {
      if (examples < 1) {
        throw new IllegalArgumentException("--examples must be at least 1, got " + examples);
      }
      com.fasterxml.jackson.databind.ObjectMapper json =
          new com.fasterxml.jackson.databind.ObjectMapper();
      StringBuilder b = new StringBuilder();
      for (dev.forja.prep.corpus.InstructionSet.Example e :
          dev.forja.prep.corpus.InstructionSet.languageOfSentence(examples, heldOut)) {
        if (promptsOnly) {
          b.append(e.prompt()).append('\n');
        } else if (multipleChoice) {
          b.append(json.writeValueAsString(dev.forja.prep.corpus.InstructionSet.multipleChoice(e)))
              .append('\n');
        } else {
          java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
          m.put("prompt", e.prompt());
          m.put("completion", e.completion());
          b.append(json.writeValueAsString(m)).append('\n');
        }
      }
      if (output == null) {
        spec.commandLine().getOut().print(b);
        spec.commandLine().getOut().flush();
      } else {
        if (output.getParent() != null) {
          java.nio.file.Files.createDirectories(output.getParent());
        }
        java.nio.file.Files.writeString(output, b);
      }
      return 0;
    }
  }
}
