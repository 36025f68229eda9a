package dev.forja.prep.dedup;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.when;

import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import java.io.Serializable;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Exact and near-duplicate removal on Spark, over the documents still kept.
 *
 * <p>Its per-document half ({@link Features}) runs in the same pass as the stages: each kept
 * document gets its exact key and MinHash signature. {@link #run} then works on those columns only
 * (never the text):
 *
 * <ul>
 *   <li>Exact: SHA-256 of the text lowercased with whitespace collapsed; keys are counted with a
 *       hash aggregate, and of the documents of each key seen more than once the one with the
 *       smallest id is kept.
 *   <li>Near: MinHash LSH ({@link MinHasher}); candidate pairs from shared band keys (band rows
 *       shuffled as blocks of longs, {@link BandRows}, sorted by band key in memory, each run of
 *       equal keys paired; a bucket larger than {@code max-bucket-size} pairs its members only with
 *       its smallest node), kept when the signatures' Jaccard estimate reaches {@code min-jaccard};
 *       clusters are the connected components of those pairs ({@link Components}: union-find on the
 *       driver while the pairs are few, with the marks computed there too (nearMarks); label
 *       propagation and joins with Spark beyond); of each cluster the document with the smallest id
 *       is kept.
 *   <li>Against an earlier corpus: its persisted keys and signatures take part and sort first, so a
 *       cluster touching the earlier corpus keeps the earlier document and rejects every new one.
 * </ul>
 *
 * Documents are numbered ({@code node}) so that the band rows shuffled are two {@code long}s each;
 * no document or signature is collected to the driver (at most the verified pairs' nodes). The
 * result is the marks, one row per duplicate; {@link #apply} joins them onto the documents (a
 * broadcast join while they are few, so the documents themselves never move).
 */
public final class Deduplicator implements Serializable {
  /** Node sets up to this many rows (marks, candidates' nodes) are broadcast to their joins. */
  static final long BROADCAST_ROWS = 2_000_000;

  /** Band rows (16 bytes each) per partition where candidates are found: sorted in memory. */
  static final long BAND_ROWS_PER_PARTITION = 4_000_000;

  private final PrepConfig.Dedup params;
  private final MinHasher hasher;
  private final long driverEdges;

  public Deduplicator(PrepConfig.Dedup params) {
    this(params, Components.DRIVER_EDGES);
  }

  /**
   * @param driverEdges up to this many verified pairs, clusters and near marks are computed on the
   *     driver (tests compare both paths)
   */
  Deduplicator(PrepConfig.Dedup params, long driverEdges) {
    this.params = params;
    this.hasher = new MinHasher(params);
    this.driverEdges = driverEdges;
  }

  /**
   * What dedup found: one row per duplicate (node, rule, of, similarity), and the counts; the marks
   * and what they were built from stay cached until {@link #release}.
   */
  public record Result(
      Dataset<Row> marks,
      long markCount,
      long candidatePairs,
      long similarPairs,
      int iterations,
      List<Dataset<Row>> cached) {

    /**
     * Unpersists the marks and the caches they were built from, the latest first: unpersisting a
     * plan makes Spark drop and rebuild every cache built on it, so none is released while a later
     * one still needs it.
     */
    public void release() {
      marks.unpersist();
      for (int i = cached.size() - 1; i >= 0; i--) {
        cached.get(i).unpersist();
      }
    }
  }

  /** A per-partition helper that adds the dedup features to kept documents. */
  public final class Features {
    private final ExactKeys keys = new ExactKeys(sha256());

    /** Sets the exact key and signature of a kept document, as configured. */
    public void add(Doc d) {
      if (!d.kept()) {
        return;
      }
      if (params.exact()) {
        d.setExactKey(keys.key(d.getText()));
      }
      if (params.near()) {
        d.setSignature(MinHasher.bytes(hasher.signature(d.getText())));
      }
    }
  }

  public Features features() {
    return new Features();
  }

  /**
   * Documents held in memory as the frame {@link #run} takes, with nodes and features as the prep
   * job gives them (for tests and the dedup benchmark).
   */
  public static Dataset<Row> frame(
      SparkSession spark, Deduplicator dedup, List<Doc> docs, int partitions) {
    Features f = dedup.features();
    for (int i = 0; i < docs.size(); i++) {
      docs.get(i).setNode(node(0, i));
      f.add(docs.get(i));
    }
    return spark
        .createDataset(docs, Encoders.bean(Doc.class))
        .toDF()
        .repartition(partitions)
        .persist(StorageLevel.MEMORY_ONLY());
  }

  /** The node of the {@code ordinal}-th record of partition {@code partition}. */
  public static long node(int partition, long ordinal) {
    return ((long) partition << 40) | ordinal;
  }

  /**
   * @param docs the documents' columns node, id, exactKey and signature (the band keys come from
   *     the signature), each where that dedup is on, null for a document not to deduplicate; read
   *     several times, so a cache or a Parquet dataset (the prep job's dedup/documents), not a plan
   *     that computes them
   * @param earlierKeys an earlier corpus' exact keys (key, id), or null
   * @param earlierSignatures an earlier corpus' signatures (id, signature), or null
   */
  public Result run(Dataset<Row> docs, Dataset<Row> earlierKeys, Dataset<Row> earlierSignatures) {
    return run(docs, -1, earlierKeys, earlierSignatures);
  }

  /**
   * {@link #run(Dataset, Dataset, Dataset)} where the caller knows how many of {@code docs} have a
   * signature ({@code signed}; -1: count them), which sizes the band rows' partitions.
   */
  public Result run(
      Dataset<Row> docs, long signed, Dataset<Row> earlierKeys, Dataset<Row> earlierSignatures) {
    SparkSession spark = docs.sparkSession();
    List<Dataset<Row>> cached = new java.util.ArrayList<>();
    Dataset<Row> marks = null;
    if (params.exact()) {
      Dataset<Row> keys =
          docs.filter(col("exactKey").isNotNull())
              .select(col("exactKey").as("key"), lit(1).as("flag"), col("id"), col("node"));
      if (earlierKeys != null) {
        keys =
            keys.unionByName(
                earlierKeys.select(col("key"), lit(0).as("flag"), col("id"), lit(-1L).as("node")));
      }
      // keys seen once are nearly all of them: count every key (a hash aggregate of fixed-width
      // counts, no sort), keep those seen twice, and rank only their documents
      Dataset<Row> twice =
          keys.groupBy("key")
              .count()
              .filter(col("count").gt(1))
              .select("key")
              .persist(StorageLevel.DISK_ONLY());
      cached.add(twice);
      long duplicated = twice.count();
      Dataset<Row> members =
          keys.join(duplicated <= BROADCAST_ROWS ? functions.broadcast(twice) : twice, "key");
      marks =
          duplicates(
              members.withColumn(
                  "rep", min(struct(col("flag"), col("id"))).over(Window.partitionBy("key"))),
              "dedup.exact",
              lit(1.0),
              0);
    }

    long candidates = 0;
    long similar = 0;
    int iterations = 0;
    if (params.near()) {
      Dataset<Row> sigs =
          docs.filter(col("signature").isNotNull())
              .select(col("node"), lit(1).as("flag"), col("id"), col("signature"));
      if (earlierSignatures != null) {
        sigs = sigs.unionByName(earlier(spark, earlierSignatures));
      }
      int maxBucket = params.maxBucketSize();
      // band rows in blocks of longs, at most BAND_ROWS_PER_PARTITION of them to a partition
      long own = signed >= 0 ? signed : docs.filter(col("signature").isNotNull()).count();
      long bandRows =
          (own + (earlierSignatures == null ? 0 : earlierSignatures.count())) * params.bands();
      int parts =
          (int)
              Math.max(
                  spark.sessionState().conf().numShufflePartitions(),
                  Math.min(
                      100_000, (bandRows + BAND_ROWS_PER_PARTITION - 1) / BAND_ROWS_PER_PARTITION));
      MinHasher h = hasher;
      JavaRDD<Tuple2<Long, Long>> bucketPairs =
          sigs.select("node", "signature")
              .javaRDD()
              .mapPartitionsToPair(rows -> BandRows.split(rows, h, parts, BandRows.BLOCK_ROWS))
              .partitionBy(new org.apache.spark.HashPartitioner(parts))
              .values()
              .mapPartitions(blocks -> BandRows.pairs(blocks, maxBucket));
      Dataset<Row> pairs =
          spark
              .createDataset(bucketPairs.rdd(), Encoders.tuple(Encoders.LONG(), Encoders.LONG()))
              .toDF("a", "b")
              .filter(col("a").geq(0).or(col("b").geq(0))) // at least one new document
              .distinct()
              .persist(StorageLevel.DISK_ONLY());
      candidates = pairs.count();
      Dataset<Row> nodes =
          pairs.select(col("a").as("node")).union(pairs.select(col("b").as("node"))).distinct();
      // the candidates' nodes are few next to the documents: broadcast them to the semi-join, so
      // the signatures are filtered where they lie instead of all being shuffled
      Dataset<Row> candidateSigs =
          sigs.join(
                  2 * candidates <= BROADCAST_ROWS ? functions.broadcast(nodes) : nodes,
                  new String[] {"node"},
                  "left_semi")
              .select("node", "flag", "id", "signature")
              .persist(StorageLevel.DISK_ONLY());
      candidateSigs.count(); // filled by one scan, before the two joins below read it
      double minJ = params.minJaccard();
      Dataset<Row> edges =
          pairs
              .join(candidateSigs.select(col("node").as("a"), col("signature").as("sa")), "a")
              .join(candidateSigs.select(col("node").as("b"), col("signature").as("sb")), "b")
              .select(col("a"), col("b"), JACCARD.apply(col("sa"), col("sb")).as("j"))
              .filter(col("j").geq(minJ))
              .persist(StorageLevel.DISK_ONLY());
      similar = edges.count();
      // pairs stay cached until the end (Result.release): unpersisting a plan makes Spark drop
      // and rebuild every cache built on it (candidateSigs, edges), with scans of all documents
      cached.addAll(List.of(pairs, candidateSigs, edges));

      Dataset<Row> near;
      if (similar <= driverEdges && 2 * candidates <= BROADCAST_ROWS) {
        near = nearMarks(spark, edges, similar, candidateSigs);
      } else {
        Components cc = Components.of(edges.select("a", "b"), similar, driverEdges);
        iterations = cc.iterations();
        Dataset<Row> members = cc.labels().join(candidateSigs.select("node", "flag", "id"), "node");
        Dataset<Row> reps =
            members.groupBy("label").agg(min(struct(col("flag"), col("id"))).as("rep"));
        Dataset<Row> best =
            edges
                .select(col("a").as("node"), col("j"))
                .union(edges.select(col("b").as("node"), col("j")))
                .groupBy("node")
                .agg(max("j").as("similarity"));
        near =
            duplicates(
                members.join(reps, "label").join(best, "node"), "dedup.near", col("similarity"), 1);
      }
      marks = marks == null ? near : marks.unionByName(near);
    }
    // exact marks win over near ones for the same document
    Dataset<Row> one =
        marks
            .groupBy("node")
            .agg(min(struct(col("priority"), col("rule"), col("of"), col("similarity"))).as("m"))
            .select(col("node"), col("m.rule"), col("m.of"), col("m.similarity"))
            .persist(StorageLevel.DISK_ONLY());
    long count = one.count();
    return new Result(one, count, candidates, similar, iterations, cached);
  }

  /**
   * The near marks, {@link #duplicates} of clusters computed on the driver while the verified pairs
   * ({@code count} of them) and the candidates' nodes are few: the pairs' nodes and similarities,
   * and the candidates' (node, flag, id), never signatures or texts. Clusters by union-find ({@link
   * Components.Local}); each cluster's representative is its smallest (flag, id), ids compared by
   * their UTF-8 bytes as Spark compares strings; a member's similarity is the highest of its
   * pairs'. On the driver because Spark's joins would run many small stages for few rows.
   */
  private static Dataset<Row> nearMarks(
      SparkSession spark, Dataset<Row> edges, long count, Dataset<Row> candidates) {
    Components.Local cc =
        Components.Local.of(edges.select("a", "b", "j").toLocalIterator(), count, true);
    int n = cc.nodes().length;
    double[] best = new double[n];
    java.util.Arrays.fill(best, Double.NEGATIVE_INFINITY);
    for (int e = 0; e < cc.edges(); e++) {
      int x = cc.rank(cc.a()[e]);
      int y = cc.rank(cc.b()[e]);
      best[x] = Math.max(best[x], cc.weights()[e]);
      best[y] = Math.max(best[y], cc.weights()[e]);
    }
    int[] flags = new int[n];
    String[] ids = new String[n];
    byte[][] utf8 = new byte[n][];
    java.util.Iterator<Row> it = candidates.select("node", "flag", "id").toLocalIterator();
    while (it.hasNext()) {
      Row r = it.next();
      int i = cc.rank(r.getLong(0));
      if (i >= 0) {
        flags[i] = r.getInt(1);
        ids[i] = r.getString(2);
        utf8[i] = ids[i].getBytes(java.nio.charset.StandardCharsets.UTF_8);
      }
    }
    int[] rep = new int[n]; // per root: the rank of its cluster's smallest (flag, id)
    java.util.Arrays.fill(rep, -1);
    for (int i = 0; i < n; i++) {
      int root = cc.roots()[i];
      int r = rep[root];
      if (r < 0
          || flags[i] < flags[r]
          || (flags[i] == flags[r] && java.util.Arrays.compareUnsigned(utf8[i], utf8[r]) < 0)) {
        rep[root] = i;
      }
    }
    // the members with their representatives and similarities; duplicates() marks them as the
    // Spark path does
    List<Row> rows = new java.util.ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int r = rep[cc.roots()[i]];
      rows.add(
          RowFactory.create(
              cc.nodes()[i], flags[i], ids[i], RowFactory.create(flags[r], ids[r]), best[i]));
    }
    StructType schema =
        new StructType()
            .add("node", DataTypes.LongType, false)
            .add("flag", DataTypes.IntegerType, false)
            .add("id", DataTypes.StringType)
            .add(
                "rep",
                new StructType()
                    .add("flag", DataTypes.IntegerType, false)
                    .add("id", DataTypes.StringType))
            .add("similarity", DataTypes.DoubleType, false);
    return duplicates(spark.createDataFrame(rows, schema), "dedup.near", col("similarity"), 1);
  }

  /**
   * {@link MinHasher#estimate} of two signature columns: a plain UDF (Spark's zip_with and
   * aggregate lambdas are interpreted, and cost seconds on a few ten thousand pairs).
   */
  static final UserDefinedFunction JACCARD =
      functions
          .udf((UDF2<byte[], byte[], Double>) MinHasher::estimate, DataTypes.DoubleType)
          .asNonNullable();

  /**
   * The marks of a group's members (rows with flag, id, node and their group's representative
   * {@code rep}): every new document that is not the representative, with {@code rule} (or {@code
   * rule-earlier} when the representative is from the earlier corpus), the representative's id, the
   * similarity and a priority (lower wins for a document marked twice).
   */
  private static Dataset<Row> duplicates(
      Dataset<Row> withRep, String rule, org.apache.spark.sql.Column similarity, int priority) {
    org.apache.spark.sql.Column isRep =
        col("rep.flag").equalTo(col("flag")).and(col("rep.id").equalTo(col("id")));
    return withRep
        .filter(col("flag").equalTo(1).and(functions.not(isRep)))
        .select(
            col("node"),
            when(col("rep.flag").equalTo(0), rule + "-earlier").otherwise(rule).as("rule"),
            col("rep.id").as("of"),
            similarity.as("similarity"),
            lit(priority).as("priority"));
  }

  /**
   * An earlier corpus' signatures (id, signature as {@link MinHasher#bytes}, or as an array of ints
   * as version 0 prep outputs hold them) as nodes below -1 (they sort first).
   */
  private static Dataset<Row> earlier(SparkSession spark, Dataset<Row> earlierSignatures) {
    boolean ints =
        earlierSignatures.schema().apply("signature").dataType()
            instanceof org.apache.spark.sql.types.ArrayType;
    JavaRDD<Row> rows =
        earlierSignatures
            .select("id", "signature")
            .javaRDD()
            .zipWithUniqueId()
            .map(
                t -> {
                  Object sig = t._1().get(1);
                  if (ints) {
                    List<Integer> l = t._1().getList(1);
                    int[] v = new int[l.size()];
                    for (int i = 0; i < v.length; i++) {
                      v[i] = l.get(i);
                    }
                    sig = MinHasher.bytes(v);
                  }
                  return RowFactory.create(-2 - t._2(), 0, t._1().getString(0), sig);
                });
    StructType schema =
        new StructType()
            .add("node", DataTypes.LongType)
            .add("flag", DataTypes.IntegerType)
            .add("id", DataTypes.StringType)
            .add("signature", DataTypes.BinaryType);
    return spark.createDataFrame(rows, schema);
  }

  /**
   * The documents with the marks applied: a kept document with a mark becomes rejected with the
   * mark's rule, the similarity as its value and "duplicate of ID" as its detail.
   */
  public static Dataset<Row> apply(Dataset<Row> docs, Result r) {
    Dataset<Row> marks =
        r.markCount() <= BROADCAST_ROWS ? functions.broadcast(r.marks()) : r.marks();
    return docs.join(marks, new String[] {"node"}, "left")
        .withColumn("_dup", col("status").equalTo(Doc.KEPT).and(col("rule").isNotNull()))
        .withColumn("status", when(col("_dup"), lit(Doc.REJECTED)).otherwise(col("status")))
        .withColumn("reason", when(col("_dup"), col("rule")).otherwise(col("reason")))
        .withColumn("value", when(col("_dup"), col("similarity")).otherwise(col("value")))
        .withColumn(
            "detail",
            when(col("_dup"), concat(lit("duplicate of "), col("of"))).otherwise(col("detail")))
        .drop("_dup", "rule", "of", "similarity");
  }

  /**
   * The exact key of each text: SHA-256 of the text lower-cased with whitespace runs collapsed to
   * one space (none at the ends), encoded as UTF-8 as {@code String.getBytes} does (an unpaired
   * surrogate as '?'), its first 16 bytes in hex. The normalized chars and their UTF-8 go into
   * reused buffers (the JDK's encoder), with no string built per document.
   */
  static final class ExactKeys {
    private final MessageDigest md;
    private final java.nio.charset.CharsetEncoder utf8 =
        java.nio.charset.StandardCharsets.UTF_8
            .newEncoder()
            .onMalformedInput(java.nio.charset.CodingErrorAction.REPLACE)
            .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPLACE);
    private char[] chars = new char[4096];
    private java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(3 * 4096);

    ExactKeys(MessageDigest md) {
      this.md = md;
    }

    String key(String text) {
      int n = text.length();
      if (chars.length < n) {
        chars = new char[n];
        bytes = java.nio.ByteBuffer.allocate(3 * n);
      }
      int m = 0;
      boolean space = false;
      for (int i = 0; i < n; i++) {
        char c = text.charAt(i);
        if (Character.isWhitespace(c)) {
          space = m > 0;
        } else {
          if (space) {
            chars[m++] = ' ';
            space = false;
          }
          chars[m++] = Character.toLowerCase(c);
        }
      }
      bytes.clear();
      utf8.reset();
      utf8.encode(java.nio.CharBuffer.wrap(chars, 0, m), bytes, true);
      utf8.flush(bytes);
      md.reset();
      md.update(bytes.array(), 0, bytes.position());
      return HexFormat.of().formatHex(md.digest(), 0, 16);
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
