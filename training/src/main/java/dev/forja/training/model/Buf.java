package dev.forja.training.model;

import dev.forja.jvm.VectorApi;
import dev.forja.training.runtime.Parallel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An ND4J array's memory seen from Java (a direct buffer) and from BLAS (a pointer): the storage of
 * the CPU kernels, parameters used in place and activations allocated once.
 */
final class Buf {
  /** Held so that the memory stays allocated: ND4J frees it when the array is collected. */
  final INDArray array;

  final ByteBuffer b;
  final FloatBuffer f;
  final FloatPointer p;

  Buf(INDArray a) {
    if (!usable(a)) {
      throw new IllegalArgumentException(
          "the CPU kernels need whole fp32 row-major arrays, got " + a.shapeInfoToString());
    }
    if (a.length() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("array too large for the CPU kernels: " + a.length());
    }
    array = a;
    b = a.data().asNio().order(ByteOrder.nativeOrder());
    f = b.asFloatBuffer();
    p = new FloatPointer(a.data().addressPointer());
  }

  /**
   * Whether {@code a} can be used in place: fp32, row-major, and the whole of its buffer (a
   * reshaped array is a view of its buffer, and usable when it covers all of it from the start).
   */
  static boolean usable(INDArray a) {
    return a.dataType() == DataType.FLOAT
        && a.offset() == 0
        && a.ordering() == 'c'
        && (!a.isView() || a.data().length() == a.length());
  }

  static Buf alloc(long length) {
    return new Buf(Nd4j.createUninitialized(DataType.FLOAT, length));
  }

  /** Sets every element to 0, split over the threads. */
  void zero() {
    Parallel.forRange(
        (int) array.length(),
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            VectorKernels.zero(b, from, to - from);
            return;
          }
          for (int i = from; i < to; i++) {
            f.put(i, 0f);
          }
        });
  }

  /** Writes the bfloat16 array {@code src} as fp32 into the start of {@code dst}. */
  static void upcastBf16(INDArray src, Buf dst) {
    java.nio.ShortBuffer s = src.data().asNio().order(ByteOrder.nativeOrder()).asShortBuffer();
    FloatBuffer d = dst.f;
    Parallel.forRange(
        (int) src.length(),
        (from, to) -> {
          for (int i = from; i < to; i++) {
            d.put(i, Float.intBitsToFloat((s.get(i) & 0xFFFF) << 16));
          }
        });
  }

  FloatPointer at(long offset) {
    return new FloatPointer(p).position(offset);
  }
}
