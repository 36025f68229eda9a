package dev.forja.bench;

import dev.forja.storage.Storage;
import dev.forja.training.TrainRun;
import dev.forja.training.distributed.DistributedConfig;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.RoundStats;
import dev.forja.training.train.StepMetrics;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainListener;
import dev.forja.training.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * {@code forja bench distributed}: what parameter averaging costs. For each averaging period K it
 * trains {@code rounds + 1} rounds with N workers on random tokens (the first round, which builds
 * the executors' graphs, is not counted) and reports the mean round: the slowest worker's compute,
 * the driver's publishing of the weights, the rest of the Spark stage (the workers' transfers of
 * weights, scheduling) and of it the slowest worker's transfers, the driver's averaging, the
 * overhead's share of the round, tokens/s of all workers together, and the bytes moved. With {@code
 * train.lora.enabled} (the command's {@code --lora}) the workers train an adapter on a randomly
 * initialised base, which they load once, and only the adapter (and its moments) travel.
 */
public final class DistributedBenchmark {
  private DistributedBenchmark() {}

  /** The mean measured round at one averaging period. */
  public record Row(
      int workers,
      int period,
      int rounds,
      double roundSeconds,
      double computeSeconds,
      double broadcastSeconds,
      double stageOverheadSeconds,
      double transferSeconds,
      double aggregateSeconds,
      double overheadShare,
      double tokensPerSecond,
      long bytesBroadcast,
      long bytesReturned) {}

  public static List<Row> run(
      JavaSparkContext jsc,
      Storage storage,
      ModelConfig mc,
      TrainConfig base,
      DistributedConfig dc,
      List<Integer> periods,
      int rounds,
      Path work,
      PrintWriter out)
      throws IOException {
    int maxK = periods.stream().mapToInt(Integer::intValue).max().orElse(1);
    long sequences = (long) (rounds + 2) * maxK * base.sequencesPerStep() * dc.workers();
    URI shards = TrainBenchmark.shards(storage, mc, sequences, work);
    if (base.lora().enabled()) {
      TrainBenchmark.loraBase(storage, mc, shards, URI.create(base.initFrom()));
    }
    out.printf(
        Locale.ROOT,
        "config: layers %d, d-model %d, context %d, vocab %d, %,d parameters%s; %d workers x %d"
            + " sequences per step; moments %s%n",
        mc.layers(),
        mc.dModel(),
        mc.contextLength(),
        mc.vocabSize(),
        mc.parameters(),
        base.lora().enabled()
            ? " (LoRA r " + base.lora().r() + " on " + base.lora().targetModules() + ")"
            : "",
        dc.workers(),
        base.sequencesPerStep(),
        dc.averageOptimizerState() ? "averaged" : "kept on the workers");
    out.println(
        "K | round s | compute s | publish s | stage-compute s | of which transfers s |"
            + " aggregate s | overhead | tokens/s | MiB out | MiB back");
    out.flush();
    List<Row> rows = new ArrayList<>();
    PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
    for (int k : periods) {
      List<StepMetrics> measured = new ArrayList<>();
      TrainListener collect =
          new TrainListener() {
            @Override
            public void onStep(Trainer trainer, StepMetrics m) {
              if (m.round() != null && m.round().round() > 1) {
                measured.add(m);
              }
            }
          };
      TrainConfig tc = base.withRun((long) k * (rounds + 1), 0, 1, 0);
      URI run = work.resolve("dist-run-" + System.nanoTime()).toUri();
      TrainRun.run(
          storage,
          new TrainRun.Request(
              shards, run, mc, tc, 0, DataType.FLOAT, List.of(collect), dc.withAveragingPeriod(k)),
          quiet,
          () -> jsc);
      storage.delete(run, true);
      Row row = summarise(dc.workers(), k, measured);
      rows.add(row);
      out.printf(
          Locale.ROOT,
          "%d | %.2f | %.2f | %.3f | %.3f | %.3f | %.3f | %.1f%% | %,.0f | %.1f | %.1f%n",
          k,
          row.roundSeconds(),
          row.computeSeconds(),
          row.broadcastSeconds(),
          row.stageOverheadSeconds(),
          row.transferSeconds(),
          row.aggregateSeconds(),
          100 * row.overheadShare(),
          row.tokensPerSecond(),
          row.bytesBroadcast() / 1048576.0,
          row.bytesReturned() / 1048576.0);
      out.flush();
    }
    return rows;
  }

  static Row summarise(int workers, int k, List<StepMetrics> rounds) {
    double total = 0;
    double compute = 0;
    double broadcast = 0;
    double stageExtra = 0;
    double transfer = 0;
    double aggregate = 0;
    long tokens = 0;
    long out = 0;
    long back = 0;
    for (StepMetrics m : rounds) {
      RoundStats r = m.round();
      total += r.totalSeconds();
      compute += r.computeSeconds();
      broadcast += r.broadcastSeconds();
      stageExtra += Math.max(0, r.stageSeconds() - r.computeSeconds());
      transfer += r.transferSeconds();
      aggregate += r.aggregateSeconds();
      tokens += m.tokens();
      out = r.bytesBroadcast();
      back = r.bytesReturned();
    }
    int n = Math.max(1, rounds.size());
    return new Row(
        workers,
        k,
        rounds.size(),
        total / n,
        compute / n,
        broadcast / n,
        stageExtra / n,
        transfer / n,
        aggregate / n,
        total > 0 ? (total - compute) / total : 0,
        total > 0 ? tokens / total : 0,
        out,
        back);
  }
}
