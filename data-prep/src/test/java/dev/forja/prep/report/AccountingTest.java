package dev.forja.prep.report;

import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.testing.TestSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Observation;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one aggregation that accounts for the documents and picks the report's examples. */
class AccountingTest {
  static final StructType SCHEMA =
      new StructType()
          .add("status", "string")
          .add("reason", "string")
          .add("lang", "string")
          .add("id", "string")
          .add("value", "double")
          .add("detail", "string")
          .add("text", "string")
          .add("pii", DataTypes.createMapType(DataTypes.StringType, DataTypes.IntegerType));

  static Row doc(String status, String reason, String lang, String id, String text) {
    return RowFactory.create(status, reason, lang, id, 1.0, "of d0", text, Map.of());
  }

  @Test
  void countsEveryStatusReasonAndLanguageAndPicksTheFirstIdsOfEachReason() {
    SparkSession spark = TestSpark.local();
    List<Row> rows =
        new ArrayList<>(
            List.of(
                RowFactory.create("kept", null, "en", "a", 0.0, null, "kept", Map.of("email", 2)),
                RowFactory.create(
                    "kept", null, "es", "b", 0.0, null, "guardado", Map.of("email", 1, "ip", 4)),
                doc("rejected", "dedup.exact", "en", "d3", "t3"),
                doc("rejected", "dedup.exact", "es", "d1", "t1"),
                doc("rejected", "dedup.exact", "en", "d2", "t2"),
                doc("rejected", "dedup.exact", "pt", "d1", "t1 again"),
                RowFactory.create(
                    "rejected", "gopher.min-doc-words", "en", "g9", 3.0, "3 words", "a b c", null),
                RowFactory.create(
                    "quarantined", "malformed-json", null, "q1", 0.0, "cut", "{\"te", Map.of())));
    rows.add(doc("rejected", "long", "en", "z", "x".repeat(1000)));
    Accounting a =
        Accounting.of(
            spark.createDataFrame(rows, SCHEMA).repartition(3), List.of("email", "ip", "phone"), 2);

    assertThat(a.byStatus())
        .containsExactly(
            Map.entry("kept", 2L), Map.entry("quarantined", 1L), Map.entry("rejected", 6L));
    assertThat(a.reasons())
        .containsEntry("rejected:dedup.exact", 4L)
        .containsEntry("rejected:gopher.min-doc-words", 1L)
        .containsEntry("quarantined:malformed-json", 1L);
    assertThat(a.languages()).containsExactly(Map.entry("en", 1L), Map.entry("es", 1L));
    assertThat(a.keptTextChars()).isEqualTo("kept".length() + "guardado".length());
    assertThat(a.pii()).containsExactly(Map.entry("email", 3L), Map.entry("ip", 4L));

    // the first two ids of each reason across the language groups, the repeated id twice
    assertThat(a.examples())
        .extracting(r -> r.getString(0) + "|" + r.getString(1) + "|" + r.getString(2))
        .containsExactly(
            "quarantined|malformed-json|q1",
            "rejected|dedup.exact|d1",
            "rejected|dedup.exact|d1",
            "rejected|gopher.min-doc-words|g9",
            "rejected|long|z");
    assertThat(a.examples().get(1).getString(5)).isEqualTo("t1");
    assertThat(a.examples().get(2).getString(5)).isEqualTo("t1 again");
    Row g9 = a.examples().get(3);
    assertThat(g9.getDouble(3)).isEqualTo(3.0);
    assertThat(g9.getString(4)).isEqualTo("3 words");
    assertThat(g9.getString(5)).isEqualTo("a b c");
    // a long text comes cut, still longer than the report shows
    assertThat(a.examples().get(4).getString(5)).hasSize(Accounting.EXAMPLE_CHARS);
  }

  @Test
  void aWriteCountsWhatItWritesAsTheWholeFrameWould(@TempDir Path dir) throws Exception {
    SparkSession spark = TestSpark.local();
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      String status = i % 5 == 0 ? "rejected" : "kept";
      rows.add(
          RowFactory.create(
              status,
              status.equals("kept") ? null : "gopher.min-doc-words",
              i % 3 == 0 ? "es" : "en",
              String.format("d%03d", i),
              (double) i,
              "n=" + i,
              "text " + i,
              Map.of("email", i % 2)));
    }
    Dataset<Row> docs = spark.createDataFrame(rows, SCHEMA).repartition(4);
    List<String> pii = List.of("email", "ip");
    Accounting whole = Accounting.of(docs, pii, 3);

    // each status written apart, its tally observed by its write, then merged
    List<byte[]> tallies = new ArrayList<>();
    for (String status : List.of("kept", "rejected")) {
      Observation seen = new Observation(status);
      docs.filter(col("status").equalTo(status))
          .observe(seen, Accounting.tally(docs, pii, 3).as("tally"))
          .select("id", "text")
          .write()
          .parquet(dir.resolve(status).toString());
      tallies.add((byte[]) seen.getAsJava().get("tally"));
    }
    tallies.add(null); // a status with no documents: no write read anything
    Accounting written = Accounting.from(tallies, pii, 3);

    assertThat(written).isEqualTo(whole);
    assertThat(written.byStatus())
        .containsExactly(Map.entry("kept", 400L), Map.entry("rejected", 100L));
    assertThat(written.languages()).containsExactly(Map.entry("en", 267L), Map.entry("es", 133L));
    assertThat(written.pii()).containsExactly(Map.entry("email", 250L));
    assertThat(written.examples())
        .extracting(r -> r.getString(2))
        .containsExactly("d000", "d005", "d010");
    assertThat(spark.read().parquet(dir.resolve("kept").toString()).count()).isEqualTo(400);
  }
}
