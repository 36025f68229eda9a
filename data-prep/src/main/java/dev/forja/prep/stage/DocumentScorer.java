package dev.forja.prep.stage;

/**
 * A pluggable document classifier for the harmful-content stage (a toxicity or quality model, say).
 * Implementations need a public no-argument constructor; one instance is built per partition on
 * each executor. Set {@code prep.harmful.scorer-class} to the class name; documents scoring above
 * {@code prep.harmful.max-score} are rejected ({@code harmful.score}).
 */
public interface DocumentScorer {
  /** The score of {@code text} in language {@code lang} (ISO 639-1, may be null). */
  double score(String text, String lang);
}
