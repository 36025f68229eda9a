package dev.forja.training.distributed;

import dev.forja.training.runtime.Parallel;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Named arrays as raw native-order bytes, what travels between the driver and the workers: the
 * bytes of each array are one {@code byte[]}, which Spark's serializers copy in bulk. {@link
 * #write} and {@link #readInto}/{@link #read} stream the same content over a socket straight from
 * and into ND4J's memory ({@link TcpExchange}).
 */
public record Tensors(DataType dtype, List<String> names, List<long[]> shapes, List<byte[]> data)
    implements Serializable {

  public static Tensors of(Map<String, INDArray> arrays) {
    List<String> names = new ArrayList<>();
    List<long[]> shapes = new ArrayList<>();
    List<byte[]> data = new ArrayList<>();
    DataType dtype = null;
    for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
      INDArray a = e.getValue();
      if (dtype == null) {
        dtype = a.dataType();
      } else if (dtype != a.dataType()) {
        throw new IllegalArgumentException("mixed data types: " + e.getKey() + " " + a.dataType());
      }
      INDArray c = a.isView() || a.ordering() != 'c' ? a.dup('c') : a;
      byte[] bytes = new byte[Math.toIntExact(c.length() * c.dataType().width())];
      ByteBuffer nio = c.data().asNio().order(ByteOrder.nativeOrder());
      nio.position(0).limit(bytes.length);
      nio.get(bytes);
      names.add(e.getKey());
      shapes.add(c.shape());
      data.add(bytes);
    }
    return new Tensors(dtype == null ? DataType.FLOAT : dtype, names, shapes, data);
  }

  public long bytes() {
    long n = 0;
    for (byte[] b : data) {
      n += b.length;
    }
    return n;
  }

  public int size() {
    return names.size();
  }

  /** Array {@code i} as a fresh ND4J array. */
  public INDArray array(int i) {
    INDArray a = Nd4j.create(dtype, shapes.get(i), 'c');
    ByteBuffer nio = a.data().asNio().order(ByteOrder.nativeOrder());
    nio.position(0);
    nio.put(data.get(i));
    return a;
  }

  /**
   * Copies every array into the same-named array of {@code into}; names must match. Whole row-major
   * targets of the same type take the bytes directly (one copy, nothing allocated).
   */
  public void assignTo(Map<String, INDArray> into, String what) {
    if (!into.keySet().equals(new java.util.LinkedHashSet<>(names))) {
      throw new IllegalStateException(what + ": expected " + into.keySet() + ", received " + names);
    }
    for (int i = 0; i < names.size(); i++) {
      INDArray target = into.get(names.get(i));
      ByteBuffer nio = direct(target, i);
      if (nio != null) {
        nio.put(data.get(i));
      } else {
        target.assign(array(i));
      }
    }
  }

  /** {@code target}'s memory when it can take array {@code i}'s bytes as they are, else null. */
  private ByteBuffer direct(INDArray target, int i) {
    return memory(target, dtype, data.get(i).length);
  }

  /** {@code a}'s memory when it is a whole row-major array of {@code type} and {@code bytes}. */
  private static ByteBuffer memory(INDArray a, DataType type, long bytes) {
    if (a.dataType() != type
        || a.isView()
        || a.ordering() != 'c'
        || a.offset() != 0
        || a.length() * type.width() != bytes) {
      return null;
    }
    ByteBuffer nio = a.data().asNio().order(ByteOrder.nativeOrder());
    nio.position(0).limit(Math.toIntExact(bytes));
    return nio;
  }

  /** Bytes of all arrays in {@code arrays}. */
  public static long bytes(Map<String, INDArray> arrays) {
    long n = 0;
    for (INDArray a : arrays.values()) {
      n += a.length() * a.dataType().width();
    }
    return n;
  }

  private static final int CHUNK = 1 << 20;

  /**
   * Streams {@code arrays}: their count, then per array its name, type, shape, byte count and bytes
   * (native order), copied out of ND4J's memory a chunk at a time.
   */
  public static void write(Map<String, INDArray> arrays, DataOutputStream out) throws IOException {
    out.writeInt(arrays.size());
    byte[] chunk = new byte[CHUNK];
    for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
      INDArray a = e.getValue();
      long bytes = a.length() * a.dataType().width();
      ByteBuffer src = memory(a, a.dataType(), bytes);
      if (src == null) {
        INDArray c = a.dup('c');
        src = memory(c, c.dataType(), bytes);
      }
      out.writeUTF(e.getKey());
      out.writeUTF(a.dataType().name());
      long[] shape = a.shape();
      out.writeInt(shape.length);
      for (long d : shape) {
        out.writeLong(d);
      }
      out.writeLong(bytes);
      while (src.hasRemaining()) {
        int n = Math.min(chunk.length, src.remaining());
        src.get(chunk, 0, n);
        out.write(chunk, 0, n);
      }
    }
  }

  /** One streamed array's header. */
  private record Header(String name, DataType dtype, long[] shape, long bytes) {
    static Header read(DataInputStream in) throws IOException {
      String name = in.readUTF();
      DataType dtype = DataType.valueOf(in.readUTF());
      int rank = in.readInt();
      if (rank < 0 || rank > 32) {
        throw new IOException("array " + name + ": rank " + rank);
      }
      long[] shape = new long[rank];
      for (int d = 0; d < rank; d++) {
        shape[d] = in.readLong();
      }
      long bytes = in.readLong();
      if (bytes < 0 || bytes > Integer.MAX_VALUE) {
        throw new IOException("array " + name + ": " + bytes + " bytes");
      }
      return new Header(name, dtype, shape, bytes);
    }
  }

  /**
   * Reads what {@link #write} wrote into the same-named arrays of {@code into} (names, types and
   * sizes must match), straight into their memory.
   */
  public static void readInto(DataInputStream in, Map<String, INDArray> into, String what)
      throws IOException {
    int count = in.readInt();
    if (count != into.size()) {
      throw new IllegalStateException(
          what + ": expected " + into.size() + " arrays, received " + count);
    }
    byte[] chunk = new byte[CHUNK];
    for (int i = 0; i < count; i++) {
      Header h = Header.read(in);
      INDArray target = into.get(h.name());
      if (target == null) {
        throw new IllegalStateException(what + ": unexpected array " + h.name());
      }
      ByteBuffer dst = memory(target, h.dtype(), h.bytes());
      INDArray staging = null;
      if (dst == null) {
        if (target.length() != java.util.Arrays.stream(h.shape()).reduce(1, (x, y) -> x * y)) {
          throw new IllegalStateException(
              what + ": " + h.name() + " has shape " + java.util.Arrays.toString(h.shape()));
        }
        staging = Nd4j.create(h.dtype(), h.shape(), 'c');
        dst = memory(staging, h.dtype(), h.bytes());
      }
      while (dst.hasRemaining()) {
        int n = Math.min(chunk.length, dst.remaining());
        in.readFully(chunk, 0, n);
        dst.put(chunk, 0, n);
      }
      if (staging != null) {
        target.assign(staging.reshape(target.shape()));
      }
    }
  }

  /** Reads what {@link #write} wrote as a new {@code Tensors}. */
  public static Tensors read(DataInputStream in) throws IOException {
    int count = in.readInt();
    if (count < 0 || count > 1 << 20) {
      throw new IOException(count + " arrays");
    }
    List<String> names = new ArrayList<>(count);
    List<long[]> shapes = new ArrayList<>(count);
    List<byte[]> data = new ArrayList<>(count);
    DataType dtype = null;
    for (int i = 0; i < count; i++) {
      Header h = Header.read(in);
      if (dtype != null && dtype != h.dtype()) {
        throw new IOException("mixed data types: " + h.name() + " " + h.dtype());
      }
      dtype = h.dtype();
      byte[] bytes = new byte[(int) h.bytes()];
      in.readFully(bytes);
      names.add(h.name());
      shapes.add(h.shape());
      data.add(bytes);
    }
    return new Tensors(dtype == null ? DataType.FLOAT : dtype, names, shapes, data);
  }

  public LinkedHashMap<String, INDArray> toArrays() {
    LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      out.put(names.get(i), array(i));
    }
    return out;
  }

  /**
   * The weighted sum {@code sum_w weights[w] * parts[w]}, accumulated in worker order (so the same
   * inputs give the same bits), assigned into {@code into}.
   */
  public static void average(List<Tensors> parts, double[] weights, Map<String, INDArray> into) {
    Tensors first = parts.get(0);
    for (int i = 0; i < first.size(); i++) {
      for (int w = 0; w < parts.size(); w++) {
        if (!parts.get(w).names().get(i).equals(first.names().get(i))) {
          throw new IllegalStateException("worker " + w + " returned arrays in another order");
        }
      }
      INDArray acc = into.get(first.names().get(i));
      ByteBuffer target = first.dtype() == DataType.FLOAT ? first.direct(acc, i) : null;
      if (target != null) {
        averageFloats(parts, weights, i, target.asFloatBuffer());
        continue;
      }
      INDArray sum = null;
      for (int w = 0; w < parts.size(); w++) {
        INDArray x = parts.get(w).array(i).muli(weights[w]);
        sum = sum == null ? x : sum.addi(x);
      }
      acc.assign(sum);
    }
  }

  /**
   * fp32 arrays {@code i} of every part, weighted and summed straight into {@code target}: the same
   * float operations, in the same order, as scaling each part and adding them up in ND4J, without a
   * temporary array per part.
   */
  private static void averageFloats(
      List<Tensors> parts, double[] weights, int i, FloatBuffer target) {
    FloatBuffer[] src = new FloatBuffer[parts.size()];
    float[] w = new float[parts.size()];
    for (int p = 0; p < src.length; p++) {
      src[p] =
          ByteBuffer.wrap(parts.get(p).data().get(i))
              .order(ByteOrder.nativeOrder())
              .asFloatBuffer();
      w[p] = (float) weights[p];
    }
    Parallel.forRange(
        target.limit(),
        (from, to) -> {
          for (int j = from; j < to; j++) {
            float sum = src[0].get(j) * w[0];
            for (int p = 1; p < src.length; p++) {
              sum += src[p].get(j) * w[p];
            }
            target.put(j, sum);
          }
        });
  }
}
