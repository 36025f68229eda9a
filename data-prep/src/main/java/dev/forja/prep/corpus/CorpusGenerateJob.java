package dev.forja.prep.corpus;

import dev.forja.storage.CommitManifest;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Writes the generated corpus with Spark: one task per shard, each writing its own {@code
 * docs-NNNNN.jsonl} through Hadoop storage, then the driver commits the directory with a {@link
 * CommitManifest} (kind {@value #KIND}).
 */
public final class CorpusGenerateJob {
  public static final String KIND = "raw-corpus";

  /** What was written. */
  public record Result(
      URI output, int shards, long documents, long bytes, Map<String, Long> kinds, double seconds) {
    public double megabytesPerSecond() {
      return bytes / 1048576.0 / Math.max(seconds, 1e-9);
    }
  }

  private CorpusGenerateJob() {}

  public static Result run(
      SparkSession spark,
      StorageConfig storageConfig,
      CorpusConfig config,
      URI output,
      boolean overwrite)
      throws IOException {
    long start = System.nanoTime();
    Storage storage = new Storage(storageConfig);
    OutputGuard.prepare(storage, output, overwrite);
    int shards = config.effectiveShards();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    String outputText = output.toString();
    List<CorpusGenerator.ShardStats> stats =
        jsc.parallelize(IntStream.range(0, shards).boxed().toList(), shards)
            .map(shard -> writeShard(storageConfig, config, outputText, shard))
            .collect();
    long docs = 0;
    long bytes = 0;
    Map<String, Long> kinds = new TreeMap<>();
    for (CorpusGenerator.ShardStats s : stats) {
      docs += s.documents();
      bytes += s.bytes();
      s.kinds().forEach((k, v) -> kinds.merge(k, v, Long::sum));
    }
    Map<String, String> props = new LinkedHashMap<>();
    props.put("generator", "forja corpus generate");
    // no README.txt here: a .txt file in a corpus directory would be read as a document
    props.put(
        "contents",
        "docs-NNNNN.jsonl: one JSON object a line: id, url, text, and meta recording what was"
            + " planted (lang, kind, of, pii, boilerplate)");
    props.put("seed", Long.toString(config.seed()));
    props.put("size-mb", Integer.toString(config.sizeMb()));
    props.put("languages", String.join(",", config.languages()));
    props.put("documents", Long.toString(docs));
    kinds.forEach((k, v) -> props.put("documents." + k, Long.toString(v)));
    CommitManifest.commit(storage, output, KIND, props);
    return new Result(output, shards, docs, bytes, kinds, (System.nanoTime() - start) / 1e9);
  }

  /** Runs on an executor: storage and generator are built here, not shipped from the driver. */
  private static CorpusGenerator.ShardStats writeShard(
      StorageConfig storageConfig, CorpusConfig config, String output, int shard) {
    Storage storage = new Storage(storageConfig);
    URI file = Storage.resolve(URI.create(output), CorpusGenerator.shardFileName(shard));
    try (Writer w =
        new BufferedWriter(
            new OutputStreamWriter(storage.create(file, true), StandardCharsets.UTF_8), 1 << 16)) {
      return new CorpusGenerator(config).writeShard(shard, w);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + file + ": " + e.getMessage(), e);
    }
  }
}
