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
  public static final String CHART = "loss.png";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Storage storage;
  private final URI file;
  private final URI chart;
  private final List<String> lines = new ArrayList<>();
  private final List<double[]> trainLoss = new ArrayList<>();
  private final List<double[]> valLoss = new ArrayList<>();

  public MetricsLog(Storage storage, URI runDir, long resumedStep) throws IOException {
    this.storage = storage;
    this.file = Storage.resolve(runDir, FILE);
    this.chart = Storage.resolve(runDir, CHART);
    if (resumedStep > 0 && storage.exists(file)) {
      for (String line : storage.readString(file).split("\n")) {
        if (!line.isBlank()) {
          JsonNode n = JSON.readTree(line);
          if (n.path("step").asLong() <= resumedStep) {
            lines.add(line);
            point(n);
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
    point(n);
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
    point(n);
  }

  @Override
  public void onEnd(Trainer trainer) {
    flush();
  }

  private void point(JsonNode n) {
    double step = n.path("step").asDouble();
    if ("train".equals(n.path("type").asText()) && Double.isFinite(n.path("loss").asDouble())) {
      trainLoss.add(new double[] {step, n.path("loss").asDouble()});
    } else if ("eval".equals(n.path("type").asText())) {
      valLoss.add(new double[] {step, n.path("val_loss").asDouble()});
    }
  }

  /** Rewrites the file with every line so far, and the loss chart. */
  public void flush() {
    try {
      storage.writeString(file, String.join("\n", lines) + "\n", true);
      if (!trainLoss.isEmpty()) {
        try (var out = storage.create(chart, true)) {
          org.jfree.chart.ChartUtils.writeChartAsPNG(out, chart(), 900, 500);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  private org.jfree.chart.JFreeChart chart() {
    System.setProperty("java.awt.headless", "true");
    var data = new org.jfree.data.xy.XYSeriesCollection();
    var train = new org.jfree.data.xy.XYSeries("training loss");
    trainLoss.forEach(p -> train.add(p[0], p[1]));
    data.addSeries(train);
    if (!valLoss.isEmpty()) {
      var val = new org.jfree.data.xy.XYSeries("validation loss");
      valLoss.forEach(p -> val.add(p[0], p[1]));
      data.addSeries(val);
    }
    var c =
        org.jfree.chart.ChartFactory.createXYLineChart(
            "Loss (nats per token)",
            "step",
            "loss",
            data,
            org.jfree.chart.plot.PlotOrientation.VERTICAL,
            true,
            false,
            false);
    c.getXYPlot().setBackgroundPaint(java.awt.Color.WHITE);
    c.getXYPlot().setRangeGridlinePaint(java.awt.Color.LIGHT_GRAY);
    c.getXYPlot().setDomainGridlinePaint(java.awt.Color.LIGHT_GRAY);
    return c;
  }
}
