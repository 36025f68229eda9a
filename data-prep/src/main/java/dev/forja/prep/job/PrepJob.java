package dev.forja.prep.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.forja.config.BuildInfo;
import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.PrepOutput;
import dev.forja.prep.PrepResult;
import dev.forja.prep.dedup.Deduplicator;
import dev.forja.prep.dedup.MinHasher;
import dev.forja.prep.io.FileDocReader;
import dev.forja.prep.io.InputFile;
import dev.forja.prep.io.InputLister;
import dev.forja.prep.report.Accounting;
import dev.forja.prep.report.PrepReport;
import dev.forja.prep.stage.Cleaner;
import dev.forja.prep.stage.Decontaminator;
import dev.forja.prep.stage.DocStage;
import dev.forja.prep.stage.HarmfulFilter;
import dev.forja.prep.stage.LanguageFilter;
import dev.forja.prep.stage.PiiRedactor;
import dev.forja.prep.stage.QualityFilter;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Observation;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF3;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.storage.StorageLevel;

/**
 * {@code forja prep}: reads raw inputs, runs the per-document stages (clean, language, quality,
 * PII, harmful, decontaminate) fused in one pass, then exact and near deduplication, and writes
 * kept, rejected and quarantined records, stats, a report and the pipeline into a {@link
 * PrepOutput}, committed by a manifest. Fails loudly unless input records = kept + rejected +
 * quarantined.
 */
public final class PrepJob {

  /** The command's arguments beside the config. */
  public record Options(
      List<String> inputs,
      URI output,
      boolean overwrite,
      List<URI> dedupAgainst,
      URI decontaminateAgainst,
      Map<String, Object> effectiveConfig) {
    public Options {
      dedupAgainst = dedupAgainst == null ? List.of() : List.copyOf(dedupAgainst);
    }
  }

  private PrepJob() {}

  /** The per-document stages in order; the harmful stage reads its lists through storage. */
  public static List<DocStage> stages(PrepConfig cfg, Storage storage) throws IOException {
    List<DocStage> stages = new ArrayList<>();
    stages.add(new Cleaner(cfg.clean()));
    stages.add(new LanguageFilter(cfg.language()));
    stages.add(new QualityFilter(cfg.quality()));
    stages.add(new PiiRedactor(cfg.pii()));
    stages.add(HarmfulFilter.create(cfg.harmful(), storage));
    return stages;
  }

