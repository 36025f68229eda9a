package dev.forja.cli;

import dev.forja.config.ConfigException;
import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.Jobs;
import dev.forja.prep.tokens.TokenizeConfig;
import dev.forja.prep.tokens.TokenizeJob;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.ShardManifest;
import dev.forja.storage.Storage;
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

/** {@code forja tokenize}. */
@Command(
    name = "tokenize",
    description =
        "Encode a prep output's documents into packed train/validation token shards with a"
            + " manifest.")
final class TokenizeCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(
      names = "--input",
      required = true,
      paramLabel = "URI",
      description = "A forja prep output.")
  URI input;

  @Option(
      names = "--replay",
      paramLabel = "URI",
      description =
          "An earlier window's forja prep output (repeatable): tokenize.replay-ratio of the"
              + " training split's documents come from these.")
  List<URI> replay = new ArrayList<>();

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "URI",
      description =
          "A tokenizer.json, or a directory with tokenizer.json or vocab.json + merges.txt.")
  URI tokenizer;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "URI",
      description = "Output directory.")
  URI output;

  @Option(
      names = "--validation-fraction",
      paramLabel = "F",
      description = "Share of documents for validation (tokenize.validation-fraction).")
  Double validationFraction;

  @Option(names = "--overwrite", description = "Replace the output if it holds data.")
  boolean overwrite;

  @Override
  public Integer call() throws Exception {
    if (validationFraction != null) {
      config.overrides.add("tokenize.validation-fraction=" + validationFraction);
    }
    ForjaConfig cfg = config.load();
    TokenizeConfig tc = cfg.tokenize();
    if (!replay.isEmpty() && tc.replayRatio() == 0) {
      throw new ConfigException(
          List.of(
              "tokenize.replay-ratio: --replay needs a share above 0 (e.g. --set"
                  + " tokenize.replay-ratio=0.2)"));
    }
    List<URI> uris = new ArrayList<>(List.of(input, tokenizer, output));
    uris.addAll(replay);
    TokenizeJob.Result r =
        Jobs.withSpark(
            cfg,
            "tokenize",
            uris,
            spark ->
                TokenizeJob.run(
                    spark,
                    new Storage(cfg.storage()),
                    tc,
                    input,
                    replay,
                    tokenizer,
                    output,
                    overwrite));
    PrintWriter out = spec.commandLine().getOut();
    ShardManifest m = r.manifest();
    out.printf(
        Locale.ROOT,
        "%,d documents, %.1f MiB of text in %.1f s (%.2f MiB/s), %s tokens%n",
        r.documents(),
        r.textBytes() / 1048576.0,
        r.seconds(),
        r.megabytesPerSecond(),
        m.dtype());
    if (r.replayed() > 0 || !replay.isEmpty()) {
      out.printf(
          Locale.ROOT,
          "  %,d of the training documents replayed from %d earlier window(s)%n",
          r.replayed(),
          replay.size());
    }
    for (String split : List.of(ShardFormat.TRAIN, ShardFormat.VALIDATION)) {
      ShardManifest.Split s = m.split(split);
      out.printf(
          Locale.ROOT,
          "  %-10s %,12d tokens %,9d documents %4d shards%n",
          split,
          s.tokens(),
          s.documents(),
          s.shards().size());
    }
    out.println("Manifest: " + Storage.resolve(output, ShardFormat.MANIFEST));
    out.flush();
    return 0;
  }
}
