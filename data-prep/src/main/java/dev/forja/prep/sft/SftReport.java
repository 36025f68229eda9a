package dev.forja.prep.sft;

import dev.forja.storage.Storage;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The human-readable account of an SFT data run, as prep writes its own: {@code report.md} and
 * {@code report.html} (what was kept, why the rest was set aside, how long the examples are) with
 * {@code report.png}, two charts (JFreeChart): where the lines went, and the examples' lengths
 * against the row length.
 */
final class SftReport {
  static final String MD = "report.md";
  static final String HTML = "report.html";
  static final String PNG = "report.png";

  private SftReport() {}

  static void write(Storage storage, URI output, SftDataJob.Stats s, SftConfig cfg)
      throws IOException {
    byte[] png = chart(s, cfg);
    try (OutputStream out = storage.create(Storage.resolve(output, PNG), true)) {
      out.write(png);
    }
    storage.writeString(Storage.resolve(output, MD), markdown(s, cfg, output), true);
    storage.writeString(Storage.resolve(output, HTML), html(s, cfg, output, png), true);
  }

  /** The summary rows: label, count. */
  static List<Object[]> summary(SftDataJob.Stats s, SftConfig cfg) {
    List<Object[]> rows = new ArrayList<>();
    rows.add(new Object[] {"lines read", s.read});
    rows.add(new Object[] {"examples kept", s.kept});
    for (Map.Entry<String, Long> e : s.examplesBySplit.entrySet()) {
      rows.add(new Object[] {"  " + e.getKey(), e.getValue()});
    }
    rows.add(new Object[] {"quarantined", s.quarantinedTotal()});
    rows.add(new Object[] {"truncated to the row length", s.truncated});
    rows.add(new Object[] {"tokens", s.tokens});
    rows.add(new Object[] {"trained tokens", s.trainedTokens});
    rows.add(
        new Object[] {
          "rows of " + cfg.sequenceLength() + (cfg.packing() ? " (packed)" : " (padded)"), s.rows
        });
    return rows;
  }

  static String markdown(SftDataJob.Stats s, SftConfig cfg, URI output) {
    StringBuilder b = new StringBuilder();
    b.append("# Fine-tuning data: ").append(output).append("\n\n");
    b.append("![Where the lines went, and how long the examples are](").append(PNG).append(")\n\n");
    b.append("| | |\n|---|---:|\n");
    for (Object[] r : summary(s, cfg)) {
      row(b, (String) r[0], (Long) r[1]);
    }
    b.append(String.format(Locale.ROOT, "| row fill | %.1f%% |%n", 100 * s.fill()));
    if (!s.quarantined.isEmpty()) {
      b.append("\n## Quarantined, by reason\n\n| reason | lines |\n|---|---:|\n");
      s.quarantined.forEach((k, v) -> row(b, k, v));
      b.append("\nEach line is in `quarantine/` with its source, position, reason and a sample.\n");
    }
    b.append("\n## Example length (tokens)\n\n```\n");
    long max = 1;
    for (long n : s.lengths) {
      max = Math.max(max, n);
    }
    for (int i = 0; i < s.lengths.length; i++) {
      if (s.lengths[i] > 0) {
        int bar = (int) Math.ceil(40.0 * s.lengths[i] / max);
        b.append(
            String.format(Locale.ROOT, "<= %7d %9d %s%n", 1L << i, s.lengths[i], "#".repeat(bar)));
      }
    }
    b.append("```\n");
    return b.toString();
  }

