package dev.forja.prep.tokens;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.forja.prep.PrepOutput;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTrainer;
import dev.forja.tokenizer.PreTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * {@code forja tokenizer train}: pre-token frequencies counted on executors (one hash map per
 * partition, then a reduce), merges learned on the driver by {@link BpeTrainer}. Writes {@code
 * tokenizer.json}, {@code vocab.json}, {@code merges.txt} and {@code tokenizer-stats.json}.
 */
public final class TokenizerTrainJob {
  public static final String STATS = "tokenizer-stats.json";

  /** What a run did. */
  public record Result(
      URI output, String tokenizerHash, BpeTrainer.Stats stats, double countSeconds) {}

  private TokenizerTrainJob() {}

  public static Result run(
      SparkSession spark,
      Storage storage,
      TokenizerConfig cfg,
      URI input,
      URI output,
      boolean overwrite)
      throws Exception {
    BpeTrainer trainer =
        new BpeTrainer(cfg.vocabSize(), cfg.minFrequency(), cfg.specialTokens(), cfg.pattern());
    storage.requireUsable(output);
    PrepOutput prep = PrepOutput.open(storage, input, "--input");
    OutputGuard.prepare(storage, output, overwrite);
    long t0 = System.nanoTime();
    Map<String, Long> counts = countPreTokens(prep.keptTexts(spark), cfg.pattern());
    double countSeconds = (System.nanoTime() - t0) / 1e9;
    BpeTrainer.Result r = trainer.train(counts);
    TokenizerFiles.save(storage, output, r.tokenizer());
    Map<String, Object> stats = new LinkedHashMap<>();
    stats.put("tokenizer_hash", r.tokenizer().hash());
    stats.put("input", input.toString());
    stats.put("prep_run_id", prep.runId());
    stats.put("vocab_size", r.stats().vocabSize());
    stats.put("merges", r.stats().merges());
    stats.put("stop_reason", r.stats().stopReason());
    stats.put("pattern", cfg.pattern().id);
    stats.put("special_tokens", cfg.specialTokens());
    stats.put("min_frequency", cfg.minFrequency());
    stats.put("distinct_pre_tokens", r.stats().distinctPreTokens());
    stats.put("pre_tokens", r.stats().preTokens());
    stats.put("bytes", r.stats().bytes());
    stats.put("tokens", r.stats().tokensAfter());
    stats.put("bytes_per_token", r.stats().bytesPerToken());
    stats.put("count_seconds", countSeconds);
    stats.put("merge_seconds", r.stats().seconds());
    storage.writeString(
        Storage.resolve(output, STATS),
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(stats),
        true);
    return new Result(output, r.tokenizer().hash(), r.stats(), countSeconds);
  }

  /**
   * Pre-token counts of a dataset's {@code text} column: a hash map per partition, then a reduce.
   */
  public static Map<String, Long> countPreTokens(
      org.apache.spark.sql.Dataset<Row> docs, PreTokenizer.Pattern pattern) {
    JavaPairRDD<String, Long> pairs =
        docs.select("text")
            .javaRDD()
            .mapPartitionsToPair(
                rows -> {
                  PreTokenizer pre = PreTokenizer.of(pattern);
                  HashMap<String, long[]> local = new HashMap<>();
                  while (rows.hasNext()) {
                    Row row = rows.next();
                    String text = row.getString(0);
                    if (text != null) {
                      pre.split(
                          text,
                          0,
                          text.length(),
                          (s, e) ->
                              local.computeIfAbsent(text.substring(s, e), k -> new long[1])[0]++);
                    }
                  }
                  List<Tuple2<String, Long>> out = new ArrayList<>(local.size());
                  local.forEach((k, v) -> out.add(new Tuple2<>(k, v[0])));
                  return out.iterator();
                });
    return new HashMap<>(pairs.reduceByKey(Long::sum).collectAsMap());
  }
}
