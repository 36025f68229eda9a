package dev.forja.training.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
 * ({@code name: {dtype, shape, data_offsets: [begin, end]}} and an optional {@code __metadata__}
 * string map), padded with spaces to a multiple of 8, then the tensors' bytes, little-endian,
 * row-major, contiguous and in offset order.
 *
 * <p>Reads F32, F64, F16 and BF16 (the half types widened to F32, exactly); writes F32 or F64 as
 * held, or F16/BF16 ({@link Dtype}, rounded to nearest even). The whole header is checked before
 * any tensor is allocated: its size, every dtype and shape, and offsets that must tile the data
 * exactly (no overlap, no gap, nothing past the end of the file).
 */
public final class SafeTensors {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String METADATA = "__metadata__";

  /** The largest header read: real models' headers are well under a megabyte. */
  public static final long MAX_HEADER_BYTES = 100L << 20;

  /** The element type a file stores. */
  public enum Dtype {
    F32("F32", 4),
    F64("F64", 8),
    F16("F16", 2),
    BF16("BF16", 2);

    public final String id;
    public final int width;

    Dtype(String id, int width) {
      this.id = id;
      this.width = width;
    }

    /** {@code f32}, {@code f16} or {@code bf16} as users write them. */
    public static Dtype of(String name) {
      for (Dtype d : values()) {
        if (d.id.equalsIgnoreCase(name)) {
          return d;
        }
      }
      throw new IllegalArgumentException(
          "unknown dtype '" + name + "': use f32, f16 or bf16 (f64 for checks)");
    }

    static Dtype ofId(String id) {
      for (Dtype d : values()) {
        if (d.id.equals(id)) {
          return d;
        }
      }
      return null;
    }
  }

  private SafeTensors() {}

  /** Writes {@code tensors} in map order as they are held (F32 or F64), with {@code metadata}. */
  public static void write(
      OutputStream out, Map<String, INDArray> tensors, Map<String, String> metadata)
      throws IOException {
    write(out, tensors, metadata, null);
  }

