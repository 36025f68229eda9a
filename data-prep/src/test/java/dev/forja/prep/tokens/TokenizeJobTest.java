package dev.forja.prep.tokens;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.corpus.CorpusConfig;
import dev.forja.prep.corpus.CorpusGenerateJob;
import dev.forja.prep.job.PrepJob;
import dev.forja.shard.SequenceSampler;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.ShardManifest;
import dev.forja.shard.TokenShards;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.MiniHdfs;
import dev.forja.testing.S3Server;
import dev.forja.testing.TestDirs;
import dev.forja.testing.TestSpark;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** tokenizer train + tokenize on local Spark, then the shards read back on file, HDFS and S3. */
class TokenizeJobTest {
  static final StorageConfig LOCAL = StorageConfig.defaults();
  static final Storage STORAGE = new Storage(LOCAL);
  static URI prep;
  static URI tokenizer;

  static TokenizerConfig tokCfg(String... overrides) {
    ConfigReader r = new ConfigReader(ConfigSource.load(List.of(), List.of(overrides)));
    TokenizerConfig c = TokenizerConfig.read(r);
    r.finish();
    return c;
  }

  @BeforeAll
  static void prepare() throws Exception {
    SparkSession spark = TestSpark.local();
    URI dir = TestDirs.create("tokenize-").toUri();
    URI raw = Storage.resolve(dir, "raw");
    CorpusGenerateJob.run(
        spark,
        LOCAL,
        new CorpusConfig(2, 5, 2, CorpusConfig.SUPPORTED_LANGUAGES, 0.02, 0.02, 0.1, 0.05),
        raw,
        false);
    prep = Storage.resolve(dir, "prep");
    ConfigReader r = new ConfigReader(ConfigSource.empty());
    PrepConfig pc = PrepConfig.read(r);
    PrepJob.run(
        spark,
        LOCAL,
        pc,
        new PrepJob.Options(List.of(raw.toString()), prep, false, null, null, Map.of()));
    tokenizer = Storage.resolve(dir, "tokenizer");
    TokenizerTrainJob.run(
        spark, STORAGE, tokCfg("tokenizer.vocab-size=1024"), prep, tokenizer, false);
  }

  @Test
  void trainingIsDeterministicAndCompresses() throws Exception {
    URI again = TestDirs.create("tokenizer-again-").resolve("t").toUri();
    TokenizerTrainJob.Result r =
        TokenizerTrainJob.run(
            TestSpark.local(), STORAGE, tokCfg("tokenizer.vocab-size=1024"), prep, again, false);
    BpeTokenizer first = TokenizerFiles.load(STORAGE, tokenizer);
    assertThat(r.tokenizerHash()).isEqualTo(first.hash());
    assertThat(first.vocabSize()).isEqualTo(1024);
    assertThat(first.specials()).containsKeys("<|endoftext|>", "<|pad|>");
    assertThat(r.stats().bytesPerToken()).isGreaterThan(3.0);
    assertThat(STORAGE.readString(Storage.resolve(tokenizer, TokenizerTrainJob.STATS)))
        .contains("\"tokenizer_hash\" : \"" + first.hash());
    // the files other tools read are all there and agree
    BpeTokenizer pair =
        TokenizerFiles.fromVocabAndMerges(
            STORAGE.readString(Storage.resolve(tokenizer, "vocab.json")),
            STORAGE.readString(Storage.resolve(tokenizer, "merges.txt")),
            List.of(),
            first.pattern());
    assertThat(pair.hash()).isEqualTo(first.hash());
  }

  @Test
  void shardsHoldEveryKeptDocumentExactlyOnceInItsSplit() throws Exception {
    URI out = TestDirs.create("shards-").resolve("s").toUri();
    TokenizeJob.Result r =
        TokenizeJob.run(
            TestSpark.local(),
            STORAGE,
            new TokenizeConfig(0.1, "<|endoftext|>", 0),
            prep,
            tokenizer,
            out,
            false);
    BpeTokenizer t = TokenizerFiles.load(STORAGE, tokenizer);
    ShardManifest m = r.manifest();
    assertThat(m.tokenizerHash()).isEqualTo(t.hash());
    assertThat(m.dtype()).isEqualTo("uint16");
    assertThat(m.lineage()).containsKey("prep_run_id");
    Map<String, String> expected = new HashMap<>();
    for (Row row :
        TestSpark.local()
            .read()
            .parquet(Storage.resolve(prep, "kept").toString())
            .select("id", "text")
            .collectAsList()) {
      expected.put(
          row.getString(1),
          TokenizeJob.isValidation(row.getString(0), 0.1) ? "validation" : "train");
    }
    assertThat(r.documents()).isEqualTo(expected.size());
    Map<String, String> found = new HashMap<>();
    try (TokenShards shards = TokenShards.open(STORAGE, out, TokenShards.Verify.CHECKSUMS)) {
      shards.requireTokenizer(t.hash(), tokenizer.toString());
      for (String split : List.of(ShardFormat.TRAIN, ShardFormat.VALIDATION)) {
        var reader = shards.split(split);
        int[] all = new int[(int) reader.tokens()];
        reader.read(0, all, all.length);
        int eos = t.specialId("<|endoftext|>");
        int start = 0;
        for (int i = 0; i < all.length; i++) {
          if (all[i] == eos) {
            String doc = t.decode(java.util.Arrays.copyOfRange(all, start, i));
            assertThat(found.put(doc, split)).as("document seen twice").isNull();
            start = i + 1;
          }
        }
        assertThat(start).isEqualTo(all.length); // the stream ends with EOS
      }
    }
    assertThat(found).isEqualTo(expected);
    assertThat(m.split("validation").documents())
        .isBetween(expected.size() / 20L, expected.size() / 5L);
  }

