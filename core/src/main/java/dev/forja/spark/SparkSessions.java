package dev.forja.spark;

import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** Starts (or joins) the Spark session a Forja command runs in. */
public final class SparkSessions {
  private SparkSessions() {}

  /**
   * The Spark configuration for a Forja job: spark-submit's settings first (they arrive as system
   * properties), the config's master only where spark-submit set none, storage as {@code
   * spark.hadoop.*}, and the executor environment ND4J needs.
   */
  public static SparkConf sparkConf(SparkSettings settings, StorageConfig storage) {
    SparkConf conf = new SparkConf(true);
    if (!conf.contains("spark.master")) {
      conf.setMaster(settings.master().isEmpty() ? "local[*]" : settings.master());
    }
    if (!conf.contains("spark.app.name")) {
      conf.setAppName(settings.appName());
    }
    conf.set("spark.ui.enabled", Boolean.toString(settings.uiEnabled()));
    for (Map.Entry<String, String> e : Storage.hadoopProperties(storage).entrySet()) {
      conf.set("spark.hadoop." + e.getKey(), e.getValue());
    }
    // ND4J spin-waits by default, which is 20-37x slower on shared hosts (docs/stack.md).
    conf.setIfMissing("spark.executorEnv.OMP_WAIT_POLICY", "PASSIVE");
    conf.setIfMissing("spark.executorEnv.SPARK_SCALA_VERSION", "2.13");
    // Forja shuffles and caches its own records (documents, signatures): Kryo is several times
    // faster and smaller than Java serialization for them.
    conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
    conf.setIfMissing("spark.kryo.registrator", ForjaKryoRegistrator.class.getName());
    // forja prep caches its documents on local disk and scans them several times: compressed
    // (LZ4) they are a third of the bytes (1.6 GB -> 490 MB for 1 GiB of input), and every scan
    // reads that much less
    conf.setIfMissing("spark.rdd.compress", "true");
    settings.conf().forEach(conf::set);
    return conf;
  }

  public static SparkSession start(SparkSettings settings, StorageConfig storage) {
    return start(sparkConf(settings, storage));
  }

  /**
   * Starts (or joins) the session for {@code conf}. Spark's start-up on YARN in client mode now and
   * then fails on a race inside Spark and Hadoop (a {@code ConcurrentModificationException} while
   * the context reads its configuration, before anything of the job ran): that start is tried once
   * more.
   */
  public static SparkSession start(SparkConf conf) {
    try {
      return SparkSession.builder().config(conf).getOrCreate();
    } catch (java.util.ConcurrentModificationException e) {
      System.err.println(
          "forja: Spark failed to start ("
              + e
              + ", a race inside Spark's start-up, nothing of the job ran); starting it again");
      return SparkSession.builder().config(conf).getOrCreate();
    }
  }
}
