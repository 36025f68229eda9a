package dev.forja.prep.tokens;

import dev.forja.prep.PrepJob;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.net.URI;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/** The kept documents of a committed {@code forja prep} output, as (id, text). */
record PrepOutput(URI uri, String runId, Dataset<Row> kept) {

  static PrepOutput read(SparkSession spark, Storage storage, URI uri) throws IOException {
    CommitManifest m =
        CommitManifest.read(storage, uri)
            .filter(x -> PrepJob.KIND.equals(x.kind()))
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "--input "
                            + uri
                            + " is not a committed forja prep output (no "
                            + CommitManifest.FILE_NAME
                            + " of kind "
                            + PrepJob.KIND
                            + "); run forja prep first"));
    String format = m.properties().getOrDefault("format", "parquet");
    String kept = Storage.resolve(uri, "kept").toString();
    Dataset<Row> ds = format.equals("jsonl") ? spark.read().json(kept) : spark.read().parquet(kept);
    return new PrepOutput(
        uri, m.properties().getOrDefault("run-id", "unknown"), ds.select("id", "text"));
  }
}
