package dev.forja.prep.dedup;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import scala.Tuple2;

class BandRowsTest {
  @Test
  void radixSortOrdersBandKeysUnsignedAndKeepsEachNodeWithItsKey() {
    Random rnd = new Random(7);
    int n = 200_000;
    long[] band = new long[n];
    long[] node = new long[n];
    for (int i = 0; i < n; i++) {
      // few distinct keys in some runs, full-range keys (negative ones too) in others
      band[i] = i % 3 == 0 ? rnd.nextInt(50) : rnd.nextLong();
      node[i] = band[i] * 31 + 7;
    }
    BandRows.sortByBand(band, node, n);
    for (int i = 0; i < n; i++) {
      assertThat(node[i]).isEqualTo(band[i] * 31 + 7);
      if (i > 0) {
        assertThat(Long.compareUnsigned(band[i - 1], band[i])).isLessThanOrEqualTo(0);
      }
    }
  }

  /**
   * Documents' band keys split into blocks for 7 partitions (blocks of at most 100 rows), each
   * partition's blocks paired: the pairs are those of a map from band key to its nodes, with a
   * bucket larger than the maximum pairing only its smallest node.
   */
  @Test
  void blocksGiveTheSamePairsAsGroupingEveryBandKey() {
    MinHasher hasher = new MinHasher(DeduplicatorTest.params("prep.dedup.bands=8"));
    Random rnd = new Random(11);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 3_000; i++) {
      // few distinct texts: many shared bands, buckets of every size
      String text = DeduplicatorTest.words(rnd.nextInt(40), 30 + rnd.nextInt(3));
      rows.add(RowFactory.create((long) i, MinHasher.bytes(hasher.signature(text))));
    }
    int parts = 7;
    int maxBucket = 20;
    Map<Integer, List<long[]>> byPartition = new TreeMap<>();
    Iterator<Tuple2<Integer, long[]>> blocks = BandRows.split(rows.iterator(), hasher, parts, 100);
    while (blocks.hasNext()) {
      Tuple2<Integer, long[]> b = blocks.next();
      assertThat(b._2().length).isLessThanOrEqualTo(200);
      for (int i = 0; i < b._2().length; i += 2) {
        assertThat(BandRows.partition(b._2()[i], parts)).isEqualTo(b._1());
      }
      byPartition.computeIfAbsent(b._1(), k -> new ArrayList<>()).add(b._2());
    }
    List<Tuple2<Long, Long>> got = new ArrayList<>();
    for (List<long[]> l : byPartition.values()) {
      BandRows.pairs(l.iterator(), maxBucket).forEachRemaining(got::add);
    }

    Map<Long, Set<Long>> buckets = new TreeMap<>();
    for (Row r : rows) {
      for (long k : hasher.bandKeys((byte[]) r.get(1))) {
        buckets.computeIfAbsent(k, x -> new TreeSet<>()).add(r.getLong(0));
      }
    }
    List<Tuple2<Long, Long>> want = new ArrayList<>();
    boolean large = false;
    for (Set<Long> b : buckets.values()) {
      List<Long> m = new ArrayList<>(b);
      large |= m.size() > maxBucket;
      for (int i = 0; i < m.size(); i++) {
        for (int j = i + 1; j < m.size(); j++) {
          if (m.size() <= maxBucket || i == 0) {
            want.add(new Tuple2<>(m.get(i), m.get(j)));
          }
        }
      }
    }
    assertThat(large).isTrue();
    assertThat(want).hasSizeGreaterThan(10_000);
    java.util.Comparator<Tuple2<Long, Long>> order =
        java.util.Comparator.comparing((Tuple2<Long, Long> t) -> t._1()).thenComparing(t -> t._2());
    got.sort(order);
    want.sort(order);
    assertThat(got).isEqualTo(want);
  }
}
