package dev.forja.training.gguf;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes a GGUF file (version 3, the format of llama.cpp, Ollama and LM Studio): the header, the
 * metadata key/values, the tensor descriptions, then each tensor's data at an offset aligned to
 * {@code general.alignment} (32 bytes). All numbers little-endian. The whole layout is known before
 * any data is written, so the file streams to any {@link OutputStream} (HDFS, S3) in one pass.
 */
public final class GgufWriter {
  public static final int MAGIC = 0x46554747; // "GGUF", little-endian
  public static final int VERSION = 3;
  public static final int ALIGNMENT = 32;

  /** Metadata value types, as the GGUF specification numbers them. */
  static final int U8 = 0;

  static final int I8 = 1;
  static final int U16 = 2;
  static final int I16 = 3;
  static final int U32 = 4;
  static final int I32 = 5;
  static final int F32 = 6;
  static final int BOOL = 7;
  static final int STRING = 8;
  static final int ARRAY = 9;
  static final int U64 = 10;
  static final int I64 = 11;
  static final int F64 = 12;

  /** Tensor types Forja writes, with ggml's numbers. */
  public enum TensorType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q8_0(8, 32, 34),
    BF16(30, 1, 2);

    public final int id;

    /** Elements per block, and bytes per block. */
    public final int blockSize;

    public final int blockBytes;

    TensorType(int id, int blockSize, int blockBytes) {
      this.id = id;
      this.blockSize = blockSize;
      this.blockBytes = blockBytes;
    }

    public long bytes(long elements) {
      return elements / blockSize * blockBytes;
    }

