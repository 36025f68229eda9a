package dev.forja.prep.io;

import java.util.Locale;

/** What an input file holds; detected from its name or forced per input ({@code jsonl=URI}). */
public enum InputFormat {
  TEXT,
  HTML,
  JSONL,
  PARQUET;

  /** Compression, from the last suffix. */
  public enum Compression {
    NONE,
    GZIP,
    BZIP2,
    ZSTD
  }

  public static Compression compressionOf(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    if (n.endsWith(".gz") || n.endsWith(".gzip")) {
      return Compression.GZIP;
    }
    if (n.endsWith(".bz2")) {
      return Compression.BZIP2;
    }
    if (n.endsWith(".zst") || n.endsWith(".zstd")) {
      return Compression.ZSTD;
    }
    return Compression.NONE;
  }

  /** The format a file name implies, or null when it implies none. */
  public static InputFormat detect(String name) {
    String n = name.toLowerCase(Locale.ROOT).replaceAll("\\.(gz|gzip|bz2|zst|zstd)$", "");
    if (n.endsWith(".jsonl") || n.endsWith(".json") || n.endsWith(".ndjson")) {
      return JSONL;
    }
    if (n.endsWith(".parquet")) {
      return PARQUET;
    }
    if (n.endsWith(".html") || n.endsWith(".htm") || n.endsWith(".xhtml")) {
      return HTML;
    }
    if (n.endsWith(".txt") || n.endsWith(".text") || n.endsWith(".md")) {
      return TEXT;
    }
    return null;
  }

  public static InputFormat parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "unknown input format '"
              + s
              + "'; use text, html, jsonl or parquet (e.g. jsonl=s3a://b/x)");
    }
  }
}