  /**
   * Runs the job: checks its inputs and output, then the three phases (read and filter, dedup,
   * write), then commits. Each phase's time is in the result.
   */
  public static PrepResult run(
      SparkSession spark, StorageConfig storageConfig, PrepConfig cfg, Options opts)
      throws IOException {
    long start = System.nanoTime();
    String runId = UUID.randomUUID().toString();
    Storage storage = new Storage(storageConfig);
    storage.requireUsable(opts.output());
    List<InputFile> files = InputLister.list(storage, opts.inputs()); // missing input: stop here
    List<PrepOutput> earlier = new ArrayList<>();
    for (URI e : opts.dedupAgainst()) {
      PrepOutput out = PrepOutput.open(storage, e, "--dedup-against");
      requireDedupState(storage, out);
      requireSameMinHash(storage, cfg.dedup(), out);
      earlier.add(out);
    }
    List<DocStage> stages = stages(cfg, storage);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    if (opts.decontaminateAgainst() != null) {
      Set<String> ngrams = evalNgrams(storage, cfg, opts.decontaminateAgainst());
      stages.add(new Decontaminator(cfg.decontaminate(), jsc.broadcast(ngrams)));
    }
    OutputGuard.prepare(storage, opts.output(), opts.overwrite());
    long inputBytes = files.stream().mapToLong(InputFile::size).sum();
    shufflePartitions(spark, inputBytes);
    Deduplicator dedup =
        cfg.dedup().exact() || cfg.dedup().near() ? new Deduplicator(cfg.dedup()) : null;

    Map<String, Double> phases = new LinkedHashMap<>();
    long mark = System.nanoTime();
    JavaRDD<Doc> processed = process(read(jsc, files, storageConfig, cfg.reader()), stages, dedup);
    Scanned scanned = scan(spark, processed, dedup, cfg.dedup(), opts.output());
    phases.put("read-and-filter", (System.nanoTime() - mark) / 1e9);

    mark = System.nanoTime();
    Dataset<Row> all = scanned.docs();
    Deduplicator.Result dedupResult = null;
    if (dedup != null) {
      // every earlier output's documents together: a document any of them holds is not new
      Dataset<Row> earlierKeys = null;
      Dataset<Row> earlierSigs = null;
      for (PrepOutput e : earlier) {
        earlierKeys = union(earlierKeys, e.exactKeys(storage, spark));
        earlierSigs = union(earlierSigs, e.signatures(storage, spark));
      }
      // every document the stages kept has its features (dedup/documents holds just those)
      dedupResult =
          dedup.run(
              scanned.features(),
              scanned.staged().getOrDefault(Doc.KEPT, 0L),
              earlierKeys,
              earlierSigs);
      all = Deduplicator.apply(scanned.docs(), dedupResult);
    }
    phases.put("dedup", (System.nanoTime() - mark) / 1e9);

    mark = System.nanoTime();
    // dedup turns kept documents into rejected ones: how many of each the writes will find
    long marked = dedupResult == null ? 0 : dedupResult.markCount();
    Map<String, Long> staged = scanned.staged();
    long inputRecords = staged.values().stream().mapToLong(Long::longValue).sum();
    long kept = staged.getOrDefault(Doc.KEPT, 0L) - marked;
    long rejected = staged.getOrDefault(Doc.REJECTED, 0L) + marked;
    long quarantined = staged.getOrDefault(Doc.QUARANTINED, 0L);
    Accounting acc = writeOutputs(all, cfg.output(), opts.output(), kept, rejected, quarantined);
    checkAccounts(inputRecords, acc, kept, rejected, quarantined);
    if (dedup != null) {
      writeMinHashDescription(storage, cfg.dedup(), opts.output());
    }
    phases.put("write", (System.nanoTime() - mark) / 1e9);

    PrepResult result =
        new PrepResult(
            opts.output(),
            runId,
            files.size(),
            inputBytes,
            inputRecords,
            kept,
            rejected,
            quarantined,
            acc.reasons(),
            acc.languages(),
            acc.pii(),
            acc.keptTextChars(),
            dedupResult == null ? 0 : dedupResult.candidatePairs(),
            dedupResult == null ? 0 : dedupResult.similarPairs(),
            (System.nanoTime() - start) / 1e9,
            phases);
    writeMetadata(storage, cfg, opts, stages, result, acc.examples());
    commit(storage, cfg, opts, result);
    if (dedupResult != null) {
      dedupResult.release();
    }
    scanned.cache().unpersist();
    return result;
  }

  /**
   * The input files' records, one file after the other and one record at a time: never a whole file
   * in memory (a Stream.flatMap iterator would buffer each file's records).
   */
  private static JavaRDD<Doc> read(
      JavaSparkContext jsc,
      List<InputFile> files,
      StorageConfig storageConfig,
      PrepConfig.Reader readerParams) {
    return jsc.parallelize(files, Math.max(1, files.size()))
        .mapPartitions(
            it -> {
              Configuration conf = new Storage(storageConfig).hadoopConfiguration();
              return new java.util.Iterator<Doc>() {
                private java.util.Iterator<Doc> current = java.util.Collections.emptyIterator();

                @Override
                public boolean hasNext() {
                  while (!current.hasNext() && it.hasNext()) {
                    current = new FileDocReader(it.next(), readerParams, conf);
                  }
                  return current.hasNext();
                }

                @Override
                public Doc next() {
                  if (!hasNext()) {
                    throw new java.util.NoSuchElementException();
                  }
                  return current.next();
                }
              };
            });
  }

  /**
   * Each document through every stage (each stage opened once per partition), numbered for dedup
   * (partition and ordinal), with its dedup features where the stages kept it.
   */
  private static JavaRDD<Doc> process(
      JavaRDD<Doc> read, List<DocStage> stages, Deduplicator dedup) {
    return read.mapPartitionsWithIndex(
        (partition, it) -> {
          List<DocStage.Processor> ps = new ArrayList<>();
          for (DocStage s : stages) {
            ps.add(s.open());
          }
          Deduplicator.Features features = dedup == null ? null : dedup.features();
          return new java.util.Iterator<Doc>() {
            private long ordinal;

            @Override
            public boolean hasNext() {
              return it.hasNext();
            }

            @Override
            public Doc next() {
              Doc d = it.next();
              for (DocStage.Processor p : ps) {
                p.process(d);
              }
              d.setNode(Deduplicator.node(partition, ordinal++));
              if (features != null) {
                features.add(d); // kept documents: exact key, signature
              }
              return d;
            }
          };
        },
        false);
  }

