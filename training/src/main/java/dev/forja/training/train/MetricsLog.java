package dev.forja.training.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code RUN/metrics.jsonl}: one JSON object per logged step ({@code type: "train"}: step, loss,
 * lr, grad_norm, tokens, tokens_per_s, tokens_seen) and per evaluation ({@code type: "eval"}: step,
 * val_loss, val_ppl, val_bpb). Object stores cannot append, so the file is rewritten whole when a
 * checkpoint is written and at the end; a resumed run keeps the lines up to its step.
 */
public final class MetricsLog implements TrainListener {
  public static final String FILE = "metrics.jsonl";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Storage storage;
  private final URI file;
  private final List<String> lines = new ArrayList<>();

  public MetricsLog(Storage storage, URI runDir, long resumedStep) throws IOException {
    this.storage = storage;
    this.file = Storage.resolve(runDir, FILE);
    if (resumedStep > 0 && storage.exists(file)) {
      for (String line : storage.readString(file).split("\n")) {
        if (!line.isBlank()) {
          JsonNode n = JSON.readTree(line);
          if (n.path("step").asLong() <= resumedStep) {
            lines.add(line);
          }
        }
      }
    }
  }

  @Override
  public void onStep(Trainer trainer, StepMetrics m) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "train");
    n.put("step", m.step());
    n.put("loss", m.loss());
    n.put("lr", m.learningRate());
    n.put("grad_norm", m.gradNorm());
    n.put("tokens", m.tokens());
    n.put("tokens_per_s", m.seconds() > 0 ? m.tokens() / m.seconds() : 0);
    n.put("tokens_seen", trainer.state().tokensSeen());
    n.put("step_seconds", m.seconds());
    lines.add(n.toString());
  }

  @Override
  public void onEval(Trainer trainer, EvalResult e) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "eval");
    n.put("step", e.step());
    n.put("val_loss", e.loss());
    n.put("val_ppl", e.perplexity());
    n.put("val_bpb", e.bitsPerByte());
    n.put("val_tokens", e.tokens());
    lines.add(n.toString());
  }

  @Override
  public void onEnd(Trainer trainer) {
    flush();
  }

  /** Rewrites the file with every line so far. */
  public void flush() {
    try {
      storage.writeString(file, String.join("\n", lines) + "\n", true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}
