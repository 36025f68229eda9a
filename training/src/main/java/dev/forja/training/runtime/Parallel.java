package dev.forja.training.runtime;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Data-parallel loops for the CPU kernels and the optimizer: {@link #THREADS} threads (OpenMP's
 * {@code OMP_NUM_THREADS}, else the cores) in a pool of their own, each taking one contiguous
 * block, so that every element is computed by the same code whatever the thread count and results
 * do not depend on scheduling.
 */
public final class Parallel {
  public static final int THREADS = threads();

  private static final ForkJoinPool POOL = THREADS > 1 ? new ForkJoinPool(THREADS) : null;

  private Parallel() {}

  /** The body of a loop over {@code [from, to)}. */
  public interface Range {
    void run(int from, int to);
  }

  /** Runs {@code body} over {@code [0, count)} in contiguous blocks, one per thread. */
  public static void forRange(int count, Range body) {
    int chunks = Math.min(THREADS, count);
    if (chunks <= 1) {
      body.run(0, count);
      return;
    }
    ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[chunks - 1];
    for (int c = 1; c < chunks; c++) {
      int from = (int) ((long) count * c / chunks);
      int to = (int) ((long) count * (c + 1) / chunks);
      tasks[c - 1] = POOL.submit(() -> body.run(from, to));
    }
    body.run(0, (int) ((long) count / chunks));
    for (ForkJoinTask<?> t : tasks) {
      t.join();
    }
  }

  private static int threads() {
    String omp = System.getenv("OMP_NUM_THREADS");
    if (omp != null) {
      try {
        int t = Integer.parseInt(omp.trim());
        if (t > 0) {
          return t;
        }
      } catch (NumberFormatException ignored) {
        // not a number: fall back to the cores, as OpenMP does
      }
    }
    return Runtime.getRuntime().availableProcessors();
  }
}
