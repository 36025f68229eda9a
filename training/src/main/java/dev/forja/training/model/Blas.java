package dev.forja.training.model;

import dev.forja.training.runtime.Parallel;
import org.bytedeco.openblas.global.openblas;

/** OpenBLAS's single-precision products on {@link Buf}s, as the CPU kernels call them. */
final class Blas {
  static final int ROW_MAJOR = openblas.CblasRowMajor;
  static final int NO = openblas.CblasNoTrans;
  static final int TR = openblas.CblasTrans;

  private Blas() {}

  /** Passes running in this JVM (several tasks of one executor) and BLAS's thread count before. */
  private static int passes;

  private static int blasBefore;

  /**
   * OpenBLAS on one thread while any pass runs: the kernels split every product over {@link
   * Parallel#THREADS} threads themselves ({@link #pgemm}), so that BLAS's own workers, which spin
   * for a while after each call, do not compete with the element-wise loops and the per-head
   * attention for the same cores. The setting is process-wide, hence counted: the last pass to end
   * restores it.
   */
  static synchronized void singleThreadedBlas() {
    if (passes++ == 0) {
      blasBefore = openblas.blas_get_num_threads();
      openblas.blas_set_num_threads(1);
    }
  }

  static synchronized void restoreBlas() {
    if (--passes == 0) {
      openblas.blas_set_num_threads(blasBefore);
    }
  }

  /** {@link #gemm}'s signature: it, or its split over the threads ({@link #pgemm}). */
  @FunctionalInterface
  interface Gemm {
    void run(
        int ta,
        int tb,
        int m,
        int nn,
        int k,
        float alpha,
        Buf a,
        long ao,
        int lda,
        Buf b,
        long bo,
        int ldb,
        float beta,
        Buf c,
        long co,
        int ldc);
  }

  /**
   * {@link #gemm} split over {@link Parallel#THREADS} threads along the longer side of {@code c}:
   * each thread computes whole rows (or columns) of it with single-threaded BLAS.
   */
  static void pgemm(
      int ta,
      int tb,
      int m,
      int nn,
      int k,
      float alpha,
      Buf a,
      long ao,
      int lda,
      Buf b,
      long bo,
      int ldb,
      float beta,
      Buf c,
      long co,
      int ldc) {
    if (m >= nn) {
      Parallel.forRange(
          m,
          (from, to) ->
              gemm(
                  ta,
                  tb,
                  to - from,
                  nn,
                  k,
                  alpha,
                  a,
                  ao + (ta == NO ? (long) from * lda : from),
                  lda,
                  b,
                  bo,
                  ldb,
                  beta,
                  c,
                  co + (long) from * ldc,
                  ldc));
    } else {
      Parallel.forRange(
          nn,
          (from, to) ->
              gemm(
                  ta,
                  tb,
                  m,
                  to - from,
                  k,
                  alpha,
                  a,
                  ao,
                  lda,
                  b,
                  bo + (tb == NO ? from : (long) from * ldb),
                  ldb,
                  beta,
                  c,
                  co + from,
                  ldc));
    }
  }

  /** Row-major {@code c = alpha op(a) op(b) + beta c}, each operand at an offset in its buffer. */
  static void gemm(
      int ta,
      int tb,
      int m,
      int nn,
      int k,
      float alpha,
      Buf a,
      long ao,
      int lda,
      Buf b,
      long bo,
      int ldb,
      float beta,
      Buf c,
      long co,
      int ldc) {
    openblas.cblas_sgemm(
        ROW_MAJOR, ta, tb, m, nn, k, alpha, a.at(ao), lda, b.at(bo), ldb, beta, c.at(co), ldc);
  }
}
