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
 *      8     4  format version (int32, little-endian) = 2
 *     12     4  bytes per token: 2 (uint16) or 4 (uint32)
 *     16     4  vocabulary size (int32)
 *     20     4  EOS token id (int32)
 *     24     4  record flags (int32): 0 = a record is a token; 1 = a token then one flag byte
 *     28     4  row length (int32): 0 = one stream of documents; R = rows of exactly R records
 *     32     -  records, each a little-endian unsigned token id, then its flag byte if any
 * </pre>
 *
 * A stream (pretraining shards, {@code forja tokenize}) holds each document followed by EOS and is
 * cut into training windows anywhere. Rows (supervised fine-tuning, {@code forja sft-data}) hold
 * whole examples: no example crosses a row, a row is one training sequence, and each record's flag
 * byte says whether the token is a training target ({@link #LOSS}) and whether it starts an example
 * ({@link #START}: attention and positions restart there). Records after a row's last example are
 * padding, flag 0.
 *
 * <p>Version 1 is version 2 with flags 0 and row length 0 (those bytes were reserved, zero), and is
 * still read. A file's record count is {@code (size - 32) / record bytes}; the manifest also
 * records it with the document count and the file's SHA-256. uint16 is used whenever the vocabulary
 * has at most 65,536 tokens.
 */
public final class ShardFormat {
  public static final int VERSION = 2;

  /** The oldest version this Forja reads. */
  public static final int OLDEST_READ = 1;

  /** Flag bit: this token is a training target (its loss counts). */
  public static final byte LOSS = 1;

  /** Flag bit: this token starts an example (attention and positions restart). */
  public static final byte START = 2;

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

  static byte[] header(int bytesPerToken, int vocabSize, int eosId, boolean flags, int rowLength) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).putInt(VERSION).putInt(bytesPerToken).putInt(vocabSize).putInt(eosId);
    b.putInt(flags ? 1 : 0).putInt(rowLength);
    return b.array();
  }

  /** Checks a header; returns null if it is valid for the manifest, else what is wrong. */
  static String checkHeader(byte[] h, ShardManifest m) {
    if (h.length < HEADER_BYTES || !Arrays.equals(Arrays.copyOf(h, 8), MAGIC)) {
      return "not a Forja token shard (bad magic)";
    }
    ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
    int version = b.getInt(8);
    if (version < OLDEST_READ || version > VERSION) {
      return "shard format version "
          + version
          + ", this Forja reads versions "
          + OLDEST_READ
          + " to "
          + VERSION;
    }
    if (b.getInt(12) != m.bytesPerToken()
        || b.getInt(16) != m.vocabSize()
        || b.getInt(20) != m.eosId()
        || b.getInt(24) != (m.hasFlags() ? 1 : 0)
        || b.getInt(28) != m.rows()) {
      return "header (bytes per token "
          + b.getInt(12)
          + ", vocab "
          + b.getInt(16)
          + ", EOS "
          + b.getInt(20)
          + ", flags "
          + b.getInt(24)
          + ", row length "
          + b.getInt(28)
          + ") does not match the manifest";
    }
    return null;
  }
}
