package dev.forja.storage;

import dev.forja.config.ConfigReader;
import dev.forja.config.Secrets;
import java.io.Serializable;
import java.util.Map;

/**
 * Where data lives: how {@code hdfs:} and {@code s3a:} URIs reach their servers. {@code file:}
 * needs nothing. Every stage reads and writes through {@link Storage} built from this record.
 *
 * @param defaultFs {@code storage.default-fs}: the file system for URIs without a scheme and for
 *     {@code hdfs:///path}; default "" (local files).
 * @param s3 the {@code storage.s3.*} keys.
 * @param hadoop {@code storage.hadoop.*}: any other Hadoop property, passed through as given.
 */
public record StorageConfig(String defaultFs, S3 s3, Map<String, String> hadoop)
    implements Serializable {

  /**
   * An S3-compatible object store reached through Hadoop's s3a connector.
   *
   * @param endpoint {@code storage.s3.endpoint}: e.g. {@code http://127.0.0.1:9000}; default ""
   *     (AWS's endpoint for the region).
   * @param region {@code storage.s3.region}: default {@code us-east-1}.
   * @param accessKey {@code storage.s3.access-key}: secret; default "" (see credentialsProvider).
   * @param secretKey {@code storage.s3.secret-key}: secret; default "".
   * @param credentialsProvider {@code storage.s3.credentials-provider}: an AWS credentials provider
   *     class, for credentials that come from the environment or the instance instead of keys;
   *     default "".
   * @param pathStyleAccess {@code storage.s3.path-style-access}: bucket in the path, as most
   *     S3-compatible servers need; default false.
   * @param sslEnabled {@code storage.s3.ssl-enabled}: default true.
   */
  public record S3(
      String endpoint,
      String region,
      String accessKey,
      String secretKey,
      String credentialsProvider,
      boolean pathStyleAccess,
      boolean sslEnabled)
      implements Serializable {

    public boolean hasCredentials() {
      return (!accessKey.isEmpty() && !secretKey.isEmpty()) || !credentialsProvider.isEmpty();
    }

    @Override
    public String toString() {
      return "S3[endpoint="
          + endpoint
          + ", region="
          + region
          + ", accessKey="
          + Secrets.mask("access-key", accessKey)
          + ", secretKey="
          + Secrets.mask("secret-key", secretKey)
          + ", credentialsProvider="
          + credentialsProvider
          + ", pathStyleAccess="
          + pathStyleAccess
          + ", sslEnabled="
          + sslEnabled
          + "]";
    }
  }

  public static StorageConfig defaults() {
    return read(new ConfigReader(dev.forja.config.ConfigSource.empty()));
  }

  public static StorageConfig read(ConfigReader r) {
    String defaultFs =
        r.string(
            "storage.default-fs",
            "",
            "File system for paths without a scheme and for hdfs:///path, e.g. hdfs://namenode:8020.");
    S3 s3 =
        new S3(
            r.string("storage.s3.endpoint", "", "S3 endpoint URL; empty means AWS."),
            r.string("storage.s3.region", "us-east-1", "S3 region."),
            r.secret("storage.s3.access-key", "S3 access key (never printed)."),
            r.secret("storage.s3.secret-key", "S3 secret key (never printed)."),
            r.string(
                "storage.s3.credentials-provider",
                "",
                "AWS credentials provider class, instead of access-key/secret-key."),
            r.bool(
                "storage.s3.path-style-access",
                false,
                "Bucket in the URL path (needed by most S3-compatible servers)."),
            r.bool("storage.s3.ssl-enabled", true, "Use HTTPS to reach the endpoint."));
    r.require(
        s3.accessKey().isEmpty() == s3.secretKey().isEmpty(),
        "storage.s3.access-key",
        "set storage.s3.access-key and storage.s3.secret-key together");
    Map<String, String> hadoop =
        r.passThrough(
            "storage.hadoop", "Any Hadoop property, e.g. storage.hadoop.dfs.replication.");
    return new StorageConfig(defaultFs, s3, hadoop);
  }

  @Override
  public String toString() {
    StringBuilder h = new StringBuilder("{");
    hadoop.forEach(
        (k, v) ->
            h.append(h.length() > 1 ? ", " : "").append(k).append('=').append(Secrets.mask(k, v)));
    return "StorageConfig[defaultFs=" + defaultFs + ", s3=" + s3 + ", hadoop=" + h + "}]";
  }
}
