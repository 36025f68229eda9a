package dev.forja.storage;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The commit record of a directory of output (a corpus, token shards, a checkpoint): the files it
 * holds with their sizes and SHA-256, written last. A directory without a readable manifest is not
 * committed, whatever files it holds; S3 has no atomic rename, so this is how every stage tells
 * finished output from a crash mid-write, on every file system alike.
 *
 * <p>Format version 1, JSON at {@code DIR/_MANIFEST.json}: {@code format-version}, {@code kind},
 * {@code created}, {@code properties} (string map, e.g. lineage), {@code files} (path relative to
 * DIR, size in bytes, sha256 hex).
 */
public record CommitManifest(
    int formatVersion,
    String kind,
    String created,
    Map<String, String> properties,
    List<FileRecord> files) {

  public static final String FILE_NAME = "_MANIFEST.json";

  /** The plain-text note beside the manifest that tells a person what each file is. */
  public static final String README = "README.txt";

  public static final int FORMAT_VERSION = 1;
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** One committed file. */
  public record FileRecord(String path, long size, String sha256) {}

  public CommitManifest {
    properties = new TreeMap<>(properties);
    files = List.copyOf(files);
  }

  /**
   * Commits {@code dir}: hashes every file below it (except an old manifest) and writes the
   * manifest last. Refuses to overwrite an existing commit.
   */
  public static CommitManifest commit(
      Storage storage, URI dir, String kind, Map<String, String> properties) throws IOException {
    URI manifestUri = Storage.resolve(dir, FILE_NAME);
    if (storage.exists(manifestUri)) {
      throw new StorageException(dir + " is already committed (" + FILE_NAME + " exists)");
    }
    String prefix = normalizedDir(storage, dir);
    List<FileRecord> files = new ArrayList<>();
    for (Storage.Entry e : storage.listFiles(dir)) {
      String full = e.uri().toString();
      String rel = full.startsWith(prefix) ? full.substring(prefix.length()) : full;
      if (rel.equals(FILE_NAME) || rel.startsWith("_temporary/")) {
        continue;
      }
      files.add(new FileRecord(rel, e.size(), sha256(storage, e.uri())));
    }
    CommitManifest m =
        new CommitManifest(FORMAT_VERSION, kind, Instant.now().toString(), properties, files);
    storage.writeString(manifestUri, m.toJson(), false);
    return m;
  }

  /**
   * The text of a committed directory's {@link #README}: {@code title}, then each path with what it
   * holds, then the manifest.
   */
  public static String readme(String title, Map<String, String> contents) {
    StringBuilder b = new StringBuilder(title).append("\n\n");
    Map<String, String> all = new java.util.LinkedHashMap<>(contents);
    all.put(FILE_NAME, "the commit, written last: every file with its size and SHA-256");
    int width = all.keySet().stream().mapToInt(String::length).max().orElse(0) + 2;
    all.forEach((path, what) -> b.append(String.format("%-" + width + "s%s%n", path, what)));
    return b.toString();
  }

  /** The manifest of {@code dir}, or empty when the directory is not (validly) committed. */
  public static Optional<CommitManifest> read(Storage storage, URI dir) throws IOException {
    URI manifestUri = Storage.resolve(dir, FILE_NAME);
    if (!storage.exists(manifestUri)) {
      return Optional.empty();
    }
    String text = storage.readString(manifestUri);
    try {
      CommitManifest m = fromJson(text);
      if (m.formatVersion() > FORMAT_VERSION) {
        throw new StorageException(
            manifestUri
                + " has format version "
                + m.formatVersion()
                + "; this Forja reads up to "
                + FORMAT_VERSION
                + " (upgrade Forja)");
      }
      return Optional.of(m);
    } catch (IOException e) {
      return Optional.empty(); // a manifest cut short by a crash: not a commit
    }
  }

  /**
   * Checks every file's size and, when {@code checksums}, its SHA-256. Throws a {@link
   * StorageException} naming the first file that does not match.
   */
  public void verify(Storage storage, URI dir, boolean checksums) throws IOException {
    for (FileRecord f : files) {
      URI uri = Storage.resolve(dir, f.path());
      if (!storage.exists(uri)) {
        throw new StorageException(uri + " is listed in " + FILE_NAME + " but missing");
      }
      long size = storage.size(uri);
      if (size != f.size()) {
        throw new StorageException(
            uri + " has " + size + " bytes; " + FILE_NAME + " says " + f.size() + " (truncated?)");
      }
      if (checksums && !sha256(storage, uri).equals(f.sha256())) {
        throw new StorageException(uri + " fails its SHA-256 check (corrupted)");
      }
    }
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(
          Map.of(
              "format-version", formatVersion,
              "kind", kind,
              "created", created,
              "properties", properties,
              "files",
                  files.stream()
                      .map(f -> Map.of("path", f.path(), "size", f.size(), "sha256", f.sha256()))
                      .toList()));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @SuppressWarnings("unchecked")
  static CommitManifest fromJson(String json) throws IOException {
    Map<String, Object> m = JSON.readValue(json, Map.class);
    List<FileRecord> files = new ArrayList<>();
    for (Map<String, Object> f : (List<Map<String, Object>>) m.get("files")) {
      files.add(
          new FileRecord(
              (String) f.get("path"),
              ((Number) f.get("size")).longValue(),
              (String) f.get("sha256")));
    }
    return new CommitManifest(
        ((Number) m.get("format-version")).intValue(),
        (String) m.get("kind"),
        (String) m.get("created"),
        (Map<String, String>) m.get("properties"),
        files);
  }

  public static String sha256(Storage storage, URI uri) throws IOException {
    MessageDigest md = newSha256();
    byte[] buf = new byte[1 << 16];
    try (InputStream in = storage.open(uri)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The fully qualified form of {@code dir} as the file system lists it, ending in '/'. */
  private static String normalizedDir(Storage storage, URI dir) {
    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(dir);
    String q = storage.fileSystem(dir).makeQualified(p).toUri().toString();
    return q.endsWith("/") ? q : q + "/";
  }
}
