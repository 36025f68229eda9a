package dev.forja.spark;

import dev.forja.config.ConfigReader;
import java.io.Serializable;
import java.util.Map;

/**
 * How Forja starts Spark when it starts it itself.
 *
 * @param master {@code spark.master}: default "" (what spark-submit set, else {@code local[*]}).
 * @param appName {@code spark.app-name}: default {@code forja}.
 * @param uiEnabled {@code spark.ui-enabled}: the Spark web UI; default true.
 * @param conf {@code spark.conf.*}: any Spark property, e.g. {@code
 *     spark.conf.spark.sql.shuffle.partitions: 64}.
 */
public record SparkSettings(
    String master, String appName, boolean uiEnabled, Map<String, String> conf)
    implements Serializable {

  public static SparkSettings read(ConfigReader r) {
    return new SparkSettings(
        r.string(
            "spark.master", "", "Spark master; empty uses spark-submit's --master, else local[*]."),
        r.string("spark.app-name", "forja", "Spark application name."),
        r.bool("spark.ui-enabled", true, "Start the Spark web UI."),
        r.passThrough("spark.conf", "Any Spark property, e.g. spark.conf.spark.executor.memory."));
  }
}
