package dev.forja.prep.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.PrepOutput;
import dev.forja.prep.PrepResult;
import dev.forja.prep.StagesText;
import dev.forja.prep.corpus.CorpusConfig;
import dev.forja.prep.corpus.CorpusGenerateJob;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.MiniHdfs;
import dev.forja.testing.S3Server;
import dev.forja.testing.TestDirs;
import dev.forja.testing.TestSpark;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPOutputStream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** forja prep end to end on local Spark: the generated corpus plus every kind of bad input. */
class PrepJobTest {
  static final StorageConfig LOCAL = StorageConfig.defaults();
  static URI corpus;
  static Path bad;

  static PrepConfig cfg(String... overrides) {
    ConfigReader r = new ConfigReader(ConfigSource.load(List.of(), List.of(overrides)));
    PrepConfig c = PrepConfig.read(r);
    r.finish();
    return c;
  }

  static PrepJob.Options opts(List<String> inputs, URI out) {
    return new PrepJob.Options(
        inputs, out, false, null, null, Map.of("prep.output.format", "parquet"));
  }

  @BeforeAll
  static void inputs() throws Exception {
    corpus = TestDirs.create("prep-corpus-").resolve("raw").toUri();
    CorpusGenerateJob.run(
        TestSpark.local(),
        LOCAL,
        new CorpusConfig(1, 11, 2, CorpusConfig.SUPPORTED_LANGUAGES, 0.05, 0.05, 0.2, 0.1),
        corpus,
        false);
    bad = TestDirs.create("prep-bad-");
    Files.writeString(
        bad.resolve("broken.jsonl"), "{\"text\": \"ok\"}\n{not json\n{\"body\": \"x\"}\n");
    Files.write(bad.resolve("empty.txt"), new byte[0]);
    byte[] bin = new byte[64];
    Arrays.fill(bin, (byte) 7);
    bin[10] = 0;
    Files.write(bad.resolve("image.txt"), bin);
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (OutputStream out = new GZIPOutputStream(gz)) {
      for (int i = 0; i < 3000; i++) {
        out.write(("{\"text\": \"record " + i + "\"}\n").getBytes(StandardCharsets.UTF_8));
      }
    }
    Files.write(bad.resolve("cut.jsonl.gz"), Arrays.copyOf(gz.toByteArray(), gz.size() / 2));
    Files.writeString(
        bad.resolve("page.html"),
        "<html><body><nav>Home | About</nav><p>"
            + StagesText.EN
            + "</p><script>x()</script></body></html>");
    SparkSession spark = TestSpark.local();
    StructType good =
        new StructType().add("id", DataTypes.StringType).add("text", DataTypes.StringType);
    spark
        .createDataFrame(List.of(RowFactory.create("pq-1", StagesText.EN2)), good)
        .write()
        .parquet(bad.resolve("good.parquet").toString());
    StructType wrong =
        new StructType().add("id", DataTypes.StringType).add("body", DataTypes.StringType);
    spark
        .createDataFrame(List.of(RowFactory.create("pq-2", "x")), wrong)
        .write()
        .parquet(bad.resolve("wrong.parquet").toString());
  }

