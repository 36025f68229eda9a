package dev.forja.prep.dedup;

import dev.forja.jvm.VectorApi;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.Words;
import java.io.Serializable;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * MinHash signatures over shingles (word or character n-grams of case-, accent- and width-folded
 * text) and their LSH band keys. Two documents with Jaccard similarity J become LSH candidates with
 * probability 1 - (1 - J^rows)^bands; candidates are then checked with the signature's estimate of
 * J.
 */
public final class MinHasher implements Serializable {
  /**
   * The signature scheme; saved beside persisted signatures, so signatures made another way (or
   * with other parameters) are never compared with these.
   */
  public static final String SCHEME = "shingle-hash-high32-linear-mod-2^32";

  private final PrepConfig.Dedup params;
  private final int[] mul;
  private final int[] add;
  // the same, padded with zeros to whole vectors for SignatureMins (null without the Vector API)
  private final int[] mulPadded;
  private final int[] addPadded;

  /** The Vector API is in this JVM ({@link SignatureMins}) and not switched off. */
  static final boolean VECTOR = VectorApi.AVAILABLE;

  private final boolean vector;

  public MinHasher(PrepConfig.Dedup params) {
    this(params, true);
  }

  /**
   * {@code vector}: the Vector API's loop where the JVM has it (else the scalar one, same ints).
   */
  MinHasher(PrepConfig.Dedup params, boolean vector) {
    this.params = params;
    SplittableRandom r = new SplittableRandom(params.seed());
    mul = new int[params.numHashes()];
    add = new int[params.numHashes()];
    for (int i = 0; i < mul.length; i++) {
      mul[i] = r.nextInt() | 1; // odd: a permutation of the 32-bit values
      add[i] = r.nextInt();
    }
    this.vector = vector && VECTOR;
    if (this.vector) {
      int lanes = SignatureMins.lanes();
      int padded = -Math.floorDiv(-mul.length, lanes) * lanes;
      mulPadded = Arrays.copyOf(mul, padded);
      addPadded = Arrays.copyOf(add, padded);
    } else {
      mulPadded = null;
      addPadded = null;
    }
  }

  /** What a signature depends on: the scheme and the parameters that change its values. */
  public java.util.Map<String, Object> description() {
    java.util.Map<String, Object> d = new java.util.LinkedHashMap<>();
    d.put("scheme", SCHEME);
    d.put("shingle", params.shingle());
    d.put("ngram", params.ngram());
    d.put("hashes", params.numHashes());
    d.put("seed", params.seed());
    return d;
  }

  /**
   * The signature: for each of the {@code bands x rows} hash functions {@code h(x) = a x + b} (mod
   * 2^32, a odd) of the high 32 bits of each shingle's 64-bit hash, the smallest value (signed)
   * over all shingles: with the Vector API ({@link SignatureMins}) a block of values at a time over
   * every shingle, else a scalar loop.
   */
  public int[] signature(String text) {
    int n = mul.length;
    long[] shingles = shingles(text);
    if (vector && VECTOR) {
      int[] xs = new int[shingles.length];
      for (int j = 0; j < xs.length; j++) {
        xs[j] = (int) (shingles[j] >>> 32);
      }
      int[] out = new int[mulPadded.length];
      SignatureMins.mins(mulPadded, addPadded, xs, xs.length, out);
      return out.length == n ? out : Arrays.copyOf(out, n);
    }
    int[] sig = new int[n];
    Arrays.fill(sig, Integer.MAX_VALUE);
    for (long shingle : shingles) {
      int x = (int) (shingle >>> 32);
      for (int i = 0; i < n; i++) {
        sig[i] = Math.min(sig[i], mul[i] * x + add[i]);
      }
    }
    return sig;
  }

  /** The 64-bit hashes of the document's shingles (duplicates included; harmless for a min). */
  long[] shingles(String text) {
    int n = params.ngram();
    if (params.shingle().equals("char")) {
      String s = Words.fold(text).replaceAll("\\s+", " ");
      if (s.length() <= n) {
        return new long[] {hash(s)};
      }
      long[] out = new long[s.length() - n + 1];
      for (int i = 0; i < out.length; i++) {
        out[i] = hash(s.substring(i, i + n));
      }
      return out;
    }
    long[] wh = wordHashes(text);
    if (wh.length == 0) {
      return new long[0];
    }
    if (wh.length <= n) {
      long h = 0x9E3779B97F4A7C15L;
      for (long w : wh) {
        h = mix(h * 31 + w);
      }
      return new long[] {h};
    }
    long[] out = new long[wh.length - n + 1];
    for (int i = 0; i < out.length; i++) {
      long h = 0x9E3779B97F4A7C15L;
      for (int k = 0; k < n; k++) {
        h = mix(h * 31 + wh[i + k]);
      }
      out[i] = h;
    }
    return out;
  }

