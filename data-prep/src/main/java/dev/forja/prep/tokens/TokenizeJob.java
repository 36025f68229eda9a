package dev.forja.prep.tokens;

import dev.forja.config.BuildInfo;
import dev.forja.prep.PrepOutput;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.ShardManifest;
import dev.forja.shard.ShardWriter;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.IntList;
import dev.forja.tokenizer.TokenizerFiles;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FilterFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * {@code forja tokenize}: encodes the kept documents of a prep output on executors (the tokenizer
 * built once per executor JVM, with its cache of frequent pre-tokens), appends EOS after each
 * document, routes each document to train or validation by a hash of its id, and writes one shard
 * per input partition and split straight to storage. The driver writes {@code manifest.json} last,
 * from the counts and checksums the tasks return; a retried task rewrites the same bytes.
 */
public final class TokenizeJob {

  /** What a run did. */
  /** {@code replayed}: documents of the training split from earlier windows ({@code --replay}). */
  public record Result(
      URI output,
      ShardManifest manifest,
      long documents,
      long replayed,
      long textBytes,
      double seconds) {
    public double megabytesPerSecond() {
      return seconds == 0 ? 0 : textBytes / 1048576.0 / seconds;
    }
  }

  /** One shard written by a task; {@code replayed}: its documents from earlier windows. */
  record Written(
      String split,
      String file,
      long tokens,
      long documents,
      long bytes,
      String sha256,
      long text,
      long replayed)
      implements Serializable {}

  private static final Map<String, BpeTokenizer> TOKENIZERS = new ConcurrentHashMap<>();

  private TokenizeJob() {}

  public static Result run(
      SparkSession spark,
      Storage storage,
      TokenizeConfig cfg,
      URI input,
      URI tokenizerUri,
      URI output,
      boolean overwrite)
      throws Exception {
    return run(spark, storage, cfg, input, List.of(), tokenizerUri, output, overwrite);
  }