  /**
   * The processed documents, cached as columns on local disk ({@code cache}; {@code docs} reads it
   * back with strings), the count of each status the stages left ({@code staged}) and, with dedup
   * on, the features dedup reads ({@code features}, written to {@link PrepOutput#DEDUP_DOCUMENTS}).
   */
  private record Scanned(
      Dataset<Row> cache, Dataset<Row> docs, Map<String, Long> staged, Dataset<Row> features) {}

  /**
   * The one pass over the input: the action that fills the cache also counts the documents of each
   * status and, with dedup on, writes the features dedup reads, so that dedup never scans the
   * cache.
   */
  private static Scanned scan(
      SparkSession spark,
      JavaRDD<Doc> processed,
      Deduplicator dedup,
      PrepConfig.Dedup params,
      URI output) {
    // Columns of (nearly) all-distinct strings are cached as binary: for a string column the
    // columnar cache hashes every value of each batch looking for a dictionary; binary columns
    // are stored as they are
    Dataset<Row> cache = spark.createDataset(processed.rdd(), Encoders.bean(Doc.class)).toDF();
    for (String c : DISTINCT_STRINGS) {
      cache = cache.withColumn(c, functions.col(c).cast(DataTypes.BinaryType));
    }
    cache = cache.persist(StorageLevel.DISK_ONLY());
    Dataset<Row> docs = cache;
    for (String c : DISTINCT_STRINGS) {
      docs = docs.withColumn(c, functions.col(c).cast(DataTypes.StringType));
    }
    if (dedup == null) {
      Map<String, Long> staged = new java.util.HashMap<>();
      for (Row r : docs.groupBy("status").count().collectAsList()) {
        staged.put(r.getString(0), r.getLong(1));
      }
      return new Scanned(cache, docs, staged, null);
    }
    URI featuresUri = Storage.resolve(output, PrepOutput.DEDUP_DOCUMENTS);
    Map<String, Long> staged = writeFeatures(docs, params, featuresUri);
    Dataset<Row> features =
        spark.read().parquet(featuresUri.toString()).withColumnRenamed("exact_key", "exactKey");
    return new Scanned(cache, docs, staged, features);
  }

  /**
   * Writes kept, rejected and quarantined records; each write counts what it writes ({@code
   * Dataset.observe}), so the accounting needs no scan of its own.
   */
  private static Accounting writeOutputs(
      Dataset<Row> all,
      PrepConfig.Output params,
      URI output,
      long kept,
      long rejected,
      long quarantined) {
    String fmt = params.format();
    int perReason = params.examplesPerReason();
    List<byte[]> tallies = new ArrayList<>();
    tallies.add(
        write(
            all,
            Doc.KEPT,
            kept,
            perReason,
            List.of(
                functions.col("id"),
                functions.col("text"),
                functions.col("source"),
                functions.col("lang").as("language"),
                functions.col("langScore").as("language_score"),
                SIGNALS
                    .apply(
                        functions.col("signalMask"),
                        functions.col("signalValues"),
                        functions.col("extraSignals"))
                    .as("signals"),
                functions.col("pii"),
                functions.col("meta")),
            Storage.resolve(output, PrepOutput.KEPT),
            fmt));
    tallies.add(
        write(
            all,
            Doc.REJECTED,
            rejected,
            perReason,
            List.of(
                functions.col("id"),
                functions.col("source"),
                functions.col("reason"),
                functions.col("value"),
                functions.col("detail"),
                functions.col("lang").as("language"),
                functions.col("text")),
            Storage.resolve(output, PrepOutput.REJECTED),
            fmt));
    tallies.add(
        write(
            all,
            Doc.QUARANTINED,
            quarantined,
            perReason,
            List.of(
                functions.col("source"),
                functions.col("position"),
                functions.col("reason"),
                functions.col("detail"),
                functions.col("text").as("sample")),
            Storage.resolve(output, PrepOutput.QUARANTINE),
            fmt));
    return Accounting.from(tallies, PrepConfig.PII_TYPES, perReason);
  }

