package dev.forja.pipeline;

import dev.forja.spark.ProgressListener;
import dev.forja.spark.SparkSessions;
import dev.forja.storage.Storage;
import java.net.URI;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** Runs a Spark job for a command: storage checked first, progress printed, Spark stopped after. */
public final class Jobs {
  /** A job body. */
  @FunctionalInterface
  public interface Body<T> {
    T run(SparkSession spark) throws Exception;
  }

  private Jobs() {}

  /**
   * The Spark session for distributed training: the config's Spark settings plus what parameter
   * averaging needs unless set (threads per task, uncapped result size).
   */
  public static SparkSession startForTraining(ForjaConfig config) {
    org.apache.spark.SparkConf conf = SparkSessions.sparkConf(config.spark(), config.storage());
    dev.forja.training.distributed.ParameterAveraging.sparkDefaults(conf, config.distributed());
    return SparkSessions.start(conf);
  }

  /**
   * Checks that every URI the job touches is usable as configured (before Spark starts, so a
   * misconfigured bucket fails in a second, not after the cluster spun up), then runs {@code body}.
   */
  public static <T> T withSpark(ForjaConfig config, String label, List<URI> uris, Body<T> body)
      throws Exception {
    Storage storage = new Storage(config.storage());
    for (URI uri : uris) {
      storage.requireUsable(uri);
    }
    SparkSession spark = SparkSessions.start(config.spark(), config.storage());
    spark.sparkContext().addSparkListener(new ProgressListener(label, System.err, 2000));
    try {
      return body.run(spark);
    } finally {
      spark.stop();
    }
  }
}
