package dev.forja.shard;

import dev.forja.storage.Storage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FSDataInputStream;

/**
 * An opened shard directory: the manifest, checked against the files, and random access to each
 * split's token stream by positioned reads (a read costs one request on {@code s3a:}, never a
 * download of the whole file).
 */
public final class TokenShards implements AutoCloseable {
  /** How much to check on open. */
  public enum Verify {
    /** Sizes and headers: catches truncation cheaply. */
    SIZES,
    /** Sizes, headers and every file's SHA-256 (reads all data once). */
    CHECKSUMS
  }

  private final Storage storage;
  private final URI dir;
  private final ShardManifest manifest;
  private final Map<String, SplitReader> readers = new HashMap<>();

  private TokenShards(Storage storage, URI dir, ShardManifest manifest) {
    this.storage = storage;
    this.dir = dir;
    this.manifest = manifest;
  }

  public static TokenShards open(Storage storage, URI dir, Verify verify) throws IOException {
    ShardManifest m =
        ShardManifest.read(storage, dir)
            .orElseThrow(
                () ->
                    new ShardException(
                        "No "
                            + ShardFormat.MANIFEST
                            + " in "
                            + dir
                            + ": not a committed shard directory (forja tokenize writes one; an"
                            + " interrupted run leaves none)"));
    for (ShardManifest.Split split : m.splits().values()) {
      for (ShardManifest.Shard s : split.shards()) {
        try {
          check(storage, dir, m, s, verify);
        } catch (org.apache.hadoop.fs.ChecksumException e) {
          throw new ShardException(
              "Shard "
                  + Storage.resolve(dir, s.file())
                  + " fails its checksum ("
                  + e.getMessage()
                  + "); the file is corrupt, re-run forja tokenize",
              e);
        }
      }
    }
    return new TokenShards(storage, dir, m);
  }

  private static void check(
      Storage storage, URI dir, ShardManifest m, ShardManifest.Shard s, Verify verify)
      throws IOException {
    URI uri = Storage.resolve(dir, s.file());
    if (!storage.exists(uri)) {
      throw new ShardException("Shard " + uri + " is missing (listed in the manifest)");
    }
    long size = storage.size(uri);
    long expected = ShardFormat.HEADER_BYTES + s.tokens() * m.recordBytes();
    if (size != s.bytes() || size != expected) {
      throw new ShardException(
          "Shard "
              + uri
              + " is truncated or corrupt: "
              + size
              + " bytes, the manifest says "
              + s.bytes()
              + " ("
              + s.tokens()
              + " tokens); re-run forja tokenize");
    }
    byte[] header = new byte[ShardFormat.HEADER_BYTES];
    try (FSDataInputStream in = storage.open(uri)) {
      in.readFully(0, header);
    }
    String problem = ShardFormat.checkHeader(header, m);
    if (problem != null) {
      throw new ShardException("Shard " + uri + ": " + problem);
    }
    if (verify == Verify.CHECKSUMS) {
      String sha = sha256(storage, uri);
      if (!sha.equals(s.sha256())) {
        throw new ShardException(
            "Shard "
                + uri
                + " fails its checksum: sha256 "
                + sha
                + ", the manifest says "
                + s.sha256()
                + "; the file is corrupt, re-run forja tokenize");
      }
    }
  }

