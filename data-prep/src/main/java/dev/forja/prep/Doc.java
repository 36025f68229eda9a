package dev.forja.prep;

import java.io.Serializable;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One record flowing through {@code forja prep}: a document read from an input, or an input that
 * could not be read (status {@code quarantined}). Stages never drop a record: they mark it rejected
 * with the rule and the measured value, so every input ends in exactly one of kept, rejected or
 * quarantined. A Java bean, so Spark encodes it ({@code Encoders.bean}).
 */
public class Doc implements Serializable {
  public static final String KEPT = "kept";
  public static final String REJECTED = "rejected";
  public static final String QUARANTINED = "quarantined";

  private String id;
  private String source;
  private long position;
  private String format;
  private String text;
  private long rawBytes;
  private String lang;
  private double langScore;
  // signals: the known names' values by position (bit i of the mask: the i-th name has one), any
  // other name in a map; see SIGNAL_NAMES
  private long signalMask;
  private double[] signalValues;
  private Map<String, Double> extraSignals;
  private Map<String, Integer> pii = new HashMap<>();
  private Map<String, String> meta = new HashMap<>();
  private String status = KEPT;
  private String reason;
  private double value;
  private String detail;
  // dedup features, set in the per-document pass for documents still kept (see Deduplicator)
  private long node = -1;
  private String exactKey;
  private byte[] signature;

  public Doc() {}

  public static Doc quarantined(
      String source, long position, String reason, String detail, String sample) {
    Doc d = new Doc();
    d.id = source + "#" + position;
    d.source = source;
    d.position = position;
    d.status = QUARANTINED;
    d.reason = reason;
    d.detail = detail;
    d.text = sample == null ? "" : sample;
    return d;
  }

  public boolean kept() {
    return KEPT.equals(status);
  }

  /** Marks this document rejected by {@code rule} (e.g. "gopher.min-doc-words"). */
  public void reject(String rule, double measured, String why) {
    this.status = REJECTED;
    this.reason = rule;
    this.value = measured;
    this.detail = why;
  }

  /**
   * The names of the signals the stages record, stored by position: in Spark's cache of the
   * documents a map with these names as keys took half the space (a ~40-character key per value). A
   * name not listed still works (kept in a small map).
   */
  public static final List<String> SIGNAL_NAMES = signalNames();

  private static List<String> signalNames() {
    List<String> names =
        new java.util.ArrayList<>(
            List.of("read.utf8-repairs", "clean.html", "clean.boilerplate-lines"));
    names.addAll(PrepConfig.QUALITY_RULES); // each rule records what it measured
    names.addAll(PrepConfig.NGRAM_SIGNALS);
    names.addAll(
        List.of(
            "c4.lines-dropped",
            "harmful.blocked-fraction",
            "harmful.score",
            "decontaminate.overlapping-ngrams"));
    return List.copyOf(names);
  }

  private static final Map<String, Integer> SIGNAL_INDEX = new HashMap<>();

  static {
    if (SIGNAL_NAMES.size() > Long.SIZE) {
      throw new IllegalStateException("more signal names than bits in a long");
    }
    for (int i = 0; i < SIGNAL_NAMES.size(); i++) {
      SIGNAL_INDEX.put(SIGNAL_NAMES.get(i), i);
    }
  }

  /** Records a measured value (a quality signal) under {@code name}; a later one replaces it. */
  public void signal(String name, double v) {
    Integer i = SIGNAL_INDEX.get(name);
    if (i == null) {
      if (extraSignals == null) {
        extraSignals = new HashMap<>();
      }
      extraSignals.put(name, v);
      return;
    }
    if (signalValues == null) {
      signalValues = new double[SIGNAL_NAMES.size()];
    }
    signalValues[i] = v;
    signalMask |= 1L << i;
  }

  /** The signals by name: the known ones in {@link #SIGNAL_NAMES} order, then any other. */
  public Map<String, Double> signals() {
    double[] v = signalValues;
    return signals(signalMask, i -> v[i], extraSignals);
  }

