package dev.forja.prep.report;

import dev.forja.prep.PrepOutput;
import dev.forja.prep.PrepResult;
import dev.forja.storage.Storage;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The human-readable account of a prep run: {@code report.md} and {@code report.html} (counts per
 * stage and reason, languages, PII redactions, dedup, examples of each rejection) and {@code
 * report.png}, a chart of where the documents went (JFreeChart).
 */
public final class PrepReport {
  private PrepReport() {}

  /** The content of {@code stats.json}. */
  public static Map<String, Object> stats(PrepResult r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("run-id", r.runId());
    m.put("input-files", r.inputFiles());
    m.put("input-bytes", r.inputBytes());
    m.put("input-records", r.inputRecords());
    m.put("kept", r.kept());
    m.put("rejected", r.rejected());
    m.put("quarantined", r.quarantined());
    m.put("reasons", r.reasons());
    m.put("kept-languages", r.languages());
    m.put("pii-redactions", r.pii());
    m.put("kept-text-chars", r.keptTextBytes());
    m.put("dedup-candidate-pairs", r.candidatePairs());
    m.put("dedup-similar-pairs", r.similarPairs());
    m.put("seconds", Math.round(r.seconds() * 100) / 100.0);
    m.put("phase-seconds", r.phaseSeconds());
    m.put("input-mb-per-second", Math.round(r.megabytesPerSecond() * 100) / 100.0);
    return m;
  }

  public static void write(Storage storage, URI output, PrepResult r, List<Row> examples)
      throws IOException {
    byte[] png = chart(r);
    try (OutputStream out = storage.create(Storage.resolve(output, PrepOutput.REPORT_PNG), true)) {
      out.write(png);
    }
    storage.writeString(Storage.resolve(output, PrepOutput.REPORT_MD), markdown(r, examples), true);
    storage.writeString(
        Storage.resolve(output, PrepOutput.REPORT_HTML), html(r, examples, png), true);
  }

  static byte[] chart(PrepResult r) throws IOException {
    System.setProperty("java.awt.headless", "true");
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    data.addValue(r.kept(), "documents", "kept");
    r.reasons()
        .forEach(
            (k, v) ->
                data.addValue(
                    v,
                    "documents",
                    k.replace("rejected:", "rejected: ").replace("quarantined:", "quarantined: ")));
    JFreeChart chart =
        barChart(
            "Where the "
                + String.format(Locale.ROOT, "%,d", r.inputRecords())
                + " input records went",
            "records",
            data,
            PlotOrientation.HORIZONTAL);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ChartUtils.writeChartAsPNG(out, chart, 900, 140 + 26 * (r.reasons().size() + 1));
    return out.toByteArray();
  }

