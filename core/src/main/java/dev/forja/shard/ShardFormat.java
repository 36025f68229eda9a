package dev.forja.shard;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Forja's token shard format, version {@value #VERSION}. Written by {@link ShardWriter}, read by
 * {@link TokenShards}; the only place the layout is defined.
 *
 * <p>A shard directory holds {@code manifest.json} ({@link ShardManifest}, written last: a
 * directory without it is not a dataset) and files {@code SPLIT-NNNNN.bin}, each:
 *
 * <pre>
 * offset  size  field
 *      0     8  magic "FORJATOK"
 *      8     4  format version (int32, little-endian) = 1
 *     12     4  bytes per token: 2 (uint16) or 4 (uint32)
 *     16     4  vocabulary size (int32)
 *     20     4  EOS token id (int32)
 *     24     8  reserved (zero)
 *     32     -  tokens, little-endian, unsigned; each document followed by EOS
 * </pre>
 *
 * A file's token count is {@code (size - 32) / bytes per token}; the manifest also records it with
 * the document count and the file's SHA-256. uint16 is used whenever the vocabulary has at most
 * 65,536 tokens.
 */
public final class ShardFormat {
  public static final int VERSION = 1;
  public static final int HEADER_BYTES = 32;
  public static final String MANIFEST = "manifest.json";
  public static final String TRAIN = "train";
  public static final String VALIDATION = "validation";
  private static final byte[] MAGIC = "FORJATOK".getBytes(StandardCharsets.US_ASCII);

  private ShardFormat() {}

  /** 2 when every id fits in uint16, else 4. */
  public static int bytesPerToken(int vocabSize) {
    return vocabSize <= 65536 ? 2 : 4;
  }

  public static String dtype(int bytesPerToken) {
    return bytesPerToken == 2 ? "uint16" : "uint32";
  }

  public static String fileName(String split, int index) {
    return String.format("%s-%05d.bin", split, index);
  }

  static byte[] header(int bytesPerToken, int vocabSize, int eosId) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).putInt(VERSION).putInt(bytesPerToken).putInt(vocabSize).putInt(eosId);
    return b.array();
  }

  /** Checks a header; returns null if it is valid for these values, else what is wrong. */
  static String checkHeader(byte[] h, int bytesPerToken, int vocabSize, int eosId) {
    if (h.length < HEADER_BYTES || !Arrays.equals(Arrays.copyOf(h, 8), MAGIC)) {
      return "not a Forja token shard (bad magic)";
    }
    ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
    int version = b.getInt(8);
    if (version != VERSION) {
      return "shard format version " + version + ", this Forja reads " + VERSION;
    }
    if (b.getInt(12) != bytesPerToken || b.getInt(16) != vocabSize || b.getInt(20) != eosId) {
      return "header (bytes per token "
          + b.getInt(12)
          + ", vocab "
          + b.getInt(16)
          + ", EOS "
          + b.getInt(20)
          + ") does not match the manifest";
    }
    return null;
  }
}
