package dev.forja.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.spark.SparkSessions;
import dev.forja.spark.SparkSettings;
import dev.forja.storage.Storage;
import java.net.URI;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/** Spark reads and writes HDFS and S3 through the same storage settings Forja's commands use. */
class SparkStorageTest {

  @Test
  void sparkWritesToHdfsAndReadsBackFromS3() throws Exception {
    SparkSession spark = TestSpark.local();
    Map<String, String> hdfs = Storage.hadoopProperties(MiniHdfs.storageConfig());
    Map<String, String> s3 = Storage.hadoopProperties(S3Server.storageConfig());
    hdfs.forEach((k, v) -> spark.sparkContext().hadoopConfiguration().set(k, v));
    s3.forEach((k, v) -> spark.sparkContext().hadoopConfiguration().set(k, v));

    List<String> lines = List.of("uno", "dois", "three", "quatro");
    String hdfsDir = Storage.resolve(MiniHdfs.uri(), "spark/lines").toString();
    spark.createDataset(lines, Encoders.STRING()).repartition(2).write().text(hdfsDir);

    String s3Dir = "s3a://" + S3Server.BUCKET + "/spark/lines";
    spark.read().text(hdfsDir).write().parquet(s3Dir);
    Dataset<String> back = spark.read().parquet(s3Dir).as(Encoders.STRING());
    assertThat(back.collectAsList()).containsExactlyInAnyOrderElementsOf(lines);
    assertThat(new Storage(S3Server.storageConfig()).listFiles(URI.create(s3Dir)))
        .anyMatch(e -> e.uri().getPath().endsWith(".parquet"));
  }

  @Test
  void sessionConfigCarriesStorageAndExecutorEnvironment() {
    SparkConf conf =
        SparkSessions.sparkConf(
            new SparkSettings("local[1]", "x", false, Map.of("spark.sql.shuffle.partitions", "3")),
            S3Server.storageConfig());
    assertThat(conf.get("spark.hadoop.fs.s3a.endpoint")).isEqualTo(S3Server.endpoint());
    assertThat(conf.get("spark.executorEnv.OMP_WAIT_POLICY")).isEqualTo("PASSIVE");
    assertThat(conf.get("spark.sql.shuffle.partitions")).isEqualTo("3");
  }
}