  private static String sha256(Storage storage, URI uri) throws IOException {
    try (InputStream in = storage.open(uri)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public ShardManifest manifest() {
    return manifest;
  }

  public URI dir() {
    return dir;
  }

  /** Refuses shards made with a tokenizer other than the one with this hash. */
  public void requireTokenizer(String tokenizerHash, String tokenizerName) {
    if (!manifest.tokenizerHash().equals(tokenizerHash)) {
      throw new ShardException(
          "The shards at "
              + dir
              + " were made with tokenizer "
              + manifest.tokenizerHash().substring(0, 12)
              + ", not with "
              + tokenizerName
              + " ("
              + tokenizerHash.substring(0, 12)
              + "): their ids would mean other text. Use the tokenizer they were made with, or"
              + " re-run forja tokenize with this one");
    }
  }

  /** Random access to one split's tokens, concatenated in manifest order. */
  public synchronized SplitReader split(String name) {
    return readers.computeIfAbsent(name, n -> new SplitReader(manifest.split(n)));
  }

  @Override
  public synchronized void close() throws IOException {
    for (SplitReader r : readers.values()) {
      r.close();
    }
    readers.clear();
  }

  /** One split's token stream. */
  public final class SplitReader implements AutoCloseable {
    private final List<ShardManifest.Shard> shards;
    private final long[] starts;
    private final long tokens;
    private final FSDataInputStream[] streams;
    private byte[] buf = new byte[0];

    SplitReader(ShardManifest.Split split) {
      this.shards = split.shards();
      this.starts = new long[shards.size() + 1];
      for (int i = 0; i < shards.size(); i++) {
        starts[i + 1] = starts[i] + shards.get(i).tokens();
      }
      this.tokens = starts[shards.size()];
      this.streams = new FSDataInputStream[shards.size()];
    }

    public long tokens() {
      return tokens;
    }

    /** The row length of supervised shards, 0 for a stream of documents. */
    public int rowLength() {
      return manifest.rows();
    }

    /** Reads {@code n} tokens starting at {@code offset} of the split into {@code dst}. */
    public void read(long offset, int[] dst, int n) {
      read(offset, dst, null, n);
    }

    /**
     * Reads {@code n} tokens starting at {@code offset} into {@code dst}, and their flag bytes into
     * {@code flags} when it is not null ({@link ShardFormat#LOSS} for every token of shards without
     * flags).
     */
    public synchronized void read(long offset, int[] dst, byte[] flags, int n) {
      if (offset < 0 || offset + n > tokens) {
        throw new IndexOutOfBoundsException(
            "tokens [" + offset + ", " + (offset + n) + ") outside [0, " + tokens + ")");
      }
      int bpt = manifest.bytesPerToken();
      int rec = manifest.recordBytes();
      int done = 0;
      int shard = shardOf(offset);
      while (done < n) {
        long within = offset + done - starts[shard];
        int count = (int) Math.min(n - done, shards.get(shard).tokens() - within);
        if (count <= 0) {
          shard++;
          continue;
        }
        int len = count * rec;
        if (buf.length < len) {
          buf = new byte[len];
        }
        try {
          stream(shard).readFully(ShardFormat.HEADER_BYTES + within * rec, buf, 0, len);
        } catch (org.apache.hadoop.fs.ChecksumException e) {
          throw new ShardException(
              "Shard "
                  + Storage.resolve(dir, shards.get(shard).file())
                  + " fails its checksum: "
                  + e.getMessage(),
              e);
        } catch (IOException e) {
          throw new UncheckedIOException(
              "Cannot read " + Storage.resolve(dir, shards.get(shard).file()), e);
        }
        for (int i = 0, p = 0; i < count; i++) {
          int v = (buf[p++] & 0xFF) | (buf[p++] & 0xFF) << 8;
          if (bpt == 4) {
            v |= (buf[p++] & 0xFF) << 16 | (buf[p++] & 0xFF) << 24;
          }
          dst[done + i] = v;
          if (rec > bpt) {
            if (flags != null) {
              flags[done + i] = buf[p];
            }
            p++;
          } else if (flags != null) {
            flags[done + i] = ShardFormat.LOSS;
          }
        }
        done += count;
        shard++;
      }
    }

    private int shardOf(long offset) {
      int lo = 0;
      int hi = shards.size() - 1;
      while (lo < hi) {
        int mid = (lo + hi + 1) >>> 1;
        if (starts[mid] <= offset) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      return lo;
    }

    private FSDataInputStream stream(int shard) throws IOException {
      if (streams[shard] == null) {
        streams[shard] = storage.open(Storage.resolve(dir, shards.get(shard).file()));
      }
      return streams[shard];
    }

    @Override
    public synchronized void close() throws IOException {
      for (int i = 0; i < streams.length; i++) {
        if (streams[i] != null) {
          streams[i].close();
          streams[i] = null;
        }
      }
    }
  }
}
