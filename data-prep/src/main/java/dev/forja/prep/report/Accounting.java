package dev.forja.prep.report;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.length;
import static org.apache.spark.sql.functions.substring;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.forja.prep.Doc;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoder;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.expressions.Aggregator;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.StructType;

/**
 * Where the documents went, from one scan of them: counts per status, reason and language, the kept
 * text's length, redactions per PII type, and the report's examples (the first documents by id of
 * each status and reason that was not kept), all in one aggregation.
 *
 * @param examples rows (status, reason, id, value, detail, text) sorted by them; the text cut to
 *     {@link #EXAMPLE_CHARS} characters, more than the report shows
 */
public record Accounting(
    Map<String, Long> byStatus,
    Map<String, Long> reasons,
    Map<String, Long> languages,
    long keptTextChars,
    Map<String, Long> pii,
    List<Row> examples) {

  /** An example's text is cut to this many characters (the report shows 240 and an ellipsis). */
  static final int EXAMPLE_CHARS = 241;

  public long count(String status) {
    return byStatus.getOrDefault(status, 0L);
  }

  /**
   * @param docs columns status, reason, lang, id, value, detail, text and pii (a map from type to
   *     count); textChars (the text's code points) if it has them
   * @param piiTypes the PII types whose counts are summed
   * @param perReason examples of each status and reason not kept
   */
  public static Accounting of(Dataset<Row> docs, List<String> piiTypes, int perReason) {
    Column notKept = col("status").notEqual(Doc.KEPT);
    UserDefinedFunction firstIds =
        functions.udaf(new FirstIds(perReason), Encoders.row(FirstIds.INPUT));
    List<Column> aggs = new ArrayList<>();
    aggs.add(functions.count("*"));
    // kept characters: the documents' textChars where the frame has it (the prep job's cache)
    Column chars =
        List.of(docs.columns()).contains("textChars") ? col("textChars") : length(col("text"));
    aggs.add(sum(when(col("status").equalTo(Doc.KEPT), chars)));
    aggs.add(
        firstIds.apply(
            when(notKept, col("id")),
            when(notKept, col("value")),
            when(notKept, col("detail")),
            when(notKept, substring(col("text"), 1, EXAMPLE_CHARS))));
    for (String t : piiTypes) {
      aggs.add(sum(col("pii").getItem(t)));
    }
    List<Row> groups =
        docs.groupBy("status", "reason", "lang")
            .agg(aggs.get(0), aggs.subList(1, aggs.size()).toArray(new Column[0]))
            .collectAsList();
    Map<String, Long> byStatus = new TreeMap<>();
    Map<String, Long> reasons = new TreeMap<>();
    Map<String, Long> languages = new TreeMap<>();
    Map<String, Long> pii = new TreeMap<>();
    Map<String, List<Row>> picks = new TreeMap<>();
    long keptChars = 0;
    for (Row r : groups) {
      String status = r.getString(0);
      String reason = r.getString(1);
      long n = r.getLong(3);
      byStatus.merge(status, n, Long::sum);
      if (reason != null) {
        reasons.merge(status + ":" + reason, n, Long::sum);
      }
      if (Doc.KEPT.equals(status)) {
        languages.merge(String.valueOf(r.get(2)), n, Long::sum);
        keptChars += r.isNullAt(4) ? 0 : r.getLong(4);
      } else {
        // the picks' struct: the bean's properties, by name (the encoder orders them)
        for (Row p : r.getStruct(5).<Row>getList(0)) {
          picks
              .computeIfAbsent(
                  status + "\u0000" + (reason == null ? "" : reason), k -> new ArrayList<>())
              .add(
                  RowFactory.create(
                      status,
                      reason,
                      p.<String>getAs("id"),
                      p.<Double>getAs("value"),
                      p.<String>getAs("detail"),
                      p.<String>getAs("text")));
        }
      }
      for (int i = 0; i < piiTypes.size(); i++) {
        if (!r.isNullAt(6 + i) && r.getLong(6 + i) > 0) {
          pii.merge(piiTypes.get(i), r.getLong(6 + i), Long::sum);
        }
      }
    }
    // each group's picks are its first ids; a reason's first ids are the first of its groups'
    List<Row> examples = new ArrayList<>();
    Comparator<String> order = Comparator.nullsFirst(String::compareTo);
    for (List<Row> rows : picks.values()) {
      rows.sort(
          Comparator.comparing((Row x) -> x.getString(2), order)
              .thenComparing(x -> x.getString(4), order)
              .thenComparing(x -> x.getString(5), order));
      examples.addAll(rows.subList(0, Math.min(perReason, rows.size())));
    }
    examples.sort(
        Comparator.comparing((Row x) -> x.getString(0), order)
            .thenComparing(x -> x.getString(1), order)
            .thenComparing(x -> x.getString(2), order)
            .thenComparing(x -> x.getString(4), order)
            .thenComparing(x -> x.getString(5), order));
    return new Accounting(byStatus, reasons, languages, keptChars, pii, examples);
  }

  /** One example: a document's id, value, detail and (cut) text. */
  public static final class Pick implements Serializable {
    private String id;
    private Double value;
    private String detail;
    private String text;

    public Pick() {}

    Pick(String id, Double value, String detail, String text) {
      this.id = id;
      this.value = value;
      this.detail = detail;
      this.text = text;
    }

    public String getId() {
      return id;
    }

    public void setId(String id) {
      this.id = id;
    }

    public Double getValue() {
      return value;
    }

    public void setValue(Double value) {
      this.value = value;
    }

    public String getDetail() {
      return detail;
    }

    public void setDetail(String detail) {
      this.detail = detail;
    }

    public String getText() {
      return text;
    }

    public void setText(String text) {
      this.text = text;
    }
  }

  /** Up to k picks, sorted by (id, detail, text). */
  public static final class Picks implements Serializable {
    private List<Pick> picks = new ArrayList<>();

    public List<Pick> getPicks() {
      return picks;
    }

    public void setPicks(List<Pick> picks) {
      this.picks = picks == null ? new ArrayList<>() : new ArrayList<>(picks);
    }
  }

  /**
   * The k documents with the smallest (id, detail, text) of a group, ties included in that order;
   * rows with a null id (kept documents) are skipped. Its buffer is never larger than k picks.
   */
  static final class FirstIds extends Aggregator<Row, Picks, Picks> {
    static final StructType INPUT =
        new StructType()
            .add("id", "string")
            .add("value", "double")
            .add("detail", "string")
            .add("text", "string");

    private static final Comparator<String> NULLS_FIRST = Comparator.nullsFirst(String::compareTo);
    private static final Comparator<Pick> ORDER =
        Comparator.comparing(Pick::getId, NULLS_FIRST)
            .thenComparing(Pick::getDetail, NULLS_FIRST)
            .thenComparing(Pick::getText, NULLS_FIRST);

    private final int k;

    FirstIds(int k) {
      this.k = k;
    }

    @Override
    public Picks zero() {
      return new Picks();
    }

    @Override
    public Picks reduce(Picks b, Row r) {
      if (r.isNullAt(0) || k == 0) {
        return b;
      }
      List<Pick> l = b.getPicks();
      Pick p =
          new Pick(
              r.getString(0),
              r.isNullAt(1) ? null : r.getDouble(1),
              r.getString(2),
              r.getString(3));
      if (l.size() == k && ORDER.compare(p, l.get(k - 1)) >= 0) {
        return b;
      }
      int at = 0;
      while (at < l.size() && ORDER.compare(l.get(at), p) <= 0) {
        at++;
      }
      l.add(at, p);
      if (l.size() > k) {
        l.remove(k);
      }
      return b;
    }

    @Override
    public Picks merge(Picks a, Picks b) {
      List<Pick> all = new ArrayList<>(a.getPicks());
      all.addAll(b.getPicks());
      all.sort(ORDER);
      Picks out = new Picks();
      out.setPicks(all.subList(0, Math.min(k, all.size())));
      return out;
    }

    @Override
    public Picks finish(Picks b) {
      return b;
    }

    @Override
    public Encoder<Picks> bufferEncoder() {
      return Encoders.bean(Picks.class);
    }

    @Override
    public Encoder<Picks> outputEncoder() {
      return Encoders.bean(Picks.class);
    }
  }
}
