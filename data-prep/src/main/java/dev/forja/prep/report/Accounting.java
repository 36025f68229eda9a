package dev.forja.prep.report;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.length;
import static org.apache.spark.sql.functions.substring;
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
 * Where the documents went: counts per status, reason and language, the kept text's length,
 * redactions per PII type, and the report's examples (the first documents by id of each status and
 * reason that was not kept), all in one aggregate ({@link #tally}). The prep job observes it on its
 * writes, so the documents are counted as they are written, not in a scan of their own.
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
   *     count)
   * @param piiTypes the PII types whose counts are summed
   * @param perReason examples of each status and reason not kept
   */
  public static Accounting of(Dataset<Row> docs, List<String> piiTypes, int perReason) {
    byte[] tally = (byte[]) docs.agg(tally(docs, piiTypes, perReason)).first().get(0);
    return from(List.of(tally), piiTypes, perReason);
  }

  /**
   * The aggregate of {@link #of} as one column (a {@link Tally}, serialized), over the columns
   * status, reason, lang, id, value, detail, text and pii of {@code docs}, and textChars (the
   * text's code points) where it has them: for {@code Dataset.observe}, so that the writes that
   * read the documents count them as they go, with no scan of their own. {@link #from} merges the
   * tallies of several.
   */
  public static Column tally(Dataset<Row> docs, List<String> piiTypes, int perReason) {
    Column notKept = col("status").notEqual(Doc.KEPT);
    UserDefinedFunction agg =
        functions.udaf(
            new TallyAggregator(piiTypes, perReason),
            Encoders.row(TallyAggregator.input(piiTypes.size())));
    List<Column> in = new ArrayList<>();
    in.add(col("status"));
    in.add(col("reason"));
    in.add(col("lang"));
    // kept characters: the documents' textChars where the frame has it (the prep job's cache)
    Column chars =
        List.of(docs.columns()).contains("textChars") ? col("textChars") : length(col("text"));
    in.add(when(col("status").equalTo(Doc.KEPT), chars));
    in.add(when(notKept, col("id")));
    in.add(when(notKept, col("value")));
    in.add(when(notKept, col("detail")));
    in.add(when(notKept, substring(col("text"), 1, EXAMPLE_CHARS)));
    for (String t : piiTypes) {
      in.add(col("pii").getItem(t));
    }
    return agg.apply(in.toArray(new Column[0]));
  }

  /** The accounting of the documents that {@link #tally} columns counted, merged (null: none). */
  public static Accounting from(List<byte[]> tallies, List<String> piiTypes, int perReason) {
    Tally all = new Tally(piiTypes.size());
    for (byte[] t : tallies) {
      if (t != null) { // null: nothing was there to count
        all.merge(Tally.read(t), perReason);
      }
    }
    Map<String, Long> byStatus = new TreeMap<>();
    Map<String, Long> reasons = new TreeMap<>();
    Map<String, Long> languages = new TreeMap<>();
    Map<String, Long> pii = new TreeMap<>();
    long keptChars = 0;
    for (var g : all.groups.entrySet()) {
      String status = g.getKey().status();
      String reason = g.getKey().reason();
      long n = g.getValue()[0];
      byStatus.merge(status, n, Long::sum);
      if (reason != null) {
        reasons.merge(status + ":" + reason, n, Long::sum);
      }
      if (Doc.KEPT.equals(status)) {
        languages.merge(String.valueOf(g.getKey().lang()), n, Long::sum);
        keptChars += g.getValue()[1];
      }
    }
    for (int i = 0; i < piiTypes.size(); i++) {
      if (all.pii[i] > 0) {
        pii.put(piiTypes.get(i), all.pii[i]);
      }
    }
    List<Row> examples = new ArrayList<>();
    for (var e : all.picks.entrySet()) {
      Reason k = e.getKey();
      for (Pick p : e.getValue()) {
        examples.add(
            RowFactory.create(
                k.status(), k.reason(), p.getId(), p.getValue(), p.getDetail(), p.getText()));
      }
    }
    Comparator<String> order = Comparator.nullsFirst(String::compareTo);
    examples.sort(
        Comparator.comparing((Row x) -> x.getString(0), order)
            .thenComparing(x -> x.getString(1), order)
            .thenComparing(x -> x.getString(2), order)
            .thenComparing(x -> x.getString(4), order)
            .thenComparing(x -> x.getString(5), order));
    return new Accounting(byStatus, reasons, languages, keptChars, pii, examples);
  }

  /** A status, reason (null for kept documents) and language: the unit of the counts. */
  record Group(String status, String reason, String lang) implements Serializable {}

  /** A status and reason not kept: the unit of the examples. */
  record Reason(String status, String reason) implements Serializable {}

  /**
   * What the rows seen so far hold: per (status, reason, language) the count and the kept text's
   * characters, the PII counts, and per (status, reason) not kept the first picks by (id, detail,
   * text).
   */
  public static final class Tally implements Serializable {
    private static final long serialVersionUID = 1L;
    final Map<Group, long[]> groups = new java.util.HashMap<>();
    final long[] pii;
    final Map<Reason, ArrayList<Pick>> picks = new java.util.HashMap<>();

    Tally(int piiTypes) {
      pii = new long[piiTypes];
    }

    void pick(Reason key, Pick p, int k) {
      ArrayList<Pick> l = picks.computeIfAbsent(key, x -> new ArrayList<>());
      if (l.size() == k && ORDER.compare(p, l.get(k - 1)) >= 0) {
        return;
      }
      int at = 0;
      while (at < l.size() && ORDER.compare(l.get(at), p) <= 0) {
        at++;
      }
      l.add(at, p);
      if (l.size() > k) {
        l.remove(k);
      }
    }

    Tally merge(Tally o, int k) {
      o.groups.forEach(
          (key, v) -> {
            long[] mine = groups.computeIfAbsent(key, x -> new long[2]);
            mine[0] += v[0];
            mine[1] += v[1];
          });
      for (int i = 0; i < pii.length; i++) {
        pii[i] += o.pii[i];
      }
      o.picks.forEach(
          (key, l) -> {
            for (Pick p : l) {
              pick(key, p, k);
            }
          });
      return this;
    }

    byte[] bytes() {
      var out = new java.io.ByteArrayOutputStream();
      try (var o = new java.io.ObjectOutputStream(out)) {
        o.writeObject(this);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      return out.toByteArray();
    }

    static Tally read(byte[] b) {
      try (var in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(b))) {
        return (Tally) in.readObject();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private static final Comparator<String> NULLS_FIRST = Comparator.nullsFirst(String::compareTo);
  private static final Comparator<Pick> ORDER =
      Comparator.comparing(Pick::getId, NULLS_FIRST)
          .thenComparing(Pick::getDetail, NULLS_FIRST)
          .thenComparing(Pick::getText, NULLS_FIRST);

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

  /** {@link #tally}: rows in, a serialized {@link Tally} out; its buffer holds k picks a reason. */
  static final class TallyAggregator extends Aggregator<Row, Tally, byte[]> {
    static final StructType BASE =
        new StructType()
            .add("status", "string")
            .add("reason", "string")
            .add("lang", "string")
            .add("chars", "int")
            .add("id", "string")
            .add("value", "double")
            .add("detail", "string")
            .add("text", "string");

    static StructType input(int piiTypes) {
      StructType t = BASE;
      for (int i = 0; i < piiTypes; i++) {
        t = t.add("pii" + i, "int");
      }
      return t;
    }

    private final int piiTypes;
    private final int k;

    TallyAggregator(List<String> piiTypes, int k) {
      this.piiTypes = piiTypes.size();
      this.k = k;
    }

    @Override
    public Tally zero() {
      return new Tally(piiTypes);
    }

    @Override
    public Tally reduce(Tally b, Row r) {
      long[] g =
          b.groups.computeIfAbsent(
              new Group(r.getString(0), r.getString(1), r.getString(2)), x -> new long[2]);
      g[0]++;
      if (!r.isNullAt(3)) {
        g[1] += r.getInt(3);
      }
      for (int i = 0; i < piiTypes; i++) {
        if (!r.isNullAt(8 + i)) {
          b.pii[i] += r.getInt(8 + i);
        }
      }
      if (!r.isNullAt(4) && k > 0) {
        b.pick(
            new Reason(r.getString(0), r.getString(1)),
            new Pick(
                r.getString(4),
                r.isNullAt(5) ? null : r.getDouble(5),
                r.getString(6),
                r.getString(7)),
            k);
      }
      return b;
    }

    @Override
    public Tally merge(Tally a, Tally b) {
      return a.merge(b, k);
    }

    @Override
    public byte[] finish(Tally b) {
      return b.bytes();
    }

    @Override
    public Encoder<Tally> bufferEncoder() {
      return Encoders.javaSerialization(Tally.class);
    }

    @Override
    public Encoder<byte[]> outputEncoder() {
      return Encoders.BINARY();
    }
  }
}
