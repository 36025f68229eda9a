package dev.forja.prep.dedup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.testing.TestSpark;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

class ComponentsTest {
  static Map<Long, Long> labels(Components c) {
    Map<Long, Long> out = new TreeMap<>();
    for (Row r : c.labels().collectAsList()) {
      out.put(r.getLong(r.fieldIndex("node")), r.getLong(r.fieldIndex("label")));
    }
    return out;
  }

  @Test
  void theDriverAndSparkGiveEachNodeItsComponentsSmallestNode() {
    SparkSession spark = TestSpark.local();
    java.util.SplittableRandom r = new java.util.SplittableRandom(9);
    List<Row> rows = new ArrayList<>();
    // chains, stars and random pairs over 300 nodes, some negative (an earlier corpus' nodes)
    for (int i = 0; i < 40; i++) {
      rows.add(RowFactory.create((long) i, (long) i + 1)); // one chain 0..40
    }
    for (int i = 0; i < 20; i++) {
      rows.add(RowFactory.create(100L, 101L + i)); // a star around 100
    }
    for (int i = 0; i < 60; i++) {
      rows.add(RowFactory.create(-2L - r.nextInt(30), 150L + r.nextInt(150)));
    }
    Dataset<Row> edges =
        spark
            .createDataFrame(
                rows, new StructType().add("a", DataTypes.LongType).add("b", DataTypes.LongType))
            .repartition(3);
    Components driver = Components.of(edges, rows.size(), Components.DRIVER_EDGES);
    Components withSpark = Components.of(edges, rows.size(), 0);
    assertThat(driver.iterations()).isZero();
    assertThat(withSpark.iterations()).isPositive();
    Map<Long, Long> d = labels(driver);
    assertThat(d).isEqualTo(labels(withSpark));
    assertThat(d.get(40L)).isZero(); // the chain's far end
    assertThat(d.get(120L)).isEqualTo(100L); // a star's leaf
    for (Row e : rows) { // both ends of an edge share a label, the smaller of its component
      assertThat(d.get(e.getLong(0))).isEqualTo(d.get(e.getLong(1)));
      assertThat(d.get(e.getLong(0))).isLessThanOrEqualTo(Math.min(e.getLong(0), e.getLong(1)));
    }
    // fewer edges counted than there are: none is lost
    assertThat(labels(Components.of(edges, 5, Components.DRIVER_EDGES))).isEqualTo(d);
  }
}