  /**
   * Tokenizes {@code input}'s kept documents and, where {@code tokenize.replay-ratio} is above 0,
   * mixes in documents of the {@code replay} prep outputs (earlier windows) so that they make up
   * that share of the training split's documents. A replayed document is chosen by a hash of its id
   * (the same ones on every run) and only from its own window's training split, so that no
   * validation document of any window is trained on.
   */
  public static Result run(
      SparkSession spark,
      Storage storage,
      TokenizeConfig cfg,
      URI input,
      List<URI> replay,
      URI tokenizerUri,
      URI output,
      boolean overwrite)
      throws Exception {
    long t0 = System.nanoTime();
    BpeTokenizer tokenizer = TokenizerFiles.load(storage, tokenizerUri);
    int eos = tokenizer.specialId(cfg.eosToken());
    storage.requireUsable(output);
    PrepOutput prep = PrepOutput.open(storage, input, "--input");
    List<PrepOutput> earlier = new ArrayList<>();
    for (URI u : replay) {
      earlier.add(PrepOutput.open(storage, u, "--replay"));
    }
    OutputGuard.prepare(storage, output, overwrite);
    String json = TokenizerFiles.toTokenizerJson(tokenizer);
    String hash = tokenizer.hash();
    Broadcast<String> tokJson =
        spark.sparkContext().broadcast(json, scala.reflect.ClassTag$.MODULE$.apply(String.class));
    StorageConfig storageConfig = storage.config();
    double validation = cfg.validationFraction();
    String outDir = output.toString();
    Dataset<Row> docs = prep.keptTexts(spark).withColumn("replay", functions.lit(false));
    double share = 0;
    if (cfg.replayRatio() > 0 && !earlier.isEmpty()) {
      Dataset<Row> old = null;
      for (PrepOutput e : earlier) {
        old = old == null ? e.keptTexts(spark) : old.unionByName(e.keptTexts(spark));
      }
      final double v = validation;
      old = old.filter((FilterFunction<Row>) r -> !isValidation(key(r), v));
      long fresh = docs.count();
      long available = old.count();
      double wanted = cfg.replayRatio() / (1 - cfg.replayRatio()) * fresh * (1 - validation);
      share = available == 0 ? 0 : Math.min(1, wanted / available);
      final double p = share;
      old =
          old.filter((FilterFunction<Row>) r -> replayed(key(r), p))
              .withColumn("replay", functions.lit(true));
      docs = docs.unionByName(old);
    }
    List<Written> written =
        docs.javaRDD()
            .mapPartitions(
                rows -> {
                  BpeTokenizer t =
                      TOKENIZERS.computeIfAbsent(
                          hash,
                          h -> TokenizerFiles.fromTokenizerJson(tokJson.value(), "broadcast"));
                  return encodePartition(
                          t, eos, validation, rows, new Storage(storageConfig), URI.create(outDir))
                      .iterator();
                })
            .collect();
    Map<String, List<ShardManifest.Shard>> bySplit = new LinkedHashMap<>();
    bySplit.put(ShardFormat.TRAIN, new ArrayList<>());
    bySplit.put(ShardFormat.VALIDATION, new ArrayList<>());
    long documents = 0;
    long replayedDocs = 0;
    long text = 0;
    List<Written> sorted = new ArrayList<>(written);
    sorted.sort(Comparator.comparing(Written::file));
    for (Written w : sorted) {
      bySplit
          .get(w.split())
          .add(new ShardManifest.Shard(w.file(), w.tokens(), w.documents(), w.bytes(), w.sha256()));
      documents += w.documents();
      replayedDocs += w.replayed();
      text += w.text();
    }
    Map<String, ShardManifest.Split> splits = new LinkedHashMap<>();
    bySplit.forEach((name, shards) -> splits.put(name, ShardManifest.Split.of(shards)));
    Map<String, String> lineage = new LinkedHashMap<>();
    lineage.put("prep_output", input.toString());
    lineage.put("prep_run_id", prep.runId());
    lineage.put("tokenizer", tokenizerUri.toString());
    if (!earlier.isEmpty()) {
      lineage.put("replay_from", String.join(",", replay.stream().map(URI::toString).toList()));
      lineage.put("replay_ratio", String.valueOf(cfg.replayRatio()));
      lineage.put("replay_sampled_share", String.format(Locale.ROOT, "%.6f", share));
      lineage.put("replay_documents", String.valueOf(replayedDocs));
    }
    lineage.put("forja_version", BuildInfo.forjaVersion());
    ShardManifest manifest =
        ShardManifest.of(hash, tokenizer.vocabSize(), eos, validation, splits, lineage);
    // the tokenizer travels with its shards, so that training needs nothing else
    storage.writeString(Storage.resolve(output, TokenizerFiles.TOKENIZER_JSON), json, true);
    manifest.commit(storage, output);
    return new Result(
        output, manifest, documents, replayedDocs, text, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * Whether an earlier window's document is replayed when a share {@code p} of them is: a hash of
   * its id, independent of {@link #isValidation}'s.
   */
  static boolean replayed(String id, double p) {
    return isValidation("replay:" + id, p);
  }

  /** What a document's split and replay are decided by: its id, else its text. */
  private static String key(Row r) {
    return r.getString(0) == null ? r.getString(1) : r.getString(0);
  }

  /** Whether a document goes to validation: a hash of its id alone, so it never moves. */
  public static boolean isValidation(String id, double fraction) {
    long h = 0xcbf29ce484222325L;
    for (byte b : id.getBytes(StandardCharsets.UTF_8)) {
      h = (h ^ (b & 0xFF)) * 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    return (h >>> 11) * 0x1.0p-53 < fraction;
  }

  private static List<Written> encodePartition(
      BpeTokenizer t,
      int eos,
      double validation,
      java.util.Iterator<Row> rows,
      Storage storage,
      URI out)
      throws IOException {
    int partition = TaskContext.getPartitionId();
    Writer train = new Writer(storage, out, ShardFormat.TRAIN, partition, t.vocabSize(), eos);
    Writer val = new Writer(storage, out, ShardFormat.VALIDATION, partition, t.vocabSize(), eos);
    IntList ids = new IntList(4096);
    try {
      while (rows.hasNext()) {
        Row r = rows.next();
        String text = r.getString(1);
        if (text == null || text.isEmpty()) {
          continue;
        }
        ids.clear();
        t.encodeInto(text, 0, text.length(), ids);
        ids.add(eos);
        boolean replayed = r.getBoolean(2);
        Writer w = !replayed && isValidation(key(r), validation) ? val : train;
        w.write(ids, utf8Length(text), replayed);
      }
      List<Written> done = new ArrayList<>(2);
      train.close(done);
      val.close(done);
      return done;
    } catch (IOException | RuntimeException e) {
      train.abort();
      val.abort();
      throw e;
    }
  }

  static long utf8Length(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      n += c < 0x80 ? 1 : c < 0x800 || Character.isSurrogate(c) ? 2 : 3; // a pair: 4
    }
    return n;
  }

  /** Opens its file on the first document, so empty splits write nothing. */
  private static final class Writer {
    private final Storage storage;
    private final URI uri;
    private final String split;
    private final String file;
    private final int vocab;
    private final int eos;
    private ShardWriter w;
    private long text;
    private long replayed;

    Writer(Storage storage, URI dir, String split, int partition, int vocab, int eos) {
      this.storage = storage;
      this.split = split;
      this.file = ShardFormat.fileName(split, partition);
      this.uri = Storage.resolve(dir, file);
      this.vocab = vocab;
      this.eos = eos;
    }

    void write(IntList ids, long chars, boolean replay) throws IOException {
      if (w == null) {
        w = new ShardWriter(storage.create(uri, true), vocab, eos);
      }
      w.writeDocument(ids.array(), ids.size());
      text += chars;
      replayed += replay ? 1 : 0;
    }

    void close(List<Written> out) throws IOException {
      if (w != null) {
        w.close();
        out.add(
            new Written(
                split, file, w.tokens(), w.documents(), w.bytes(), w.sha256(), text, replayed));
      }
    }

    void abort() {
      try {
        if (w != null) {
          w.close();
        }
        storage.delete(uri, false);
      } catch (IOException | RuntimeException ignored) {
        // the manifest is never written for a failed job, so a stray file is not data
      }
    }
  }
}
