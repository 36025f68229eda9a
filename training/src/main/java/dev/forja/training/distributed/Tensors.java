package dev.forja.training.distributed;

import dev.forja.training.runtime.Parallel;
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
 * Named arrays as raw little-endian bytes, what travels between the driver and the workers: the
 * bytes of each array are one {@code byte[]}, which Spark's serializers copy in bulk.
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
    if (target.dataType() != dtype
        || target.isView()
        || target.ordering() != 'c'
        || target.offset() != 0
        || target.length() * dtype.width() != data.get(i).length) {
      return null;
    }
    ByteBuffer nio = target.data().asNio().order(ByteOrder.nativeOrder());
    nio.position(0).limit(data.get(i).length);
    return nio;
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
