package dev.forja.testing;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.storage.StorageConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * A real S3 server for tests: s3proxy (filesystem backend, AWS v2/v4 signatures checked) started as
 * a child process on a free loopback port, never put on a classpath. One per JVM, started on first
 * use (about 2 s), killed when the JVM exits. Buckets are directories of its base dir.
 */
public final class S3Server {
  public static final String ACCESS_KEY = "forja-test-access";
  public static final String SECRET_KEY = "forja-test-secret-key";
  public static final String BUCKET = "forja-test";

  private static Process process;
  private static int port;
  private static Path baseDir;

  private S3Server() {}

  public static synchronized String endpoint() {
    if (process == null) {
      start();
    }
    return "http://127.0.0.1:" + port;
  }

  /** Storage settings that reach the server with its test credentials. */
  public static StorageConfig storageConfig() {
    return StorageConfig.read(new ConfigReader(configSource(ConfigSource.empty())));
  }

  /** Adds the {@code storage.s3.*} keys for this server to {@code source}. */
  public static ConfigSource configSource(ConfigSource source) {
    return source
        .with("storage.s3.endpoint", endpoint(), "S3Server")
        .with("storage.s3.access-key", ACCESS_KEY, "S3Server")
        .with("storage.s3.secret-key", SECRET_KEY, "S3Server")
        .with("storage.s3.path-style-access", "true", "S3Server")
        .with("storage.s3.ssl-enabled", "false", "S3Server")
        .with("storage.hadoop.fs.s3a.attempts.maximum", "2", "S3Server")
        .with("storage.hadoop.fs.s3a.retry.limit", "2", "S3Server");
  }

  /** Creates a bucket (a directory of the filesystem backend). */
  public static synchronized void createBucket(String name) {
    endpoint();
    try {
      Files.createDirectories(baseDir.resolve(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * An outage: the server is killed, stays down for {@code downMillis}, and starts again on the
   * same port over the same data (what a restarted S3 endpoint looks like to clients).
   */
  public static synchronized void restart(long downMillis) throws InterruptedException {
    endpoint();
    process.destroyForcibly();
    process.waitFor();
    Thread.sleep(downMillis);
    launch();
  }

  /** Where the server keeps a bucket's objects (one file per object). */
  public static synchronized Path bucketDir(String bucket) {
    endpoint();
    return baseDir.resolve(bucket);
  }

  private static void start() {
    try {
      baseDir = TestDirs.create("s3-");
      Files.createDirectories(baseDir.resolve(BUCKET));
      port = freePort();
    } catch (IOException e) {
      throw new UncheckedIOException("s3proxy failed to start: " + e.getMessage(), e);
    }
    launch();
  }

  private static void launch() {
    try {
      Path props = baseDir.resolveSibling(baseDir.getFileName() + ".properties");
      Files.writeString(props, properties(port, baseDir));
      Path log = baseDir.resolveSibling(baseDir.getFileName() + ".log");
      Path java = Path.of(System.getProperty("java.home"), "bin", "java");
      process =
          new ProcessBuilder(
                  List.of(
                      java.toString(),
                      "-Xmx256m",
                      "-jar",
                      jar().toString(),
                      "--properties",
                      props.toString()))
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      Process p = process;
      Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
      waitForPort(port, 60_000, log);
    } catch (IOException e) {
      throw new UncheckedIOException("s3proxy failed to start: " + e.getMessage(), e);
    }
  }

  /** The s3proxy configuration: filesystem backend under {@code dir}, signatures checked. */
  public static String properties(int port, Path dir) {
    return String.join(
        "\n",
        "s3proxy.endpoint=http://127.0.0.1:" + port,
        "s3proxy.authorization=aws-v2-or-v4",
        "s3proxy.identity=" + ACCESS_KEY,
        "s3proxy.credential=" + SECRET_KEY,
        "jclouds.provider=filesystem-nio2",
        "jclouds.filesystem.basedir=" + dir.toAbsolutePath(),
        "jclouds.identity=" + ACCESS_KEY,
        "jclouds.credential=" + SECRET_KEY,
        "");
  }

  /** Where the build copied the s3proxy jar. */
  public static Path jar() throws IOException {
    Properties p = new Properties();
    try (InputStream in = S3Server.class.getResourceAsStream("/forja-test-support.properties")) {
      p.load(in);
    }
    Path jar = Path.of(p.getProperty("s3proxy.jar"));
    if (!Files.isRegularFile(jar)) {
      throw new IOException(
          jar + " is missing: build test-support first (mvn -pl test-support package)");
    }
    return jar;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static void waitForPort(int port, long timeoutMs, Path log) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("s3proxy exited: " + Files.readString(log));
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        try {
          Thread.sleep(100);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted", ie);
        }
      }
    }
    throw new IOException("s3proxy did not open port " + port + " in " + timeoutMs + " ms");
  }
}
