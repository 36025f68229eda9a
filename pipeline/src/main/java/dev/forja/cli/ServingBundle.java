package dev.forja.cli;

import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.gguf.GgufExport;
import dev.forja.training.gguf.GgufWriter;
import dev.forja.training.hf.HfModel;
import java.io.IOException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code forja model export --format gguf} writes: {@code model.gguf}, an Ollama {@code
 * Modelfile} (stop tokens; the chat template travels inside the GGUF), and a model card ({@code
 * README.md}) saying where the model came from, committed by a manifest written last.
 */
final class ServingBundle {
  static final String MODELFILE = "Modelfile";
  static final String CARD = "README.md";

  private ServingBundle() {}

  static long writeGguf(
      Storage storage,
      CheckpointStore.Loaded ck,
      URI output,
      GgufWriter.TensorType dtype,
      URI adapter)
      throws IOException {
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), ck.dir() + "");
    HfModel.Specials sp = HfModel.Specials.of(tok, ck.carried());
    Integer eos = sp.eos();
    Integer bos = sp.bos();
    String template = sp.chatTemplate();
    String name = "forja " + GgufExport.architecture(ck.model()) + " step " + ck.state().step();
    Map<String, String> files = new LinkedHashMap<>();
    files.put(MODELFILE, modelfile(tok, eos, template != null));
    files.put(CARD, card(ck, dtype, adapter, template != null));
    Map<String, String> lineage = new LinkedHashMap<>();
    lineage.put("checkpoint", ck.dir().toString());
    if (adapter != null) {
      lineage.put("adapter", adapter.toString());
    }
    return GgufExport.writeCommitted(
        storage,
        output,
        ck.model(),
        ck.weights(),
        tok,
        new GgufExport.Meta(name, bos, eos, template),
        dtype,
        lineage,
        files);
  }

  static String modelfile(BpeTokenizer tok, Integer eos, boolean chat) {
    StringBuilder b = new StringBuilder();
    b.append("# Ollama: ollama create NAME -f Modelfile, in this directory\n");
    b.append("FROM ./").append(GgufExport.FILE).append("\n");
    if (chat) {
      b.append("# the chat template is in the GGUF (tokenizer.chat_template)\n");
    }
    if (eos != null) {
      b.append("PARAMETER stop \"").append(tok.tokenText(eos).replace("\"", "\\\"")).append("\"\n");
    }
    return b.toString();
  }

  static String card(
      CheckpointStore.Loaded ck, GgufWriter.TensorType dtype, URI adapter, boolean chat) {
    StringBuilder b = new StringBuilder();
    b.append("---\nlicense: unknown # set the license of the model and its training data\n");
    b.append("library_name: llama.cpp\ntags: [gguf, forja]\n---\n\n");
    b.append("# ").append(GgufExport.architecture(ck.model())).append(" model from Forja\n\n");
    b.append("| | |\n|---|---|\n");
    row(b, "architecture", ModelCommand.describe(ck.model()));
    row(b, "checkpoint", ck.dir() + " (step " + ck.state().step() + ")");
    row(b, "weights", GgufExport.FILE + ", " + dtype.name().toLowerCase(Locale.ROOT));
    if (!ck.train().initFrom().isEmpty()) {
      row(b, "initialised from", ck.train().initFrom());
    }
    if (ck.train().lora().enabled()) {
      row(
          b,
          "fine-tuning",
          String.format(
              Locale.ROOT,
              "LoRA r %d, alpha %s on %s, merged",
              ck.train().lora().r(),
              ck.train().lora().alpha(),
              ck.train().lora().targetModules()));
    }
    if (adapter != null) {
      row(b, "adapter merged", adapter.toString());
    }
    row(
        b,
        "training",
        String.format(
            Locale.ROOT,
            "%,d steps of %d sequences, lr %s, %,d tokens seen",
            ck.state().step(),
            ck.train().sequencesPerStep(),
            ck.train().lr(),
            ck.state().tokensSeen()));
    if (Double.isFinite(ck.state().bestValLoss())) {
      row(
          b,
          "validation loss",
          String.format(
              Locale.ROOT,
              "%.4f nats per token (best, at step %d)",
              ck.state().bestValLoss(),
              ck.state().bestStep()));
    }
    b.append("\n## Run it\n\n```bash\n");
    b.append("llama-cli -m ").append(GgufExport.FILE).append(chat ? " -cnv\n" : " -p \"...\"\n");
    b.append("ollama create my-model -f Modelfile && ollama run my-model\n```\n");
    return b.toString();
  }

  private static void row(StringBuilder b, String k, String v) {
    b.append("| ").append(k).append(" | ").append(v.replace("|", "\\|")).append(" |\n");
  }
}
