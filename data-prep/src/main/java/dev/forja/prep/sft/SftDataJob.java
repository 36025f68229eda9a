package dev.forja.prep.sft;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.forja.config.BuildInfo;
import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.io.FileDocReader;
import dev.forja.prep.io.InputFile;
import dev.forja.prep.io.InputFormat;
import dev.forja.prep.io.InputLister;
import dev.forja.prep.tokens.TokenizeJob;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.ShardManifest;
import dev.forja.shard.ShardWriter;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.ChatTemplate;
import dev.forja.tokenizer.TokenizerFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * {@code forja sft-data}: instruction and chat examples (JSONL, compressed or not, on any store) to
 * shards of training rows ({@link ShardFormat} version 2, with flags) for {@code forja finetune}.
 * Files are read on executors with prep's reader (an unreadable file, a binary or over-long record
 * is quarantined as in {@code forja prep}); each line is encoded by {@link SftEncoder} with the
 * tokenizer and chat template of the model to fine-tune; examples go to train or validation by a
 * hash of their id, and are packed into rows of {@code sft.sequence-length} tokens (or one per row,
 * padded). Every problem is counted and its line written to {@code quarantine/} with the reason.
 * The driver writes the tokenizer files, {@code stats.json}, the report ({@code report.md}, {@code
 * report.html}, {@code report.png}) and last {@code manifest.json}: every input line is accounted
 * for (kept + quarantined = read).
 */
public final class SftDataJob {
  public static final String QUARANTINE = "quarantine";
  public static final String STATS = "stats.json";
  public static final String REPORT = SftReport.MD;
  public static final String REPORT_HTML = SftReport.HTML;
  public static final String REPORT_PNG = SftReport.PNG;
  public static final String TOKENIZER_CONFIG = "tokenizer_config.json";

  /** Length histogram buckets: examples of up to 2^k tokens. */
  static final int BUCKETS = 21;

  /** What a run did. */
  public record Result(URI output, ShardManifest manifest, Stats stats, double seconds) {}

  /** Counts over all partitions (mergeable). */
  public static final class Stats implements Serializable {
    public long read;
    public long kept;
    public long truncated;
    public long tokens;
    public long trainedTokens;
    public long paddingTokens;
    public long rows;
    public final Map<String, Long> quarantined = new TreeMap<>();
    public final Map<String, Long> examplesBySplit = new TreeMap<>();
    public final long[] lengths = new long[BUCKETS];

    void add(Stats o) {
      read += o.read;
      kept += o.kept;
      truncated += o.truncated;
      tokens += o.tokens;
      trainedTokens += o.trainedTokens;
      paddingTokens += o.paddingTokens;
      rows += o.rows;
      o.quarantined.forEach((k, v) -> quarantined.merge(k, v, Long::sum));
      o.examplesBySplit.forEach((k, v) -> examplesBySplit.merge(k, v, Long::sum));
      for (int i = 0; i < BUCKETS; i++) {
        lengths[i] += o.lengths[i];
      }
    }

    public long quarantinedTotal() {
      return quarantined.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Share of row tokens that are examples, not padding. */
    public double fill() {
      return tokens + paddingTokens == 0 ? 0 : (double) tokens / (tokens + paddingTokens);
    }
  }

  record Written(String split, String file, long tokens, long examples, long bytes, String sha256)
      implements Serializable {}

  record Part(List<Written> written, Stats stats) implements Serializable {}

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final ObjectMapper LINE = new ObjectMapper();

  private SftDataJob() {}

  /** The chat template of the model at {@code model} (its tokenizer_config.json), if any. */
  public static Optional<ChatTemplate> template(Storage storage, URI model) throws IOException {
    URI tc = Storage.resolve(model, TOKENIZER_CONFIG);
    if (!storage.exists(tc)) {
      return Optional.empty();
    }
    return ChatTemplate.fromTokenizerConfig(storage.readString(tc), tc.toString());
  }

