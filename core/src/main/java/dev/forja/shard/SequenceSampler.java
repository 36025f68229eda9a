package dev.forja.shard;

/**
 * Training sequences from one split, deterministic in (seed, epoch, worker, workers) and resumable
 * in O(1) from a {@link Cursor}.
 *
 * <p>The split's token stream is cut into {@code W = (tokens - 1) / length} windows; window {@code
 * k} holds tokens {@code [k * length, k * length + length + 1)} (inputs and the next-token
 * targets). Each epoch visits the windows in the order of a keyed pseudo-random permutation (a
 * Feistel network with cycle walking: O(1) memory and O(1) to compute any position), and worker
 * {@code w} of {@code N} takes positions {@code w, w + N, w + 2N, ...}, {@code W / N} of them, so
 * workers see disjoint windows and the same number of them. The cursor is (epoch, index within the
 * worker's epoch): resuming computes the next window directly, with no replay.
 *
 * <p>Shards of rows ({@link ShardFormat}: supervised examples, packed or padded) are not cut
 * anywhere: window {@code k} is row {@code k}, {@code length} tokens with their flags, and the
 * sequence length must be the row length.
 */
public final class SequenceSampler {
  /** Where a worker is: the next sequence is number {@code index} of {@code epoch}. */
  public record Cursor(long epoch, long index) {
    public static final Cursor START = new Cursor(0, 0);
  }

  private final TokenShards.SplitReader reader;
  private final int length;
  private final long seed;
  private final int worker;
  private final int workers;
  private final long windows;
  private final long perWorker;
  private final boolean rows;
  private Cursor cursor = Cursor.START;

  public SequenceSampler(
      TokenShards.SplitReader reader, int length, long seed, int worker, int workers) {
    if (length < 1) {
      throw new IllegalArgumentException("sequence length must be positive, got " + length);
    }
    if (workers < 1 || worker < 0 || worker >= workers) {
      throw new IllegalArgumentException("worker " + worker + " of " + workers);
    }
    this.rows = reader.rowLength() > 0;
    if (rows && length != reader.rowLength()) {
      throw new ShardException(
          "The shards hold examples in rows of "
              + reader.rowLength()
              + " tokens, and the sequence length is "
              + length
              + ": set train.seq-len="
              + reader.rowLength()
              + " (or re-run forja sft-data with --seq-len "
              + length
              + ")");
    }
    this.reader = reader;
    this.length = length;
    this.seed = seed;
    this.worker = worker;
    this.workers = workers;
    this.windows = rows ? reader.tokens() / length : Math.max(0, (reader.tokens() - 1) / length);
    this.perWorker = windows / workers;
    if (perWorker == 0) {
      throw new ShardException(
          "The split has "
              + reader.tokens()
              + " tokens: "
              + windows
              + " sequences of "
              + length
              + "+1 tokens, fewer than the "
              + workers
              + " worker(s); use shorter sequences, fewer workers or more data");
    }
  }

  /** Sequences per worker per epoch. */
  public long sequencesPerEpoch() {
    return perWorker;
  }

  public int length() {
    return length;
  }

  /**
   * Whether sequences are whole rows of examples: {@code length} tokens whose flags say which are
   * targets and where examples start, rather than windows of {@code length + 1} tokens.
   */
  public boolean rows() {
    return rows;
  }

  public Cursor cursor() {
    return cursor;
  }

  public void seek(Cursor c) {
    if (c.index() < 0 || c.index() > perWorker || c.epoch() < 0) {
      throw new IllegalArgumentException(
          "cursor " + c + " outside an epoch of " + perWorker + " sequences");
    }
    cursor = c;
  }

  /** The window the cursor points at. */
  public long windowAt(Cursor c) {
    return permute(c.index() * workers + worker, windows, seed * 0x9E3779B97F4A7C15L + c.epoch());
  }

  /** The next sequence, {@code length + 1} tokens, into {@code dst}; advances the cursor. */
  public void next(int[] dst) {
    next(dst, null);
  }

  /**
   * The next sequence into {@code dst}: {@code length + 1} tokens of a stream, or {@code length}
   * tokens of a row and their flags into {@code flags} (when not null); advances the cursor.
   */
  public void next(int[] dst, byte[] flags) {
    if (cursor.index() >= perWorker) {
      cursor = new Cursor(cursor.epoch() + 1, 0);
    }
    long w = windowAt(cursor);
    reader.read(w * length, dst, flags, rows ? length : length + 1);
    cursor = new Cursor(cursor.epoch(), cursor.index() + 1);
  }

  public int[] next() {
    int[] dst = new int[length + 1];
    next(dst);
    return dst;
  }

  /** A bijection of {@code [0, n)} keyed by {@code key}. */
  static long permute(long x, long n, long key) {
    if (n <= 1) {
      return 0;
    }
    int bits = 64 - Long.numberOfLeadingZeros(n - 1);
    if ((bits & 1) == 1) {
      bits++;
    }
    int half = bits / 2;
    long mask = (1L << half) - 1;
    long v = x;
    do {
      long l = v >>> half;
      long r = v & mask;
      for (int round = 0; round < 4; round++) {
        long f = mix(r ^ (key + round * 0xD1B54A32D192ED03L)) & mask;
        long t = r;
        r = l ^ f;
        l = t;
      }
      v = (l << half) | r;
    } while (v >= n);
    return v;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
