package dev.forja.training.gguf;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FSDataInputStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Reads a GGUF file (versions 2 and 3) as {@link GgufWriter} writes it and llama.cpp's tools do:
 * the metadata, the tensor descriptions, and each tensor's data dequantized to fp32 (F32, F16,
 * BF16, Q8_0). The file is not trusted: every count, length, dimension and offset is checked
 * against the file's size before anything of that size is allocated, and the error names what is
 * wrong.
 */
public final class GgufReader {
  static final int MAX_KV = 1 << 16;
  static final int MAX_TENSORS = 1 << 20;
  static final int MAX_DIMS = 4;

  private GgufReader() {}

  /** One tensor's description: GGUF's dimensions (innermost first), type, data offset, bytes. */
  public record TensorInfo(String name, long[] ne, GgufWriter.TensorType type, long offset) {
    public long elements() {
      long n = 1;
      for (long d : ne) {
        n *= d;
      }
      return n;
    }

    public long bytes() {
      return type.bytes(elements());
    }

    /** numpy's (row-major) shape: the dimensions outermost first. */
    public long[] shape() {
      long[] s = new long[ne.length];
      for (int i = 0; i < ne.length; i++) {
        s[i] = ne[ne.length - 1 - i];
      }
      return s;
    }
  }

  /** A file's header: metadata values (String, Long, Double, Boolean or List), tensors. */
  public record Header(
      Map<String, Object> metadata, List<TensorInfo> tensors, long dataStart, long fileSize) {
    public TensorInfo tensor(String name) {
      for (TensorInfo t : tensors) {
        if (t.name().equals(name)) {
          return t;
        }
      }
      return null;
    }

    public String string(String key) {
      Object v = metadata.get(key);
      return v instanceof String s ? s : null;
    }

    public Long integer(String key) {
      Object v = metadata.get(key);
      return v instanceof Long l ? l : null;
    }

    public Double number(String key) {
      Object v = metadata.get(key);
      return v instanceof Double d ? d : v instanceof Long l ? (double) l : null;
    }
  }

  /** Reads the header from the start of {@code in}, a file of {@code fileSize} bytes. */
  public static Header header(InputStream in, long fileSize, String where) throws IOException {
    Counting c = new Counting(in, fileSize, where);
    int magic = c.i32();
    if (magic != GgufWriter.MAGIC) {
      throw bad(where, "is not a GGUF file (no GGUF magic at its start)");
    }
    int version = c.i32();
    if (version != 2 && version != 3) {
      throw bad(where, "is GGUF version " + version + "; Forja reads versions 2 and 3");
    }
    long tensorCount = c.i64();
    long kvCount = c.i64();
    if (tensorCount < 0 || tensorCount > MAX_TENSORS) {
      throw bad(where, "claims " + tensorCount + " tensors (at most " + MAX_TENSORS + ")");
    }
    if (kvCount < 0 || kvCount > MAX_KV) {
      throw bad(where, "claims " + kvCount + " metadata entries (at most " + MAX_KV + ")");
    }
    Map<String, Object> meta = new LinkedHashMap<>();
    for (long i = 0; i < kvCount; i++) {
      String key = c.string();
      int type = c.i32();
      meta.put(key, c.value(type, key));
    }
    long alignment = GgufWriter.ALIGNMENT;
    if (meta.get("general.alignment") instanceof Long a) {
      if (a < 1 || a > 1 << 16 || Long.bitCount(a) != 1) {
        throw bad(where, "has general.alignment " + a + " (a power of two up to 65536 expected)");
      }
      alignment = a;
    }
    List<TensorInfo> tensors = new ArrayList<>();
    for (long i = 0; i < tensorCount; i++) {
      String name = c.string();
      int dims = c.i32();
      if (dims < 1 || dims > MAX_DIMS) {
        throw bad(where, "gives tensor " + name + " " + dims + " dimensions (1 to 4 expected)");
      }
      long[] ne = new long[dims];
      long elements = 1;
      for (int d = 0; d < dims; d++) {
        ne[d] = c.i64();
        if (ne[d] < 1 || ne[d] > fileSize) {
          throw bad(where, "gives tensor " + name + " a dimension of " + ne[d]);
        }
        elements = Math.multiplyExact(elements, ne[d]);
        if (elements > fileSize * 4 || elements > Integer.MAX_VALUE) {
          throw bad(where, "gives tensor " + name + " " + elements + " elements, beyond the file");
        }
      }
      int typeId = c.i32();
      GgufWriter.TensorType type = GgufWriter.TensorType.of(typeId);
      if (type == null) {
        throw bad(
            where,
            "holds tensor "
                + name
                + " of ggml type "
                + typeId
                + ", which Forja does not read (F32, F16, BF16 and Q8_0 it does)");
      }
      if (ne[0] % type.blockSize != 0) {
        throw bad(where, "gives " + type + " tensor " + name + " rows of " + ne[0]);
      }
      long offset = c.i64();
      if (offset < 0 || offset % alignment != 0) {
        throw bad(where, "gives tensor " + name + " the unaligned offset " + offset);
      }
      tensors.add(new TensorInfo(name, ne, type, offset));
    }
    long dataStart = (c.position + alignment - 1) / alignment * alignment;
    for (TensorInfo t : tensors) {
      if (dataStart + t.offset() + t.bytes() > fileSize) {
        throw bad(
            where,
            "places tensor "
                + t.name()
                + " ("
                + t.bytes()
                + " bytes at offset "
                + t.offset()
                + ") past the end of the file ("
                + fileSize
                + " bytes)");
      }
    }
    return new Header(Collections.unmodifiableMap(meta), List.copyOf(tensors), dataStart, fileSize);
  }

