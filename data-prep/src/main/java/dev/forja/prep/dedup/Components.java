package dev.forja.prep.dedup;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.min;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Connected components of an undirected graph given as edges {@code (a, b)} of {@code long} nodes:
 * on the driver by union-find while the edges are few ({@link #DRIVER_EDGES}), else with Spark:
 * every node starts labelled with the smallest of itself and its neighbours and takes the smallest
 * label among its neighbours until nothing changes. The label of a component is its smallest node.
 * Iterations grow with the component diameter, which is small for duplicate clusters. Each
 * iteration's labels are checkpointed locally, so plans do not grow.
 */
public record Components(Dataset<Row> labels, int iterations) {
  static final int MAX_ITERATIONS = 100;

  /**
   * Up to this many edges (two longs each, 32 MB) are brought to the driver and joined there by
   * union-find: the duplicates of a corpus are few next to its documents, and each iteration of the
   * Spark path is three jobs. Only node numbers travel, never documents or signatures.
   */
  static final long DRIVER_EDGES = 2_000_000;

  /**
   * The components of {@code count} edges: on the driver up to {@code driverEdges} of them
   * (iterations 0), else with Spark ({@link #of(Dataset)}). Both label a component with its
   * smallest node.
   */
  public static Components of(Dataset<Row> edges, long count, long driverEdges) {
    if (count > driverEdges) {
      return of(edges);
    }
    Local local = Local.of(edges.select("a", "b").toLocalIterator(), count, false);
    List<Row> rows = new ArrayList<>(local.nodes().length);
    for (int i = 0; i < local.nodes().length; i++) {
      rows.add(RowFactory.create(local.nodes()[i], local.nodes()[local.roots()[i]]));
    }
    StructType schema =
        new StructType().add("node", DataTypes.LongType).add("label", DataTypes.LongType);
    return new Components(edges.sparkSession().createDataFrame(rows, schema), 0);
  }

  /**
   * Components found on the driver: the distinct nodes in order, each one's component as the rank
   * of its smallest node ({@code roots}), and the edges read ({@code a}, {@code b}, and column 2 of
   * each row where {@code weights} was asked for, else null), {@code edges} of them.
   */
  record Local(long[] nodes, int[] roots, long[] a, long[] b, double[] weights, int edges) {

    /** Of rows (a, b[, weight]), about {@code count} of them (more are not lost). */
    static Local of(java.util.Iterator<Row> rows, long count, boolean weighted) {
      long[] a = new long[(int) count];
      long[] b = new long[(int) count];
      double[] w = weighted ? new double[(int) count] : null;
      int n = 0;
      while (rows.hasNext()) {
        Row r = rows.next();
        if (n == a.length) { // more than counted: grow rather than lose an edge
          a = java.util.Arrays.copyOf(a, 2 * n + 1);
          b = java.util.Arrays.copyOf(b, 2 * n + 1);
          w = w == null ? null : java.util.Arrays.copyOf(w, 2 * n + 1);
        }
        a[n] = r.getLong(0);
        b[n] = r.getLong(1);
        if (w != null) {
          w[n] = r.getDouble(2);
        }
        n++;
      }
      long[] nodes = new long[2 * n];
      System.arraycopy(a, 0, nodes, 0, n);
      System.arraycopy(b, 0, nodes, n, n);
      java.util.Arrays.sort(nodes);
      int distinct = 0;
      for (int i = 0; i < nodes.length; i++) {
        if (i == 0 || nodes[i] != nodes[i - 1]) {
          nodes[distinct++] = nodes[i];
        }
      }
      nodes = java.util.Arrays.copyOf(nodes, distinct);
      // union-find over the nodes' ranks; a root is its component's smallest rank (smallest node)
      int[] parent = new int[distinct];
      for (int i = 0; i < distinct; i++) {
        parent[i] = i;
      }
      for (int e = 0; e < n; e++) {
        int x = find(parent, java.util.Arrays.binarySearch(nodes, a[e]));
        int y = find(parent, java.util.Arrays.binarySearch(nodes, b[e]));
        if (x != y) {
          parent[Math.max(x, y)] = Math.min(x, y);
        }
      }
      for (int i = 0; i < distinct; i++) {
        parent[i] = find(parent, i);
      }
      return new Local(nodes, parent, a, b, w, n);
    }

    /** The rank of {@code node} in {@link #nodes}, or a negative number when it is not there. */
    int rank(long node) {
      return java.util.Arrays.binarySearch(nodes, node);
    }
  }

  private static int find(int[] parent, int x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]]; // path halving
      x = parent[x];
    }
    return x;
  }

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