  /** A bar chart in the reports' style: white, light grid lines, one blue series. */
  public static JFreeChart barChart(
      String title, String axis, DefaultCategoryDataset data, PlotOrientation orientation) {
    JFreeChart chart =
        ChartFactory.createBarChart(title, null, axis, data, orientation, false, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    CategoryPlot plot = chart.getCategoryPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    BarRenderer renderer = (BarRenderer) plot.getRenderer();
    renderer.setSeriesPaint(0, new Color(0x3b6ea8));
    renderer.setShadowVisible(false);
    renderer.setBarPainter(new org.jfree.chart.renderer.category.StandardBarPainter());
    return chart;
  }

  private static String pct(long n, long total) {
    return String.format(Locale.ROOT, "%.1f%%", 100.0 * n / Math.max(1, total));
  }

  static List<String[]> rows(PrepResult r) {
    List<String[]> rows = new ArrayList<>();
    rows.add(
        new String[] {
          "kept", "", String.format(Locale.ROOT, "%,d", r.kept()), pct(r.kept(), r.inputRecords())
        });
    r.reasons()
        .forEach(
            (k, v) -> {
              String[] sr = k.split(":", 2);
              rows.add(
                  new String[] {
                    sr[0], sr[1], String.format(Locale.ROOT, "%,d", v), pct(v, r.inputRecords())
                  });
            });
    return rows;
  }

  static String markdown(PrepResult r, List<Row> examples) {
    StringBuilder md = new StringBuilder();
    md.append("# forja prep report\n\n");
    md.append("Run `")
        .append(r.runId())
        .append("` on ")
        .append(r.inputFiles())
        .append(" input files, ")
        .append(String.format(Locale.ROOT, "%.1f MiB", r.inputBytes() / 1048576.0))
        .append(
            String.format(
                Locale.ROOT, " in %.1f s (%.2f MiB/s).%n%n", r.seconds(), r.megabytesPerSecond()));
    md.append(
        String.format(
            Locale.ROOT,
            "**%,d input records = %,d kept + %,d rejected + %,d quarantined.**%n%n",
            r.inputRecords(),
            r.kept(),
            r.rejected(),
            r.quarantined()));
    md.append("![Where the documents went](report.png)\n\n");
    md.append(
        "## Outcomes by stage and reason\n\n| outcome | reason | records | share |\n|---|---|---:|---:|\n");
    for (String[] row : rows(r)) {
      md.append("| ").append(String.join(" | ", row)).append(" |\n");
    }
    md.append("\n## Languages kept\n\n| language | documents |\n|---|---:|\n");
    r.languages()
        .forEach(
            (k, v) ->
                md.append("| ")
                    .append(k)
                    .append(" | ")
                    .append(String.format(Locale.ROOT, "%,d", v))
                    .append(" |\n"));
    md.append("\n## Personal data redacted\n\n| type | replacements |\n|---|---:|\n");
    r.pii()
        .forEach(
            (k, v) ->
                md.append("| ")
                    .append(k)
                    .append(" | ")
                    .append(String.format(Locale.ROOT, "%,d", v))
                    .append(" |\n"));
    md.append(
        String.format(
            Locale.ROOT,
            "%n## Deduplication%n%nLSH candidate pairs: %,d; pairs at or above the Jaccard threshold: %,d.%n",
            r.candidatePairs(),
            r.similarPairs()));
    md.append("\n## Examples\n");
    String last = null;
    for (Row e : examples) {
      String key = e.getString(0) + ": " + e.getString(1);
      if (!key.equals(last)) {
        md.append("\n### ").append(key).append("\n\n");
        last = key;
      }
      String text = e.isNullAt(5) ? "" : e.getString(5);
      text = text.length() > 240 ? text.substring(0, 240) + "…" : text;
      md.append("- `")
          .append(e.getString(2))
          .append("`")
          .append(e.isNullAt(4) ? "" : " (" + e.getString(4) + ")")
          .append(": ")
          .append(text.replace("\n", " ⏎ ").replace("|", "\\|"))
          .append("\n");
    }
    return md.toString();
  }

  static String html(PrepResult r, List<Row> examples, byte[] png) {
    StringBuilder h = new StringBuilder();
    h.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>forja prep report</title>")
        .append("<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}")
        .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}")
        .append(
            "td.n{text-align:right}li{margin:.3em 0}code{background:#f4f4f4}</style></head><body>");
    h.append("<h1>forja prep report</h1><p>Run <code>")
        .append(esc(r.runId()))
        .append("</code>: ")
        .append(r.inputFiles())
        .append(" input files, ")
        .append(
            String.format(
                Locale.ROOT,
                "%.1f MiB in %.1f s (%.2f MiB/s).",
                r.inputBytes() / 1048576.0,
                r.seconds(),
                r.megabytesPerSecond()))
        .append("</p><p><b>")
        .append(
            String.format(
                Locale.ROOT,
                "%,d input records = %,d kept + %,d rejected + %,d quarantined.",
                r.inputRecords(),
                r.kept(),
                r.rejected(),
                r.quarantined()))
        .append("</b></p>");
    h.append("<img alt=\"Where the documents went\" src=\"data:image/png;base64,")
        .append(Base64.getEncoder().encodeToString(png))
        .append("\">");
    h.append(
        "<h2>Outcomes by stage and reason</h2><table><tr><th>outcome</th><th>reason</th><th>records</th><th>share</th></tr>");
    for (String[] row : rows(r)) {
      h.append("<tr><td>")
          .append(esc(row[0]))
          .append("</td><td>")
          .append(esc(row[1]))
          .append("</td><td class=n>")
          .append(row[2])
          .append("</td><td class=n>")
          .append(row[3])
          .append("</td></tr>");
    }
    h.append("</table><h2>Languages kept</h2><table>");
    r.languages()
        .forEach(
            (k, v) ->
                h.append("<tr><td>")
                    .append(esc(k))
                    .append("</td><td class=n>")
                    .append(v)
                    .append("</td></tr>"));
    h.append("</table><h2>Personal data redacted</h2><table>");
    r.pii()
        .forEach(
            (k, v) ->
                h.append("<tr><td>")
                    .append(esc(k))
                    .append("</td><td class=n>")
                    .append(v)
                    .append("</td></tr>"));
    h.append("</table><h2>Examples</h2>");
    String last = null;
    for (Row e : examples) {
      String key = e.getString(0) + ": " + e.getString(1);
      if (!key.equals(last)) {
        h.append(last == null ? "" : "</ul>").append("<h3>").append(esc(key)).append("</h3><ul>");
        last = key;
      }
      String text = e.isNullAt(5) ? "" : e.getString(5);
      text = text.length() > 240 ? text.substring(0, 240) + "…" : text;
      h.append("<li><code>")
          .append(esc(e.getString(2)))
          .append("</code> ")
          .append(e.isNullAt(4) ? "" : "(" + esc(e.getString(4)) + ") ")
          .append(esc(text))
          .append("</li>");
    }
    h.append(last == null ? "" : "</ul>").append("</body></html>\n");
    return h.toString();
  }

  private static String esc(String s) {
    return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
