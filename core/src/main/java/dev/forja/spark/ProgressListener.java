package dev.forja.spark;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Prints a job's progress on the driver: finished tasks of each stage, elapsed time and an ETA from
 * the rate so far. At most one line every {@code intervalMs}, plus one when a stage ends.
 */
public final class ProgressListener extends SparkListener {
  private final String label;
  private final PrintStream out;
  private final long intervalMs;
  private final Map<Integer, long[]> stages = new ConcurrentHashMap<>(); // total, start ms
  private final Map<Integer, AtomicInteger> done = new ConcurrentHashMap<>();
  private volatile long lastPrint;

  public ProgressListener(String label, PrintStream out, long intervalMs) {
    this.label = label;
    this.out = out;
    this.intervalMs = intervalMs;
  }

  @Override
  public void onStageSubmitted(SparkListenerStageSubmitted e) {
    stages.put(
        e.stageInfo().stageId(), new long[] {e.stageInfo().numTasks(), System.currentTimeMillis()});
    done.put(e.stageInfo().stageId(), new AtomicInteger());
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    AtomicInteger d = done.get(e.stageId());
    if (d == null || !e.taskInfo().successful()) {
      return;
    }
    int n = d.incrementAndGet();
    long now = System.currentTimeMillis();
    if (now - lastPrint >= intervalMs) {
      lastPrint = now;
      print(e.stageId(), n, now);
    }
  }

  @Override
  public void onStageCompleted(SparkListenerStageCompleted e) {
    AtomicInteger d = done.get(e.stageInfo().stageId());
    if (d != null) {
      print(e.stageInfo().stageId(), d.get(), System.currentTimeMillis());
    }
  }

  private void print(int stageId, int finished, long now) {
    long[] s = stages.get(stageId);
    if (s == null) {
      return;
    }
    long total = s[0];
    double elapsed = (now - s[1]) / 1000.0;
    String eta =
        finished == 0 || finished >= total
            ? "-"
            : String.format(Locale.ROOT, "%.0fs", elapsed / finished * (total - finished));
    out.printf(
        Locale.ROOT,
        "[%s] stage %d: %d/%d tasks, %.1fs elapsed, ETA %s%n",
        label,
        stageId,
        finished,
        total,
        elapsed,
        eta);
  }
}
