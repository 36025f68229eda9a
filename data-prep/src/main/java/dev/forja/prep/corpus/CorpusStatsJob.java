package dev.forja.prep.corpus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Counts what a raw JSONL corpus holds (documents, bytes, characters, languages and kinds from
 * {@code meta}, malformed lines) with Spark, and optionally writes {@code stats.json}.
 */
public final class CorpusStatsJob {
  /** The counts; {@code counts} keys: documents, bytes, chars, malformed, lang.X, kind.X. */
  public record Result(URI input, Map<String, Long> counts) {
    public long get(String key) {
      return counts.getOrDefault(key, 0L);
    }
  }

  private CorpusStatsJob() {}

  public static Result run(
      SparkSession spark, StorageConfig storageConfig, URI input, URI output, boolean overwrite)
      throws IOException {
    Storage storage = new Storage(storageConfig);
    storage.requireUsable(input);
    if (!storage.exists(input)) {
      throw new IllegalArgumentException("Cannot read " + input + ": it does not exist");
    }
    String pattern =
        storage.fileSystem(input).getFileStatus(new org.apache.hadoop.fs.Path(input)).isDirectory()
            ? input.toString().replaceAll("/+$", "") + "/*.{jsonl,json,jsonl.gz,json.gz}"
            : input.toString();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JavaRDD<String> lines = jsc.textFile(pattern);
    Map<String, Long> counts =
        lines.mapPartitions(CorpusStatsJob::countPartition).reduce(CorpusStatsJob::merge);
    Result result = new Result(input, counts);
    if (output != null) {
      URI file = Storage.resolve(output, "stats.json");
      if (storage.exists(file) && !overwrite) {
        throw new dev.forja.storage.OutputGuard.OutputExistsException(
            "Cannot write " + file + ": it exists (pass --overwrite to replace it)");
      }
      ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
      Map<String, Object> doc = new TreeMap<>(counts);
      doc.put("input", input.toString());
      storage.writeString(file, json.writeValueAsString(doc), true);
    }
    return result;
  }

  private static Iterator<Map<String, Long>> countPartition(Iterator<String> lines) {
    ObjectMapper json = new ObjectMapper(); // per partition, on the executor
    Map<String, Long> c = new TreeMap<>();
    while (lines.hasNext()) {
      String line = lines.next();
      if (line.isBlank()) {
        continue;
      }
      c.merge("bytes", (long) line.getBytes(StandardCharsets.UTF_8).length + 1, Long::sum);
      JsonNode node;
      try {
        node = json.readTree(line);
      } catch (IOException e) {
        c.merge("malformed", 1L, Long::sum);
        continue;
      }
      JsonNode text = node.get("text");
      if (text == null || !text.isTextual()) {
        c.merge("malformed", 1L, Long::sum);
        continue;
      }
      c.merge("documents", 1L, Long::sum);
      c.merge("chars", (long) text.asText().length(), Long::sum);
      JsonNode meta = node.get("meta");
      if (meta != null) {
        if (meta.hasNonNull("lang")) {
          c.merge("lang." + meta.get("lang").asText(), 1L, Long::sum);
        }
        if (meta.hasNonNull("kind")) {
          c.merge("kind." + meta.get("kind").asText(), 1L, Long::sum);
        }
      }
    }
    return List.of(c).iterator();
  }

  private static Map<String, Long> merge(Map<String, Long> a, Map<String, Long> b) {
    Map<String, Long> m = new TreeMap<>(a);
    b.forEach((k, v) -> m.merge(k, v, Long::sum));
    return m;
  }
}
