package dev.forja.training.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.config.BuildInfo;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Writes an evaluation's outputs and commits them with a manifest written last: {@code
 * results.json} (one record per model, task and metric, with bootstrap intervals), {@code
 * examples.jsonl} (every example's prompt, output, references and scores), {@code set-aside.jsonl}
 * (input lines that could not be used, with the reason), {@code report.md} and {@code report.html}
 * (a decision table, per-task bars, quality against speed and against size) with the charts as PNG
 * files beside them.
 */
public final class EvalReport {
  public static final String KIND = "forja-eval";
  public static final String RESULTS = "results.json";
  public static final String EXAMPLES = "examples.jsonl";
  public static final String SET_ASIDE = "set-aside.jsonl";
  public static final String REPORT_MD = "report.md";
  public static final String REPORT_HTML = "report.html";
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final Color[] PALETTE = {
    new Color(0x3b6ea8),
    new Color(0xd9822b),
    new Color(0x3a9e5c),
    new Color(0xb5443b),
    new Color(0x7d5ba6),
    new Color(0x8c6d46)
  };

  private EvalReport() {}

  /** The metric a task is judged by in the charts and the table's first columns. */
  static String primary(EvalSuite.Task t) {
    return switch (t.type()) {
      case PERPLEXITY -> "perplexity";
      case MULTIPLE_CHOICE -> "acc";
      case LATENCY -> null;
      case GENERATION ->
          switch (t.metrics().isEmpty() ? "exact-match" : t.metrics().get(0)) {
            case "bleu" -> "bleu";
            case "chrf" -> "chrf";
            case "rouge" -> "rougeL";
            default -> "exact_match";
          };
    };
  }

  public static void write(Storage storage, URI out, Evaluation.Result r) throws IOException {
    ObjectNode results = JSON.createObjectNode();
    results.put("suite", r.suite().name());
    results.put("forja_version", BuildInfo.forjaVersion());
    ObjectNode settings = results.putObject("settings");
    settings.put("prompt_too_long", r.suite().overflow().name().toLowerCase(Locale.ROOT));
    settings.put("bootstrap_samples", r.suite().bootstrap());
    settings.put("confidence", 0.95);
    settings.put("seed", r.suite().seed());
    settings.put("decoding", "greedy (temperature 0), batch 1");
    ArrayNode tasks = settings.putArray("tasks");
    for (EvalSuite.Task t : r.suite().tasks()) {
      tasks.add(JSON.valueToTree(t));
    }
    results.set("models", JSON.valueToTree(r.models()));
    ArrayNode runs = results.putArray("runs");
    for (Evaluation.TaskRun run : r.runs()) {
      ObjectNode o = runs.addObject();
      o.put("model", run.model());
      o.put("task", run.task().name());
      o.put("examples", run.examples().size());
      o.put("seconds", run.seconds());
      o.put("where", run.where());
      o.set("problems", JSON.valueToTree(run.problems()));
    }
    results.set("metrics", JSON.valueToTree(r.metrics()));
    storage.writeString(
        Storage.resolve(out, RESULTS), JSON.writeValueAsString(results) + "\n", false);

    try (OutputStream os = storage.create(Storage.resolve(out, EXAMPLES), false)) {
      for (Evaluation.TaskRun run : r.runs()) {
        for (String row : run.examples()) {
          os.write(
              (Evaluation.withContext(run.model(), run.task().name(), row).toString() + "\n")
                  .getBytes(StandardCharsets.UTF_8));
        }
      }
    }
    try (OutputStream os = storage.create(Storage.resolve(out, SET_ASIDE), false)) {
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (Evaluation.TaskRun run : r.runs()) {
        if (!seen.add(run.task().name())) {
          continue; // the data's problems are the same for every model
        }
        for (Examples.Problem p : run.setAside()) {
          ObjectNode o = TaskEval.JSON.createObjectNode();
          o.put("task", run.task().name());
          o.put("line", p.line());
          o.put("reason", p.reason());
          o.put("detail", p.detail());
          o.put("text", p.text());
          os.write((o + "\n").getBytes(StandardCharsets.UTF_8));
        }
      }
    }
    Map<String, byte[]> charts = charts(r);
    for (Map.Entry<String, byte[]> c : charts.entrySet()) {
      try (OutputStream os = storage.create(Storage.resolve(out, c.getKey()), false)) {
        os.write(c.getValue());
      }
    }
    storage.writeString(Storage.resolve(out, REPORT_MD), markdown(r, charts), false);
    storage.writeString(Storage.resolve(out, REPORT_HTML), html(r, charts), false);
    Map<String, String> readme = new LinkedHashMap<>();
    readme.put(RESULTS, "every model x task x metric, with 95% bootstrap intervals");
    readme.put(EXAMPLES, "each example: prompt, generation, references, scores");
    readme.put(SET_ASIDE, "input lines that could not be used, with the reason");
    readme.put(REPORT_MD, "the report (Markdown)");
    readme.put(REPORT_HTML, "the report with its charts (open in a browser)");
    charts.keySet().forEach(k -> readme.put(k, "a chart of the report"));
    storage.writeString(
        Storage.resolve(out, CommitManifest.README),
        CommitManifest.readme("forja eval output: suite " + r.suite().name(), readme),
        false);
    Map<String, String> props = new LinkedHashMap<>();
    props.put("suite", r.suite().name());
    props.put(
        "models", String.join(",", r.models().stream().map(Evaluation.ModelInfo::name).toList()));
    CommitManifest.commit(storage, out, KIND, props);
  }

  // ---- the decision table ----

  private static Optional<Evaluation.Metric> find(
      Evaluation.Result r, String model, String task, String metric) {
    return r.metrics().stream()
        .filter(m -> m.model().equals(model) && m.task().equals(task) && m.metric().equals(metric))
        .findFirst();
  }

  /** Columns of the table: each task's primary metric, then speed, size and context. */
  static List<String[]> table(Evaluation.Result r) {
    List<String[]> rows = new ArrayList<>();
    List<String> head = new ArrayList<>(List.of("model"));
    for (EvalSuite.Task t : r.suite().tasks()) {
      if (primary(t) != null) {
        head.add(t.name() + " " + primary(t) + (lowerBetter(primary(t)) ? " ↓" : " ↑"));
      }
    }
    Optional<EvalSuite.Task> lat =
        r.suite().tasks().stream().filter(t -> t.type() == EvalSuite.Type.LATENCY).findFirst();
    int len = lat.map(t -> t.promptLengths().get(0)).orElse(0);
    if (lat.isPresent()) {
      head.add("first token ms @" + len + " ↓");
      head.add("decode tok/s ↑");
    }
    head.addAll(List.of("parameters", "size on disk", "context"));
    rows.add(head.toArray(String[]::new));
    for (Evaluation.ModelInfo mi : r.models()) {
      List<String> row = new ArrayList<>(List.of(mi.name()));
      for (EvalSuite.Task t : r.suite().tasks()) {
        if (primary(t) != null) {
          row.add(
              find(r, mi.name(), t.name(), primary(t)).map(EvalReport::withInterval).orElse("–"));
        }
      }
      if (lat.isPresent()) {
        row.add(
            find(r, mi.name(), lat.get().name(), "first_token_ms@" + len)
                .map(m -> fmt(m.value()))
                .orElse("–"));
        row.add(
            find(r, mi.name(), lat.get().name(), "decode_tokens_per_s@" + len)
                .map(m -> fmt(m.value()))
                .orElse("–"));
      }
      row.add(String.format(Locale.ROOT, "%.2f M", mi.parameters() / 1e6));
      row.add(String.format(Locale.ROOT, "%.1f MiB", mi.diskBytes() / 1048576.0));
      row.add(String.valueOf(mi.contextLength()));
      rows.add(row.toArray(String[]::new));
    }
    return rows;
  }

  /** Every metric with its interval and count, a header row first. */
  static List<String[]> everyMetric(Evaluation.Result r) {
    List<String[]> all = new ArrayList<>();
    all.add(new String[] {"model", "task", "metric", "value", "95% interval", "n"});
    for (Evaluation.Metric m : r.metrics()) {
      all.add(
          new String[] {
            m.model(),
            m.task(),
            m.metric(),
            fmt(m.value()),
            m.ciLow() == null ? "" : fmt(m.ciLow()) + " – " + fmt(m.ciHigh()),
            String.valueOf(m.n())
          });
    }
    return all;
  }

  static boolean lowerBetter(String metric) {
    return metric.equals("perplexity") || metric.startsWith("bits") || metric.startsWith("nll");
  }

  static String withInterval(Evaluation.Metric m) {
    String v = fmt(m.value());
    return m.ciLow() == null ? v : v + " [" + fmt(m.ciLow()) + ", " + fmt(m.ciHigh()) + "]";
  }

  static String fmt(double v) {
    double a = Math.abs(v);
    if (a >= 1000) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    if (a >= 10) {
      return String.format(Locale.ROOT, "%.1f", v);
    }
    return String.format(Locale.ROOT, "%.3f", v);
  }

  static String markdown(Evaluation.Result r, Map<String, byte[]> charts) {
    StringBuilder md = new StringBuilder();
    md.append("# forja eval: ").append(r.suite().name()).append("\n\n");
    md.append(
        "Models compared side by side; intervals are 95% bootstrap intervals over examples ("
            + r.suite().bootstrap()
            + " resamples). Decoding: greedy, batch 1.\n\n");
    List<String[]> t = table(r);
    appendTable(md, t);
    for (String c : charts.keySet()) {
      md.append("\n![").append(c).append("](").append(c).append(")\n");
    }
    md.append("\n## Every metric\n\n");
    appendTable(md, everyMetric(r));
    md.append("\n## Runs\n\n");
    for (Evaluation.TaskRun run : r.runs()) {
      md.append(
          String.format(
              Locale.ROOT,
              "- %s on %s: %d examples in %.1f s (%s)%s%n",
              run.task().name(),
              run.model(),
              run.examples().size(),
              run.seconds(),
              run.where(),
              run.problems().isEmpty() ? "" : "; set aside or changed: " + run.problems()));
    }
    return md.toString();
  }

  private static void appendTable(StringBuilder md, List<String[]> rows) {
    for (int i = 0; i < rows.size(); i++) {
      md.append("| ")
          .append(
              String.join(
                  " | ",
                  java.util.Arrays.stream(rows.get(i)).map(s -> s.replace("|", "\\|")).toList()))
          .append(" |\n");
      if (i == 0) {
        md.append("|").append("---|".repeat(rows.get(0).length)).append("\n");
      }
    }
  }

  static String html(Evaluation.Result r, Map<String, byte[]> charts) {
    StringBuilder h = new StringBuilder();
    h.append(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>forja eval: ")
        .append(esc(r.suite().name()))
        .append("</title>\n<style>\n")
        .append("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;")
        .append("max-width:1100px;color:#222;padding:0 1em}\n")
        .append("table{border-collapse:collapse;margin:1em 0;font-size:14px}")
        .append("th,td{border-bottom:1px solid #ddd;padding:6px 10px;text-align:right}")
        .append("td{white-space:nowrap}")
        .append("th:first-child,td:first-child{text-align:left}")
        .append("th{background:#f3f5f8}tr:hover td{background:#fafbfc}\n")
        .append(".charts{display:flex;flex-wrap:wrap;gap:12px}")
        .append(".charts img{border:1px solid #e3e3e3;max-width:100%}\n")
        .append(".note{color:#666;font-size:13px}</style></head><body>\n");
    h.append("<h1>forja eval: ").append(esc(r.suite().name())).append("</h1>\n");
    h.append("<p class=\"note\">")
        .append(r.models().size())
        .append(" models, ")
        .append(r.suite().tasks().size())
        .append(" tasks. Intervals: 95% bootstrap over examples (")
        .append(r.suite().bootstrap())
        .append(" resamples). Decoding: greedy, batch 1. Forja ")
        .append(esc(BuildInfo.forjaVersion()))
        .append(".</p>\n<h2>Side by side</h2>\n");
    appendHtmlTable(h, table(r));
    h.append("<h2>Charts</h2>\n<div class=\"charts\">\n");
    for (Map.Entry<String, byte[]> c : charts.entrySet()) {
      h.append("<img alt=\"")
          .append(esc(c.getKey()))
          .append("\" src=\"data:image/png;base64,")
          .append(Base64.getEncoder().encodeToString(c.getValue()))
          .append("\">\n");
    }
    h.append("</div>\n<h2>Every metric</h2>\n");
    appendHtmlTable(h, everyMetric(r));
    h.append("<h2>Examples</h2>\n<p class=\"note\">The first examples of each generation task;")
        .append(" every example is in <code>examples.jsonl</code>.</p>\n");
    for (Evaluation.TaskRun run : r.runs()) {
      if (run.task().type() != EvalSuite.Type.GENERATION) {
        continue;
      }
      List<String[]> ex = new ArrayList<>();
      ex.add(new String[] {"prompt", "generation", "references", primary(run.task())});
      for (String row : run.examples().subList(0, Math.min(5, run.examples().size()))) {
        try {
          var n = TaskEval.JSON.readTree(row);
          ex.add(
              new String[] {
                n.path("prompt").asText(),
                n.path("generation").asText(n.path("skipped").asText()),
                n.path("references").toString(),
                n.path("scores").has(primary(run.task()))
                    ? fmt(n.get("scores").get(primary(run.task())).asDouble())
                    : ""
              });
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
      h.append("<h3>")
          .append(esc(run.task().name()))
          .append(" — ")
          .append(esc(run.model()))
          .append("</h3>\n");
      appendHtmlTable(h, ex);
    }
    return h.append("</body></html>\n").toString();
  }

  private static void appendHtmlTable(StringBuilder h, List<String[]> rows) {
    h.append("<table>\n");
    for (int i = 0; i < rows.size(); i++) {
      h.append("<tr>");
      for (String c : rows.get(i)) {
        String tag = i == 0 ? "th" : "td";
        h.append('<').append(tag).append('>').append(esc(c)).append("</").append(tag).append('>');
      }
      h.append("</tr>\n");
    }
    h.append("</table>\n");
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;");
  }

  // ---- charts ----

  static Map<String, byte[]> charts(Evaluation.Result r) throws IOException {
    System.setProperty("java.awt.headless", "true");
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (EvalSuite.Task t : r.suite().tasks()) {
      if (t.type() == EvalSuite.Type.LATENCY) {
        continue;
      }
      DefaultCategoryDataset d = new DefaultCategoryDataset();
      boolean percent = t.type() != EvalSuite.Type.PERPLEXITY;
      for (Evaluation.Metric m : r.metrics()) {
        if (!m.task().equals(t.name())
            || m.metric().endsWith("_precision")
            || m.metric().endsWith("_recall")
            || m.metric().equals("generated_tokens_mean")
            || m.metric().equals("nll_per_token")) {
          continue;
        }
        boolean fraction = percent && !m.metric().equals("bleu") && !m.metric().equals("chrf");
        d.addValue(fraction ? 100 * m.value() : m.value(), m.model(), m.metric());
      }
      JFreeChart c =
          ChartFactory.createBarChart(
              t.name() + " (" + t.type().key() + ")",
              null,
              percent ? "score (0-100)" : "lower is better",
              d,
              PlotOrientation.VERTICAL,
              true,
              false,
              false);
      style(c);
      CategoryPlot p = c.getCategoryPlot();
      BarRenderer br = (BarRenderer) p.getRenderer();
      br.setShadowVisible(false);
      br.setBarPainter(new org.jfree.chart.renderer.category.StandardBarPainter());
      br.setItemMargin(0.05);
      p.getDomainAxis().setMaximumCategoryLabelLines(2);
      p.getDomainAxis().setMaximumCategoryLabelWidthRatio(1.5f);
      for (int i = 0; i < d.getRowCount(); i++) {
        br.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
      }
      out.put("task-" + t.name() + ".png", png(c, 540, 340));
    }
    Optional<EvalSuite.Task> quality = // a score people read as "higher is better", if any
        r.suite().tasks().stream()
            .filter(t -> primary(t) != null && !lowerBetter(primary(t)))
            .findFirst()
            .or(() -> r.suite().tasks().stream().filter(t -> primary(t) != null).findFirst());
    Optional<EvalSuite.Task> lat =
        r.suite().tasks().stream().filter(t -> t.type() == EvalSuite.Type.LATENCY).findFirst();
    if (quality.isPresent()) {
      String q = primary(quality.get());
      String qLabel = q + (lowerBetter(q) ? " (lower is better)" : "");
      String qTask = quality.get().name() + " " + q;
      if (lat.isPresent()) {
        int len = lat.get().promptLengths().get(0);
        out.put(
            "quality-vs-speed.png",
            scatter(
                r,
                qTask + " against decode speed",
                "decode tokens/s (prompt " + len + ")",
                qLabel,
                mi ->
                    find(r, mi.name(), lat.get().name(), "decode_tokens_per_s@" + len)
                        .map(Evaluation.Metric::value),
                mi -> find(r, mi.name(), quality.get().name(), q).map(Evaluation.Metric::value)));
      }
      out.put(
          "quality-vs-size.png",
          scatter(
              r,
              qTask + " against size on disk",
              "size on disk (MiB)",
              qLabel,
              mi -> Optional.of(mi.diskBytes() / 1048576.0),
              mi -> find(r, mi.name(), quality.get().name(), q).map(Evaluation.Metric::value)));
    }
    return out;
  }

  private static byte[] scatter(
      Evaluation.Result r,
      String title,
      String xLabel,
      String yLabel,
      java.util.function.Function<Evaluation.ModelInfo, Optional<Double>> x,
      java.util.function.Function<Evaluation.ModelInfo, Optional<Double>> y)
      throws IOException {
    XYSeriesCollection data = new XYSeriesCollection();
    List<double[]> points = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (Evaluation.ModelInfo mi : r.models()) {
      Optional<Double> xv = x.apply(mi);
      Optional<Double> yv = y.apply(mi);
      if (xv.isPresent() && yv.isPresent()) {
        XYSeries s = new XYSeries(mi.name());
        s.add(xv.get(), yv.get());
        data.addSeries(s);
        points.add(new double[] {xv.get(), yv.get()});
        names.add(mi.name());
      }
    }
    JFreeChart c =
        ChartFactory.createScatterPlot(
            title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false);
    style(c);
    XYPlot p = c.getXYPlot();
    XYLineAndShapeRenderer rr = (XYLineAndShapeRenderer) p.getRenderer();
    for (int i = 0; i < data.getSeriesCount(); i++) {
      rr.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
      rr.setSeriesShape(i, new java.awt.geom.Ellipse2D.Double(-6, -6, 12, 12));
    }
    p.setDomainGridlineStroke(new BasicStroke(0.5f));
    for (var axis : List.of(p.getRangeAxis(), p.getDomainAxis())) {
      ((org.jfree.chart.axis.NumberAxis) axis).setAutoRangeIncludesZero(false);
      ((org.jfree.chart.axis.NumberAxis) axis).setAutoRangeStickyZero(false);
    }
    p.getDomainAxis().setLowerMargin(0.15);
    p.getDomainAxis().setUpperMargin(0.15);
    p.getRangeAxis().setLowerMargin(0.15);
    p.getRangeAxis().setUpperMargin(0.15);
    for (int i = 0; i < points.size(); i++) {
      XYTextAnnotation a =
          new XYTextAnnotation("  " + names.get(i), points.get(i)[0], points.get(i)[1]);
      a.setFont(new Font("SansSerif", Font.PLAIN, 12));
      a.setTextAnchor(org.jfree.chart.ui.TextAnchor.CENTER_LEFT);
      p.addAnnotation(a);
    }
    return png(c, 540, 340);
  }

  private static void style(JFreeChart c) {
    c.setBackgroundPaint(Color.WHITE);
    c.getTitle().setFont(new Font("SansSerif", Font.BOLD, 15));
    var plot = c.getPlot();
    plot.setBackgroundPaint(Color.WHITE);
    if (plot instanceof CategoryPlot cp) {
      cp.setRangeGridlinePaint(Color.LIGHT_GRAY);
    } else if (plot instanceof XYPlot xp) {
      xp.setRangeGridlinePaint(Color.LIGHT_GRAY);
      xp.setDomainGridlinePaint(Color.LIGHT_GRAY);
    }
  }

  private static byte[] png(JFreeChart c, int w, int h) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ChartUtils.writeChartAsPNG(out, c, w, h);
    return out.toByteArray();
  }
}