  /** The directory's README.txt, then the manifest, written last: the commit. */
  private static void commit(Storage storage, PrepConfig cfg, Options opts, PrepResult result)
      throws IOException {
    storage.writeString(
        Storage.resolve(opts.output(), CommitManifest.README), PrepOutput.readme(), true);
    Map<String, String> props = new LinkedHashMap<>();
    props.put("run-id", result.runId());
    props.put("format-version", Integer.toString(PrepOutput.FORMAT_VERSION));
    props.put("forja-version", BuildInfo.forjaVersion());
    props.put("inputs", String.join(",", opts.inputs()));
    props.put("input-records", Long.toString(result.inputRecords()));
    props.put("kept", Long.toString(result.kept()));
    props.put("rejected", Long.toString(result.rejected()));
    props.put("quarantined", Long.toString(result.quarantined()));
    props.put("format", cfg.output().format());
    CommitManifest.commit(storage, opts.output(), PrepOutput.KIND, props);
  }

  /** The documents' string columns whose values are (nearly) all distinct: cached as binary. */
  private static final List<String> DISTINCT_STRINGS = List.of("text", "id", "detail", "exactKey");

  /** The signals as the map users read (name to value), from the cache's compact columns. */
  static final UserDefinedFunction SIGNALS =
      functions.udf(
          (UDF3<
                  Long,
                  scala.collection.Seq<Double>,
                  scala.collection.Map<String, Double>,
                  Map<String, Double>>)
              (mask, values, extra) ->
                  Doc.signals(
                      mask,
                      i -> values.apply(i),
                      extra == null ? null : scala.jdk.javaapi.CollectionConverters.asJava(extra)),
          DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType));

  /**
   * The documents of one status; with none of them ({@code count} 0) a filter Spark's optimizer
   * turns into an empty relation, so an empty output is written without a scan.
   */
  private static Dataset<Row> only(Dataset<Row> all, String status, long count) {
    return all.filter(count == 0 ? functions.lit(false) : functions.col("status").equalTo(status));
  }

  /**
   * Dedup shuffles small columns (ids, keys, band rows): Spark's default of 200 partitions would
   * make most of its stages hundreds of tiny tasks. Unless the user set {@code
   * spark.sql.shuffle.partitions}, use one partition per 512 MiB of input (dedup shuffles keys, ids
   * and 16-byte band rows, a small part of the input: at 128 MiB a partition, 1 GiB ran many stages
   * of eight tasks of a few MB each, about 2 s more), at least two per core, in whole waves (a
   * multiple of the cores), and keep adaptive execution from coalescing them below that: coalesced
   * to, say, 3 or 5, a sort's last wave ran on one core of two.
   */
  static void shufflePartitions(SparkSession spark, long inputBytes) {
    if (spark.sparkContext().getConf().contains("spark.sql.shuffle.partitions")) {
      return;
    }
    int cores = Math.max(1, spark.sparkContext().defaultParallelism());
    long n = Math.max(2L * cores, (inputBytes + (512L << 20) - 1) / (512L << 20));
    n = Math.min(-Math.floorDiv(-n, cores) * cores, 100_000);
    spark.conf().set("spark.sql.shuffle.partitions", Long.toString(n));
    if (!spark.sparkContext().getConf().contains(MIN_PARTITIONS)) {
      spark.conf().set(MIN_PARTITIONS, Long.toString(n));
    }
  }

  private static final String MIN_PARTITIONS =
      "spark.sql.adaptive.coalescePartitions.minPartitionNum";

  /**
   * Every input document is in exactly one output: the writes' own counts must add up to the
   * documents read, and match the counts dedup and the stages gave; otherwise the job stops before
   * the commit manifest, naming the counts.
   */
  static void checkAccounts(
      long inputRecords, Accounting acc, long kept, long rejected, long quarantined) {
    long k = acc.count(Doc.KEPT);
    long r = acc.count(Doc.REJECTED);
    long q = acc.count(Doc.QUARANTINED);
    if (k + r + q != inputRecords || k != kept || r != rejected || q != quarantined) {
      throw new IllegalStateException(
          "Accounting failed: "
              + inputRecords
              + " input records but "
              + k
              + " kept + "
              + r
              + " rejected + "
              + q
              + " quarantined written (expected "
              + kept
              + " + "
              + rejected
              + " + "
              + quarantined
              + "; output not committed)");
    }
  }

  /**
   * Writes the columns {@code select} of the documents of one status ({@code count} of them, as
   * dedup and the stages said) and returns the {@link Accounting#tally} of the documents written,
   * observed as the write reads them; null when there were none, and nothing was read.
   */
  private static byte[] write(
      Dataset<Row> all,
      String status,
      long count,
      int perReason,
      List<Column> select,
      URI uri,
      String format) {
    Observation seen = count == 0 ? null : new Observation("accounting " + status);
    Dataset<Row> docs = only(all, status, count);
    if (seen != null) {
      docs =
          docs.observe(seen, Accounting.tally(docs, PrepConfig.PII_TYPES, perReason).as("tally"));
    }
    Dataset<Row> ds = docs.select(select.toArray(new Column[0]));
    if (format.equals("jsonl")) {
      ds.write().mode(SaveMode.ErrorIfExists).json(uri.toString());
    } else {
      var w = ds.write().mode(SaveMode.ErrorIfExists);
      // texts, ids and metadata values (URLs) are (nearly) all distinct: Parquet would build a
      // dictionary of each page's values only to fall back to plain encoding
      for (String c : List.of("id", "text", "sample", "meta.key_value.value")) {
        if (List.of(ds.columns()).contains(c.split("\\.")[0])) {
          w = w.option("parquet.enable.dictionary#" + c, "false");
        }
      }
      w.parquet(uri.toString());
    }
    return seen == null ? null : (byte[]) observed(seen).get("tally");
  }

  /** What {@code seen} observed in the action that just ran. */
  private static Map<String, Object> observed(Observation seen) {
    try {
      return seen.getAsJava();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while reading " + seen.name(), e);
    }
  }

  /**
   * Writes the dedup features of the documents the stages kept to {@code uri}, in the scan that
   * fills the documents' cache, and returns the number of documents of each status, counted in the
   * same scan ({@code Dataset.observe}).
   */
  static Map<String, Long> writeFeatures(Dataset<Row> docs, PrepConfig.Dedup params, URI uri) {
    Observation seen = new Observation("statuses");
    List<String> statuses = List.of(Doc.KEPT, Doc.REJECTED, Doc.QUARANTINED);
    List<Column> counts = new ArrayList<>();
    for (String s : statuses) {
      counts.add(
          functions
              .sum(functions.when(functions.col("status").equalTo(s), 1L).otherwise(0L))
              .as(s));
    }
    List<Column> columns = new ArrayList<>(List.of(functions.col("node"), functions.col("id")));
    if (params.exact()) {
      columns.add(functions.col("exactKey").as("exact_key"));
    }
    if (params.near()) {
      columns.add(functions.col("signature"));
    }
    docs.observe(seen, functions.count("*").as("all"), counts.toArray(new Column[0]))
        .filter(functions.col("status").equalTo(Doc.KEPT))
        .select(columns.toArray(new Column[0]))
        .write()
        // ids, keys and signatures are all distinct: no dictionary
        .option("parquet.enable.dictionary", "false")
        .parquet(uri.toString());
    Map<String, Object> m = observed(seen);
    Map<String, Long> out = new java.util.HashMap<>();
    long known = 0;
    for (String s : statuses) {
      long n = m.get(s) == null ? 0 : ((Number) m.get(s)).longValue();
      out.put(s, n);
      known += n;
    }
    long all = ((Number) m.get("all")).longValue();
    if (all != known) {
      out.put("unknown", all - known); // a status no output takes: the accounts check fails
    }
    return out;
  }

  /** How the saved signatures were made (scheme and parameters), beside them. */
  private static void writeMinHashDescription(Storage storage, PrepConfig.Dedup params, URI output)
      throws IOException {
    if (params.near()) {
      storage.writeString(
          Storage.resolve(output, PrepOutput.MINHASH),
          new ObjectMapper().writeValueAsString(new MinHasher(params).description()),
          true);
    }
  }

  private static Dataset<Row> union(Dataset<Row> a, Dataset<Row> b) {
    return a == null ? b : b == null ? a : a.unionByName(b);
  }

  /**
   * An earlier corpus' signatures are comparable only when made by the same scheme with the same
   * shingles, hashes and seed: otherwise refuse, naming what differs.
   */
  static void requireSameMinHash(Storage storage, PrepConfig.Dedup params, PrepOutput earlier)
      throws IOException {
    if (!params.near() || !earlier.hasSignatures(storage)) {
      return;
    }
    Map<String, Object> ours = new MinHasher(params).description();
    URI file = earlier.path(PrepOutput.MINHASH);
    Map<String, Object> theirs =
        storage.exists(file)
            ? new ObjectMapper()
                .readValue(
                    storage.readString(file),
                    new com.fasterxml.jackson.core.type.TypeReference<
                        LinkedHashMap<String, Object>>() {})
            : Map.of("scheme", "an earlier Forja version's");
    if (!ours.toString().equals(theirs.toString())) {
      throw new IllegalArgumentException(
          "--dedup-against "
              + earlier.uri()
              + ": its MinHash signatures were made with "
              + theirs
              + " but this run uses "
              + ours
              + "; set prep.dedup.shingle, ngram, bands x rows and seed as that run did, or run"
              + " forja prep on its inputs again");
    }
  }

  private static void requireDedupState(Storage storage, PrepOutput earlier) throws IOException {
    if (!earlier.hasDedupState(storage)) {
      throw new IllegalArgumentException(
          "--dedup-against "
              + earlier.uri()
              + " holds no dedup state (it ran with dedup disabled)");
    }
  }

  /** The evaluation set's word n-grams, read on the driver (evaluation sets are small). */
  static Set<String> evalNgrams(Storage storage, PrepConfig cfg, URI uri) throws IOException {
    Set<String> out = new HashSet<>();
    PrepConfig.Reader lines =
        new PrepConfig.Reader(
            "line",
            cfg.reader().textField(),
            cfg.reader().idField(),
            cfg.reader().maxRecordBytes());
    for (InputFile f : InputLister.list(storage, List.of(uri.toString()))) {
      FileDocReader r = new FileDocReader(f, lines, storage.hadoopConfiguration());
      while (r.hasNext()) {
        Doc d = r.next();
        if (d.kept()) {
          Decontaminator.ngrams(d.getText(), cfg.decontaminate().ngram(), out::add);
        }
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(
          "--decontaminate-against "
              + uri
              + ": no text with "
              + cfg.decontaminate().ngram()
              + " or more words (lower prep.decontaminate.ngram?)");
    }
    return out;
  }

  private static void writeMetadata(
      Storage storage,
      PrepConfig cfg,
      Options opts,
      List<DocStage> stages,
      PrepResult result,
      List<Row> examples)
      throws IOException {
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    Map<String, Object> pipeline = new LinkedHashMap<>();
    pipeline.put("format-version", PrepOutput.FORMAT_VERSION);
    pipeline.put("forja-version", BuildInfo.forjaVersion());
    pipeline.put("run-id", result.runId());
    pipeline.put("inputs", opts.inputs());
    pipeline.put("reader", cfg.reader());
    List<Map<String, Object>> st = new ArrayList<>();
    for (DocStage s : stages) {
      st.add(Map.of("stage", s.name(), "class", s.getClass().getName(), "params", s.params()));
    }
    st.add(Map.of("stage", "dedup", "class", Deduplicator.class.getName(), "params", cfg.dedup()));
    pipeline.put("stages", st);
    pipeline.put("dedup-against", opts.dedupAgainst().stream().map(URI::toString).toList());
    pipeline.put(
        "decontaminate-against",
        opts.decontaminateAgainst() == null ? null : opts.decontaminateAgainst().toString());
    storage.writeString(
        Storage.resolve(opts.output(), PrepOutput.PIPELINE),
        json.writeValueAsString(pipeline),
        true);
    Map<String, Object> prepKeys = new TreeMap<>();
    opts.effectiveConfig()
        .forEach(
            (k, v) -> {
              if (k.startsWith("prep.")) {
                prepKeys.put(k, v);
              }
            });
    String yaml =
        "# The configuration of this run: forja prep --conf prep-config.yaml repeats it.\n"
            + new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
                .writeValueAsString(prepKeys);
    storage.writeString(Storage.resolve(opts.output(), PrepOutput.CONFIG), yaml, true);
    storage.writeString(
        Storage.resolve(opts.output(), PrepOutput.STATS),
        json.writeValueAsString(PrepReport.stats(result)),
        true);
    PrepReport.write(storage, opts.output(), result, examples);
  }
}
