package dev.forja.prep.corpus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.storage.CommitManifest;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.S3Server;
import dev.forja.testing.TestDirs;
import dev.forja.testing.TestSpark;
import java.net.URI;
import org.junit.jupiter.api.Test;

class CorpusGenerateJobTest {
  private static final CorpusConfig SMALL =
      new CorpusConfig(2, 42, 3, CorpusConfig.SUPPORTED_LANGUAGES, 0.04, 0.04, 0.1, 0.1);

  @Test
  void generatesACommittedCorpusThatStatsCountExactly() throws Exception {
    StorageConfig local = StorageConfig.defaults();
    URI out = TestDirs.create("corpus-").resolve("raw").toUri();
    CorpusGenerateJob.Result r = CorpusGenerateJob.run(TestSpark.local(), local, SMALL, out, false);

    assertThat(r.shards()).isEqualTo(3);
    assertThat(r.bytes()).isBetween(2L << 20, (2L << 20) + 30_000);
    Storage storage = new Storage(local);
    CommitManifest m = CommitManifest.read(storage, out).orElseThrow();
    assertThat(m.kind()).isEqualTo(CorpusGenerateJob.KIND);
    assertThat(m.files())
        .extracting(CommitManifest.FileRecord::path)
        .containsExactly("docs-00000.jsonl", "docs-00001.jsonl", "docs-00002.jsonl");
    assertThat(m.properties()).containsEntry("documents", Long.toString(r.documents()));
    m.verify(storage, out, true);

    URI statsDir = TestDirs.create("stats-").toUri();
    CorpusStatsJob.Result stats =
        CorpusStatsJob.run(TestSpark.local(), local, out, statsDir, false);
    assertThat(stats.get("documents")).isEqualTo(r.documents());
    assertThat(stats.get("bytes")).isEqualTo(r.bytes());
    assertThat(stats.get("kind.article")).isEqualTo(r.kinds().get("article"));
    assertThat(stats.get("malformed")).isZero();
    assertThat(storage.readString(Storage.resolve(statsDir, "stats.json")))
        .contains("\"documents\" : " + r.documents());
  }

  @Test
  void refusesAnOutputThatHoldsDataUnlessOverwrite() throws Exception {
    StorageConfig local = StorageConfig.defaults();
    URI out = TestDirs.create("corpus-").toUri();
    new Storage(local).writeString(Storage.resolve(out, "precious.txt"), "keep me", false);
    assertThatThrownBy(() -> CorpusGenerateJob.run(TestSpark.local(), local, SMALL, out, false))
        .isInstanceOf(OutputGuard.OutputExistsException.class)
        .hasMessageContaining("already holds data")
        .hasMessageContaining("--overwrite");
    assertThat(new Storage(local).exists(Storage.resolve(out, "precious.txt"))).isTrue();

    CorpusGenerateJob.run(TestSpark.local(), local, SMALL, out, true);
    assertThat(new Storage(local).exists(Storage.resolve(out, "precious.txt"))).isFalse();
  }

  @Test
  void statsCountMalformedLinesInsteadOfFailing() throws Exception {
    StorageConfig local = StorageConfig.defaults();
    URI dir = TestDirs.create("bad-").toUri();
    new Storage(local)
        .writeString(
            Storage.resolve(dir, "a.jsonl"),
            "{\"text\": \"fine\"}\n{\"text\": \"cut\n{\"id\": 3}\nnot json at all\n",
            false);
    CorpusStatsJob.Result stats = CorpusStatsJob.run(TestSpark.local(), local, dir, null, false);
    assertThat(stats.get("documents")).isEqualTo(1);
    assertThat(stats.get("malformed")).isEqualTo(3);
  }

  @Test
  void writesToS3() throws Exception {
    StorageConfig s3 = S3Server.storageConfig();
    URI out = URI.create("s3a://" + S3Server.BUCKET + "/corpus-" + System.nanoTime());
    CorpusConfig tiny = SMALL.withSizeMb(1);
    CorpusGenerateJob.Result r = CorpusGenerateJob.run(TestSpark.local(), s3, tiny, out, false);
    Storage storage = new Storage(s3);
    CommitManifest.read(storage, out).orElseThrow().verify(storage, out, true);
    // the Spark session reads S3 with the same settings
    TestSpark.local()
        .sparkContext()
        .hadoopConfiguration()
        .set("fs.s3a.endpoint", S3Server.endpoint());
    Storage.hadoopProperties(s3)
        .forEach((k, v) -> TestSpark.local().sparkContext().hadoopConfiguration().set(k, v));
    assertThat(CorpusStatsJob.run(TestSpark.local(), s3, out, null, false).get("documents"))
        .isEqualTo(r.documents());
  }
}
