package dev.forja.training.distributed;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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

  /** Copies every array into the same-named array of {@code into}; names must match. */
  public void assignTo(Map<String, INDArray> into, String what) {
    if (!into.keySet().equals(new java.util.LinkedHashSet<>(names))) {
      throw new IllegalStateException(what + ": expected " + into.keySet() + ", received " + names);
    }
    for (int i = 0; i < names.size(); i++) {
      into.get(names.get(i)).assign(array(i));
    }
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
      INDArray acc = into.get(first.names().get(i));
      INDArray sum = null;
      for (int w = 0; w < parts.size(); w++) {
        Tensors t = parts.get(w);
        if (!t.names().get(i).equals(first.names().get(i))) {
          throw new IllegalStateException("worker " + w + " returned arrays in another order");
        }
        INDArray x = t.array(i).muli(weights[w]);
        sum = sum == null ? x : sum.addi(x);
      }
      acc.assign(sum);
    }
  }
}