  static String html(SftDataJob.Stats s, SftConfig cfg, URI output, byte[] png) {
    StringBuilder h = new StringBuilder();
    h.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\">")
        .append("<title>forja sft-data report</title>")
        .append("<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}")
        .append("table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;")
        .append("padding:4px 8px}td.n{text-align:right}code{background:#f4f4f4}</style>")
        .append("</head><body><h1>Fine-tuning data</h1><p><code>")
        .append(esc(output.toString()))
        .append("</code>: ")
        .append(
            String.format(
                Locale.ROOT,
                "%,d lines read = %,d examples kept + %,d quarantined; %,d rows of %d tokens,"
                    + " %.1f%% filled, %,d of %,d tokens trained.",
                s.read,
                s.kept,
                s.quarantinedTotal(),
                s.rows,
                cfg.sequenceLength(),
                100 * s.fill(),
                s.trainedTokens,
                s.tokens))
        .append("</p><img alt=\"Where the lines went, and how long the examples are\" ")
        .append("src=\"data:image/png;base64,")
        .append(Base64.getEncoder().encodeToString(png))
        .append("\"><h2>Counts</h2><table>");
    for (Object[] r : summary(s, cfg)) {
      h.append("<tr><td>")
          .append(esc((String) r[0]))
          .append("</td><td class=n>")
          .append(String.format(Locale.ROOT, "%,d", (Long) r[1]))
          .append("</td></tr>");
    }
    h.append("</table>");
    if (!s.quarantined.isEmpty()) {
      h.append("<h2>Quarantined, by reason</h2><table><tr><th>reason</th><th>lines</th></tr>");
      s.quarantined.forEach(
          (k, v) ->
              h.append("<tr><td>")
                  .append(esc(k))
                  .append("</td><td class=n>")
                  .append(String.format(Locale.ROOT, "%,d", v))
                  .append("</td></tr>"));
      h.append("</table><p>Each line is in <code>quarantine/</code> with its source, position,")
          .append(" reason and a sample.</p>");
    }
    h.append("</body></html>\n");
    return h.toString();
  }

  /** Both charts, one above the other, as one PNG. */
  static byte[] chart(SftDataJob.Stats s, SftConfig cfg) throws IOException {
    System.setProperty("java.awt.headless", "true");
    DefaultCategoryDataset outcomes = new DefaultCategoryDataset();
    s.examplesBySplit.forEach((k, v) -> outcomes.addValue(v, "lines", "kept: " + k));
    if (s.truncated > 0) {
      outcomes.addValue(s.truncated, "lines", "kept, of them truncated");
    }
    s.quarantined.forEach((k, v) -> outcomes.addValue(v, "lines", "quarantined: " + k));
    JFreeChart top =
        bars(
            String.format(Locale.ROOT, "Where the %,d lines went", s.read),
            "lines",
            outcomes,
            PlotOrientation.HORIZONTAL);
    DefaultCategoryDataset lengths = new DefaultCategoryDataset();
    int first = s.lengths.length;
    int last = 0;
    for (int i = 0; i < s.lengths.length; i++) {
      if (s.lengths[i] > 0) {
        first = Math.min(first, i);
        last = i;
      }
    }
    for (int i = Math.min(first, last); i <= last; i++) {
      lengths.addValue(s.lengths[i], "examples", "<= " + (1L << i));
    }
    JFreeChart bottom =
        bars(
            "Example length in tokens (rows hold " + cfg.sequenceLength() + ")",
            "examples",
            lengths,
            PlotOrientation.VERTICAL);
    int width = 900;
    int topHeight = 120 + 26 * Math.max(1, outcomes.getColumnCount());
    int bottomHeight = 320;
    BufferedImage img =
        new BufferedImage(width, topHeight + bottomHeight, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, width, topHeight + bottomHeight);
      top.draw(g, new Rectangle2D.Double(0, 0, width, topHeight));
      bottom.draw(g, new Rectangle2D.Double(0, topHeight, width, bottomHeight));
    } finally {
      g.dispose();
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  private static JFreeChart bars(
      String title, String axis, DefaultCategoryDataset data, PlotOrientation orientation) {
    return dev.forja.prep.report.PrepReport.barChart(title, axis, data, orientation);
  }

  private static void row(StringBuilder b, String k, long v) {
    b.append(String.format(Locale.ROOT, "| %s | %,d |%n", k, v));
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
