package dev.forja.prep.dedup;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.min;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Connected components of an undirected graph given as edges {@code (a, b)} of {@code long} nodes,
 * with Spark: every node starts labelled with the smallest of itself and its neighbours and takes
 * the smallest label among its neighbours until nothing changes. The label of a component is its
 * smallest node. Iterations grow with the component diameter, which is small for duplicate
 * clusters. Each iteration's labels are checkpointed locally, so plans do not grow.
 */
public record Components(Dataset<Row> labels, int iterations) {
  static final int MAX_ITERATIONS = 100;

  /** {@code edges}: columns a and b; {@code labels}: columns node and label. */
  public static Components of(Dataset<Row> edges) {
    Dataset<Row> both =
        edges
            .select(col("a").as("src"), col("b").as("dst"))
            .union(edges.select(col("b").as("src"), col("a").as("dst")))
            .localCheckpoint();
    Dataset<Row> labels =
        both.groupBy("src")
            .agg(min("dst").as("m"))
            .select(col("src").as("node"), least(col("src"), col("m")).as("label"))
            .localCheckpoint();
    int it = 0;
    while (true) {
      it++;
      // each node hears its neighbours' labels
      Dataset<Row> heard =
          both.join(labels, both.col("src").equalTo(labels.col("node")))
              .select(col("dst").as("node"), col("label"));
      Dataset<Row> next =
          labels.union(heard).groupBy("node").agg(min("label").as("label")).localCheckpoint();
      long changed =
          next.as("n")
              .join(labels.as("l"), col("n.node").equalTo(col("l.node")))
              .filter(col("n.label").notEqual(col("l.label")))
              .count();
      labels = next;
      if (changed == 0 || it >= MAX_ITERATIONS) {
        break;
      }
    }
    return new Components(labels, it);
  }
}
