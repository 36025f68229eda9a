package dev.forja.prep.dedup;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.sql.Row;
import scala.Tuple2;

/**
 * LSH band rows moved as blocks of primitive {@code long}s: each document's band keys go, with its
 * node, to the partition its key falls in ({@link #split}); a partition's rows are sorted by band
 * key and each run of equal keys (a bucket) gives its candidate pairs ({@link #pairs}). As Spark
 * rows, the ~20 rows of each document were serialized, shuffled, sorted and read back one object at
 * a time; as blocks they are a few large arrays per task.
 */
final class BandRows {
  /** A block is sent when it holds this many rows (16 bytes each), bounding a map task's memory. */
  static final int BLOCK_ROWS = 1 << 20;

  private BandRows() {}

  /** The partition of a band key, of {@code parts}. */
  static int partition(long band, int parts) {
    return (int) Long.remainderUnsigned(band, parts);
  }

  /**
   * Rows (node, signature as {@link MinHasher#bytes}) to blocks (partition, [band, node, band,
   * node, ...]), at most one block of up to {@link #BLOCK_ROWS} rows per partition in memory.
   */
  static Iterator<Tuple2<Integer, long[]>> split(
      Iterator<Row> rows, MinHasher hasher, int parts, int blockRows) {
    return new Iterator<>() {
      private final long[][] blocks = new long[parts][];
      private final int[] sizes = new int[parts];
      private final ArrayDeque<Tuple2<Integer, long[]>> ready = new ArrayDeque<>();
      private boolean flushed;

      @Override
      public boolean hasNext() {
        while (ready.isEmpty() && rows.hasNext()) {
          Row r = rows.next();
          long node = r.getLong(0);
          for (long band : hasher.bandKeys((byte[]) r.get(1))) {
            int p = partition(band, parts);
            if (blocks[p] == null) {
              blocks[p] = new long[64];
            } else if (sizes[p] == blocks[p].length) {
              blocks[p] = Arrays.copyOf(blocks[p], blocks[p].length * 2);
            }
            blocks[p][sizes[p]++] = band;
            blocks[p][sizes[p]++] = node;
            if (sizes[p] == 2 * blockRows) {
              send(p);
            }
          }
        }
        if (ready.isEmpty() && !flushed) {
          flushed = true;
          for (int p = 0; p < parts; p++) {
            if (sizes[p] > 0) {
              send(p);
            }
          }
        }
        return !ready.isEmpty();
      }

      private void send(int p) {
        ready.add(new Tuple2<>(p, Arrays.copyOf(blocks[p], sizes[p])));
        blocks[p] = null;
        sizes[p] = 0;
      }

      @Override
      public Tuple2<Integer, long[]> next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return ready.poll();
      }
    };
  }

  /**
   * The candidate pairs of one partition's blocks: rows sorted by band key; each bucket's members
   * sorted by node; a bucket of up to {@code maxBucket} members gives every pair, a larger one
   * pairs its smallest node with each other member. Pairs are (smaller node, larger node); a pair
   * sharing several bands comes once per band.
   */
  static Iterator<Tuple2<Long, Long>> pairs(Iterator<long[]> blocks, int maxBucket) {
    long[] band = new long[0];
    long[] node = new long[0];
    int n = 0;
    while (blocks.hasNext()) {
      long[] b = blocks.next();
      int rows = b.length / 2;
      if (n + rows > band.length) {
        int cap = Math.max(n + rows, band.length * 2);
        band = Arrays.copyOf(band, cap);
        node = Arrays.copyOf(node, cap);
      }
      for (int i = 0; i < rows; i++) {
        band[n + i] = b[2 * i];
        node[n + i] = b[2 * i + 1];
      }
      n += rows;
    }
    sortByBand(band, node, n);
    return new Buckets(band, node, n, maxBucket);
  }

  /** Sorts rows {@code [0, n)} by band key (unsigned), moving nodes along: LSD radix, 16 bits. */
  static void sortByBand(long[] band, long[] node, int n) {
    long[] b2 = new long[n];
    long[] n2 = new long[n];
    int[] count = new int[1 << 16];
    long[] srcB = band;
    long[] srcN = node;
    long[] dstB = b2;
    long[] dstN = n2;
    for (int shift = 0; shift < 64; shift += 16) {
      Arrays.fill(count, 0);
      for (int i = 0; i < n; i++) {
        count[(int) (srcB[i] >>> shift) & 0xFFFF]++;
      }
      int sum = 0;
      for (int d = 0; d < count.length; d++) {
        int c = count[d];
        count[d] = sum;
        sum += c;
      }
      for (int i = 0; i < n; i++) {
        int at = count[(int) (srcB[i] >>> shift) & 0xFFFF]++;
        dstB[at] = srcB[i];
        dstN[at] = srcN[i];
      }
      long[] t = srcB;
      srcB = dstB;
      dstB = t;
      t = srcN;
      srcN = dstN;
      dstN = t;
    }
    // four passes: the sorted rows are back in the caller's arrays
  }

  /** The pairs of the buckets of rows sorted by band. */
  private static final class Buckets implements Iterator<Tuple2<Long, Long>> {
    private final long[] band;
    private final long[] node;
    private final int n;
    private final int maxBucket;
    private long[] members = new long[16];
    private int at;
    private int size;
    private int i;
    private int j;

    Buckets(long[] band, long[] node, int n, int maxBucket) {
      this.band = band;
      this.node = node;
      this.n = n;
      this.maxBucket = maxBucket;
      nextBucket();
    }

    /** Loads buckets until one has a pair, or the rows run out. */
    private void nextBucket() {
      size = 0;
      while (at < n) {
        int end = at + 1;
        while (end < n && band[end] == band[at]) {
          end++;
        }
        if (end - at >= 2) {
          size = end - at;
          if (size > members.length) {
            members = new long[Math.max(size, members.length * 2)];
          }
          System.arraycopy(node, at, members, 0, size);
          Arrays.sort(members, 0, size);
          i = 0;
          j = 1;
          at = end;
          return;
        }
        at = end;
      }
    }

    @Override
    public boolean hasNext() {
      return size >= 2;
    }

    @Override
    public Tuple2<Long, Long> next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Tuple2<Long, Long> out = new Tuple2<>(members[i], members[j]);
      j++;
      if (j == size) {
        i++;
        j = i + 1;
      }
      if (size > maxBucket ? i > 0 : j >= size) {
        nextBucket();
      }
      return out;
    }
  }
}
