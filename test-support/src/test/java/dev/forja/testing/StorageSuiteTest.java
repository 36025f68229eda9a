package dev.forja.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.storage.StorageException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FSDataInputStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The same storage checks against a local directory, a real HDFS and a real S3 server. */
class StorageSuiteTest {

  static Stream<Arguments> stores() {
    return Stream.of(
        Arguments.of("file", StorageConfig.defaults(), TestDirs.create("file-").toUri()),
        Arguments.of("hdfs", MiniHdfs.storageConfig(), Storage.resolve(MiniHdfs.uri(), "suite")),
        Arguments.of(
            "s3a", S3Server.storageConfig(), URI.create("s3a://" + S3Server.BUCKET + "/suite")));
  }

  private static URI fresh(URI base) {
    return Storage.resolve(base, "t-" + UUID.randomUUID());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void writeReadListDelete(String scheme, StorageConfig config, URI base) throws Exception {
    Storage s = new Storage(config);
    URI dir = fresh(base);
    s.writeString(Storage.resolve(dir, "a.txt"), "héllo", false);
    s.writeString(Storage.resolve(dir, "sub/b.txt"), "world!", false);

    assertThat(s.readString(Storage.resolve(dir, "a.txt"))).isEqualTo("héllo");
    assertThat(s.exists(Storage.resolve(dir, "a.txt"))).isTrue();
    assertThat(s.size(Storage.resolve(dir, "sub/b.txt"))).isEqualTo(6);
    assertThat(s.listFiles(dir))
        .extracting(e -> e.uri().getPath())
        .hasSize(2)
        .anyMatch(p -> p.endsWith("/a.txt"))
        .anyMatch(p -> p.endsWith("/sub/b.txt"));
    assertThat(s.list(dir)).extracting(Storage.Entry::directory).containsExactly(false, true);

    // positioned read: only the bytes asked for
    try (FSDataInputStream in = s.open(Storage.resolve(dir, "sub/b.txt"))) {
      byte[] buf = new byte[3];
      in.readFully(2, buf);
      assertThat(new String(buf, StandardCharsets.UTF_8)).isEqualTo("rld");
    }
    assertThatThrownBy(() -> s.writeString(Storage.resolve(dir, "a.txt"), "again", false))
        .isInstanceOf(java.io.IOException.class);

    assertThat(s.delete(dir, true)).isTrue();
    assertThat(s.exists(Storage.resolve(dir, "a.txt"))).isFalse();
    assertThat(s.listFiles(dir)).isEmpty();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void commitManifestMarksCompleteOutputAndCatchesCorruption(
      String scheme, StorageConfig config, URI base) throws Exception {
    Storage s = new Storage(config);
    URI dir = fresh(base);
    s.writeString(Storage.resolve(dir, "part-0.bin"), "0123456789", false);
    s.writeString(Storage.resolve(dir, "meta/info.json"), "{}", false);
    assertThat(CommitManifest.read(s, dir)).isEmpty(); // files alone are no commit

    CommitManifest m = CommitManifest.commit(s, dir, "test-output", Map.of("run", "r1"));
    assertThat(m.files())
        .extracting(CommitManifest.FileRecord::path)
        .containsExactly("meta/info.json", "part-0.bin");
    CommitManifest read = CommitManifest.read(s, dir).orElseThrow();
    assertThat(read.files()).isEqualTo(m.files());
    assertThat(read.properties()).containsEntry("run", "r1");
    read.verify(s, dir, true);
    assertThatThrownBy(() -> CommitManifest.commit(s, dir, "again", Map.of()))
        .hasMessageContaining("already committed");

    // same size, different bytes: only the checksum notices
    try (OutputStream out = s.create(Storage.resolve(dir, "part-0.bin"), true)) {
      out.write("0123456780".getBytes(StandardCharsets.UTF_8));
    }
    read.verify(s, dir, false);
    assertThatThrownBy(() -> read.verify(s, dir, true))
        .isInstanceOf(StorageException.class)
        .hasMessageContaining("part-0.bin fails its SHA-256 check");
    s.writeString(Storage.resolve(dir, "part-0.bin"), "01234", true);
    assertThatThrownBy(() -> read.verify(s, dir, false)).hasMessageContaining("truncated");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void aManifestCutShortIsNotACommit(String scheme, StorageConfig config, URI base)
      throws Exception {
    Storage s = new Storage(config);
    URI dir = fresh(base);
    s.writeString(Storage.resolve(dir, "part-0.bin"), "x", false);
    s.writeString(
        Storage.resolve(dir, CommitManifest.FILE_NAME), "{\"format-version\": 1, \"fi", false);
    assertThat(CommitManifest.read(s, dir)).isEmpty();
  }
}
