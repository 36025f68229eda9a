package dev.forja.prep.dedup;

import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.Optional;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Exact and near-duplicate removal on Spark, over the documents still kept.
 *
 * <ul>
 *   <li>Exact: SHA-256 of the text lowercased with whitespace collapsed; of each group the document
 *       with the smallest id is kept.
 *   <li>Near: MinHash LSH ({@link MinHasher}); candidate pairs from shared band keys (a bucket
 *       larger than {@code max-bucket-size} pairs its members only with its smallest id), kept when
 *       the signatures' Jaccard estimate reaches {@code min-jaccard}; clusters are the connected
 *       components of those pairs (label propagation, computed with Spark); of each cluster the
 *       document with the smallest id is kept.
 *   <li>Against an earlier corpus: its persisted keys and signatures take part with ids that sort
 *       first, so a cluster touching the earlier corpus keeps the earlier document and rejects
 *       every new one.
 * </ul>
 *
 * Only ids, keys and signatures are shuffled and nothing is collected to the driver; the documents
 * themselves move once, in the final join that marks duplicates.
 */
public final class Deduplicator implements Serializable {
  /** Node-id prefixes: earlier documents sort before new ones. */
  static final String EARLIER = "0";

  static final String NEW = "1";

  private final PrepConfig.Dedup params;
  private final MinHasher hasher;

  public Deduplicator(PrepConfig.Dedup params) {
    this.params = params;
    this.hasher = new MinHasher(params);
  }

  /** A duplicate: the rule, the kept document it duplicates, and the similarity. */
  public record Mark(String rule, String of, double similarity) implements Serializable {}

  /** What dedup produced besides the marked documents. */
  public record Result(
      JavaRDD<Doc> docs,
      JavaPairRDD<String, String> exactKeys,
      JavaPairRDD<String, int[]> signatures,
      long candidatePairs,
      long similarPairs,
      int iterations) {}

