package dev.forja.shard;

import java.io.IOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Writes one shard file: header, then tokens; tracks counts and the SHA-256 of what it wrote. */
public final class ShardWriter implements AutoCloseable {
  private final OutputStream out;
  private final MessageDigest sha;
  private final int bytesPerToken;
  private final int vocabSize;
  private final byte[] buf = new byte[1 << 16];
  private int pos;
  private long tokens;
  private long documents;
  private long bytes;
  private String sha256;

  private final boolean flags;

  /** A stream of documents, each followed by EOS: records without flags. */
  public ShardWriter(OutputStream out, int vocabSize, int eosId) throws IOException {
    this(out, vocabSize, eosId, false, 0);
  }

  /**
   * With {@code flags}, each token is followed by its flag byte; {@code rowLength} is what the
   * header records (0: a stream).
   */
  public ShardWriter(OutputStream out, int vocabSize, int eosId, boolean flags, int rowLength)
      throws IOException {
    this.out = out;
    this.flags = flags;
    this.vocabSize = vocabSize;
    this.bytesPerToken = ShardFormat.bytesPerToken(vocabSize);
    try {
      this.sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] h = ShardFormat.header(bytesPerToken, vocabSize, eosId, flags, rowLength);
    write(h, h.length);
  }

  /** Appends one document's tokens (the caller includes its EOS). */
  public void writeDocument(int[] ids, int n) throws IOException {
    if (flags) {
      throw new IllegalStateException("this shard has flags: use writeRecords");
    }
    writeRecords(ids, null, n, 1);
  }

  /**
   * Appends {@code n} tokens with their flag bytes (a shard with flags), holding {@code documents}
   * examples.
   */
  public void writeRecords(int[] ids, byte[] flagBytes, int n, int examples) throws IOException {
    if (flags != (flagBytes != null)) {
      throw new IllegalStateException(flags ? "this shard needs flags" : "this shard has none");
    }
    for (int i = 0; i < n; i++) {
      int id = ids[i];
      if (id < 0 || id >= vocabSize) {
        throw new IllegalArgumentException("token id " + id + " outside vocabulary " + vocabSize);
      }
      if (pos + 5 > buf.length) {
        flushBuffer();
      }
      buf[pos++] = (byte) id;
      buf[pos++] = (byte) (id >>> 8);
      if (bytesPerToken == 4) {
        buf[pos++] = (byte) (id >>> 16);
        buf[pos++] = (byte) (id >>> 24);
      }
      if (flags) {
        buf[pos++] = flagBytes[i];
      }
    }
    tokens += n;
    documents += examples;
  }

  private void write(byte[] b, int n) throws IOException {
    out.write(b, 0, n);
    sha.update(b, 0, n);
    bytes += n;
  }

  private void flushBuffer() throws IOException {
    write(buf, pos);
    pos = 0;
  }

  public long tokens() {
    return tokens;
  }

  public long documents() {
    return documents;
  }

  public long bytes() {
    return bytes + pos;
  }

  /** The file's SHA-256, after {@link #close()}. */
  public String sha256() {
    return sha256;
  }

  @Override
  public void close() throws IOException {
    if (sha256 == null) {
      flushBuffer();
      out.close();
      sha256 = HexFormat.of().formatHex(sha.digest());
    }
  }
}
