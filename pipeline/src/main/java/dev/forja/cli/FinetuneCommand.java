package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.shard.ShardManifest;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.training.hf.HfModel;
import dev.forja.training.model.ModelConfig;
import java.io.PrintWriter;
import java.net.URI;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja finetune}. */
@Command(
    name = "finetune",
    description =
        "Fine-tune a model on forja sft-data rows: LoRA adapters on the frozen base (default) or"
            + " every weight (--full); the same trainer as forja train, resumable, checkpointed,"
            + " evaluated on the validation split.")
final class FinetuneCommand implements Callable<Integer> {
  /** Where an imported Hugging Face base is kept, inside the run directory. */
  static final String BASE = "base-model";

  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(
      names = "--base",
      required = true,
      paramLabel = "MODEL_URI",
      description =
          "The model to fine-tune: a Forja checkpoint or run directory, or a Hugging Face model"
              + " directory (imported into RUN/"
              + BASE
              + " first).")
  URI base;

  @Option(
      names = "--data",
      required = true,
      paramLabel = "URI",
      description = "Rows written by forja sft-data with this model's tokenizer.")
  URI data;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "RUN",
      description = "Run directory (file:, hdfs:, s3a:); a run that has checkpoints resumes.")
  URI output;

  static final class Mode {
    @Option(names = "--lora", description = "Train LoRA adapters (train.lora.*); the default.")
    boolean lora;

    @Option(names = "--full", description = "Train every weight.")
    boolean full;
  }

  @ArgGroup(exclusive = true)
  Mode mode = new Mode();

  @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps (train.steps).")
  Long steps;

  @Option(
      names = "--stop-after",
      paramLabel = "N",
      description = "End this invocation after N steps, checkpointed; rerun to go on.")
  long stopAfter;

  @Option(
      names = "--memory-plan",
      description =
          "Print the native memory each training worker needs outside the Java heap, as"
              + " spark.executor.memoryOverhead=Nm, and stop (forja-submit sizes YARN containers"
              + " with it); imports nothing.")
  boolean memoryPlan;

  @Override
  public Integer call() throws Exception {
    ForjaConfig probe = config.load();
    Storage storage = new Storage(probe.storage());
    storage.requireUsable(base);
    storage.requireUsable(data);
    storage.requireUsable(output);
    ShardManifest m =
        ShardManifest.read(storage, data)
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "--data " + data + " holds no committed rows: run forja sft-data first"));
    if (!m.hasFlags()) {
      throw new IllegalArgumentException(
          "--data "
              + data
              + " holds pretraining shards (forja tokenize), not fine-tuning rows: run forja"
              + " sft-data, or continue pretraining with forja train --init-from");
    }
    PrintWriter w = spec.commandLine().getOut();
    boolean hf =
        CommitManifest.read(storage, base).isEmpty()
            && storage.exists(Storage.resolve(base, HfModel.CONFIG));
    config.overrides.add("train.lora.enabled=" + !mode.full);
    if (steps != null) {
      config.overrides.add("train.steps=" + steps);
    }
    if (memoryPlan) {
      // a Hugging Face base's architecture from its config.json, without importing it
      if (!hf) {
        config.overrides.add("train.init-from=" + base);
      }
      ForjaConfig cfg = config.load();
      ModelConfig model =
          hf
              ? HfModel.modelConfig(
                  new com.fasterxml.jackson.databind.ObjectMapper()
                      .readTree(storage.readString(Storage.resolve(base, HfModel.CONFIG))),
                  Storage.resolve(base, HfModel.CONFIG).toString())
              : cfg.model();
      TrainCommand.printMemoryPlan(
          storage, TrainCommand.request(cfg, model, data, output, stopAfter), w);
      return 0;
    }
    URI from = base;
    if (hf) {
      URI imported = Storage.resolve(output, BASE);
      if (CommitManifest.read(storage, imported).isEmpty()) {
        HfModel.Read r = HfModel.importTo(storage, base, imported);
        w.printf("Imported %s (%,d parameters) into %s%n", base, r.model().parameters(), imported);
        w.flush();
      }
      from = imported;
    }
    config.overrides.add("train.init-from=" + from);
    ForjaConfig cfg = config.load();
    TrainCommand.train(cfg, data, output, stopAfter, w);
    return 0;
  }
}
