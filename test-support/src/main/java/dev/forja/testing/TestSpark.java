package dev.forja.testing;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Spark sessions for tests: one shared {@code local[2]} session (UI off, loopback), or a real
 * multi-JVM {@code local-cluster} (a Master and Workers in this JVM, executors in their own JVMs).
 * One SparkContext lives per JVM, so asking for the other kind stops the current one.
 */
public final class TestSpark {
  private static SparkSession current;
  private static String currentMaster;

  private TestSpark() {}

  /** The shared local session, {@code local[2]}. */
  public static synchronized SparkSession local() {
    return session("local[2]");
  }

  /**
   * A multi-JVM cluster: {@code workers} executors of 1 core and {@code memoryMb} each, every one
   * its own JVM with this JVM's classpath. Expect 20-50 s to start on 2 cores.
   */
  public static synchronized SparkSession localCluster(int workers, int memoryMb) {
    return localCluster(workers, memoryMb, java.util.Map.of());
  }

  /**
   * A multi-JVM cluster with more Spark settings (e.g. worker, executor and task resources); a
   * running session with other settings is stopped first.
   */
  public static synchronized SparkSession localCluster(
      int workers, int memoryMb, java.util.Map<String, String> settings) {
    return session("local-cluster[" + workers + ",1," + memoryMb + "]", settings);
  }

  /**
   * Storage settings that reach both the test S3 server and MiniDFSCluster (replication 1), also
   * set on {@code spark}'s Hadoop configuration so that its readers and writers use them.
   */
  public static StorageConfig hdfsAndS3(SparkSession spark) {
    StorageConfig both =
        StorageConfig.read(
            new ConfigReader(
                S3Server.configSource(ConfigSource.empty())
                    .with("storage.hadoop.dfs.replication", "1", "test")));
    Storage.hadoopProperties(both)
        .forEach((k, v) -> spark.sparkContext().hadoopConfiguration().set(k, v));
    return both;
  }

  private static SparkSession session(String master) {
    return session(master, java.util.Map.of());
  }

  private static SparkSession session(String master, java.util.Map<String, String> settings) {
    String key = master + new java.util.TreeMap<>(settings);
    if (current != null && key.equals(currentMaster) && !current.sparkContext().isStopped()) {
      return current;
    }
    stop();
    SparkConf conf =
        new SparkConf()
            .setMaster(master)
            .setAppName("forja-test")
            .set("spark.ui.enabled", "false")
            .set("spark.driver.host", "127.0.0.1")
            .set("spark.driver.bindAddress", "127.0.0.1")
            .set("spark.sql.shuffle.partitions", "4")
            .set("spark.default.parallelism", "4")
            .set("spark.executorEnv.OMP_WAIT_POLICY", "PASSIVE")
            .set("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
            .set("spark.kryo.registrator", "dev.forja.spark.ForjaKryoRegistrator")
            .set("spark.executorEnv.SPARK_SCALA_VERSION", "2.13");
    if (master.startsWith("local-cluster")) {
      conf.set("spark.home", sparkHome().toString())
          .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
          .set("spark.executor.extraJavaOptions", moduleOptions())
          .set("spark.network.timeout", "60s")
          .set("spark.task.maxFailures", "4");
    }
    settings.forEach(conf::set);
    current = SparkSession.builder().config(conf).getOrCreate();
    currentMaster = key;
    return current;
  }

  public static synchronized void stop() {
    if (current != null) {
      current.stop();
      current = null;
      currentMaster = null;
    }
  }

  /** The add-opens options of this JVM (set by the build), for executor JVMs. */
  static String moduleOptions() {
    StringBuilder sb = new StringBuilder();
    for (String arg :
        java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (arg.startsWith("--add-opens")
          || arg.startsWith("--add-modules")
          || arg.startsWith("-Dorg.bytedeco")
          || arg.startsWith("-Djdk.reflect")
          || arg.startsWith("-Dio.netty")
          || arg.startsWith("-XX:+IgnoreUnrecognizedVMOptions")) {
        sb.append(arg).append(' ');
      }
    }
    return sb.toString().trim();
  }

  /** Spark's launcher wants {@code $SPARK_HOME/jars} to exist; it may be empty. */
  private static Path sparkHome() {
    try {
      Path home = Path.of("target", "spark-home").toAbsolutePath();
      Files.createDirectories(home.resolve("jars"));
      return home;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