    public static TensorType of(int id) {
      for (TensorType t : values()) {
        if (t.id == id) {
          return t;
        }
      }
      return null;
    }
  }

  private record Value(int type, Object value) {}

  private record Tensor(String name, long[] ne, TensorType type, INDArray data) {}

  private final Map<String, Value> metadata = new LinkedHashMap<>();
  private final List<Tensor> tensors = new ArrayList<>();

  public GgufWriter put(String key, String value) {
    return add(key, new Value(STRING, value));
  }

  public GgufWriter putU32(String key, long value) {
    return add(key, new Value(U32, value));
  }

  public GgufWriter putI32(String key, int value) {
    return add(key, new Value(I32, value));
  }

  public GgufWriter putF32(String key, double value) {
    return add(key, new Value(F32, (float) value));
  }

  public GgufWriter putBool(String key, boolean value) {
    return add(key, new Value(BOOL, value));
  }

  public GgufWriter putStrings(String key, List<String> values) {
    return add(key, new Value(ARRAY, new Object[] {STRING, List.copyOf(values)}));
  }

  public GgufWriter putI32s(String key, int[] values) {
    return add(key, new Value(ARRAY, new Object[] {I32, values.clone()}));
  }

  public GgufWriter putF32s(String key, float[] values) {
    return add(key, new Value(ARRAY, new Object[] {F32, values.clone()}));
  }

  private GgufWriter add(String key, Value v) {
    if (metadata.put(key, v) != null) {
      throw new IllegalArgumentException("GGUF key written twice: " + key);
    }
    return this;
  }

  /**
   * A tensor: {@code data} in numpy's (row-major) shape, written as {@code type}; GGUF lists the
   * dimensions innermost first. Q8_0 needs rows whose length is a multiple of 32.
   */
  public GgufWriter tensor(String name, INDArray data, TensorType type) {
    long[] shape = data.shape();
    long[] ne = new long[shape.length];
    for (int i = 0; i < shape.length; i++) {
      ne[i] = shape[shape.length - 1 - i];
    }
    if (type == TensorType.Q8_0 && ne[0] % TensorType.Q8_0.blockSize != 0) {
      throw new IllegalArgumentException(
          "q8_0 quantizes rows in blocks of 32; "
              + name
              + " has rows of "
              + ne[0]
              + ": export it as f16 or f32");
    }
    for (Tensor t : tensors) {
      if (t.name().equals(name)) {
        throw new IllegalArgumentException("GGUF tensor written twice: " + name);
      }
    }
    tensors.add(new Tensor(name, ne, type, data));
    return this;
  }

  /** Writes the file; returns its size in bytes. */
  public long write(OutputStream sink) throws IOException {
    CountingOut counting = new CountingOut(sink);
    DataOutputStream out = new DataOutputStream(counting);
    writeI32(out, MAGIC);
    writeI32(out, VERSION);
    writeI64(out, tensors.size());
    writeI64(out, metadata.size());
    for (Map.Entry<String, Value> e : metadata.entrySet()) {
      writeString(out, e.getKey());
      writeI32(out, e.getValue().type());
      writeValue(out, e.getValue().type(), e.getValue().value());
    }
    long offset = 0;
    for (Tensor t : tensors) {
      writeString(out, t.name());
      writeI32(out, t.ne().length);
      long elements = 1;
      for (long n : t.ne()) {
        writeI64(out, n);
        elements *= n;
      }
      writeI32(out, t.type().id);
      writeI64(out, offset);
      offset = align(offset + t.type().bytes(elements));
    }
    out.flush();
    pad(out, counting.count);
    for (Tensor t : tensors) {
      long start = counting.count;
      writeData(out, t);
      out.flush();
      pad(out, counting.count - start);
    }
    out.flush();
    return counting.count;
  }

  static long align(long n) {
    return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  }

  private static void pad(DataOutputStream out, long written) throws IOException {
    long n = align(written) - written;
    for (long i = 0; i < n; i++) {
      out.write(0);
    }
  }

  private static void writeData(DataOutputStream out, Tensor t) throws IOException {
    INDArray a = t.data().dup('c');
    switch (t.type()) {
      case F32 -> raw(out, a.castTo(DataType.FLOAT));
      case F16 -> raw(out, a.castTo(DataType.HALF));
      case BF16 -> raw(out, a.castTo(DataType.BFLOAT16));
      case Q8_0 -> out.write(Q8.quantize(a.castTo(DataType.FLOAT).data().asFloat()));
    }
  }

  private static void raw(DataOutputStream out, INDArray a) throws IOException {
    ByteBuffer b = a.data().asNio().order(ByteOrder.nativeOrder());
    long bytes = a.length() * a.dataType().width();
    byte[] chunk = new byte[1 << 16];
    ByteBuffer le = b.duplicate();
    le.position(0);
    le.limit((int) bytes);
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new IllegalStateException("GGUF export needs a little-endian machine");
    }
    while (le.hasRemaining()) {
      int n = Math.min(chunk.length, le.remaining());
      le.get(chunk, 0, n);
      out.write(chunk, 0, n);
    }
  }

  private static void writeValue(DataOutputStream out, int type, Object v) throws IOException {
    switch (type) {
      case STRING -> writeString(out, (String) v);
      case U32, I32 -> writeI32(out, ((Number) v).intValue());
      case F32 -> writeI32(out, Float.floatToRawIntBits((Float) v));
      case BOOL -> out.write((Boolean) v ? 1 : 0);
      case ARRAY -> {
        Object[] arr = (Object[]) v;
        int elementType = (Integer) arr[0];
        writeI32(out, elementType);
        switch (elementType) {
          case STRING -> {
            @SuppressWarnings("unchecked")
            List<String> s = (List<String>) arr[1];
            writeI64(out, s.size());
            for (String x : s) {
              writeString(out, x);
            }
          }
          case I32 -> {
            int[] xs = (int[]) arr[1];
            writeI64(out, xs.length);
            for (int x : xs) {
              writeI32(out, x);
            }
          }
          case F32 -> {
            float[] xs = (float[]) arr[1];
            writeI64(out, xs.length);
            for (float x : xs) {
              writeI32(out, Float.floatToRawIntBits(x));
            }
          }
          default -> throw new IllegalStateException("array of type " + elementType);
        }
      }
      default -> throw new IllegalStateException("metadata type " + type);
    }
  }

  private static void writeString(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    writeI64(out, b.length);
    out.write(b);
  }

  private static void writeI32(DataOutputStream out, int v) throws IOException {
    out.writeInt(Integer.reverseBytes(v));
  }

  private static void writeI64(DataOutputStream out, long v) throws IOException {
    out.writeLong(Long.reverseBytes(v));
  }

  /** Counts what passes, for the alignment padding. */
  private static final class CountingOut extends java.io.FilterOutputStream {
    long count;

    CountingOut(OutputStream out) {
      super(out);
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      count += len;
    }
  }

  /**
   * ggml's Q8_0: blocks of 32 values, each an fp16 scale {@code d = max|x| / 127} and 32 int8
   * {@code round(x / d)} (half away from zero), as llama.cpp's and gguf-py's quantizers compute
   * them.
   */
  static final class Q8 {
    private Q8() {}

    static byte[] quantize(float[] x) {
      int blocks = x.length / 32;
      ByteBuffer out = ByteBuffer.allocate(blocks * 34).order(ByteOrder.LITTLE_ENDIAN);
      for (int b = 0; b < blocks; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) {
          amax = Math.max(amax, Math.abs(x[b * 32 + i]));
        }
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        out.putShort(Half.fromFloat(d));
        for (int i = 0; i < 32; i++) {
          float v = x[b * 32 + i] * id;
          out.put((byte) (v < 0 ? -Math.round(-v) : Math.round(v)));
        }
      }
      return out.array();
    }
  }

  /** IEEE half precision, rounded to nearest even (as numpy's astype(float16)). */
  static final class Half {
    private Half() {}

    static short fromFloat(float f) {
      int bits = Float.floatToRawIntBits(f);
      int sign = (bits >>> 16) & 0x8000;
      int exp = (bits >>> 23) & 0xFF;
      int mant = bits & 0x7FFFFF;
      if (exp == 0xFF) {
        return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 : 0));
      }
      int e = exp - 127 + 15;
      if (e >= 0x1F) {
        return (short) (sign | 0x7C00);
      }
      if (e <= 0) {
        if (e < -10) {
          return (short) sign;
        }
        mant |= 0x800000;
        int shift = 14 - e;
        int h = mant >> shift;
        int rem = mant & ((1 << shift) - 1);
        int mid = 1 << (shift - 1);
        if (rem > mid || (rem == mid && (h & 1) != 0)) {
          h++;
        }
        return (short) (sign | h);
      }
      int h = (e << 10) | (mant >> 13);
      int rem = mant & 0x1FFF;
      if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
        h++; // a carry into the exponent is the correct rounding (up to infinity)
      }
      return (short) (sign | h);
    }
  }
}
