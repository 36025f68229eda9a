package dev.forja.training.distributed;

import java.io.PrintStream;
import java.util.Locale;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Checks that the cluster can run every worker of a round at once. Without it a round with more
 * workers than task slots would run them one after another (slow, and on a cluster that never grows
 * it is indistinguishable from a hang); with it the run waits a bounded time for executors, then
 * fails saying what is missing.
 */
final class Slots {
  private Slots() {}

  static void require(JavaSparkContext jsc, int workers, int waitSeconds, PrintStream out) {
    SparkContext sc = jsc.sc();
    long deadline = System.nanoTime() + waitSeconds * 1_000_000_000L;
    long nextNote = System.nanoTime() + 10_000_000_000L;
    int slots = slots(sc);
    while (slots < workers) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            String.format(
                Locale.ROOT,
                "distributed.workers=%d needs %d concurrent task slots, but after %d s the cluster"
                    + " offers %d (%d executor(s), spark.task.cpus=%s): start more executors"
                    + " (--num-executors / spark.executor.instances, or more cores per executor),"
                    + " lower --workers, or raise distributed.executor-wait-seconds if executors"
                    + " are still starting",
                workers,
                workers,
                waitSeconds,
                slots,
                executors(sc),
                sc.getConf().get("spark.task.cpus", "1")));
      }
      if (System.nanoTime() > nextNote) {
        out.printf(
            Locale.ROOT,
            "waiting for task slots: %d of the %d workers can run (%d executor(s))%n",
            slots,
            workers,
            executors(sc));
        nextNote = System.nanoTime() + 10_000_000_000L;
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for executors", e);
      }
      slots = slots(sc);
    }
  }

  /** Tasks of the default profile that can run at once (what barrier mode checks too). */
  static int slots(SparkContext sc) {
    return sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
  }

  static int executors(SparkContext sc) {
    int n = sc.getExecutorMemoryStatus().size();
    return sc.isLocal() ? n : Math.max(0, n - 1); // the driver's block manager is listed too
  }
}
