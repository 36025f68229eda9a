package dev.forja.storage;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * The one way Forja reads and writes data: Hadoop {@link FileSystem} URIs, the same code for {@code
 * file:}, {@code hdfs:} and {@code s3a:}. Cheap to build; build one per partition on executors from
 * the (serializable) {@link StorageConfig}, never capture one from the driver.
 */
public final class Storage {
  /** A listed file or directory. */
  public record Entry(URI uri, long size, boolean directory) {}

  private final StorageConfig config;
  private final Configuration conf;

  public Storage(StorageConfig config) {
    this.config = config;
    this.conf = new Configuration();
    hadoopProperties(config).forEach(conf::set);
  }

  public StorageConfig config() {
    return config;
  }

  public Configuration hadoopConfiguration() {
    return conf;
  }

  /**
   * The Hadoop properties this config stands for (what Spark gets as {@code spark.hadoop.*}).
   * Contains credentials: never print it.
   */
  public static Map<String, String> hadoopProperties(StorageConfig config) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("fs.file.impl", NoChecksumLocalFileSystem.class.getName()); // no .crc side files
    if (!config.defaultFs().isEmpty()) {
      p.put("fs.defaultFS", config.defaultFs());
    }
    StorageConfig.S3 s3 = config.s3();
    if (!s3.endpoint().isEmpty()) {
      p.put("fs.s3a.endpoint", s3.endpoint());
    }
    p.put("fs.s3a.endpoint.region", s3.region());
    p.put("fs.s3a.path.style.access", Boolean.toString(s3.pathStyleAccess()));
    p.put("fs.s3a.connection.ssl.enabled", Boolean.toString(s3.sslEnabled()));
    if (!s3.accessKey().isEmpty()) {
      p.put("fs.s3a.access.key", s3.accessKey());
      p.put("fs.s3a.secret.key", s3.secretKey());
    }
    if (!s3.credentialsProvider().isEmpty()) {
      p.put("fs.s3a.aws.credentials.provider", s3.credentialsProvider());
    } else if (!s3.accessKey().isEmpty()) {
      p.put(
          "fs.s3a.aws.credentials.provider",
          "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
    }
    p.putAll(config.hadoop());
    return p;
  }

  /**
   * Checks, without touching the network, that {@code uri} can be reached as configured: its scheme
   * has a file system and the keys it needs are set. Throws a {@link StorageException} naming the
   * keys to set otherwise. Call it before starting Spark.
   */
  public void requireUsable(URI uri) {
    String scheme = uri.getScheme();
    if (scheme == null) {
      if (config.defaultFs().isEmpty()) {
        return; // a local path
      }
      scheme = URI.create(config.defaultFs()).getScheme();
    }
    switch (scheme) {
      case "file":
        return;
      case "hdfs":
        if (uri.getAuthority() == null && !config.defaultFs().startsWith("hdfs:")) {
          throw new StorageException(
              "Cannot use "
                  + uri
                  + ": it names no NameNode (write hdfs://HOST:PORT/path, or set"
                  + " storage.default-fs to hdfs://HOST:PORT)");
        }
        return;
      case "s3":
      case "s3n":
        throw new StorageException(
            "Cannot use " + uri + ": Hadoop reads S3 through the s3a connector (write s3a://...)");
      case "s3a":
        if (uri.getAuthority() == null || uri.getAuthority().isEmpty()) {
          throw new StorageException(
              "Cannot use " + uri + ": it names no bucket (write s3a://BUCKET/path)");
        }
        if (!config.s3().hasCredentials()) {
          throw new StorageException(
              "Cannot use "
                  + uri
                  + ": S3 is not configured (set storage.s3.access-key and storage.s3.secret-key,"
                  + " or storage.s3.credentials-provider; for a server other than AWS also"
                  + " storage.s3.endpoint and usually storage.s3.path-style-access=true)");
        }
        return;
      default:
        try {
          FileSystem.getFileSystemClass(scheme, conf);
        } catch (IOException e) {
          throw new StorageException(
              "Cannot use "
                  + uri
                  + ": no file system for scheme '"
                  + scheme
                  + "' (supported: file, hdfs, s3a; others need their Hadoop connector on the"
                  + " classpath and its storage.hadoop.* keys)");
        }
    }
  }

  public FileSystem fileSystem(URI uri) {
    requireUsable(uri);
    try {
      return new Path(uri).getFileSystem(conf);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot reach " + uri + ": " + e.getMessage(), e);
    }
  }

  public FSDataOutputStream create(URI uri, boolean overwrite) throws IOException {
    return fileSystem(uri).create(new Path(uri), overwrite);
  }

  /** A seekable stream: positioned reads fetch only the bytes asked for, on S3 too. */
  public FSDataInputStream open(URI uri) throws IOException {
    return fileSystem(uri).open(new Path(uri));
  }

  public boolean exists(URI uri) throws IOException {
    return fileSystem(uri).exists(new Path(uri));
  }

  public long size(URI uri) throws IOException {
    return fileSystem(uri).getFileStatus(new Path(uri)).getLen();
  }

  /** The direct children of a directory, sorted by name; an empty list when it does not exist. */
  public List<Entry> list(URI dir) throws IOException {
    FileSystem fs = fileSystem(dir);
    List<Entry> out = new ArrayList<>();
    try {
      for (FileStatus s : fs.listStatus(new Path(dir))) {
        out.add(new Entry(s.getPath().toUri(), s.getLen(), s.isDirectory()));
      }
    } catch (FileNotFoundException e) {
      return List.of();
    }
    out.sort(Comparator.comparing(e -> e.uri().toString()));
    return out;
  }

  /** Every file below a directory, recursively, sorted by path. */
  public List<Entry> listFiles(URI dir) throws IOException {
    FileSystem fs = fileSystem(dir);
    List<Entry> out = new ArrayList<>();
    try {
      RemoteIterator<LocatedFileStatus> it = fs.listFiles(new Path(dir), true);
      while (it.hasNext()) {
        LocatedFileStatus s = it.next();
        out.add(new Entry(s.getPath().toUri(), s.getLen(), false));
      }
    } catch (FileNotFoundException e) {
      return List.of();
    }
    out.sort(Comparator.comparing(e -> e.uri().toString()));
    return out;
  }

  public boolean delete(URI uri, boolean recursive) throws IOException {
    return fileSystem(uri).delete(new Path(uri), recursive);
  }

  public void mkdirs(URI uri) throws IOException {
    fileSystem(uri).mkdirs(new Path(uri));
  }

  public void writeString(URI uri, String text, boolean overwrite) throws IOException {
    try (OutputStream out = create(uri, overwrite)) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }

  public String readString(URI uri) throws IOException {
    try (InputStream in = open(uri)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** {@code base} with {@code child} appended as a path segment (base taken as a directory). */
  /** A URI as given ({@code s3a://...}, {@code hdfs://...}), or a local path made absolute. */
  public static URI locate(String where) {
    URI u = URI.create(where.replace(" ", "%20"));
    return u.getScheme() != null ? u : java.nio.file.Path.of(where).toAbsolutePath().toUri();
  }

  public static URI resolve(URI base, String child) {
    String s = base.toString();
    return URI.create(s.endsWith("/") ? s + child : s + "/" + child);
  }
}
