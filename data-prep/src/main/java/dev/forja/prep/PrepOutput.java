package dev.forja.prep;

import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The output directory of {@code forja prep} (format version {@value #FORMAT_VERSION}, manifest
 * kind {@value #KIND}): its paths, what each holds, and how later jobs read it ({@code forja
 * tokenizer train}, {@code forja tokenize}, {@code --dedup-against}). Written by {@code
 * dev.forja.prep.job.PrepJob}; documented in {@code docs/formats.md}.
 */
public record PrepOutput(URI uri, CommitManifest manifest) {
  public static final String KIND = "prep-output";
  public static final int FORMAT_VERSION = 1;

  public static final String KEPT = "kept";
  public static final String REJECTED = "rejected";
  public static final String QUARANTINE = "quarantine";
  public static final String STATS = "stats.json";
  public static final String REPORT_MD = "report.md";
  public static final String REPORT_HTML = "report.html";
  public static final String REPORT_PNG = "report.png";
  public static final String PIPELINE = "pipeline.json";
  public static final String CONFIG = "prep-config.yaml";

  /**
   * The dedup features of the documents the stages kept, for dedup and a later --dedup-against:
   * node (the document's number in the run), id, exact_key and signature (each where that dedup is
   * on).
   */
  public static final String DEDUP_DOCUMENTS = "dedup/documents";

  /** How the saved signatures were made (scheme and parameters). */
  public static final String MINHASH = "dedup/minhash.json";

  /** Where outputs of format version 0 kept exact keys and signatures (still read). */
  static final String LEGACY_KEYS = "dedup/exact-keys";

  static final String LEGACY_SIGNATURES = "dedup/signatures";

  /** What each path holds, in the order a person would open them (the directory's README.txt). */
  public static final Map<String, String> CONTENTS = contents();

  private static Map<String, String> contents() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(KEPT + "/", "the documents kept: id, text, source, language, signals, pii, meta");
    m.put(REJECTED + "/", "the documents rejected: id, source, reason, value, detail, text");
    m.put(QUARANTINE + "/", "unreadable inputs and records: source, position, reason, sample");
    m.put(REPORT_HTML, "the report for people (also " + REPORT_MD + " and " + REPORT_PNG + ")");
    m.put(STATS, "counts per outcome, reason, language and PII type; bytes; seconds per phase");
    m.put(PIPELINE, "the stages with their parameters");
    m.put(CONFIG, "every prep.* value in effect: forja prep --conf " + CONFIG + " repeats the run");
    m.put(DEDUP_DOCUMENTS + "/", "node, id, exact_key, signature of each document the stages kept");
    m.put(MINHASH, "the MinHash scheme of the signatures (near-dedup only)");
    return java.util.Collections.unmodifiableMap(m);
  }

  /**
   * The committed prep output at {@code uri}, or an error naming {@code option} (the command-line
   * option that gave it) and what to do.
   */
  public static PrepOutput open(Storage storage, URI uri, String option) throws IOException {
    CommitManifest m =
        CommitManifest.read(storage, uri)
            .filter(x -> KIND.equals(x.kind()))
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        option
                            + " "
                            + uri
                            + " is not a committed forja prep output (no "
                            + CommitManifest.FILE_NAME
                            + " of kind "
                            + KIND
                            + "); run forja prep first"));
    return new PrepOutput(uri, m);
  }

  public String runId() {
    return manifest.properties().getOrDefault("run-id", "unknown");
  }

  /** The kept documents as (id, text). */
  public Dataset<Row> keptTexts(SparkSession spark) {
    String format = manifest.properties().getOrDefault("format", "parquet");
    String kept = path(KEPT).toString();
    Dataset<Row> ds = format.equals("jsonl") ? spark.read().json(kept) : spark.read().parquet(kept);
    return ds.select("id", "text");
  }

  public URI path(String relative) {
    return Storage.resolve(uri, relative);
  }

  /** Whether dedup ran and saved its features (exact keys, signatures or both). */
  public boolean hasDedupState(Storage storage) throws IOException {
    return storage.exists(path(DEDUP_DOCUMENTS))
        || storage.exists(path(LEGACY_SIGNATURES))
        || storage.exists(path(LEGACY_KEYS));
  }

  /** Whether near-dedup ran and saved signatures with their {@link #MINHASH} description. */
  public boolean hasSignatures(Storage storage) throws IOException {
    return storage.exists(path(LEGACY_SIGNATURES))
        || (storage.exists(path(DEDUP_DOCUMENTS)) && storage.exists(path(MINHASH)));
  }

  /** The exact keys (key, id), or null where none were saved. */
  public Dataset<Row> exactKeys(Storage storage, SparkSession spark) throws IOException {
    if (storage.exists(path(DEDUP_DOCUMENTS))) {
      Dataset<Row> d = spark.read().parquet(path(DEDUP_DOCUMENTS).toString());
      return List.of(d.columns()).contains("exact_key")
          ? d.select(functions.col("exact_key").as("key"), functions.col("id"))
          : null;
    }
    URI legacy = path(LEGACY_KEYS);
    return storage.exists(legacy)
        ? spark.read().schema(KEYS_SCHEMA).parquet(legacy.toString())
        : null;
  }

  static final StructType KEYS_SCHEMA =
      new StructType().add("key", DataTypes.StringType).add("id", DataTypes.StringType);

  /** The signatures (id, signature), or null where none were saved. */
  public Dataset<Row> signatures(Storage storage, SparkSession spark) throws IOException {
    if (storage.exists(path(DEDUP_DOCUMENTS))) {
      Dataset<Row> d = spark.read().parquet(path(DEDUP_DOCUMENTS).toString());
      return List.of(d.columns()).contains("signature") ? d.select("id", "signature") : null;
    }
    // legacy outputs hold signatures as binary or, older still, as arrays of ints; Deduplicator
    // reads both
    URI legacy = path(LEGACY_SIGNATURES);
    if (!storage.exists(legacy)) {
      return null;
    }
    try {
      return spark.read().parquet(legacy.toString()).select("id", "signature");
    } catch (Exception e) {
      if (!(e instanceof org.apache.spark.sql.AnalysisException)) {
        throw e;
      }
      // no file to infer the schema from: no signature was saved
      return spark
          .read()
          .schema(
              new StructType()
                  .add("id", DataTypes.StringType)
                  .add("signature", DataTypes.BinaryType))
          .parquet(legacy.toString());
    }
  }

  /** The directory's README.txt: what each file is. */
  public static String readme() {
    return CommitManifest.readme(
        "A forja prep output (format version " + FORMAT_VERSION + ").", CONTENTS);
  }
}