  /**
   * Writes {@code tensors} in map order, each stored as {@code dtype} (null: as held, F32 or F64),
   * with {@code metadata}.
   */
  public static void write(
      OutputStream out, Map<String, INDArray> tensors, Map<String, String> metadata, Dtype dtype)
      throws IOException {
    ObjectNode header = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject(METADATA);
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
      INDArray a = e.getValue();
      Dtype stored = dtype != null ? dtype : held(a.dataType(), e.getKey());
      long bytes = a.length() * stored.width;
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", stored.id);
      var shape = t.putArray("shape");
      for (long s : a.shape()) {
        shape.add(s);
      }
      t.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    out.write(head.array());
    for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
      INDArray a = e.getValue();
      writeData(out, a, dtype != null ? dtype : held(a.dataType(), e.getKey()));
    }
  }

  private static Dtype held(DataType t, String name) {
    return switch (t) {
      case FLOAT -> Dtype.F32;
      case DOUBLE -> Dtype.F64;
      default -> throw new IllegalArgumentException(name + ": dtype " + t + " is not written");
    };
  }

  private static void writeData(OutputStream out, INDArray a, Dtype dtype) throws IOException {
    INDArray c = a.isView() || a.ordering() != 'c' ? a.dup('c') : a;
    int chunk = 1 << 20;
    long n = c.length();
    ByteBuffer buf = ByteBuffer.allocate(chunk * dtype.width).order(ByteOrder.LITTLE_ENDIAN);
    if (dtype == Dtype.F64) {
      double[] d = c.data().asDouble();
      for (int i = 0; i < n; i += chunk) {
        int k = (int) Math.min(chunk, n - i);
        buf.clear();
        buf.asDoubleBuffer().put(d, i, k);
        out.write(buf.array(), 0, k * 8);
      }
      return;
    }
    float[] f = c.data().asFloat();
    for (int i = 0; i < n; i += chunk) {
      int k = (int) Math.min(chunk, n - i);
      buf.clear();
      switch (dtype) {
        case F32 -> buf.asFloatBuffer().put(f, i, k);
        case F16 -> {
          for (int j = 0; j < k; j++) {
            buf.putShort(2 * j, toF16(f[i + j]));
          }
        }
        default -> {
          for (int j = 0; j < k; j++) {
            buf.putShort(2 * j, toBf16(f[i + j]));
          }
        }
      }
      out.write(buf.array(), 0, k * dtype.width);
    }
  }

  /** fp32 to IEEE half precision, rounded to nearest even; overflow gives infinity. */
  static short toF16(float x) {
    int bits = Float.floatToRawIntBits(x);
    int sign = (bits >>> 16) & 0x8000;
    int abs = bits & 0x7FFFFFFF;
    if (abs >= 0x7F800000) { // infinity, or NaN (kept quiet)
      return (short) (sign | 0x7C00 | (abs > 0x7F800000 ? 0x200 | ((abs >>> 13) & 0x3FF) : 0));
    }
    if (abs >= 0x477FF000) { // 65520 and above round to infinity
      return (short) (sign | 0x7C00);
    }
    if (abs < 0x38800000) { // below 2^-14: a subnormal half (or zero), in units of 2^-24
      return (short) (sign | (int) Math.rint(Float.intBitsToFloat(abs) * 0x1p24));
    }
    int rebiased = abs - 0x38000000; // exponent 127 -> 15
    return (short) (sign | ((rebiased + 0xFFF + ((rebiased >>> 13) & 1)) >>> 13));
  }

  /** IEEE half precision to fp32, exactly. */
  static float fromF16(short h) {
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1F;
    int mantissa = h & 0x3FF;
    if (exp == 0) {
      float v = mantissa * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    if (exp == 31) {
      return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mantissa << 13));
  }

  /** fp32 to bfloat16, rounded to nearest even; NaN stays NaN. */
  static short toBf16(float x) {
    int bits = Float.floatToRawIntBits(x);
    if (Float.isNaN(x)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounding = 0x7FFF + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  static float fromBf16(short b) {
    return Float.intBitsToFloat((b & 0xFFFF) << 16);
  }

  /** A file's tensors (in header order) and metadata. */
  public record Contents(LinkedHashMap<String, INDArray> tensors, Map<String, String> metadata) {}

  /** One tensor as the header describes it. */
  public record Entry(String name, Dtype dtype, long[] shape, long begin, long end) {
    public long count() {
      long c = 1;
      for (long s : shape) {
        c *= s;
      }
      return c;
    }
  }

  /** A checked header: the entries in header order, the metadata, and where the data starts. */
  public record Header(List<Entry> entries, Map<String, String> metadata, long dataStart) {}

  /**
   * Reads a whole safetensors stream of unknown size; {@code where} names it in errors. Offsets
   * past the end show as a file cut short.
   */
  public static Contents read(InputStream in, String where) throws IOException {
    return read(in, -1, where);
  }

  /**
   * Reads a whole safetensors stream of {@code size} bytes (-1 if unknown); {@code where} names it
   * in errors. Every tensor comes back as F32 (F16, BF16 and F32 in the file) or F64.
   */
  public static Contents read(InputStream in, long size, String where) throws IOException {
    DataInputStream data = new DataInputStream(in);
    Header h = readHeader(data, size, where);
    List<Entry> byOffset = new ArrayList<>(h.entries());
    byOffset.sort((a, b) -> Long.compare(a.begin(), b.begin()));
    LinkedHashMap<String, INDArray> tensors = new LinkedHashMap<>();
    for (Entry e : byOffset) {
      byte[] raw = new byte[Math.toIntExact(e.end() - e.begin())];
      try {
        data.readFully(raw);
      } catch (EOFException x) {
        throw new IOException(
            where
                + ": cut short: tensor "
                + e.name()
                + " needs bytes "
                + e.begin()
                + " to "
                + e.end()
                + " of the data, the file ends before",
            x);
      }
      tensors.put(e.name(), decode(raw, e));
    }
    LinkedHashMap<String, INDArray> ordered = new LinkedHashMap<>();
    for (Entry e : h.entries()) {
      ordered.put(e.name(), tensors.get(e.name()));
    }
    return new Contents(ordered, h.metadata());
  }

  private static INDArray decode(byte[] raw, Entry e) {
    ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    int count = Math.toIntExact(e.count());
    INDArray a;
    switch (e.dtype()) {
      case F64 -> {
        double[] d = new double[count];
        buf.asDoubleBuffer().get(d);
        a = Nd4j.createFromArray(d);
      }
      case F32 -> {
        float[] f = new float[count];
        buf.asFloatBuffer().get(f);
        a = Nd4j.createFromArray(f);
      }
      case F16 -> {
        float[] f = new float[count];
        for (int i = 0; i < count; i++) {
          f[i] = fromF16(buf.getShort(2 * i));
        }
        a = Nd4j.createFromArray(f);
      }
      default -> {
        float[] f = new float[count];
        for (int i = 0; i < count; i++) {
          f[i] = fromBf16(buf.getShort(2 * i));
        }
        a = Nd4j.createFromArray(f);
      }
    }
    return e.shape().length == 0 ? a.reshape() : a.reshape('c', e.shape());
  }

  /**
   * Reads and checks the header, leaving {@code data} at the first tensor byte. {@code size}: the
   * file's size in bytes, or -1 when unknown (then offsets are checked against each other only).
   */
  public static Header readHeader(DataInputStream data, long size, String where)
      throws IOException {
    byte[] len = new byte[8];
    try {
      data.readFully(len);
    } catch (EOFException e) {
      throw new IOException(where + ": not a safetensors file (shorter than 8 bytes)", e);
    }
    long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
    if (n <= 0) {
      throw new IOException(where + ": not a safetensors file (header length " + n + ")");
    }
    if (n > MAX_HEADER_BYTES) {
      throw new IOException(
          where
              + ": header of "
              + n
              + " bytes is larger than the "
              + (MAX_HEADER_BYTES >> 20)
              + " MB limit (not a safetensors file, or a corrupt one)");
    }
    if (size >= 0 && 8 + n > size) {
      throw new IOException(
          where + ": cut short: the header says " + n + " bytes, the file has " + (size - 8));
    }
    byte[] json = new byte[(int) n];
    try {
      data.readFully(json);
    } catch (EOFException e) {
      throw new IOException(where + ": cut short inside its " + n + "-byte header", e);
    }
    JsonNode header;
    try {
      header = JSON.readTree(new String(json, StandardCharsets.UTF_8).trim());
    } catch (IOException e) {
      throw new IOException(where + ": the header is not valid JSON: " + e.getMessage(), e);
    }
    if (header == null || !header.isObject()) {
      throw new IOException(where + ": the header is not a JSON object");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    List<Entry> entries = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      if (f.getKey().equals(METADATA)) {
        f.getValue()
            .fields()
            .forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
        continue;
      }
      entries.add(entry(f.getKey(), f.getValue(), where));
    }
    long dataBytes = size >= 0 ? size - 8 - n : -1;
    List<Entry> byOffset = new ArrayList<>(entries);
    byOffset.sort((a, b) -> Long.compare(a.begin(), b.begin()));
    long pos = 0;
    for (Entry e : byOffset) {
      if (e.begin() < pos) {
        throw new IOException(
            String.format(
                Locale.ROOT,
                "%s: tensor %s's data_offsets [%d, %d] overlap the tensor before it (ending at %d)",
                where,
                e.name(),
                e.begin(),
                e.end(),
                pos));
      }
      if (e.begin() > pos) {
        throw new IOException(
            String.format(
                Locale.ROOT,
                "%s: a gap of %d bytes before tensor %s's data_offsets [%d, %d] (corrupt file)",
                where,
                e.begin() - pos,
                e.name(),
                e.begin(),
                e.end()));
      }
      if (dataBytes >= 0 && e.end() > dataBytes) {
        throw new IOException(
            String.format(
                Locale.ROOT,
                "%s: tensor %s's data_offsets [%d, %d] run past the end of the data (%d bytes):"
                    + " the file is cut short or corrupt",
                where,
                e.name(),
                e.begin(),
                e.end(),
                dataBytes));
      }
      pos = e.end();
    }
    return new Header(entries, metadata, 8 + n);
  }

  private static Entry entry(String name, JsonNode t, String where) throws IOException {
    Dtype dtype = Dtype.ofId(t.path("dtype").asText());
    if (dtype == null) {
      throw new IOException(
          where
              + ": tensor "
              + name
              + " has unsupported dtype "
              + t.get("dtype")
              + " (read: F32, F64, F16, BF16)");
    }
    JsonNode s = t.path("shape");
    JsonNode o = t.path("data_offsets");
    if (!s.isArray() || !o.isArray() || o.size() != 2) {
      throw new IOException(where + ": tensor " + name + " lacks a shape or two data_offsets");
    }
    long[] shape = new long[s.size()];
    long count = 1;
    for (int i = 0; i < shape.length; i++) {
      shape[i] = s.get(i).asLong(-1);
      if (shape[i] < 0) {
        throw new IOException(where + ": tensor " + name + " has a negative dimension " + s);
      }
      count = Math.multiplyExact(count, shape[i]);
    }
    long begin = o.get(0).asLong(-1);
    long end = o.get(1).asLong(-1);
    if (begin < 0 || end < begin) {
      throw new IOException(
          where + ": tensor " + name + " has invalid data_offsets [" + begin + ", " + end + "]");
    }
    if (end - begin != count * dtype.width) {
      throw new IOException(
          String.format(
              Locale.ROOT,
              "%s: tensor %s of shape %s in %s needs %d bytes, its data_offsets [%d, %d] hold %d",
              where,
              name,
              java.util.Arrays.toString(shape),
              dtype.id,
              count * dtype.width,
              begin,
              end,
              end - begin));
    }
    if (count > Integer.MAX_VALUE) {
      throw new IOException(where + ": tensor " + name + " has more than 2^31 elements");
    }
    return new Entry(name, dtype, shape, begin, end);
  }
}
