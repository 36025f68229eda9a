package dev.forja.bench;

import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.dedup.Deduplicator;
import dev.forja.prep.dedup.MinHasher;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Measures near-dedup quality on planted pairs of known Jaccard similarity: for each of N base
 * documents (random words from a large vocabulary, so unrelated documents share no shingle) one
 * variant with a random share of words replaced; the exact shingle Jaccard of every pair is
 * computed, the deduplicator runs on all documents, and a pair counts as found when the variant is
 * rejected as a duplicate of its base. Reports recall at J >= 0.8 and the false-positive rate at J
 * <= 0.5.
 */
public final class DedupBenchmark {
  /** The measured quality. */
  public record Result(
      int pairs,
      int highPairs,
      int highFound,
      int lowPairs,
      int lowFound,
      long candidatePairs,
      double seconds) {
    public double recallAtHigh() {
      return highPairs == 0 ? Double.NaN : highFound / (double) highPairs;
    }

    public double falsePositiveRateAtLow() {
      return lowPairs == 0 ? Double.NaN : lowFound / (double) lowPairs;
    }
  }

  private DedupBenchmark() {}

  public static Result run(SparkSession spark, PrepConfig.Dedup params, int pairs, long seed) {
    long start = System.nanoTime();
    SplittableRandom rnd = new SplittableRandom(seed);
    MinHasher hasher = new MinHasher(params);
    List<Doc> docs = new ArrayList<>();
    double[] jaccard = new double[pairs];
    for (int p = 0; p < pairs; p++) {
      int n = 150 + rnd.nextInt(250);
      String[] words = new String[n];
      for (int i = 0; i < n; i++) {
        words[i] = "w" + rnd.nextInt(200_000);
      }
      String[] variant = words.clone();
      // aim at a Jaccard drawn uniformly from [0.2, 1]: each edited word breaks up to n-gram
      // shingles, so a share s of edits keeps about (1-s)^ngram of them, and J = kept/(2-kept)
      double target = 0.2 + 0.8 * rnd.nextDouble();
      double kept = 2 * target / (1 + target);
      double share = 1 - Math.pow(kept, 1.0 / params.ngram());
      int edits = (int) Math.round(n * share);
      for (int e = 0; e < edits; e++) {
        variant[rnd.nextInt(n)] = "v" + rnd.nextInt(200_000);
      }
      String a = String.join(" ", words);
      String b = String.join(" ", variant);
      jaccard[p] = hasher.exactJaccard(a, b);
      docs.add(doc(String.format("base-%06d", p), a));
      docs.add(doc(String.format("var-%06d", p), b));
    }
    PrepConfig.Dedup nearOnly = params.withExact(false).withNear(true);
    Deduplicator dedup = new Deduplicator(nearOnly);
    Dataset<Row> frame = Deduplicator.frame(spark, dedup, docs, 4);
    Deduplicator.Result r = dedup.run(frame, null, null);
    Map<String, String> rejected = new java.util.HashMap<>();
    for (Row row :
        Deduplicator.apply(frame, r)
            .filter(org.apache.spark.sql.functions.col("status").notEqual(Doc.KEPT))
            .select("id", "detail")
            .collectAsList()) {
      rejected.put(row.getString(0), row.getString(1));
    }
    int high = 0;
    int highFound = 0;
    int low = 0;
    int lowFound = 0;
    for (int p = 0; p < pairs; p++) {
      String detail = rejected.get(String.format("var-%06d", p));
      boolean found = detail != null && detail.endsWith(String.format("base-%06d", p));
      if (jaccard[p] >= 0.8) {
        high++;
        highFound += found ? 1 : 0;
      } else if (jaccard[p] <= 0.5) {
        low++;
        lowFound += detail != null ? 1 : 0;
      }
    }
    return new Result(
        pairs,
        high,
        highFound,
        low,
        lowFound,
        r.candidatePairs(),
        (System.nanoTime() - start) / 1e9);
  }

  private static Doc doc(String id, String text) {
    Doc d = new Doc();
    d.setId(id);
    d.setText(text);
    return d;
  }
}