  public static Result run(
      SparkSession spark,
      Storage storage,
      SftConfig cfg,
      List<String> inputs,
      URI model,
      URI output,
      boolean overwrite,
      long maxRecordBytes)
      throws Exception {
    long t0 = System.nanoTime();
    BpeTokenizer tokenizer = TokenizerFiles.load(storage, model);
    Optional<ChatTemplate> template =
        cfg.template().equals("plain") ? Optional.empty() : template(storage, model);
    int eos = eosId(tokenizer, template);
    int pad = padId(tokenizer, template, eos);
    storage.requireUsable(output);
    List<InputFile> files = new ArrayList<>();
    for (InputFile f : InputLister.list(storage, inputs)) {
      // each line is one example: read as text lines, parsed here
      files.add(new InputFile(f.uri(), f.size(), InputFormat.TEXT));
    }
    if (files.isEmpty()) {
      throw new IllegalArgumentException("--input " + inputs + ": no files found");
    }
    OutputGuard.prepare(storage, output, overwrite);
    String tokJson = TokenizerFiles.toTokenizerJson(tokenizer);
    String hash = tokenizer.hash();
    String templateText = template.map(ChatTemplate::template).orElse(null);
    Map<String, String> templateTokens = new LinkedHashMap<>();
    template.ifPresent(
        t -> {
          for (String n : List.of("bos_token", "eos_token", "pad_token", "unk_token")) {
            if (t.token(n) != null) {
              templateTokens.put(n, t.token(n));
            }
          }
        });
    StorageConfig sc = storage.config();
    String outDir = output.toString();
    PrepConfig.Reader reader = new PrepConfig.Reader("line", "text", "id", maxRecordBytes);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<Part> parts =
        jsc.parallelize(files, files.size())
            .mapPartitions(
                it -> {
                  BpeTokenizer t = TokenizerFiles.fromTokenizerJson(tokJson, "broadcast");
                  ChatTemplate ct =
                      templateText == null ? null : new ChatTemplate(templateText, templateTokens);
                  SftEncoder enc = new SftEncoder(t, ct, eos, cfg);
                  Storage st = new Storage(sc);
                  return List.of(
                          partition(
                              enc,
                              cfg,
                              it,
                              st,
                              URI.create(outDir),
                              t.vocabSize(),
                              eos,
                              pad,
                              reader))
                      .iterator();
                })
            .collect();
    Stats stats = new Stats();
    List<Written> written = new ArrayList<>();
    for (Part p : parts) {
      stats.add(p.stats());
      written.addAll(p.written());
    }
    if (stats.kept + stats.quarantinedTotal() != stats.read) {
      throw new IllegalStateException(
          "accounting: "
              + stats.read
              + " read, "
              + stats.kept
              + " kept and "
              + stats.quarantinedTotal()
              + " quarantined");
    }
    if (stats.kept == 0) {
      throw new IllegalArgumentException(
          "No example could be used: "
              + stats.quarantined
              + " (see "
              + Storage.resolve(output, QUARANTINE + "/")
              + ")");
    }
    written.sort(Comparator.comparing(Written::file));
    Map<String, List<ShardManifest.Shard>> bySplit = new LinkedHashMap<>();
    bySplit.put(ShardFormat.TRAIN, new ArrayList<>());
    bySplit.put(ShardFormat.VALIDATION, new ArrayList<>());
    for (Written w : written) {
      bySplit
          .get(w.split())
          .add(new ShardManifest.Shard(w.file(), w.tokens(), w.examples(), w.bytes(), w.sha256()));
    }
    Map<String, ShardManifest.Split> splits = new LinkedHashMap<>();
    bySplit.forEach((name, shards) -> splits.put(name, ShardManifest.Split.of(shards)));
    Map<String, String> lineage = new LinkedHashMap<>();
    lineage.put("inputs", String.join(",", inputs));
    lineage.put("model", model.toString());
    lineage.put("template", template.isPresent() ? "chat template of the model" : "plain");
    lineage.put("forja_version", BuildInfo.forjaVersion());
    ShardManifest manifest =
        ShardManifest.of(
                hash, tokenizer.vocabSize(), eos, cfg.validationFraction(), splits, lineage)
            .withRows(cfg.sequenceLength());
    storage.writeString(Storage.resolve(output, TokenizerFiles.TOKENIZER_JSON), tokJson, true);
    URI tc = Storage.resolve(model, TOKENIZER_CONFIG);
    if (storage.exists(tc)) { // the chat template travels with the data, to the fine-tuned model
      storage.writeString(Storage.resolve(output, TOKENIZER_CONFIG), storage.readString(tc), true);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    storage.writeString(
        Storage.resolve(output, STATS),
        JSON.writeValueAsString(statsJson(stats, cfg, seconds)),
        true);
    SftReport.write(storage, output, stats, cfg);
    manifest.commit(storage, output);
    return new Result(output, manifest, stats, seconds);
  }

  /** EOS: the template's {@code eos_token}, else {@code <|endoftext|>}, else {@code </s>}. */
  static int eosId(BpeTokenizer t, Optional<ChatTemplate> template) {
    List<String> names = new ArrayList<>();
    template.map(x -> x.token("eos_token")).ifPresent(names::add);
    names.addAll(List.of("<|endoftext|>", "</s>", "<|end_of_text|>", "<|im_end|>"));
    for (String n : names) {
      if (t.specials().containsKey(n)) {
        return t.specials().get(n);
      }
    }
    throw new IllegalArgumentException(
        "The tokenizer has no end-of-sequence token among "
            + names
            + " (its special tokens: "
            + t.specials().keySet()
            + "): fine-tuned answers could not stop");
  }

  static int padId(BpeTokenizer t, Optional<ChatTemplate> template, int eos) {
    String pad = template.map(x -> x.token("pad_token")).orElse(null);
    return pad != null && t.specials().containsKey(pad) ? t.specials().get(pad) : eos;
  }

  private static Part partition(
      SftEncoder enc,
      SftConfig cfg,
      Iterator<InputFile> files,
      Storage storage,
      URI out,
      int vocab,
      int eos,
      int pad,
      PrepConfig.Reader reader)
      throws IOException {
    int partition = TaskContext.getPartitionId();
    Stats stats = new Stats();
    Rows train = new Rows(storage, out, ShardFormat.TRAIN, partition, vocab, eos, pad, cfg, stats);
    Rows val =
        new Rows(storage, out, ShardFormat.VALIDATION, partition, vocab, eos, pad, cfg, stats);
    URI qUri = Storage.resolve(out, QUARANTINE + "/" + String.format("part-%05d.jsonl", partition));
    OutputStream q = null;
    Configuration conf = storage.hadoopConfiguration();
    try {
      while (files.hasNext()) {
        FileDocReader r = new FileDocReader(files.next(), reader, conf);
        while (r.hasNext()) {
          Doc d = r.next();
          stats.read++;
          SftEncoder.Outcome o;
          if (!d.kept()) {
            o = new SftEncoder.Outcome(d.getId(), null, null, false, d.getReason(), d.getDetail());
          } else {
            o = enc.encode(d.getText(), d.getSource() + "#" + d.getPosition());
          }
          if (!o.ok()) {
            stats.quarantined.merge(o.reason(), 1L, Long::sum);
            if (q == null) {
              q = storage.create(qUri, true);
            }
            Map<String, Object> rec = new LinkedHashMap<>();
            rec.put("source", d.getSource());
            rec.put("position", d.getPosition());
            rec.put("id", o.id());
            rec.put("reason", o.reason());
            rec.put("detail", o.detail());
            rec.put("sample", sample(d.getText()));
            q.write((LINE.writeValueAsString(rec) + "\n").getBytes(StandardCharsets.UTF_8));
            continue;
          }
          stats.kept++;
          stats.truncated += o.truncated() ? 1 : 0;
          stats.tokens += o.ids().length;
          stats.trainedTokens += o.trainedTokens();
          stats
              .lengths[
              Math.min(BUCKETS - 1, 32 - Integer.numberOfLeadingZeros(o.ids().length - 1))]++;
          boolean validation = TokenizeJob.isValidation(o.id(), cfg.validationFraction());
          (validation ? val : train).add(o);
        }
      }
      List<Written> done = new ArrayList<>(2);
      train.close(done);
      val.close(done);
      if (q != null) {
        q.close();
      }
      return new Part(done, stats);
    } catch (IOException | RuntimeException e) {
      train.abort();
      val.abort();
      throw e;
    }
  }

  private static String sample(String s) {
    return s == null ? "" : s.length() <= 200 ? s : s.substring(0, 200) + "...";
  }

  static Map<String, Object> statsJson(Stats s, SftConfig cfg, double seconds) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("read", s.read);
    m.put("kept", s.kept);
    m.put("quarantined", s.quarantinedTotal());
    m.put("quarantined_by_reason", s.quarantined);
    m.put("truncated", s.truncated);
    m.put("examples_by_split", s.examplesBySplit);
    m.put("tokens", s.tokens);
    m.put("trained_tokens", s.trainedTokens);
    m.put("padding_tokens", s.paddingTokens);
    m.put("rows", s.rows);
    m.put("row_length", cfg.sequenceLength());
    m.put("packing", cfg.packing());
    m.put("fill", s.fill());
    Map<String, Long> lengths = new LinkedHashMap<>();
    for (int i = 0; i < BUCKETS; i++) {
      if (s.lengths[i] > 0) {
        lengths.put("<=" + (1L << i), s.lengths[i]);
      }
    }
    m.put("example_tokens_histogram", lengths);
    m.put("seconds", seconds);
    return m;
  }

