package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.Jobs;
import dev.forja.prep.sft.SftConfig;
import dev.forja.prep.sft.SftDataJob;
import dev.forja.shard.ShardFormat;
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

/** {@code forja sft-data}. */
@Command(
    name = "sft-data",
    description =
        "Turn instruction and chat examples (JSONL: prompt/completion, messages or ShareGPT"
            + " conversations) into training rows for forja finetune, with the chat template and"
            + " tokenizer of the model to fine-tune; trained tokens flagged, examples packed.")
final class SftDataCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(
      names = "--input",
      required = true,
      arity = "1..*",
      paramLabel = "URI",
      description = "JSONL files or directories (.gz, .bz2, .zst too), on file:, hdfs: or s3a:.")
  List<String> inputs = new ArrayList<>();

  @Option(
      names = "--tokenizer-from",
      required = true,
      paramLabel = "MODEL_URI",
      description =
          "The model to fine-tune (a Hugging Face directory or a Forja checkpoint): its"
              + " tokenizer.json and the chat template of its tokenizer_config.json.")
  URI model;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "URI",
      description = "Output directory.")
  URI output;

  @Option(
      names = "--seq-len",
      paramLabel = "N",
      description = "Tokens per row (sft.sequence-length): the fine-tune's sequence length.")
  Integer seqLen;

  @Option(names = "--overwrite", description = "Replace the output if it holds data.")
  boolean overwrite;

  @Override
  public Integer call() throws Exception {
    if (seqLen != null) {
      config.overrides.add("sft.sequence-length=" + seqLen);
    }
    ForjaConfig cfg = config.load();
    SftConfig sc = cfg.sft();
    URI model = modelDir(new Storage(cfg.storage()), this.model);
    List<URI> uris = new ArrayList<>();
    inputs.forEach(i -> uris.add(URI.create(i)));
    uris.add(model);
    uris.add(output);
    SftDataJob.Result r =
        Jobs.withSpark(
            cfg,
            "sft-data",
            uris,
            spark ->
                SftDataJob.run(
                    spark,
                    new Storage(cfg.storage()),
                    sc,
                    inputs,
                    model,
                    output,
                    overwrite,
                    cfg.prep().reader().maxRecordBytes()));
    PrintWriter out = spec.commandLine().getOut();
    SftDataJob.Stats s = r.stats();
    out.printf(
        Locale.ROOT,
        "%,d lines: %,d examples kept (%,d truncated), %,d quarantined %s in %.1f s%n",
        s.read,
        s.kept,
        s.truncated,
        s.quarantinedTotal(),
        s.quarantined.isEmpty() ? "" : s.quarantined.toString(),
        r.seconds());
    out.printf(
        Locale.ROOT,
        "%,d tokens, %,d trained; %,d rows of %d (%s, %.1f%% filled); template: %s%n",
        s.tokens,
        s.trainedTokens,
        s.rows,
        sc.sequenceLength(),
        sc.packing() ? "packed" : "padded",
        100 * s.fill(),
        r.manifest().lineage().get("template"));
    for (String split : List.of(ShardFormat.TRAIN, ShardFormat.VALIDATION)) {
      out.printf(
          Locale.ROOT,
          "  %-10s %,9d examples %,12d tokens%n",
          split,
          r.manifest().split(split).documents(),
          r.manifest().split(split).tokens());
    }
    out.println("Report: " + Storage.resolve(output, SftDataJob.REPORT));
    out.println("Manifest: " + Storage.resolve(output, ShardFormat.MANIFEST));
    out.flush();
    return 0;
  }

  /** A run directory stands for its newest committed checkpoint (where its tokenizer is). */
  static URI modelDir(Storage storage, URI model) throws java.io.IOException {
    if (storage.exists(Storage.resolve(model, "tokenizer.json"))
        || dev.forja.storage.CommitManifest.read(storage, model).isPresent()) {
      return model;
    }
    try (dev.forja.training.checkpoint.CheckpointStore store =
        new dev.forja.training.checkpoint.CheckpointStore(storage, model, System.err)) {
      List<Long> steps = store.committedSteps();
      return steps.isEmpty()
          ? model
          : Storage.resolve(
              store.root(), dev.forja.training.checkpoint.CheckpointStore.dirName(steps.get(0)));
    }
  }
}
