package dev.forja.prep.dedup;

import java.util.List;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Connected components of an undirected graph given as edges, with Spark: every node starts
 * labelled with itself and takes the smallest label among its neighbours until nothing changes. The
 * label of a component is its smallest node. Iterations grow with the component diameter, which is
 * small for duplicate clusters.
 */
public record Components(JavaPairRDD<String, String> labels, int iterations) {
  static final int MAX_ITERATIONS = 100;

  public static Components of(JavaRDD<Tuple2<String, String>> edges) {
    JavaPairRDD<String, String> both =
        edges
            .flatMapToPair(
                e -> List.of(new Tuple2<>(e._1(), e._2()), new Tuple2<>(e._2(), e._1())).iterator())
            .persist(StorageLevel.DISK_ONLY());
    JavaPairRDD<String, String> labels =
        both.mapToPair(t -> new Tuple2<>(t._1(), t._1()))
            .reduceByKey((a, b) -> a)
            .persist(StorageLevel.DISK_ONLY());
    int it = 0;
    while (true) {
      it++;
      // each node hears its neighbours' labels
      JavaPairRDD<String, String> heard =
          both.join(labels).mapToPair(t -> new Tuple2<>(t._2()._1(), t._2()._2()));
      JavaPairRDD<String, String> next =
          labels
              .union(heard)
              .reduceByKey((a, b) -> a.compareTo(b) <= 0 ? a : b)
              .persist(StorageLevel.DISK_ONLY());
      long changed = next.join(labels).filter(t -> !t._2()._1().equals(t._2()._2())).count();
      labels.unpersist();
      labels = next;
      if (changed == 0 || it >= MAX_ITERATIONS) {
        break;
      }
    }
    both.unpersist();
    return new Components(labels, it);
  }
}
