package dev.forja.prep;

import java.io.Serializable;
import java.util.HashMap;
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
  private Map<String, Double> signals = new HashMap<>();
  private Map<String, Integer> pii = new HashMap<>();
  private Map<String, String> meta = new HashMap<>();
  private String status = KEPT;
  private String reason;
  private double value;
  private String detail;
  // dedup features, set in the per-document pass for documents still kept (see Deduplicator)
  private long node = -1;
  private String exactKey;
  private int[] signature;
  private long[] bands;

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

  public void signal(String name, double v) {
    signals.put(name, v);
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

  public Map<String, Double> getSignals() {
    return signals;
  }

  public void setSignals(Map<String, Double> signals) {
    this.signals = signals == null ? new HashMap<>() : new HashMap<>(signals);
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

  /** The MinHash signature (kept documents, near dedup on). */
  public int[] getSignature() {
    return signature;
  }

  public void setSignature(int[] signature) {
    this.signature = signature;
  }

  /** The LSH band keys of the signature. */
  public long[] getBands() {
    return bands;
  }

  public void setBands(long[] bands) {
    this.bands = bands;
  }
}