  public Result run(
      JavaRDD<Doc> docs,
      JavaPairRDD<String, String> earlierKeys,
      JavaPairRDD<String, int[]> earlierSignatures) {
    JavaRDD<Doc> kept = docs.filter(Doc::kept);
    JavaPairRDD<String, Mark> marks = null;

    JavaPairRDD<String, String> keys = null; // (key, node)
    if (params.exact()) {
      keys =
          kept.mapPartitionsToPair(
                  it -> {
                    MessageDigest md = sha256();
                    List<Tuple2<String, String>> out = new ArrayList<>();
                    while (it.hasNext()) {
                      Doc d = it.next();
                      out.add(new Tuple2<>(exactKey(md, d.getText()), NEW + d.getId()));
                    }
                    return out.iterator();
                  })
              .persist(StorageLevel.DISK_ONLY());
      JavaPairRDD<String, String> all =
          earlierKeys == null ? keys : keys.union(earlierKeys.mapValues(id -> EARLIER + id));
      JavaPairRDD<String, String> reps = all.reduceByKey((a, b) -> a.compareTo(b) <= 0 ? a : b);
      marks =
          keys.join(reps)
              .filter(t -> !t._2()._1().equals(t._2()._2()))
              .mapToPair(
                  t ->
                      new Tuple2<>(
                          t._2()._1().substring(1),
                          new Mark(
                              t._2()._2().startsWith(EARLIER)
                                  ? "dedup.exact-earlier"
                                  : "dedup.exact",
                              t._2()._2().substring(1),
                              1.0)));
    }

    JavaPairRDD<String, int[]> sigs = null; // (node, signature)
    long candidates = 0;
    long similar = 0;
    int iterations = 0;
    if (params.near()) {
      MinHasher h = hasher;
      sigs =
          kept.mapToPair(d -> new Tuple2<>(NEW + d.getId(), h.signature(d.getText())))
              .persist(StorageLevel.DISK_ONLY());
      JavaPairRDD<String, int[]> all =
          earlierSignatures == null
              ? sigs
              : sigs.union(
                  earlierSignatures.mapToPair(t -> new Tuple2<>(EARLIER + t._1(), t._2())));
      int maxBucket = params.maxBucketSize();
      JavaPairRDD<String, String> pairs =
          all.flatMapToPair(
                  t -> {
                    long[] bands = h.bandKeys(t._2());
                    List<Tuple2<Long, String>> out = new ArrayList<>(bands.length);
                    for (long b : bands) {
                      out.add(new Tuple2<>(b, t._1()));
                    }
                    return out.iterator();
                  })
              .groupByKey()
              .flatMapToPair(
                  bucket -> {
                    List<String> members = new ArrayList<>();
                    bucket._2().forEach(members::add);
                    List<Tuple2<String, String>> out = new ArrayList<>();
                    if (members.size() < 2) {
                      return out.iterator();
                    }
                    Collections.sort(members);
                    if (members.size() > maxBucket) {
                      for (int i = 1; i < members.size(); i++) {
                        out.add(new Tuple2<>(members.get(0), members.get(i)));
                      }
                    } else {
                      for (int i = 0; i < members.size(); i++) {
                        for (int j = i + 1; j < members.size(); j++) {
                          out.add(new Tuple2<>(members.get(i), members.get(j)));
                        }
                      }
                    }
                    return out.iterator();
                  })
              .filter(p -> p._1().startsWith(NEW) || p._2().startsWith(NEW))
              .distinct()
              .persist(StorageLevel.DISK_ONLY());
      candidates = pairs.count();
      double minJ = params.minJaccard();
      // (a, b, J) for verified pairs
      JavaRDD<Tuple2<Tuple2<String, String>, Double>> edges =
          pairs
              .join(all)
              .mapToPair(t -> new Tuple2<>(t._2()._1(), new Tuple2<>(t._1(), t._2()._2())))
              .join(all)
              .map(
                  t -> {
                    String a = t._2()._1()._1();
                    String b = t._1();
                    double j = MinHasher.estimate(t._2()._1()._2(), t._2()._2());
                    return new Tuple2<>(new Tuple2<>(a, b), j);
                  })
              .filter(e -> e._2() >= minJ)
              .persist(StorageLevel.DISK_ONLY());
      similar = edges.count();
      pairs.unpersist();

      Components cc = Components.of(edges.map(Tuple2::_1));
      iterations = cc.iterations();
      JavaPairRDD<String, Double> best =
          edges
              .flatMapToPair(
                  e ->
                      List.of(new Tuple2<>(e._1()._1(), e._2()), new Tuple2<>(e._1()._2(), e._2()))
                          .iterator())
              .reduceByKey(Math::max);
      JavaPairRDD<String, Mark> near =
          cc.labels()
              .filter(t -> t._1().startsWith(NEW) && !t._1().equals(t._2()))
              .join(best)
              .mapToPair(
                  t ->
                      new Tuple2<>(
                          t._1().substring(1),
                          new Mark(
                              t._2()._1().startsWith(EARLIER) ? "dedup.near-earlier" : "dedup.near",
                              t._2()._1().substring(1),
                              t._2()._2())));
      edges.unpersist();
      marks = marks == null ? near : marks.union(near);
    }

    JavaRDD<Doc> marked = docs;
    if (marks != null) {
      // exact marks win over near ones for the same document
      JavaPairRDD<String, Mark> one =
          marks.reduceByKey((a, b) -> a.rule().startsWith("dedup.exact") ? a : b);
      marked =
          docs.mapToPair(d -> new Tuple2<>(d.getId(), d))
              .leftOuterJoin(one)
              .map(
                  t -> {
                    Doc d = t._2()._1();
                    Optional<Mark> m = t._2()._2();
                    if (m.isPresent() && d.kept()) {
                      Mark mk = m.get();
                      d.reject(mk.rule(), mk.similarity(), "duplicate of " + mk.of());
                    }
                    return d;
                  });
    }
    JavaPairRDD<String, String> exactOut =
        keys == null ? null : keys.mapValues(n -> n.substring(1));
    JavaPairRDD<String, int[]> sigOut =
        sigs == null ? null : sigs.mapToPair(t -> new Tuple2<>(t._1().substring(1), t._2()));
    return new Result(marked, exactOut, sigOut, candidates, similar, iterations);
  }

  static String exactKey(MessageDigest md, String text) {
    StringBuilder sb = new StringBuilder(text.length());
    boolean space = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isWhitespace(c)) {
        space = sb.length() > 0;
      } else {
        if (space) {
          sb.append(' ');
          space = false;
        }
        sb.append(Character.toLowerCase(c));
      }
    }
    String norm = sb.toString();
    md.reset();
    return HexFormat.of().formatHex(md.digest(norm.getBytes(StandardCharsets.UTF_8)), 0, 16);
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
