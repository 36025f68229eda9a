package dev.forja.shard;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * {@code manifest.json} of a shard directory ({@link ShardFormat}): what the tokens mean (tokenizer
 * hash, vocabulary size, EOS id, dtype), how documents were split, each shard's counts and
 * checksum, and where the data came from. Written last; its presence commits the directory.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ShardManifest(
    String format,
    int version,
    String tokenizerHash,
    int vocabSize,
    int eosId,
    String dtype,
    double validationFraction,
    Map<String, Split> splits,
    Map<String, String> lineage,
    String created,
    Integer rowLength,
    Boolean lossMask) {

  public static final String FORMAT = "forja-token-shards";

  /** A stream of documents ({@code forja tokenize}): no rows, no flags. */
  public ShardManifest(
      String format,
      int version,
      String tokenizerHash,
      int vocabSize,
      int eosId,
      String dtype,
      double validationFraction,
      Map<String, Split> splits,
      Map<String, String> lineage,
      String created) {
    this(
        format,
        version,
        tokenizerHash,
        vocabSize,
        eosId,
        dtype,
        validationFraction,
        splits,
        lineage,
        created,
        null,
        null);
  }

  /**
   * The manifest of shards written now: the current format and version, the dtype the vocabulary
   * needs, a stream of documents (see {@link #withRows} for fine-tuning rows).
   */
  public static ShardManifest of(
      String tokenizerHash,
      int vocabSize,
      int eosId,
      double validationFraction,
      Map<String, Split> splits,
      Map<String, String> lineage) {
    return new ShardManifest(
        FORMAT,
        ShardFormat.VERSION,
        tokenizerHash,
        vocabSize,
        eosId,
        ShardFormat.dtype(ShardFormat.bytesPerToken(vocabSize)),
        validationFraction,
        splits,
        lineage,
        java.time.Instant.now().toString());
  }

  /** This manifest for rows of {@code rowLength} records, each a token and its loss flags. */
  public ShardManifest withRows(int rowLength) {
    return new ShardManifest(
        format,
        version,
        tokenizerHash,
        vocabSize,
        eosId,
        dtype,
        validationFraction,
        splits,
        lineage,
        created,
        rowLength,
        true);
  }

  /** One split: its totals and its shards in reading order. */
  public record Split(long tokens, long documents, List<Shard> shards) {
    public Split {
      shards = List.copyOf(shards);
    }

    /** A split of these shards, in this order, with their totals. */
    public static Split of(List<Shard> shards) {
      return new Split(
          shards.stream().mapToLong(Shard::tokens).sum(),
          shards.stream().mapToLong(Shard::documents).sum(),
          shards);
    }
  }

  /** One shard file, relative to the directory. */
  public record Shard(
      String file,
      long tokens,
      long documents,
      long bytes,
      @JsonProperty("sha256") String sha256) {}

  public ShardManifest {
    splits = new TreeMap<>(splits);
    lineage = new TreeMap<>(lineage);
  }

  public int bytesPerToken() {
    return dtype.equals("uint16") ? 2 : 4;
  }

  /**
   * Whether each token carries a flag byte ({@link ShardFormat#LOSS}, {@link ShardFormat#START}).
   */
  public boolean hasFlags() {
    return Boolean.TRUE.equals(lossMask);
  }

  /** The row length of supervised shards, 0 for a stream of documents. */
  public int rows() {
    return rowLength == null ? 0 : rowLength;
  }

  /** Bytes of one record: the token, and its flag byte if any. */
  public int recordBytes() {
    return bytesPerToken() + (hasFlags() ? 1 : 0);
  }

  public Split split(String name) {
    Split s = splits.get(name);
    if (s == null) {
      throw new ShardException(
          "The shards have no split '" + name + "'; they have " + splits.keySet());
    }
    return s;
  }

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .enable(SerializationFeature.INDENT_OUTPUT)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  public String toJson() {
    try {
      return JSON.writeValueAsString(this) + "\n";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static ShardManifest fromJson(String json, String where) {
    try {
      ShardManifest m = JSON.readValue(json, ShardManifest.class);
      if (!FORMAT.equals(m.format())) {
        throw new ShardException(
            where + " is not a Forja shard manifest (format " + m.format() + ")");
      }
      if (m.version() < ShardFormat.OLDEST_READ || m.version() > ShardFormat.VERSION) {
        throw new ShardException(
            where
                + " has shard format version "
                + m.version()
                + "; this Forja reads versions "
                + ShardFormat.OLDEST_READ
                + " to "
                + ShardFormat.VERSION
                + (m.version() > ShardFormat.VERSION ? ": upgrade Forja" : ""));
      }
      return m;
    } catch (IOException e) {
      throw new ShardException(where + " is not a valid shard manifest: " + e.getMessage(), e);
    }
  }

  /** The manifest of a shard directory, or empty if it has none (not committed). */
  public static Optional<ShardManifest> read(Storage storage, URI dir) throws IOException {
    URI uri = Storage.resolve(dir, ShardFormat.MANIFEST);
    if (!storage.exists(uri)) {
      return Optional.empty();
    }
    return Optional.of(fromJson(storage.readString(uri), uri.toString()));
  }

  /** Writes the manifest: call last, after every shard is closed. */
  public void commit(Storage storage, URI dir) throws IOException {
    Map<String, String> contents = new java.util.LinkedHashMap<>();
    contents.put(
        "train-NNNNN.bin, validation-NNNNN.bin",
        hasFlags()
            ? "token shards: a 32-byte header, then rows of "
                + rows()
                + " records, each a little-endian token id and a flag byte (1: trained, 2: starts"
                + " an example)"
            : "token shards: a 32-byte header, then little-endian token ids, EOS after each"
                + " document");
    contents.put(
        ShardFormat.MANIFEST,
        "the commit, written last: tokenizer hash, dtype, counts and SHA-256 of every shard");
    String readme =
        CommitManifest.readme(
                "Forja token shards (shard format version " + ShardFormat.VERSION + ").", contents)
            .lines()
            .filter(l -> !l.startsWith(CommitManifest.FILE_NAME))
            .collect(java.util.stream.Collectors.joining("\n", "", "\n"));
    storage.writeString(Storage.resolve(dir, CommitManifest.README), readme, true);
    storage.writeString(Storage.resolve(dir, ShardFormat.MANIFEST), toJson(), false);
  }
}
