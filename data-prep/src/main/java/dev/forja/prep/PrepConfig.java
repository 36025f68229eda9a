package dev.forja.prep;

import dev.forja.config.ConfigReader;
import java.io.Serializable;
import java.util.List;

/**
 * Everything {@code forja prep} does, one record per stage; bound from the {@code prep.*} keys. The
 * defaults are the published ones: Gopher quality and repetition (Rae et al. 2021, as in
 * DataTrove's GopherQualityFilter and GopherRepetitionFilter), C4 line rules (Raffel et al. 2020,
 * DataTrove's C4QualityFilter), FineWeb's extra rules (Penedo et al. 2024) and MinHash LSH over
 * word 5-grams (FineWeb/DataTrove shingling).
 */
public record PrepConfig(
    Reader reader,
    Clean clean,
    Language language,
    Quality quality,
    Pii pii,
    Harmful harmful,
    Dedup dedup,
    Decontaminate decontaminate,
    Output output)
    implements Serializable {

  /** How inputs become documents. */
  public record Reader(String textMode, String textField, String idField, long maxRecordBytes)
      implements Serializable {}

  /** Cleaning steps, each switchable. */
  public record Clean(
      String unicode,
      boolean html,
      boolean controlChars,
      boolean whitespace,
      boolean boilerplateLines,
      List<String> boilerplatePatterns,
      int boilerplateMaxLineChars)
      implements Serializable {}

  /** Language identification. */
  public record Language(boolean enabled, List<String> allowed, double minConfidence, int maxChars)
      implements Serializable {}

  /** Quality rules; any rule named in {@code disabledRules} is skipped. */
  public record Quality(
      List<String> disabledRules,
      int minDocWords,
      int maxDocWords,
      double minAvgWordLength,
      double maxAvgWordLength,
      double maxSymbolWordRatio,
      double maxBulletLinesRatio,
      double maxEllipsisLinesRatio,
      double minAlphaWordsRatio,
      int minStopWords,
      double maxDupLineFraction,
      double maxDupParaFraction,
      double maxDupLineCharFraction,
      double maxDupParaCharFraction,
      List<Double> maxTopNgramCharFraction,
      List<Double> maxDupNgramCharFraction,
      boolean c4LineRules,
      int c4MinSentences,
      int c4MinWordsPerLine,
      int c4MaxWordLength,
      double finewebMinLinePunctRatio,
      double finewebMaxShortLineRatio,
      int finewebShortLineChars,
      double finewebMaxCharDupRatio,
      double finewebMaxNewlineRatio)
      implements Serializable {

    public boolean enabled(String rule) {
      return !disabledRules.contains(rule);
    }
  }

  /** Personal-data redaction. */
  public record Pii(boolean enabled, List<String> types) implements Serializable {}

  /** Harmful-content filtering. */
  public record Harmful(
      String blocklistDir, double maxBlockedFraction, String scorerClass, double maxScore)
      implements Serializable {}

  /** Exact and near-duplicate removal. */
  public record Dedup(
      boolean exact,
      boolean near,
      String shingle,
      int ngram,
      int bands,
      int rows,
      double minJaccard,
      long seed,
      int maxBucketSize)
      implements Serializable {
    public int numHashes() {
      return bands * rows;
    }

    public Dedup withExact(boolean on) {
      return new Dedup(on, near, shingle, ngram, bands, rows, minJaccard, seed, maxBucketSize);
    }

    public Dedup withNear(boolean on) {
      return new Dedup(exact, on, shingle, ngram, bands, rows, minJaccard, seed, maxBucketSize);
    }
  }

  /** Removal of documents that overlap an evaluation set. */
  public record Decontaminate(int ngram, String action) implements Serializable {}

  /** What is written. */
  public record Output(String format, int examplesPerReason) implements Serializable {}

  public PrepConfig withDedup(Dedup d) {
    return new PrepConfig(reader, clean, language, quality, pii, harmful, d, decontaminate, output);
  }

  public static final List<String> QUALITY_RULES =
      List.of(
          "gopher.min-doc-words",
          "gopher.max-doc-words",
          "gopher.min-avg-word-length",
          "gopher.max-avg-word-length",
          "gopher.max-symbol-word-ratio",
          "gopher.max-bullet-lines-ratio",
          "gopher.max-ellipsis-lines-ratio",
          "gopher.min-alpha-words-ratio",
          "gopher.min-stop-words",
          "repetition.dup-line-fraction",
          "repetition.dup-para-fraction",
          "repetition.dup-line-char-fraction",
          "repetition.dup-para-char-fraction",
          "repetition.top-ngram-char-fraction",
          "repetition.dup-ngram-char-fraction",
          "c4.lorem-ipsum",
          "c4.curly-bracket",
          "c4.min-sentences",
          "fineweb.line-punct-ratio",
          "fineweb.short-line-ratio",
          "fineweb.char-dup-ratio",
          "fineweb.newline-ratio");

  /**
   * The signals Gopher's n-gram repetition rules record, one per n: the top 2- to 4-gram's and the
   * duplicated 5- to 10-grams' character fractions (element {@code n - 2}).
   */
  public static final List<String> NGRAM_SIGNALS =
      List.of(
          "repetition.top-2gram-char-fraction",
          "repetition.top-3gram-char-fraction",
          "repetition.top-4gram-char-fraction",
          "repetition.dup-5gram-char-fraction",
          "repetition.dup-6gram-char-fraction",
          "repetition.dup-7gram-char-fraction",
          "repetition.dup-8gram-char-fraction",
          "repetition.dup-9gram-char-fraction",
          "repetition.dup-10gram-char-fraction");

  public static PrepConfig read(ConfigReader r) {
    Reader reader =
        new Reader(
            r.choice(
                "prep.reader.text-mode",
                "file",
                List.of("file", "line", "paragraph"),
                "How a plain-text file splits into documents: the whole file, each line, or blocks separated by blank lines."),
            r.string("prep.reader.text-field", "text", "JSONL/Parquet field holding the text."),
            r.string(
                "prep.reader.id-field",
                "id",
                "JSONL/Parquet field holding a document id; without one, source path + offset."),
            r.longIn(
                "prep.reader.max-record-bytes",
                16L << 20,
                1024,
                1L << 31,
                "A record (line, block, file) longer than this is quarantined, not read."));
    Clean clean =
        new Clean(
            r.choice(
                "prep.clean.unicode",
                "nfc",
                List.of("nfc", "nfkc", "none"),
                "Unicode normalization."),
            r.bool(
                "prep.clean.html",
                true,
                "Turn HTML (.html inputs, and markup found in text) into plain text."),
            r.bool("prep.clean.control-chars", true, "Remove control characters."),
            r.bool("prep.clean.whitespace", true, "Normalize spaces and blank lines."),
            r.bool(
                "prep.clean.boilerplate-lines",
                true,
                "Remove short lines matching the boilerplate patterns."),
            r.list(
                "prep.clean.boilerplate-patterns",
                DEFAULT_BOILERPLATE,
                "Regular expressions (case-insensitive) of boilerplate lines."),
            r.intIn(
                "prep.clean.boilerplate-max-line-chars",
                200,
                1,
                100_000,
                "Only lines up to this long count as boilerplate."));
    Language language =
        new Language(
            r.bool(
                "prep.language.enabled", true, "Identify the language and keep only allowed ones."),
            r.list(
                "prep.language.allowed",
                List.of("en", "es", "pt"),
                "ISO 639-1 codes to keep (empty: all)."),
            r.doubleIn(
                "prep.language.min-confidence",
                0.25,
                0,
                1,
                "Minimum probability of the best language (OpenNLP's, over 103 languages; clean paragraphs score 0.5-0.9, noise under 0.1)."),
            r.intIn(
                "prep.language.max-chars",
                500,
                50,
                1_000_000,
                "Characters of each document the detector reads."));
    List<String> disabled =
        r.list(
            "prep.quality.disabled-rules",
            List.of(),
            "Quality rules to skip, e.g. [c4.min-sentences].");
    for (String rule : disabled) {
      r.require(
          QUALITY_RULES.contains(rule),
          "prep.quality.disabled-rules",
          "'"
              + rule
              + "' is not a quality rule"
              + suggestion(rule)
              + " (rules: "
              + String.join(", ", QUALITY_RULES)
              + ")");
    }
    Quality quality =
        new Quality(
            disabled,
            r.intIn(
                "prep.quality.gopher.min-doc-words",
                50,
                0,
                Integer.MAX_VALUE,
                "Gopher: fewest words."),
            r.intIn(
                "prep.quality.gopher.max-doc-words",
                100_000,
                1,
                Integer.MAX_VALUE,
                "Gopher: most words."),
            r.doubleIn(
                "prep.quality.gopher.min-avg-word-length",
                3,
                0,
                1000,
                "Gopher: shortest mean word length."),
            r.doubleIn(
                "prep.quality.gopher.max-avg-word-length",
                10,
                0,
                1000,
                "Gopher: longest mean word length."),
            r.doubleIn(
                "prep.quality.gopher.max-symbol-word-ratio",
                0.1,
                0,
                100,
                "Gopher: '#' and '...' per word."),
            r.doubleIn(
                "prep.quality.gopher.max-bullet-lines-ratio",
                0.9,
                0,
                1,
                "Gopher: lines starting with a bullet."),
            r.doubleIn(
                "prep.quality.gopher.max-ellipsis-lines-ratio",
                0.3,
                0,
                1,
                "Gopher: lines ending with an ellipsis."),
            r.doubleIn(
                "prep.quality.gopher.min-alpha-words-ratio",
                0.8,
                0,
                1,
                "Gopher: words with a letter."),
            r.intIn(
                "prep.quality.gopher.min-stop-words",
                2,
                0,
                1000,
                "Gopher: fewest stop words (per language)."),
            r.doubleIn(
                "prep.quality.repetition.max-dup-line-fraction",
                0.3,
                0,
                1,
                "Gopher repetition: duplicated lines."),
            r.doubleIn(
                "prep.quality.repetition.max-dup-para-fraction",
                0.3,
                0,
                1,
                "Gopher repetition: duplicated paragraphs."),
            r.doubleIn(
                "prep.quality.repetition.max-dup-line-char-fraction",
                0.2,
                0,
                1,
                "Gopher repetition: characters in duplicated lines."),
            r.doubleIn(
                "prep.quality.repetition.max-dup-para-char-fraction",
                0.2,
                0,
                1,
                "Gopher repetition: characters in duplicated paragraphs."),
            doubles(
                r,
                "prep.quality.repetition.max-top-ngram-char-fraction",
                List.of(0.2, 0.18, 0.16),
                "Gopher repetition: characters in the most frequent 2-, 3-, 4-gram."),
            doubles(
                r,
                "prep.quality.repetition.max-dup-ngram-char-fraction",
                List.of(0.15, 0.14, 0.13, 0.12, 0.11, 0.10),
                "Gopher repetition: characters in duplicated 5- to 10-grams."),
            r.bool(
                "prep.quality.c4.line-rules",
                true,
                "C4: drop lines without terminal punctuation, short lines, 'javascript' and policy lines."),
            r.intIn("prep.quality.c4.min-sentences", 5, 0, 1000, "C4: fewest sentences."),
            r.intIn(
                "prep.quality.c4.min-words-per-line",
                3,
                0,
                1000,
                "C4: lines with fewer words are dropped."),
            r.intIn(
                "prep.quality.c4.max-word-length",
                1000,
                1,
                Integer.MAX_VALUE,
                "C4: lines with a longer word are dropped."),
            r.doubleIn(
                "prep.quality.fineweb.min-line-punct-ratio",
                0.12,
                0,
                1,
                "FineWeb: lines ending in punctuation."),
            r.doubleIn(
                "prep.quality.fineweb.max-short-line-ratio", 0.67, 0, 1, "FineWeb: short lines."),
            r.intIn(
                "prep.quality.fineweb.short-line-chars",
                30,
                1,
                100_000,
                "FineWeb: what a short line is."),
            r.doubleIn(
                "prep.quality.fineweb.max-char-dup-ratio",
                0.01,
                0,
                1,
                "FineWeb: characters in duplicated lines."),
            r.doubleIn(
                "prep.quality.fineweb.max-newline-ratio",
                0.3,
                0,
                100,
                "FineWeb: newlines per word."));
    Pii pii =
        new Pii(
            r.bool("prep.pii.enabled", true, "Replace personal data with typed placeholders."),
            r.list(
                "prep.pii.types",
                PII_TYPES,
                "Kinds to redact: " + String.join(", ", PII_TYPES) + "."));
    for (String t : pii.types()) {
      r.require(PII_TYPES.contains(t), "prep.pii.types", "'" + t + "' is not one of " + PII_TYPES);
    }
    Harmful harmful =
        new Harmful(
            r.string(
                "prep.harmful.blocklist-dir",
                "",
                "Directory URI with LANG.txt blocklists (one term per line) and optional all.txt; empty: none."),
            r.doubleIn(
                "prep.harmful.max-blocked-fraction",
                0.005,
                0,
                1,
                "Reject when blocked terms exceed this share of words."),
            r.string(
                "prep.harmful.scorer-class",
                "",
                "A dev.forja.prep.stage.DocumentScorer class to score documents; empty: none."),
            r.doubleIn(
                "prep.harmful.max-score",
                0.5,
                0,
                Double.MAX_VALUE,
                "Reject when the scorer's score exceeds this."));
    Dedup dedup =
        new Dedup(
            r.bool("prep.dedup.exact", true, "Remove exact duplicates (hash of normalized text)."),
            r.bool("prep.dedup.near", true, "Remove near duplicates (MinHash LSH)."),
            r.choice(
                "prep.dedup.shingle",
                "word",
                List.of("word", "char"),
                "Shingles: word n-grams or character n-grams."),
            r.intIn("prep.dedup.ngram", 5, 1, 100, "Shingle size (words or characters)."),
            r.intIn("prep.dedup.bands", 20, 1, 1000, "LSH bands."),
            r.intIn("prep.dedup.rows", 5, 1, 100, "MinHash values per band."),
            r.doubleIn(
                "prep.dedup.min-jaccard",
                0.7,
                0,
                1,
                "Candidates whose estimated Jaccard is lower are not duplicates."),
            r.longIn(
                "prep.dedup.seed",
                1,
                Long.MIN_VALUE,
                Long.MAX_VALUE,
                "Seed of the MinHash functions."),
            r.intIn(
                "prep.dedup.max-bucket-size",
                200,
                2,
                1_000_000,
                "Larger LSH buckets pair every member only with the smallest id."));
    Decontaminate decontaminate =
        new Decontaminate(
            r.intIn(
                "prep.decontaminate.ngram",
                13,
                3,
                100,
                "Word n-gram shared with the evaluation set that marks contamination."),
            r.choice(
                "prep.decontaminate.action",
                "drop",
                List.of("drop", "flag"),
                "Drop contaminated documents, or keep them flagged."));
    Output output =
        new Output(
            r.choice(
                "prep.output.format",
                "parquet",
                List.of("parquet", "jsonl"),
                "Format of kept/rejected/quarantine."),
            r.intIn(
                "prep.output.examples-per-reason",
                3,
                0,
                100,
                "Examples of each rejection in the report."));
    return new PrepConfig(
        reader, clean, language, quality, pii, harmful, dedup, decontaminate, output);
  }

  public static final List<String> PII_TYPES =
      List.of("email", "phone", "ip", "credit-card", "secret");

  /** Default boilerplate lines, English, Spanish and Portuguese. */
  public static final List<String> DEFAULT_BOILERPLATE =
      List.of(
          "all rights reserved|todos los derechos reservados|todos os direitos reservados",
          "\\bcookies?\\b",
          "subscribe to our newsletter|suscr[ií]bete|assine a nossa",
          "privacy policy|terms of (use|service)|pol[ií]tica de privacidad|aviso legal|pol[ií]tica de privacidade|termos de uso",
          "share on (facebook|twitter)|compartir en (facebook|twitter)|partilhar no (facebook|twitter)",
          "click here|haz clic aqu[ií]|clique aqui",
          "enable javascript|javascript is disabled");

  private static String suggestion(String rule) {
    String near = dev.forja.config.Suggest.nearest(rule, QUALITY_RULES);
    return near == null ? "" : " (did you mean '" + near + "'?)";
  }

  private static List<Double> doubles(
      ConfigReader r, String key, List<Double> defaults, String doc) {
    List<String> raw = r.list(key, defaults.stream().map(String::valueOf).toList(), doc);
    try {
      List<Double> out = raw.stream().map(Double::parseDouble).toList();
      r.require(
          out.size() == defaults.size(),
          key,
          "give " + defaults.size() + " numbers, got " + out.size());
      return out.size() == defaults.size() ? out : defaults;
    } catch (NumberFormatException e) {
      r.require(false, key, "'" + raw + "' is not a list of numbers");
      return defaults;
    }
  }
}
