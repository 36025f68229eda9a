package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.generate.Generator;
import dev.forja.training.generate.Sampling;
import dev.forja.training.hf.LoraCheckpoints;
import dev.forja.training.model.ModelConfig;
import java.net.URI;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja generate}. */
@Command(
    name = "generate",
    description =
        "Continue a prompt with a trained checkpoint (incremental decoding with a key/value"
            + " cache).")
final class GenerateCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(
      names = "--checkpoint",
      required = true,
      paramLabel = "URI",
      description = "A checkpoint directory, or a run directory (its newest good checkpoint).")
  URI checkpoint;

  @Option(names = "--prompt", paramLabel = "TEXT", description = "Text to continue.")
  String prompt;

  @Option(
      names = "--prompt-ids",
      paramLabel = "ID,...",
      split = ",",
      description =
          "Token ids to continue instead of --prompt; the generated ids are printed (for exact"
              + " comparisons with other tools).")
  int[] promptIds;

  @Option(
      names = "--max-tokens",
      defaultValue = "64",
      paramLabel = "N",
      description = "Tokens to generate at most (default ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(
      names = "--temperature",
      defaultValue = "0.8",
      paramLabel = "T",
      description = "Sampling temperature; 0 is greedy (default ${DEFAULT-VALUE}).")
  double temperature;

  @Option(
      names = "--top-k",
      defaultValue = "0",
      paramLabel = "K",
      description = "Sample among the K most likely tokens; 0: all (default ${DEFAULT-VALUE}).")
  int topK;

  @Option(
      names = "--top-p",
      defaultValue = "0.95",
      paramLabel = "P",
      description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
  double topP;

  @Option(
      names = "--adapter",
      paramLabel = "URI",
      description =
          "Apply this LoRA adapter to the model: a PEFT adapter directory or a LoRA run's"
              + " checkpoint (merged in memory; the model's files are left as they are).")
  URI adapter;

  @Option(
      names = "--seed",
      defaultValue = "0",
      paramLabel = "N",
      description = "Sampling seed (default ${DEFAULT-VALUE}).")
  long seed;

  @Option(
      names = "--eos-token",
      defaultValue = "<|endoftext|>",
      paramLabel = "TOKEN",
      description = "Stop at this special token (default ${DEFAULT-VALUE}).")
  String eosToken;

  @Override
  public Integer call() throws Exception {
    Sampling sampling = new Sampling(temperature, topK, topP);
    if (maxTokens < 1) {
      throw new IllegalArgumentException("--max-tokens must be at least 1, got " + maxTokens);
    }
    ForjaConfig cfg = config.load();
    Storage storage = new Storage(cfg.storage());
    CheckpointStore.Loaded ck =
        LoraCheckpoints.materialize(
            storage, CheckpointStore.loadAny(storage, checkpoint, "--checkpoint"));
    java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> weights = ck.weights();
    if (adapter != null) {
      weights =
          LoraCheckpoints.applyTo(
              ck, LoraCheckpoints.readAdapter(storage, adapter, ck, "--adapter"), "--adapter");
    }
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), ck.dir() + "");
    ModelConfig mc = ck.model();
    if ((prompt == null) == (promptIds == null)) {
      throw new IllegalArgumentException("give either --prompt TEXT or --prompt-ids ID,...");
    }
    int[] ids = prompt != null ? tok.encode(prompt) : promptIds;
    for (int id : ids) {
      if (id < 0 || id >= mc.vocabSize()) {
        throw new IllegalArgumentException(
            "--prompt-ids: "
                + id
                + " is outside the vocabulary (0 to "
                + (mc.vocabSize() - 1)
                + ")");
      }
    }
    if (ids.length == 0) {
      throw new IllegalArgumentException("--prompt is empty: give some text to continue");
    }
    if (ids.length >= mc.contextLength()) {
      throw new IllegalArgumentException(
          "the prompt is "
              + ids.length
              + " tokens; the model's context is "
              + mc.contextLength()
              + ": shorten --prompt");
    }
    int eos = tok.specials().getOrDefault(eosToken, -1);
    Generator g = new Generator(mc, weights);
    long t0 = System.nanoTime();
    int[] outIds =
        g.generate(ids, maxTokens, sampling, new SplittableRandom(seed), id -> id == eos);
    double s = (System.nanoTime() - t0) / 1e9;
    var w = spec.commandLine().getOut();
    if (prompt != null) {
      w.println(prompt + Generator.continuation(tok, ids, outIds));
    } else {
      w.println(
          java.util.Arrays.stream(outIds)
              .mapToObj(Integer::toString)
              .collect(java.util.stream.Collectors.joining(",")));
    }
    w.flush();
    var err = spec.commandLine().getErr();
    err.printf(
        Locale.ROOT,
        "(%d prompt + %d generated tokens in %.2f s, %.1f tokens/s, %.1f generated tokens/s;"
            + " %s; checkpoint %s, step %d)%n",
        ids.length,
        outIds.length,
        s,
        (ids.length + outIds.length) / s,
        outIds.length / s,
        g.engine(),
        ck.dir(),
        ck.state().step());
    err.flush();
    return 0;
  }
}
