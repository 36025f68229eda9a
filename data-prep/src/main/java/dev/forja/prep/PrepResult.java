package dev.forja.prep;

import java.net.URI;
import java.util.Map;

/** What a {@code forja prep} run did: the figures of {@code stats.json} and the report. */
public record PrepResult(
    URI output,
    String runId,
    long inputFiles,
    long inputBytes,
    long inputRecords,
    long kept,
    long rejected,
    long quarantined,
    Map<String, Long> reasons,
    Map<String, Long> languages,
    Map<String, Long> pii,
    long keptTextBytes,
    long candidatePairs,
    long similarPairs,
    double seconds,
    Map<String, Double> phaseSeconds) {
  public double megabytesPerSecond() {
    return inputBytes / 1048576.0 / Math.max(seconds, 1e-9);
  }
}
