package dev.forja.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

class StorageConfigTest {
  private static StorageConfig config(String... overrides) {
    ConfigReader r = new ConfigReader(ConfigSource.load(List.of(), List.of(overrides)));
    StorageConfig c = StorageConfig.read(r);
    r.finish();
    return c;
  }

  @Test
  void s3WithoutCredentialsNamesTheKeysToSet() {
    Storage s = new Storage(config());
    assertThatThrownBy(() -> s.requireUsable(URI.create("s3a://bucket/data")))
        .isInstanceOf(StorageException.class)
        .hasMessageContaining("storage.s3.access-key")
        .hasMessageContaining("storage.s3.secret-key")
        .hasMessageContaining("storage.s3.endpoint");
  }

  @Test
  void hdfsWithoutNameNodeAndOtherSchemesAreExplained() {
    Storage s = new Storage(config());
    assertThatThrownBy(() -> s.requireUsable(URI.create("hdfs:///data")))
        .hasMessageContaining("storage.default-fs");
    assertThatThrownBy(() -> s.requireUsable(URI.create("s3://bucket/x")))
        .hasMessageContaining("s3a://");
    assertThatThrownBy(() -> s.requireUsable(URI.create("s3a:///x")))
        .hasMessageContaining("bucket");
    assertThatThrownBy(() -> s.requireUsable(URI.create("gopher://host/x")))
        .hasMessageContaining("no file system for scheme 'gopher'");
    assertThatCode(() -> s.requireUsable(URI.create("hdfs://nn:8020/data")))
        .doesNotThrowAnyException();
    assertThatCode(() -> s.requireUsable(URI.create("file:/tmp/x"))).doesNotThrowAnyException();
  }

  @Test
  void configuredS3IsUsableAndCredentialsAreMasked() {
    StorageConfig c =
        config(
            "storage.s3.endpoint=http://127.0.0.1:9000",
            "storage.s3.access-key=AKIAEXAMPLE",
            "storage.s3.secret-key=wJalrXUtnFEMI");
    new Storage(c).requireUsable(URI.create("s3a://bucket/x"));
    assertThat(c.toString()).doesNotContain("AKIAEXAMPLE").doesNotContain("wJalrXUtnFEMI");
    assertThat(Storage.hadoopProperties(c))
        .containsEntry("fs.s3a.endpoint", "http://127.0.0.1:9000")
        .containsEntry(
            "fs.s3a.aws.credentials.provider",
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
  }

  @Test
  void accessKeyWithoutSecretKeyIsAConfigError() {
    assertThatThrownBy(() -> config("storage.s3.access-key=AKIA"))
        .hasMessageContaining("set storage.s3.access-key and storage.s3.secret-key together")
        .hasMessageNotContaining("AKIA\"");
  }
}
