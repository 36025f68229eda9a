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
 * val_loss, val_ppl, val_bpb). A distributed round's line also has {@code round}: per-worker loss,
 * tokens and tokens/s, where the time went (broadcast, compute, stage, aggregate, overhead,
 * checkpoint) and the bytes moved. Object stores cannot append, so the file is rewritten whole when
 * a checkpoint is written and at the end; a resumed run keeps the lines up to its step.
 */
public final class MetricsLog implements TrainListener {
  public static final String FILE = "metrics.jsonl";
  public static final String CHART = "loss.png";

  /** The chart of {@code train.eval-suite}'s metrics, beside the loss chart. */
  public static final String SUITE_CHART = "eval-suite.png";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Storage storage;
  private final URI file;
  private final URI chart;
  private final List<String> lines = new ArrayList<>();
  private final List<double[]> trainLoss = new ArrayList<>();
  private final List<double[]> valLoss = new ArrayList<>();
  private final java.util.Map<String, List<double[]>> suite = new java.util.LinkedHashMap<>();
  private final URI suiteChart;

  public MetricsLog(Storage storage, URI runDir, long resumedStep) throws IOException {
    this.storage = storage;
    this.file = Storage.resolve(runDir, FILE);
    this.chart = Storage.resolve(runDir, CHART);
    this.suiteChart = Storage.resolve(runDir, SUITE_CHART);
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
    if (m.round() != null) {
      n.put("steps", m.steps());
      n.set("round", round(m.round()));
    }
    lines.add(n.toString());
    point(n);
  }

  private static ObjectNode round(RoundStats r) {
    ObjectNode n = JSON.createObjectNode();
    n.put("round", r.round());
    var workers = n.putArray("workers");
    long tokens = 0;
    for (RoundStats.Worker w : r.workers()) {
      ObjectNode o = workers.addObject();
      o.put("worker", w.worker());
      o.put("loss", w.loss());
      o.put("tokens", w.tokens());
      o.put("tokens_per_s", w.tokensPerSecond());
      o.put("compute_seconds", w.seconds());
      o.put("transfer_seconds", w.transferSeconds());
      o.put("setup_seconds", w.setupSeconds());
      o.put("executor", w.executor());
      o.put("device", w.device());
      o.put("attempt", w.attempt());
      tokens += w.tokens();
    }
    n.put("tokens_per_s", r.totalSeconds() > 0 ? tokens / r.totalSeconds() : 0);
    ObjectNode t = n.putObject("seconds");
    t.put("broadcast", r.broadcastSeconds());
    t.put("compute", r.computeSeconds());
    t.put("stage", r.stageSeconds());
    t.put("aggregate", r.aggregateSeconds());
    t.put("overhead", r.overheadSeconds());
    t.put("total", r.totalSeconds());
    n.put("overhead_share", r.totalSeconds() > 0 ? r.overheadSeconds() / r.totalSeconds() : 0);
    n.put("bytes_broadcast", r.bytesBroadcast());
    n.put("bytes_returned", r.bytesReturned());
    return n;
  }

  /**
   * Adds the time a checkpoint took the training thread to the newest training line, as {@code
   * checkpoint_seconds}.
   */
  public void checkpointed(double seconds) {
    for (int i = lines.size() - 1; i >= 0; i--) {
      try {
        ObjectNode n = (ObjectNode) JSON.readTree(lines.get(i));
        if ("train".equals(n.path("type").asText())) {
          n.put("checkpoint_seconds", seconds);
          lines.set(i, n.toString());
          return;
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
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

  /**
   * An evaluation suite's metrics at {@code step} ({@code task/metric} to value), as a {@code
   * "suite"} line.
   */
  public synchronized void suite(long step, java.util.Map<String, Double> values) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "suite");
    n.put("step", step);
    ObjectNode m = n.putObject("metrics");
    values.forEach(m::put);
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
    } else if ("suite".equals(n.path("type").asText())) {
      n.path("metrics")
          .fields()
          .forEachRemaining(
              e ->
                  suite
                      .computeIfAbsent(e.getKey(), k -> new ArrayList<>())
                      .add(new double[] {step, e.getValue().asDouble()}));
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
      if (!suite.isEmpty()) {
        try (var out = storage.create(suiteChart, true)) {
          org.jfree.chart.ChartUtils.writeChartAsPNG(out, suiteChart(), 900, 500);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** Each suite metric against the step (counts and per-token losses left out). */
  private org.jfree.chart.JFreeChart suiteChart() {
    System.setProperty("java.awt.headless", "true");
    var data = new org.jfree.data.xy.XYSeriesCollection();
    suite.forEach(
        (name, points) -> {
          if (!name.endsWith("generated_tokens_mean") && !name.endsWith("nll_per_token")) {
            var series = new org.jfree.data.xy.XYSeries(name);
            points.forEach(p -> series.add(p[0], p[1]));
            data.addSeries(series);
          }
        });
    var c = lineChart("Evaluation suite (train.eval-suite)", "value", data);
    var r = (org.jfree.chart.renderer.xy.XYLineAndShapeRenderer) c.getXYPlot().getRenderer();
    for (int i = 0; i < data.getSeriesCount(); i++) {
      r.setSeriesShapesVisible(i, true);
    }
    return c;
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
    return lineChart("Loss (nats per token)", "loss", data);
  }

  /** Lines against the step, on white with light grid lines. */
  private static org.jfree.chart.JFreeChart lineChart(
      String title, String axis, org.jfree.data.xy.XYSeriesCollection data) {
    var c =
        org.jfree.chart.ChartFactory.createXYLineChart(
            title,
            "step",
            axis,
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
