package dev.forja.training.distributed;

import dev.forja.training.model.GptModel;
import dev.forja.training.train.Optimizer;
import dev.forja.training.train.RoundStats;
import dev.forja.training.train.StepMetrics;
import dev.forja.training.train.StepStrategy;
import dev.forja.training.train.TrainState;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Distributed training as a {@link StepStrategy}: each advance is one round. The driver offers the
 * parameters (and the optimizer moments when {@code distributed.average-optimizer-state}) through
 * an {@link Exchange}; N ordinary Spark tasks each fetch them, train K local steps on their own
 * slice of the shards ({@link WorkerRound}) and deliver theirs; the driver averages what they
 * return, weighted by tokens, into its model and optimizer, which the listeners (evaluation,
 * checkpoints) then see as after any other step. No barrier mode: a failed task is retried by Spark
 * and, its inputs being deterministic, returns the same bits.
 */
public final class ParameterAveraging implements StepStrategy {
  private final JavaSparkContext jsc;
  private final WorkerSpec spec;
  private final GptModel model;
  private final Optimizer optimizer;
  private final FaultInjection fault;
  private final PrintStream out;
  private Exchange exchange;
  private long round;

  public ParameterAveraging(
      JavaSparkContext jsc, WorkerSpec spec, GptModel model, Optimizer optimizer, PrintStream out) {
    this.jsc = jsc;
    this.spec = spec;
    this.model = model;
    this.optimizer = optimizer;
    this.fault = FaultInjection.fromSystemProperty();
    this.out = out;
  }

  /**
   * What a distributed run needs from Spark unless the user set it: BLAS/OpenMP threads per task
   * (in every executor's environment, read when its JVM starts), no cap on the size of the workers'
   * results, which are whole parameter sets, and those results sent directly.
   */
  public static void sparkDefaults(SparkConf conf, DistributedConfig dc) {
    int threads =
        dc.threadsPerTask() > 0
            ? dc.threadsPerTask()
            : Integer.parseInt(conf.get("spark.task.cpus", "1"));
    conf.setIfMissing("spark.executorEnv.OMP_NUM_THREADS", Integer.toString(threads));
    conf.setIfMissing("spark.executorEnv.OMP_WAIT_POLICY", "PASSIVE");
    conf.setIfMissing("spark.driver.maxResultSize", "0");
    // the broadcast is fp32 weights and moments: LZ4 gains nothing on them and costs driver time
    // every round
    conf.setIfMissing("spark.broadcast.compress", "false");
    // results (whole parameter sets) ride in the task's status message instead of being stored
    // in the executor's block manager and fetched by the driver afterwards (a round trip less);
    // larger results than this still take the block-manager path
    conf.setIfMissing("spark.rpc.message.maxSize", "1024");
    conf.setIfMissing("spark.task.maxDirectResultSize", "1g");
  }

  @Override
  public Advance advance(TrainState state, long maxSteps) {
    DistributedConfig dc = spec.distributed();
    int k = (int) Math.min(dc.averagingPeriod(), maxSteps);
    round = state.step() / dc.averagingPeriod() + 1;
    Slots.require(jsc, dc.workers(), dc.executorWaitSeconds(), out);

    long t0 = System.nanoTime();
    boolean averaged = dc.averageOptimizerState();
    if (exchange == null) {
      exchange =
          dc.transport() == DistributedConfig.Transport.TCP
              ? TcpExchange.forDriver(jsc.getConf(), dc.transportPort())
              : new SparkExchange(jsc);
    }
    Exchange.Handle weights =
        exchange.publish(round, model.parameters(), averaged ? optimizer.state() : null);
    long t1 = System.nanoTime();

    RoundInput in = new RoundInput(spec, round, state, k, weights, fault);
    jsc.setJobDescription(
        "forja train: round "
            + round
            + " (steps "
            + (state.step() + 1)
            + "-"
            + (state.step() + k)
            + ")");
    List<WorkerResult> results =
        jsc.parallelize(IntStream.range(0, dc.workers()).boxed().toList(), dc.workers())
            .map(w -> WorkerRound.run(in, w))
            .collect();
    long t2 = System.nanoTime();
    List<Exchange.Returned> returnedArrays = exchange.collect(weights, results);

    long tokens = 0;
    long returned = 0;
    for (WorkerResult r : results) {
      tokens += r.stats().tokens();
      returned += r.bytes();
    }
    double[] share = new double[results.size()];
    List<Tensors> params = new ArrayList<>();
    List<Tensors> moments = new ArrayList<>();
    double loss = 0;
    double norm = 0;
    double compute = 0;
    List<RoundStats.Worker> workers = new ArrayList<>();
    for (int w = 0; w < results.size(); w++) {
      WorkerResult r = results.get(w);
      if (r.stats().worker() != w) {
        throw new IllegalStateException("results out of worker order: " + r.stats().worker());
      }
      TrainState e0 = results.get(0).end();
      if (r.end().step() != e0.step()
          || r.end().epoch() != e0.epoch()
          || r.end().index() != e0.index()) {
        throw new IllegalStateException(
            "worker " + w + " ended at " + r.end() + ", worker 0 at " + results.get(0).end());
      }
      share[w] = tokens > 0 ? (double) r.stats().tokens() / tokens : 1.0 / results.size();
      params.add(returnedArrays.get(w).parameters());
      if (averaged) {
        moments.add(returnedArrays.get(w).moments());
      }
      loss += share[w] * r.stats().loss();
      norm += r.gradNorm() / results.size();
      compute = Math.max(compute, r.stats().seconds());
      workers.add(r.stats());
    }
    Tensors.average(params, share, model.parameters());
    if (averaged) {
      Tensors.average(moments, share, optimizer.state());
    }
    long t3 = System.nanoTime();

    TrainState end = results.get(0).end();
    TrainState next =
        new TrainState(
            end.step(),
            state.tokensSeen() + tokens,
            end.epoch(),
            end.index(),
            state.seed(),
            end.learningRate(),
            state.bestValLoss(),
            state.bestStep(),
            state.evalsWithoutImprovement());
    RoundStats stats =
        new RoundStats(
            round,
            List.copyOf(workers),
            (t1 - t0) / 1e9,
            compute,
            (t2 - t1) / 1e9,
            (t3 - t2) / 1e9,
            weights.bytesOut(),
            returned);
    return new Advance(
        next,
        new StepMetrics(
            next.step(), k, loss, end.learningRate(), norm, tokens, (t3 - t0) / 1e9, stats));
  }

  @Override
  public void close() {
    if (exchange != null) {
      exchange.close();
      exchange = null;
    }
  }
}