  /**
   * Hashes of the words of {@code text}: runs of letters and digits (marks and apostrophes inside a
   * word kept), lower-cased; computed without building strings.
   */
  static long[] wordHashes(String text) {
    long[] out = new long[Math.max(16, text.length() / 5)];
    int n = 0;
    long h = 0;
    boolean in = false;
    for (int i = 0; i <= text.length(); i++) {
      char c = i < text.length() ? text.charAt(i) : ' ';
      int lower = dev.forja.prep.Words.lowerCase(c);
      boolean word =
          c < 128 // ASCII without the Character tables
              ? (lower >= 'a' && lower <= 'z') || (c >= '0' && c <= '9') || (in && c == '\'')
              : Character.isLetterOrDigit(c)
                  || (in && (Character.getType(c) == Character.NON_SPACING_MARK || c == '’'));
      if (word) {
        if (!in) {
          h = 0xcbf29ce484222325L;
          in = true;
        }
        h ^= lower;
        h *= 0x100000001b3L;
      } else if (in) {
        if (n == out.length) {
          out = java.util.Arrays.copyOf(out, n * 2);
        }
        out[n++] = mix(h);
        in = false;
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }

  /** The exact Jaccard similarity of two texts' shingle sets (what the signatures estimate). */
  public double exactJaccard(String a, String b) {
    java.util.Set<Long> sa = new java.util.HashSet<>();
    for (long x : shingles(a)) {
      sa.add(x);
    }
    java.util.Set<Long> sb = new java.util.HashSet<>();
    for (long x : shingles(b)) {
      sb.add(x);
    }
    java.util.Set<Long> union = new java.util.HashSet<>(sa);
    union.addAll(sb);
    sa.retainAll(sb);
    return union.isEmpty() ? 1 : sa.size() / (double) union.size();
  }

  /**
   * The key of each band of a signature as {@link #bytes}: the band index and a hash of its rows.
   */
  public long[] bandKeys(byte[] sig) {
    long[] keys = new long[params.bands()];
    for (int b = 0; b < params.bands(); b++) {
      long h = b * 0x632BE59BD9B4E019L;
      for (int r = 0; r < params.rows(); r++) {
        h = mix(h + value(sig, b * params.rows() + r));
      }
      keys[b] = h;
    }
    return keys;
  }

  private static final java.lang.invoke.VarHandle INT_LE =
      java.lang.invoke.MethodHandles.byteArrayViewVarHandle(
          int[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

  /**
   * A signature as bytes, each value a little-endian int32: how signatures are cached and saved
   * (Parquet BINARY, 4 bytes a value; an array of ints wrote and read several times slower).
   */
  public static byte[] bytes(int[] sig) {
    byte[] out = new byte[4 * sig.length];
    for (int i = 0; i < sig.length; i++) {
      INT_LE.set(out, 4 * i, sig[i]);
    }
    return out;
  }

  /** The {@code i}-th value of a signature as {@link #bytes}. */
  public static int value(byte[] sig, int i) {
    return (int) INT_LE.get(sig, 4 * i);
  }

  /**
   * The share of equal positions of two signatures as {@link #bytes}: an unbiased estimate of the
   * Jaccard similarity; 0 for signatures of different lengths (never from one scheme).
   */
  public static double estimate(byte[] a, byte[] b) {
    int n = a.length / 4;
    if (n == 0 || b.length != a.length) {
      return 0.0;
    }
    int same = 0;
    for (int i = 0; i < n; i++) {
      if (value(a, i) == value(b, i)) {
        same++;
      }
    }
    return same / (double) n;
  }

  static long hash(String s) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < s.length(); i++) {
      h ^= s.charAt(i);
      h *= 0x100000001b3L;
    }
    return mix(h);
  }

  /** The splitmix64 finalizer. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
