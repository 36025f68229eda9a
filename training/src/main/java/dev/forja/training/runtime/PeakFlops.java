package dev.forja.training.runtime;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** This machine's FP32 matmul rate, measured once: what MFU is relative to. */
public final class PeakFlops {
  private static volatile double measured;

  private PeakFlops() {}

  /**
   * FLOP/s of a 2048-square sgemm through ND4J's BLAS, best of 5 runs (~0.5 s): smaller products
   * are too short to time steadily.
   */
  public static double sgemm() {
    if (measured > 0) {
      return measured;
    }
    int n = 2048;
    INDArray a = Nd4j.rand(DataType.FLOAT, n, n);
    INDArray b = Nd4j.rand(DataType.FLOAT, n, n);
    INDArray c = Nd4j.create(DataType.FLOAT, n, n);
    double best = Double.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      long t0 = System.nanoTime();
      Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
      best = Math.min(best, (System.nanoTime() - t0) / 1e9);
    }
    measured = 2.0 * n * n * n / best;
    return measured;
  }
}
