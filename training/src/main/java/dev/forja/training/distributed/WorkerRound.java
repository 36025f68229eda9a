package dev.forja.training.distributed;

import dev.forja.shard.SequenceSampler;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.TokenShards;
import dev.forja.storage.Storage;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.hf.LoraCheckpoints;
import dev.forja.training.model.Architecture;
import dev.forja.training.model.GptModel;
import dev.forja.training.runtime.BlasKernels;
import dev.forja.training.train.Batches;
import dev.forja.training.train.LocalSteps;
import dev.forja.training.train.Optimizer;
import dev.forja.training.train.RoundStats;
import dev.forja.training.train.StepStrategy;
import dev.forja.training.train.TrainState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A worker's part of a round, run inside a Spark task: take the broadcast parameters (and moments),
 * train {@code K} local steps with the single-JVM {@link LocalSteps} on this worker's slice of the
 * shards (worker {@code w} of {@code N}, from the round's cursor), return the result. The built
 * graph, its optimizer and the open shards are cached per executor JVM across rounds (a pool, so
 * that two task slots in one JVM never share a graph).
 */
public final class WorkerRound {
  /** One cached graph with its optimizer and the shards it reads. */
  private record Slot(GptModel model, Optimizer optimizer, TokenShards shards) {}

  /** A worker's own moments when they are not averaged, tagged with the round they end. */
  private record OwnMoments(long round, Tensors moments) {}

  private static final Map<String, ConcurrentLinkedDeque<Slot>> POOL = new ConcurrentHashMap<>();
  private static final AtomicBoolean BLAS_ADVISED = new AtomicBoolean();
  private static final Map<String, OwnMoments> OWN_MOMENTS = new ConcurrentHashMap<>();
  private static final java.util.concurrent.atomic.AtomicLong BASE_LOADS =
      new java.util.concurrent.atomic.AtomicLong();

  private WorkerRound() {}

  /** Runs worker {@code worker}'s round (in a task, or directly in tests). */
  public static WorkerResult run(RoundInput in, int worker) {
    TaskContext task = TaskContext.get();
    String device = DeviceBinding.bind(task);
    String executor = SparkEnv.get() == null ? "driver" : SparkEnv.get().executorId();
    int attempt = task == null ? 0 : task.attemptNumber();
    WorkerSpec spec = in.spec();
    long setupStart = System.nanoTime();
    Slot slot = borrow(spec);
    double setup = (System.nanoTime() - setupStart) / 1e9;
    try {
      Map<String, INDArray> params = slot.model().parameters();
      boolean averaged = spec.distributed().averageOptimizerState();
      long fetchStart = System.nanoTime();
      in.weights().fetch(worker, params, averaged ? slot.optimizer().state() : null);
      long fetchNanos = System.nanoTime() - fetchStart;
      String ownKey = spec.runId() + "|" + worker;
      if (!averaged) {
        OwnMoments own = OWN_MOMENTS.get(ownKey);
        if (own != null && own.round() == in.round() - 1) {
          own.moments().assignTo(slot.optimizer().state(), "worker " + worker + " moments");
        } else {
          slot.optimizer().state().values().forEach(a -> a.assign(0));
        }
      }
      int workers = spec.distributed().workers();
      SequenceSampler sampler =
          new SequenceSampler(
              slot.shards().split(ShardFormat.TRAIN),
              spec.length(),
              in.start().seed(),
              worker,
              workers);
      Batches batches =
          new Batches(
              sampler,
              spec.train().microBatch(),
              spec.model().objective(),
              spec.train().maskProbability(),
              spec.maskId(),
              spec.model().vocabSize(),
              in.start().seed() + worker);
      LocalSteps steps = new LocalSteps(slot.model(), spec.train(), batches, slot.optimizer());
      TrainState state = in.start();
      double lossSum = 0;
      double seconds = 0;
      double norm = 0;
      long tokens = 0;
      for (int i = 0; i < in.steps(); i++) {
        StepStrategy.Advance a = steps.advance(state, 1);
        state = a.state();
        lossSum += a.metrics().loss();
        seconds += a.metrics().seconds();
        tokens += a.metrics().tokens();
        norm = a.metrics().gradNorm();
        // as the single-JVM trainer does: ND4J frees native arrays only when collected
        if (steps.allocatesPerStep()) {
          System.gc();
        }
        if (i == 0 && in.fault() != null) {
          in.fault().maybeKill(in.round(), worker);
        }
      }
      if (!averaged) {
        OWN_MOMENTS.put(ownKey, new OwnMoments(in.round(), Tensors.of(slot.optimizer().state())));
      }
      long deliverStart = System.nanoTime();
      Exchange.Delivered delivered =
          in.weights().deliver(worker, attempt, params, averaged ? slot.optimizer().state() : null);
      double transfer = (fetchNanos + System.nanoTime() - deliverStart) / 1e9;
      RoundStats.Worker stats =
          new RoundStats.Worker(
              worker,
              lossSum / in.steps(),
              tokens,
              seconds,
              executor,
              device,
              attempt,
              transfer,
              setup);
      return new WorkerResult(stats, state, norm, delivered);
    } finally {
      release(spec, slot);
    }
  }

  /** How many times this JVM has read a LoRA base (once per cached graph, not per round). */
  public static long baseLoads() {
    return BASE_LOADS.get();
  }

  private static Slot borrow(WorkerSpec spec) {
    String key = spec.cacheKey();
    POOL.keySet().removeIf(k -> !k.equals(key)); // another run's graphs: let GC free them
    OWN_MOMENTS.keySet().removeIf(k -> !k.startsWith(spec.runId() + "|"));
    Slot s = POOL.computeIfAbsent(key, k -> new ConcurrentLinkedDeque<>()).pollFirst();
    if (s != null) {
      return s;
    }
    if (!BLAS_ADVISED.getAndSet(true)) { // once per executor JVM, in its stderr log
      BlasKernels.advice().ifPresent(a -> System.err.println("forja: " + a));
    }
    try {
      TokenShards shards =
          TokenShards.open(new Storage(spec.storage()), spec.data(), TokenShards.Verify.SIZES);
      Architecture arch = Architecture.of(spec.model());
      LoraCheckpoints.Base base = spec.loraBase();
      if (base != null) {
        arch = arch.withLora(spec.train().lora().settings());
      }
      GptModel model =
          GptModel.build(
              arch,
              spec.train().microBatch(),
              spec.length(),
              spec.dtype(),
              spec.train().seed(),
              shards.manifest().rows() > 0);
      if (base != null) { // the frozen base, read once per graph and kept across rounds
        long t0 = System.nanoTime();
        CheckpointStore.Loaded loaded =
            LoraCheckpoints.loadBase(
                new Storage(spec.storage()), base.uri(), base.sha256(), "the run");
        LoraCheckpoints.assignBase(model.weights(), loaded.weights(), base.uri());
        BASE_LOADS.incrementAndGet();
        System.err.printf(
            java.util.Locale.ROOT,
            "forja: loaded the LoRA base %s (%,d tensors) in %.1f s%n",
            base.uri(),
            loaded.weights().size(),
            (System.nanoTime() - t0) / 1e9);
      }
      return new Slot(model, Optimizer.create(spec.train(), model.parameters(), arch), shards);
    } catch (IOException e) {
      throw new UncheckedIOException("worker cannot open the shards at " + spec.data(), e);
    }
  }

  private static void release(WorkerSpec spec, Slot slot) {
    POOL.computeIfAbsent(spec.cacheKey(), k -> new ConcurrentLinkedDeque<>()).addFirst(slot);
  }
}