  /** The signals a mask, values and extra map hold (as {@link #signals()} reads them). */
  public static Map<String, Double> signals(
      long mask, java.util.function.IntToDoubleFunction values, Map<String, Double> extra) {
    Map<String, Double> out = new java.util.LinkedHashMap<>();
    for (long m = mask; m != 0; m &= m - 1) {
      int i = Long.numberOfTrailingZeros(m);
      out.put(SIGNAL_NAMES.get(i), values.applyAsDouble(i));
    }
    if (extra != null) {
      out.putAll(extra);
    }
    return out;
  }

  // Bean accessors (Spark's bean encoder needs them).
  public String getId() {
    return id;
  }

  public void setId(String id) {
    this.id = id;
  }

  public String getSource() {
    return source;
  }

  public void setSource(String source) {
    this.source = source;
  }

  public long getPosition() {
    return position;
  }

  public void setPosition(long position) {
    this.position = position;
  }

  public String getFormat() {
    return format;
  }

  public void setFormat(String format) {
    this.format = format;
  }

  public String getText() {
    return text;
  }

  public void setText(String text) {
    this.text = text;
  }

  /**
   * The text's length in code points, derived from the text as the document is encoded, so the
   * accounting sums kept characters without decoding every text again (Spark's {@code length} reads
   * UTF-8 byte by byte).
   */
  public int getTextChars() {
    return text == null ? 0 : text.codePointCount(0, text.length());
  }

  /** Derived from the text ({@link #getTextChars}); the bean encoder needs a setter. */
  public void setTextChars(int ignored) {}

  public long getRawBytes() {
    return rawBytes;
  }

  public void setRawBytes(long rawBytes) {
    this.rawBytes = rawBytes;
  }

  public String getLang() {
    return lang;
  }

  public void setLang(String lang) {
    this.lang = lang;
  }

  public double getLangScore() {
    return langScore;
  }

  public void setLangScore(double langScore) {
    this.langScore = langScore;
  }

  public long getSignalMask() {
    return signalMask;
  }

  public void setSignalMask(long signalMask) {
    this.signalMask = signalMask;
  }

  public double[] getSignalValues() {
    return signalValues;
  }

  public void setSignalValues(double[] signalValues) {
    this.signalValues = signalValues;
  }

  public Map<String, Double> getExtraSignals() {
    return extraSignals;
  }

  public void setExtraSignals(Map<String, Double> extraSignals) {
    this.extraSignals = extraSignals == null ? null : new HashMap<>(extraSignals);
  }

  public Map<String, Integer> getPii() {
    return pii;
  }

  public void setPii(Map<String, Integer> pii) {
    this.pii = pii == null ? new HashMap<>() : new HashMap<>(pii);
  }

  public Map<String, String> getMeta() {
    return meta;
  }

  public void setMeta(Map<String, String> meta) {
    this.meta = meta == null ? new HashMap<>() : new HashMap<>(meta);
  }

  public String getStatus() {
    return status;
  }

  public void setStatus(String status) {
    this.status = status;
  }

  public String getReason() {
    return reason;
  }

  public void setReason(String reason) {
    this.reason = reason;
  }

  public double getValue() {
    return value;
  }

  public void setValue(double value) {
    this.value = value;
  }

  public String getDetail() {
    return detail;
  }

  public void setDetail(String detail) {
    this.detail = detail;
  }

  /** A number unique in the run: the partition in the high bits, the record's ordinal below. */
  public long getNode() {
    return node;
  }

  public void setNode(long node) {
    this.node = node;
  }

  /** The exact-dedup key of the normalized text (kept documents, exact dedup on). */
  public String getExactKey() {
    return exactKey;
  }

  public void setExactKey(String exactKey) {
    this.exactKey = exactKey;
  }

  /** The MinHash signature as MinHasher.bytes (kept documents, near dedup on). */
  public byte[] getSignature() {
    return signature;
  }

  public void setSignature(byte[] signature) {
    this.signature = signature;
  }
}
