package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.checkpoint.SafeTensors;
import dev.forja.training.gguf.GgufExport;
import dev.forja.training.gguf.GgufImport;
import dev.forja.training.gguf.GgufWriter;
import dev.forja.training.hf.HfModel;
import dev.forja.training.hf.LoraCheckpoints;
import dev.forja.training.hf.PeftAdapter;
import dev.forja.training.model.ModelConfig;
import java.io.PrintWriter;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja model import|export|inspect}: models in and out of Forja. */
@Command(
    name = "model",
    description =
        "Import a Hugging Face model, export a checkpoint to one (or a LoRA adapter to PEFT),"
            + " merge an adapter into its base, or inspect a model.",
    subcommands = {
      ModelCommand.Import.class,
      ModelCommand.Export.class,
      ModelCommand.Merge.class,
      ModelCommand.Inspect.class,
      ModelCommand.Promote.class,
      ModelCommand.Rollback.class,
      ModelCommand.History.class
    })
final class ModelCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(),
        "Missing subcommand: import, export, merge, inspect, promote, rollback or history");
  }

  @Command(
      name = "import",
      description =
          "Read a Hugging Face model directory (config.json, safetensors weights, tokenizer.json)"
              + " or a GGUF file (F32, F16, BF16 or Q8_0, dequantized) and write it as a Forja"
              + " checkpoint that forja generate runs and forja train --init-from trains further.")
  static final class Import implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--from",
        required = true,
        paramLabel = "URI",
        description = "The model directory, or a .gguf file (file:, hdfs:, s3a:).")
    URI from;

    @Option(
        names = "--output",
        required = true,
        paramLabel = "URI",
        description = "The checkpoint directory to write.")
    URI output;

    @Option(names = "--overwrite", description = "Replace an existing output.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      Storage storage = new Storage(cfg.storage());
      storage.requireUsable(from);
      storage.requireUsable(output);
      long t0 = System.nanoTime();
      OutputGuard.prepare(storage, output, overwrite);
      HfModel.Read r;
      if (from.getPath() != null && from.getPath().endsWith(".gguf")) {
        r = GgufImport.read(storage, from);
        HfModel.writeCheckpoint(storage, r, output);
      } else {
        r = HfModel.importTo(storage, from, output);
      }
      PrintWriter out = spec.commandLine().getOut();
      out.printf(
          Locale.ROOT,
          "Imported %s (%s, %,d parameters, %s) into %s in %.1f s%n",
          from,
          describe(r.model()),
          r.model().parameters(),
          r.dtypes().keySet(),
          output,
          (System.nanoTime() - t0) / 1e9);
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "export",
      description =
          "Write a checkpoint (or a run's newest) as a Hugging Face model directory that"
              + " transformers, vLLM and TGI load, or as a GGUF file that llama.cpp and Ollama"
              + " load, committed by a manifest.")
  static final class Export implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--checkpoint",
        required = true,
        paramLabel = "URI",
        description = "A checkpoint directory, or a run directory (its newest good checkpoint).")
    URI checkpoint;

    @Option(
        names = "--format",
        defaultValue = "hf",
        description =
            "hf: a Hugging Face model directory (a LoRA run's checkpoint: its base with the adapter"
                + " merged); gguf: model.gguf for llama.cpp and Ollama, with a Modelfile and a"
                + " model card; gguf-adapter: a LoRA run's adapter (or --adapter) as llama.cpp's"
                + " adapter.gguf; peft: a LoRA run's adapter as PEFT saves one (default"
                + " ${DEFAULT-VALUE}).")
    String format;

    @Option(
        names = "--adapter",
        paramLabel = "URI",
        description =
            "Merge this LoRA adapter (a PEFT directory or a LoRA run's checkpoint) into the model"
                + " before writing it (hf, gguf).")
    URI adapter;

    @Option(
        names = "--output",
        required = true,
        paramLabel = "URI",
        description = "The directory to write.")
    URI output;

    @Option(
        names = "--dtype",
        defaultValue = "f32",
        description = "Weights as f32, f16 or bf16; gguf also q8_0 (default ${DEFAULT-VALUE}).")
    String dtype;

    @Option(
        names = "--max-shard-mb",
        defaultValue = "2048",
        description = "Shard the weights above this size (default ${DEFAULT-VALUE} MiB).")
    long maxShardMb;

    @Option(
        names = "--select",
        defaultValue = "latest",
        paramLabel = "WHICH",
        description =
            "Of a run directory's checkpoints: latest, best (lowest validation loss) or step-N"
                + " (default ${DEFAULT-VALUE}).")
    String select;

    @Option(names = "--overwrite", description = "Replace an existing output.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
      if (!List.of("hf", "gguf", "gguf-adapter", "peft").contains(format)) {
        throw new IllegalArgumentException(
            "--format " + format + " is not supported (use hf, gguf, gguf-adapter or peft)");
      }
      GgufWriter.TensorType ggufType = format.equals("gguf") ? GgufExport.dtype(dtype) : null;
      SafeTensors.Dtype d = format.startsWith("gguf") ? null : SafeTensors.Dtype.of(dtype);
      if (maxShardMb < 1) {
        throw new IllegalArgumentException("--max-shard-mb must be at least 1");
      }
      ForjaConfig cfg = config.load();
      Storage storage = new Storage(cfg.storage());
      storage.requireUsable(checkpoint);
      storage.requireUsable(output);
      CheckpointStore.Loaded ck =
          CheckpointStore.select(storage, checkpoint, select, "--checkpoint");
      if (format.equals("peft")) {
        if (!LoraCheckpoints.isLora(ck)) {
          throw new IllegalArgumentException(
              ck.dir()
                  + " is a whole model, not a LoRA run's checkpoint: export it with --format hf");
        }
        PeftAdapter.Adapter a = LoraCheckpoints.adapter(ck);
        OutputGuard.prepare(storage, output, overwrite);
        PeftAdapter.write(
            storage,
            output,
            a.on(ck.model()),
            a.settings(),
            a.weights(),
            a.baseModel(),
            a.baseHash());
        spec.commandLine()
            .getOut()
            .printf(
                Locale.ROOT,
                "Exported the LoRA adapter of %s (step %d, base %s) to %s as a PEFT adapter%n",
                ck.dir(),
                ck.state().step(),
                a.baseModel(),
                output);
        spec.commandLine().getOut().flush();
        return 0;
      }
      if (format.equals("gguf-adapter")) {
        PeftAdapter.Adapter a;
        if (adapter != null) {
          a = LoraCheckpoints.readAdapter(storage, adapter, ck, "--adapter");
        } else if (LoraCheckpoints.isLora(ck)) {
          a = LoraCheckpoints.adapter(ck);
        } else {
          throw new IllegalArgumentException(
              ck.dir()
                  + " is a whole model: --format gguf-adapter exports a LoRA run's adapter, or the"
                  + " one --adapter names");
        }
        OutputGuard.prepare(storage, output, overwrite);
        long size =
            GgufExport.writeAdapterCommitted(
                storage,
                output,
                ck.model(),
                a.settings(),
                a.weights(),
                Map.of("checkpoint", ck.dir().toString(), "base", String.valueOf(a.baseModel())));
        spec.commandLine()
            .getOut()
            .printf(
                Locale.ROOT,
                "Exported the LoRA adapter of %s to %s (%.1f KiB): llama.cpp applies it with"
                    + " --lora on the base's GGUF%n",
                adapter != null ? adapter : ck.dir(),
                Storage.resolve(output, GgufExport.ADAPTER_FILE),
                size / 1024.0);
        spec.commandLine().getOut().flush();
        return 0;
      }
      ck = LoraCheckpoints.materialize(storage, ck);
      if (adapter != null) {
        ck =
            ck.with(
                LoraCheckpoints.applyTo(
                    ck,
                    LoraCheckpoints.readAdapter(storage, adapter, ck, "--adapter"),
                    "--adapter"),
                ck.carried());
      }
      OutputGuard.prepare(storage, output, overwrite);
      long t0 = System.nanoTime();
      if (format.equals("gguf")) {
        long size = ServingBundle.writeGguf(storage, ck, output, ggufType, adapter);
        PrintWriter out = spec.commandLine().getOut();
        out.printf(
            Locale.ROOT,
            "Exported %s (step %d, %s) to %s as GGUF %s (%.1f MiB) in %.1f s%n",
            ck.dir(),
            ck.state().step(),
            describe(ck.model()),
            Storage.resolve(output, GgufExport.FILE),
            dtype,
            size / 1048576.0,
            (System.nanoTime() - t0) / 1e9);
        out.flush();
        return 0;
      }
      HfModel.write(storage, ck, output, d, maxShardMb << 20, Map.of());
      PrintWriter out = spec.commandLine().getOut();
      out.printf(
          Locale.ROOT,
          "Exported %s (step %d, %s) to %s as %s in %.1f s%n",
          ck.dir(),
          ck.state().step(),
          describe(ck.model()),
          output,
          d.id,
          (System.nanoTime() - t0) / 1e9);
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "merge",
      description =
          "Fold a LoRA adapter into its base (W += scale B A) and write the result as a Forja"
              + " checkpoint that forja generate runs and forja model export exports.")
  static final class Merge implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(
        names = "--base",
        required = true,
        paramLabel = "URI",
        description = "The base: a checkpoint (forja model import writes one) or a run directory.")
    URI base;

    @Option(
        names = "--adapter",
        required = true,
        paramLabel = "URI",
        description = "A PEFT adapter directory, or a LoRA run's checkpoint or run directory.")
    URI adapter;

    @Option(
        names = "--output",
        required = true,
        paramLabel = "URI",
        description = "The checkpoint directory to write.")
    URI output;

    @Option(names = "--overwrite", description = "Replace an existing output.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      Storage storage = new Storage(cfg.storage());
      storage.requireUsable(base);
      storage.requireUsable(adapter);
      storage.requireUsable(output);
      CheckpointStore.Loaded b =
          LoraCheckpoints.materialize(storage, CheckpointStore.loadAny(storage, base, "--base"));
      PeftAdapter.Adapter a = LoraCheckpoints.readAdapter(storage, adapter, b, "--adapter");
      var merged = LoraCheckpoints.applyTo(b, a, "--adapter " + adapter);
      OutputGuard.prepare(storage, output, overwrite);
      Map<String, String> carried = new LinkedHashMap<>(b.carried());
      CheckpointStore.writeTo(
          storage,
          output,
          new CheckpointStore.Snapshot(
              dev.forja.training.train.TrainState.start(0),
              merged,
              new LinkedHashMap<>(),
              b.model(),
              b.train(),
              b.tokenizerJson(),
              carried));
      PrintWriter out = spec.commandLine().getOut();
      out.printf(
          Locale.ROOT,
          "Merged %s (r %d, %d adapted modules) into %s: %s%n",
          adapter,
          a.settings().rank(),
          a.settings().targetModules().size(),
          base,
          output);
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "inspect",
      description =
          "Print a model's architecture, parameter count, dtypes, tokenizer and special tokens: a"
              + " Hugging Face model directory, a checkpoint or a run directory.")
  static final class Inspect implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @picocli.CommandLine.Parameters(paramLabel = "URI", description = "The model to inspect.")
    URI uri;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      Storage storage = new Storage(cfg.storage());
      storage.requireUsable(uri);
      Map<String, String> lines = new LinkedHashMap<>();
      ModelConfig mc;
      BpeTokenizer tok;
      if (storage.exists(Storage.resolve(uri, HfModel.CONFIG))) {
        HfModel.Read r = HfModel.read(storage, uri);
        mc = r.model();
        tok = r.tokenizer();
        lines.put("format", "Hugging Face model directory");
        lines.put("dtypes", r.dtypes().toString());
      } else {
        CheckpointStore.Loaded ck = CheckpointStore.loadAny(storage, uri, "inspect");
        mc = ck.model();
        tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), ck.dir() + "");
        lines.put("format", "Forja checkpoint " + ck.dir() + " (step " + ck.state().step() + ")");
        lines.put("dtypes", "{F32=" + ck.weights().size() + "}");
      }
      lines.put("architecture", describe(mc));
      lines.put("parameters", String.format(Locale.ROOT, "%,d", mc.parameters()));
      lines.put(
          "tokenizer",
          tok.sentencePiece() == null
              ? String.format(
                  Locale.ROOT,
                  "byte-level BPE, %,d tokens, %,d merges, pattern %s",
                  tok.vocabSize(),
                  tok.merges().size(),
                  tok.pattern().id)
              : String.format(
                  Locale.ROOT,
                  "SentencePiece-style BPE, %,d tokens, %,d merges, prepend %s%s%s",
                  tok.vocabSize(),
                  tok.merges().size(),
                  tok.sentencePiece().prepend().name().toLowerCase(Locale.ROOT),
                  tok.sentencePiece().split() ? ", split at spaces" : "",
                  tok.sentencePiece().byteFallback() ? ", byte fallback" : ""));
      lines.put("special tokens", tok.specials().toString());
      PrintWriter out = spec.commandLine().getOut();
      lines.forEach((k, v) -> out.printf("%-15s %s%n", k + ":", v));
      out.flush();
      return 0;
    }
  }

  static String describe(ModelConfig c) {
    if (c.llamaFamily()) {
      ModelConfig.Llama l = c.llama();
      return String.format(
          Locale.ROOT,
          "%s: %d layers, d-model %d, %d heads (%d key/value, width %d), SwiGLU %d, context %d,"
              + " vocab %d, RoPE theta %s%s, %s embeddings%s%s",
          l.modelType(),
          c.layers(),
          c.dModel(),
          c.heads(),
          l.kvHeads(),
          l.headDim(),
          l.mlpHidden(),
          c.contextLength(),
          c.vocabSize(),
          l.ropeTheta(),
          l.ropeScaling().equals("none")
              ? ""
              : " (" + l.ropeScaling() + " x" + l.ropeFactor() + ")",
          c.tiedEmbeddings() ? "tied" : "untied",
          l.attentionBias() ? ", q/k/v biases" : "",
          l.qkNorm() ? ", q/k norms" : "");
    }
    return String.format(
        Locale.ROOT,
        "gpt2: %d layers, d-model %d, %d heads, MLP %d, context %d, vocab %d, %s embeddings%s",
        c.layers(),
        c.dModel(),
        c.heads(),
        c.mlpWidth(),
        c.contextLength(),
        c.vocabSize(),
        c.tiedEmbeddings() ? "tied" : "untied",
        c.bias() ? "" : ", no biases");
  }

  /** The registry of {@code --registry}, else {@code pipeline.registry}. */
  private static URI registry(URI given, ForjaConfig cfg) {
    if (given != null) {
      return given;
    }
    if (cfg.pipeline().registry().isBlank()) {
      throw new IllegalArgumentException(
          "give --registry URI (or set pipeline.registry in the config)");
    }
    return Storage.locate(cfg.pipeline().registry());
  }

  @Command(
      name = "promote",
      description =
          "Make a candidate the champion by hand, whatever the gate said: --run is a forja run"
              + " promote stage's output (its decision.json).")
  static final class Promote implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(names = "--run", required = true, paramLabel = "URI", description = "The candidate.")
    URI run;

    @Option(names = "--registry", paramLabel = "URI", description = "Default: pipeline.registry.")
    URI registry;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      Storage storage = new Storage(cfg.storage());
      URI reg = registry(registry, cfg);
      var d =
          (com.fasterxml.jackson.databind.node.ObjectNode) LineageCommand.decision(storage, run);
      var champion = Registry.read(storage, Storage.resolve(reg, Registry.CHAMPION));
      var c = d.deepCopy();
      c.put("reason", "promoted by hand (the gate said: " + d.path("reason").asText() + ")");
      c.put("decision", Storage.resolve(run, "decision.json").toString());
      if (champion != null) {
        c.set("previous", champion);
      }
      Registry.setChampion(storage, reg, c, "promote-by-hand");
      spec.commandLine().getOut().println("champion: " + c.path("model").asText());
      return 0;
    }
  }

  @Command(name = "rollback", description = "Make the champion's predecessor the champion again.")
  static final class Rollback implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(names = "--registry", paramLabel = "URI", description = "Default: pipeline.registry.")
    URI registry;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      var prev = Registry.rollback(new Storage(cfg.storage()), registry(registry, cfg));
      spec.commandLine().getOut().println("champion: " + prev.path("model").asText());
      return 0;
    }
  }

  @Command(name = "history", description = "The promotions and rollbacks, with their metrics.")
  static final class History implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Option(names = "--registry", paramLabel = "URI", description = "Default: pipeline.registry.")
    URI registry;

    @Override
    public Integer call() throws Exception {
      ForjaConfig cfg = config.load();
      var out = spec.commandLine().getOut();
      for (var h : Registry.history(new Storage(cfg.storage()), registry(registry, cfg))) {
        StringBuilder m = new StringBuilder();
        h.path("metrics")
            .fields()
            .forEachRemaining(
                e -> {
                  if (!e.getKey().endsWith("_precision") && !e.getKey().endsWith("_recall")) {
                    m.append(
                        String.format(
                            Locale.ROOT, " %s=%.4g", e.getKey(), e.getValue().asDouble()));
                  }
                });
        out.printf(
            Locale.ROOT,
            "%s  %-16s %s%n    %s%n",
            h.path("at").asText(),
            h.path("action").asText(),
            h.path("model").asText(),
            m.toString().strip());
      }
      out.flush();
      return 0;
    }
  }
}