  /**
   * Replay: an earlier window (here the same prep output) supplies a quarter of the training
   * documents, only from its own training split, so that no validation document is trained on.
   */
  @Test
  void replayedDocumentsComeFromEarlierTrainingSplitsAtTheRatio() throws Exception {
    URI out = TestDirs.create("shards-replay-").resolve("s").toUri();
    TokenizeJob.Result r =
        TokenizeJob.run(
            TestSpark.local(),
            STORAGE,
            new TokenizeConfig(0.1, "<|endoftext|>", 0.25),
            prep,
            List.of(prep),
            tokenizer,
            out,
            false);
    BpeTokenizer t = TokenizerFiles.load(STORAGE, tokenizer);
    Map<String, List<String>> docs = new HashMap<>();
    try (TokenShards shards = TokenShards.open(STORAGE, out, TokenShards.Verify.CHECKSUMS)) {
      int eos = t.specialId("<|endoftext|>");
      for (String split : List.of(ShardFormat.TRAIN, ShardFormat.VALIDATION)) {
        var reader = shards.split(split);
        int[] all = new int[(int) reader.tokens()];
        reader.read(0, all, all.length);
        List<String> list = docs.computeIfAbsent(split, k -> new ArrayList<>());
        for (int i = 0, start = 0; i < all.length; i++) {
          if (all[i] == eos) {
            list.add(t.decode(java.util.Arrays.copyOfRange(all, start, i)));
            start = i + 1;
          }
        }
      }
    }
    List<String> train = docs.get(ShardFormat.TRAIN);
    java.util.Set<String> validation = new java.util.HashSet<>(docs.get(ShardFormat.VALIDATION));
    assertThat(train).noneMatch(validation::contains);
    long once = train.stream().distinct().count();
    assertThat(train.size() - once).isEqualTo(r.replayed()); // each replayed one is a second copy
    assertThat((double) r.replayed() / train.size()).isBetween(0.2, 0.3);
    assertThat(r.manifest().lineage())
        .containsEntry("replay_from", prep.toString())
        .containsEntry("replay_documents", String.valueOf(r.replayed()));
  }

  @Test
  void aDocumentKeepsItsSplitWhateverElseIsInTheData() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      ids.add("doc-" + i);
    }
    long val = ids.stream().filter(id -> TokenizeJob.isValidation(id, 0.05)).count();
    assertThat(val).isBetween(400L, 600L);
    assertThat(TokenizeJob.isValidation("doc-17", 0.05))
        .isEqualTo(TokenizeJob.isValidation("doc-17", 0.05));
  }

  @Test
  void shardsOnHdfsAndS3ResumeFromACursor() throws Exception {
    SparkSession spark = TestSpark.local();
    StorageConfig both = TestSpark.hdfsAndS3(spark);
    Storage storage = new Storage(both);
    List<URI> outs =
        List.of(
            Storage.resolve(MiniHdfs.uri(), "shards-" + System.nanoTime()),
            URI.create("s3a://" + S3Server.BUCKET + "/shards-" + System.nanoTime()));
    List<List<int[]>> perStore = new ArrayList<>();
    for (URI out : outs) {
      TokenizeJob.run(
          spark,
          storage,
          new TokenizeConfig(0.05, "<|endoftext|>", 0),
          prep,
          tokenizer,
          out,
          false);
      try (TokenShards shards = TokenShards.open(storage, out, TokenShards.Verify.CHECKSUMS)) {
        SequenceSampler straight = new SequenceSampler(shards.split("train"), 64, 3, 0, 2);
        List<int[]> seqs = new ArrayList<>();
        SequenceSampler.Cursor at = null;
        for (int i = 0; i < 40; i++) {
          if (i == 25) {
            at = straight.cursor();
          }
          seqs.add(straight.next());
        }
        SequenceSampler resumed = new SequenceSampler(shards.split("train"), 64, 3, 0, 2);
        resumed.seek(at);
        for (int i = 25; i < 40; i++) {
          assertThat(resumed.next()).containsExactly(seqs.get(i));
        }
        perStore.add(seqs);
      }
    }
    for (int i = 0; i < 40; i++) {
      assertThat(perStore.get(1).get(i)).containsExactly(perStore.get(0).get(i));
    }
  }

  @Test
  void badInputsGetClearErrors() throws Exception {
    URI out = TestDirs.create("shards-bad-").resolve("s").toUri();
    assertThatThrownBy(
            () ->
                TokenizeJob.run(
                    TestSpark.local(),
                    STORAGE,
                    new TokenizeConfig(0.1, "<|eos|>", 0),
                    prep,
                    tokenizer,
                    out,
                    false))
        .hasMessageContaining("'<|eos|>' is not a special token of this tokenizer");
    assertThatThrownBy(
            () ->
                TokenizerTrainJob.run(
                    TestSpark.local(),
                    STORAGE,
                    tokCfg(),
                    tokenizer,
                    TestDirs.create("t-").resolve("x").toUri(),
                    false))
        .hasMessageContaining("is not a committed forja prep output");
    assertThatThrownBy(() -> tokCfg("tokenizer.vocab-size=257"))
        .hasMessageContaining("tokenizer.vocab-size")
        .hasMessageContaining("set it to at least 258");
  }
}