  /** Reads tensor {@code t} from {@code in} (any position), dequantized, in numpy's shape. */
  public static INDArray tensor(FSDataInputStream in, Header h, TensorInfo t) throws IOException {
    byte[] raw = new byte[Math.toIntExact(t.bytes())];
    in.readFully(h.dataStart() + t.offset(), raw, 0, raw.length);
    ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    int n = Math.toIntExact(t.elements());
    float[] f = new float[n];
    switch (t.type()) {
      case F32 -> b.asFloatBuffer().get(f);
      case F16 -> {
        for (int i = 0; i < n; i++) {
          f[i] = halfToFloat(b.getShort(2 * i));
        }
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) {
          f[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xFFFF) << 16);
        }
      }
      case Q8_0 -> {
        for (int blk = 0; blk < n / 32; blk++) {
          float d = halfToFloat(b.getShort(blk * 34));
          for (int i = 0; i < 32; i++) {
            f[blk * 32 + i] = d * b.get(blk * 34 + 2 + i);
          }
        }
      }
    }
    return Nd4j.createFromArray(f).reshape('c', t.shape()).castTo(DataType.FLOAT);
  }

  static float halfToFloat(short h) {
    int bits = h & 0xFFFF;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1F;
    int mant = bits & 0x3FF;
    if (exp == 0x1F) {
      return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
    }
    if (exp == 0) {
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
  }

  private static IllegalArgumentException bad(String where, String what) {
    return new IllegalArgumentException("the GGUF file " + where + " " + what);
  }

  /** A little-endian reader that knows how much of the file is left. */
  private static final class Counting {
    private final DataInputStream in;
    private final long size;
    private final String where;
    long position;

    Counting(InputStream in, long size, String where) {
      this.in = new DataInputStream(new java.io.BufferedInputStream(in, 1 << 16));
      this.size = size;
      this.where = where;
    }

    private void need(long n, String what) {
      if (n < 0 || n > size - position) {
        throw bad(where, "claims " + what + " of " + n + " bytes beyond its end");
      }
    }

    int i32() throws IOException {
      need(4, "a value");
      position += 4;
      return Integer.reverseBytes(readInt());
    }

    long i64() throws IOException {
      need(8, "a value");
      position += 8;
      try {
        return Long.reverseBytes(in.readLong());
      } catch (EOFException e) {
        throw bad(where, "ends in the middle of its header");
      }
    }

    private int readInt() throws IOException {
      try {
        return in.readInt();
      } catch (EOFException e) {
        throw bad(where, "ends in the middle of its header");
      }
    }

    String string() throws IOException {
      long n = i64();
      need(n, "a string");
      byte[] b = new byte[(int) n];
      in.readFully(b);
      position += n;
      return new String(b, StandardCharsets.UTF_8);
    }

    Object value(int type, String key) throws IOException {
      return switch (type) {
        case GgufWriter.U8, GgufWriter.I8, GgufWriter.BOOL -> {
          need(1, "a value");
          position++;
          int v = in.readByte();
          yield type == GgufWriter.BOOL ? (Object) (v != 0) : (Object) (long) v;
        }
        case GgufWriter.U16, GgufWriter.I16 -> {
          need(2, "a value");
          position += 2;
          yield (long) Short.reverseBytes(in.readShort());
        }
        case GgufWriter.U32 -> i32() & 0xFFFFFFFFL;
        case GgufWriter.I32 -> (long) i32();
        case GgufWriter.F32 -> (double) Float.intBitsToFloat(i32());
        case GgufWriter.U64, GgufWriter.I64 -> i64();
        case GgufWriter.F64 -> Double.longBitsToDouble(i64());
        case GgufWriter.STRING -> string();
        case GgufWriter.ARRAY -> {
          int elementType = i32();
          long n = i64();
          // every element takes at least one byte: a count beyond the file is a lie
          need(n, "an array (" + key + ")");
          List<Object> out = new ArrayList<>((int) Math.min(n, 1 << 20));
          for (long i = 0; i < n; i++) {
            out.add(value(elementType, key));
          }
          yield out;
        }
        default -> throw bad(where, "has metadata " + key + " of unknown type " + type);
      };
    }
  }
}