  @Test
  void writesThatDoNotAddUpToTheInputStopTheJobBeforeItCommits() {
    dev.forja.prep.report.Accounting written =
        new dev.forja.prep.report.Accounting(
            Map.of(Doc.KEPT, 7L, Doc.REJECTED, 2L), Map.of(), Map.of(), 0, Map.of(), List.of());
    PrepJob.checkAccounts(9, written, 7, 2, 0); // adds up: no error
    // one document read but written nowhere
    assertThatThrownBy(() -> PrepJob.checkAccounts(10, written, 7, 2, 0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "Accounting failed: 10 input records but 7 kept + 2 rejected + 0 quarantined written"
                + " (expected 7 + 2 + 0; output not committed)");
    // the right total, but not where dedup and the stages put them
    assertThatThrownBy(() -> PrepJob.checkAccounts(9, written, 6, 3, 0))
        .hasMessageContaining("7 kept + 2 rejected + 0 quarantined written (expected 6 + 3 + 0");
  }

  @Test
  void accountsForEveryRecordAndWritesWhatUsersRead() throws Exception {
    URI out = TestDirs.create("prep-out-").resolve("out").toUri();
    PrepResult r =
        PrepJob.run(
            TestSpark.local(),
            LOCAL,
            cfg(),
            opts(List.of(corpus.toString(), bad.toUri().toString()), out));

    assertThat(r.kept() + r.rejected() + r.quarantined()).isEqualTo(r.inputRecords());
    assertThat(r.reasons())
        .containsKeys(
            "quarantined:malformed-json",
            "quarantined:missing-text",
            "quarantined:empty-file",
            "quarantined:binary-file",
            "quarantined:read-error",
            "quarantined:wrong-schema",
            "rejected:dedup.exact",
            "rejected:dedup.near",
            "rejected:gopher.min-doc-words",
            "rejected:language.low-confidence");
    assertThat(r.languages()).containsKeys("en", "es", "pt");
    assertThat(r.pii()).containsKeys("email", "phone");

    SparkSession spark = TestSpark.local();
    Dataset<Row> kept = spark.read().parquet(Storage.resolve(out, "kept").toString());
    assertThat(kept.count()).isEqualTo(r.kept());
    assertThat(kept.columns())
        .contains("id", "text", "source", "language", "language_score", "signals", "pii");
    // each kept document carries its quality signals by name, as measured
    Row signals =
        kept.selectExpr("min(signals['gopher.min-doc-words'])", "min(size(signals))").first();
    assertThat(signals.getDouble(0)).isGreaterThanOrEqualTo(50); // the rule's default minimum
    assertThat(signals.getInt(1)).isGreaterThanOrEqualTo(20);
    List<String> texts =
        kept.select("text").as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
    assertThat(texts).noneMatch(t -> t.matches("(?s).*[\\w.]+@example\\.[a-z.]+.*"));
    // the report's kept characters: code points of the kept texts, as written
    assertThat(r.keptTextBytes())
        .isEqualTo(texts.stream().mapToLong(t -> t.codePointCount(0, t.length())).sum());
    Set<String> unique = new HashSet<>();
    for (String t : texts) {
      assertThat(unique.add(t.toLowerCase().replaceAll("\\s+", " ")))
          .as("duplicate kept: " + t)
          .isTrue();
    }
    assertThat(kept.filter("id = 'pq-1'").count()).isEqualTo(1); // Parquet input read

    // the generator's planted duplicates: an original and its copy are never both kept when
    // their texts are at Jaccard >= 0.85 (the recall target holds from 0.8 on)
    com.fasterxml.jackson.databind.ObjectMapper json =
        new com.fasterxml.jackson.databind.ObjectMapper();
    Map<String, String> keptText = new java.util.HashMap<>();
    for (Row row : kept.select("id", "text").collectAsList()) {
      keptText.put(row.getString(0), row.getString(1));
    }
    dev.forja.prep.dedup.MinHasher hasher = new dev.forja.prep.dedup.MinHasher(cfg().dedup());
    int planted = 0;
    for (Row row : kept.select("id", "meta").collectAsList()) {
      Map<String, String> meta = row.getJavaMap(1);
      if (meta == null || !meta.containsKey("meta")) {
        continue;
      }
      com.fasterxml.jackson.databind.JsonNode m = json.readTree(meta.get("meta"));
      String original = keptText.get(m.path("of").asText());
      if (m.path("kind").asText().endsWith("duplicate") && original != null) {
        planted++;
        assertThat(hasher.exactJaccard(original, keptText.get(row.getString(0))))
            .as(row.getString(0) + " kept beside its original " + m.path("of").asText())
            .isLessThan(0.85);
      }
    }
    Dataset<Row> q = spark.read().parquet(Storage.resolve(out, "quarantine").toString());
    assertThat(q.count()).isEqualTo(r.quarantined());
    assertThat(q.filter("reason = 'wrong-schema'").first().getAs("detail").toString())
        .contains("no column 'text' (columns: id, body");
    assertThat(spark.read().parquet(Storage.resolve(out, "rejected").toString()).count())
        .isEqualTo(r.rejected());

    Storage storage = new Storage(LOCAL);
    CommitManifest m = CommitManifest.read(storage, out).orElseThrow();
    assertThat(m.kind()).isEqualTo(PrepOutput.KIND);
    assertThat(m.properties()).containsEntry("kept", Long.toString(r.kept()));
    assertThat(storage.readString(Storage.resolve(out, "report.md")))
        .contains(String.format("%,d input records = %,d kept", r.inputRecords(), r.kept()))
        .contains("gopher.min-doc-words")
        .contains("![Where the documents went](report.png)");
    assertThat(storage.readString(Storage.resolve(out, "report.html")))
        .contains("data:image/png;base64,");
    byte[] png = storage.open(Storage.resolve(out, "report.png")).readNBytes(4);
    assertThat(png).containsExactly(0x89, 'P', 'N', 'G');
    assertThat(storage.readString(Storage.resolve(out, "stats.json")))
        .contains("\"input-records\" : " + r.inputRecords());
    assertThat(storage.readString(Storage.resolve(out, "pipeline.json")))
        .contains("\"stage\" : \"quality\"");
    // what a person finds: a README naming each file, and no Hadoop .crc side files
    assertThat(storage.readString(Storage.resolve(out, CommitManifest.README)))
        .contains("kept/", "rejected/", "quarantine/", "report.html", CommitManifest.FILE_NAME);
    try (var files = java.nio.file.Files.walk(java.nio.file.Path.of(out))) {
      assertThat(files.map(java.nio.file.Path::toString).filter(p -> p.endsWith(".crc"))).isEmpty();
    }

    assertThatThrownBy(
            () -> PrepJob.run(spark, LOCAL, cfg(), opts(List.of(corpus.toString()), out)))
        .isInstanceOf(OutputGuard.OutputExistsException.class);
    assertThatThrownBy(
            () ->
                PrepJob.run(
                    spark,
                    LOCAL,
                    cfg(),
                    opts(
                        List.of(bad.resolve("nope").toUri().toString()),
                        Storage.resolve(out, "x"))))
        .hasMessageContaining("no such file or directory");
  }

  @Test
  void earlierCorpusAndEvaluationSetRemoveWhatTheyHold() throws Exception {
    URI first = TestDirs.create("prep-a-").resolve("out").toUri();
    PrepResult a =
        PrepJob.run(TestSpark.local(), LOCAL, cfg(), opts(List.of(corpus.toString()), first));
    assertThat(a.kept()).isPositive();

    URI second = TestDirs.create("prep-b-").resolve("out").toUri();
    PrepResult b =
        PrepJob.run(
            TestSpark.local(),
            LOCAL,
            cfg("prep.output.format=jsonl"),
            new PrepJob.Options(
                List.of(corpus.toString()), second, false, List.of(first), null, Map.of()));
    assertThat(b.kept()).isZero();
    // every document that survived A's filters (kept, or a duplicate within A) is in A already
    assertThat(b.reasons().get("rejected:dedup.exact-earlier"))
        .isEqualTo(
            a.kept()
                + a.reasons().getOrDefault("rejected:dedup.exact", 0L)
                + a.reasons().getOrDefault("rejected:dedup.near", 0L));
    assertThat(new Storage(LOCAL).listFiles(Storage.resolve(second, "rejected")))
        .anyMatch(e -> e.uri().getPath().endsWith(".json"));
    // an earlier output whose signatures are arrays of ints in dedup/signatures (as saved before
    // they became binary, and before dedup/documents held them) still deduplicates: with exact
    // dedup off, every document is a near duplicate of A's
    Path old = Path.of(TestDirs.create("prep-old-").resolve("out").toUri());
    try (var files = Files.walk(Path.of(first))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Path to = old.resolve(Path.of(first).relativize(f).toString());
        if (f.toString().contains("dedup/documents")) {
          continue; // its signatures written below in the old form
        }
        if (Files.isDirectory(f)) {
          Files.createDirectories(to);
        } else {
          Files.copy(f, to);
        }
      }
    }
    SparkSession spark = TestSpark.local();
    spark
        .read()
        .parquet(Storage.resolve(first, PrepOutput.DEDUP_DOCUMENTS).toString())
        .select("id", "signature")
        .map(
            (org.apache.spark.api.java.function.MapFunction<Row, Row>)
                r -> {
                  byte[] sig = r.getAs("signature");
                  Integer[] ints = new Integer[sig.length / 4];
                  for (int i = 0; i < ints.length; i++) {
                    ints[i] = dev.forja.prep.dedup.MinHasher.value(sig, i);
                  }
                  return RowFactory.create(r.getAs("id"), ints);
                },
            org.apache.spark.sql.Encoders.row(
                new StructType()
                    .add("id", DataTypes.StringType)
                    .add("signature", DataTypes.createArrayType(DataTypes.IntegerType))))
        .write()
        .parquet(old.resolve("dedup/signatures").toUri().toString());
    PrepResult n =
        PrepJob.run(
            spark,
            LOCAL,
            cfg("prep.dedup.exact=false"),
            new PrepJob.Options(
                List.of(corpus.toString()),
                TestDirs.create("prep-n-").resolve("out").toUri(),
                false,
                List.of(old.toUri()),
                null,
                Map.of()));
    assertThat(n.kept()).isZero();
    assertThat(n.reasons()).containsKey("rejected:dedup.near-earlier");

    // signatures made with another seed cannot be compared: refused before any work, naming it
    assertThatThrownBy(
            () ->
                PrepJob.run(
                    TestSpark.local(),
                    LOCAL,
                    cfg("prep.dedup.seed=2"),
                    new PrepJob.Options(
                        List.of(corpus.toString()),
                        TestDirs.create("prep-d-").resolve("out").toUri(),
                        false,
                        List.of(first),
                        null,
                        Map.of())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--dedup-against")
        .hasMessageContaining("seed=2")
        .hasMessageContaining("prep.dedup.shingle, ngram, bands x rows and seed");

    // an evaluation set quoting one kept document
    Dataset<Row> kept = TestSpark.local().read().parquet(Storage.resolve(first, "kept").toString());
    String quoted = kept.first().getAs("text").toString().split("\n")[0];
    Path eval = TestDirs.create("eval-").resolve("eval.txt");
    Files.writeString(eval, "unrelated question one\n" + quoted + "\n");
    URI third = TestDirs.create("prep-c-").resolve("out").toUri();
    PrepResult c =
        PrepJob.run(
            TestSpark.local(),
            LOCAL,
            cfg(),
            new PrepJob.Options(
                List.of(corpus.toString()), third, false, null, eval.toUri(), Map.of()));
    assertThat(c.reasons().get("rejected:decontaminate.overlap")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void readsFromHdfsAndWritesToS3() throws Exception {
    SparkSession spark = TestSpark.local();
    StorageConfig both = TestSpark.hdfsAndS3(spark);
    URI hdfsCorpus = Storage.resolve(MiniHdfs.uri(), "prep/raw-" + System.nanoTime());
    CorpusGenerateJob.run(
        spark,
        both,
        new CorpusConfig(1, 3, 2, CorpusConfig.SUPPORTED_LANGUAGES, 0.05, 0.05, 0.1, 0.1),
        hdfsCorpus,
        false);
    URI out = URI.create("s3a://" + S3Server.BUCKET + "/prep-" + System.nanoTime());
    PrepResult r = PrepJob.run(spark, both, cfg(), opts(List.of(hdfsCorpus.toString()), out));
    assertThat(r.kept()).isPositive();
    Storage storage = new Storage(both);
    CommitManifest.read(storage, out).orElseThrow().verify(storage, out, true);
    assertThat(spark.read().parquet(Storage.resolve(out, "kept").toString()).count())
        .isEqualTo(r.kept());
  }
}
