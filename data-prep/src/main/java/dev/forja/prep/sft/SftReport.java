package dev.forja.prep.sft;

import java.net.URI;
import java.util.Locale;
import java.util.Map;

/** {@code report.md} of an SFT data run: what was kept and why the rest was set aside. */
final class SftReport {
  private SftReport() {}

  static String markdown(SftDataJob.Stats s, SftConfig cfg, URI output) {
    StringBuilder b = new StringBuilder();
    b.append("# Fine-tuning data: ").append(output).append("\n\n");
    b.append("| | |\n|---|---:|\n");
    row(b, "lines read", s.read);
    row(b, "examples kept", s.kept);
    for (Map.Entry<String, Long> e : s.examplesBySplit.entrySet()) {
      row(b, "  " + e.getKey(), e.getValue());
    }
    row(b, "quarantined", s.quarantinedTotal());
    row(b, "truncated to the row length", s.truncated);
    row(b, "tokens", s.tokens);
    row(b, "trained tokens", s.trainedTokens);
    row(b, "rows of " + cfg.sequenceLength() + (cfg.packing() ? " (packed)" : " (padded)"), s.rows);
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

  private static void row(StringBuilder b, String k, long v) {
    b.append(String.format(Locale.ROOT, "| %s | %,d |%n", k, v));
  }
}