  /** One split's rows in one partition; the file opens with the first example. */
  private static final class Rows {
    private final Storage storage;
    private final URI uri;
    private final String split;
    private final String file;
    private final int vocab;
    private final int eos;
    private final int pad;
    private final SftConfig cfg;
    private final Stats stats;
    private final int[] ids;
    private final byte[] flags;
    private int fill;
    private int examples;
    private ShardWriter w;

    Rows(
        Storage storage,
        URI dir,
        String split,
        int partition,
        int vocab,
        int eos,
        int pad,
        SftConfig cfg,
        Stats stats) {
      this.storage = storage;
      this.split = split;
      this.file = ShardFormat.fileName(split, partition);
      this.uri = Storage.resolve(dir, file);
      this.vocab = vocab;
      this.eos = eos;
      this.pad = pad;
      this.cfg = cfg;
      this.stats = stats;
      this.ids = new int[cfg.sequenceLength()];
      this.flags = new byte[cfg.sequenceLength()];
    }

    void add(SftEncoder.Outcome o) throws IOException {
      if (w == null) {
        w = new ShardWriter(storage.create(uri, true), vocab, eos, true, cfg.sequenceLength());
      }
      int n = o.ids().length;
      if (fill > 0 && (!cfg.packing() || fill + n > ids.length)) {
        flush();
      }
      System.arraycopy(o.ids(), 0, ids, fill, n);
      System.arraycopy(o.flags(), 0, flags, fill, n);
      fill += n;
      examples++;
      stats.examplesBySplit.merge(split, 1L, Long::sum);
    }

    private void flush() throws IOException {
      for (int i = fill; i < ids.length; i++) {
        ids[i] = pad;
        flags[i] = 0;
      }
      stats.paddingTokens += ids.length - fill;
      stats.rows++;
      w.writeRecords(ids, flags, ids.length, examples);
      fill = 0;
      examples = 0;
    }

    void close(List<Written> out) throws IOException {
      if (w != null) {
        if (fill > 0) {
          flush();
        }
        w.close();
        out.add(new Written(split, file, w.tokens(), w.documents(), w.bytes(), w.sha256()));
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
