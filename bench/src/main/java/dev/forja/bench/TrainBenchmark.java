package dev.forja.bench;

import dev.forja.shard.ShardFormat;
import dev.forja.shard.ShardManifest;
import dev.forja.shard.ShardWriter;
import dev.forja.shard.TokenShards;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.PreTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.TrainRun;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.runtime.BlasKernels;
import dev.forja.training.runtime.PeakFlops;
import dev.forja.training.train.StepMetrics;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainListener;
import dev.forja.training.train.TrainState;
import dev.forja.training.train.Trainer;
import dev.forja.training.train.TrainingResult;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * {@code forja bench train}: trains a configuration for a few steps on a fixed token stream through
 * the real trainer and reports tokens/s, achieved GFLOP/s (FLOPs = {@link
 * ModelConfig#flopsPerToken}: 6 x parameters except position embeddings + 12 x layers x length x
 * d-model, per token), the share of this machine's measured sgemm rate, peak RSS, checkpoint write
 * and read times with the training stall, and the time to the first step when resuming early and
 * late in a run.
 *
 * <p>The token stream is a raw little-endian uint16 file ({@code tokens.bin}) that the PyTorch
 * comparison script ({@code submit-scripts/bench-train-vs-pytorch}) reads too.
 */
public final class TrainBenchmark {
  private TrainBenchmark() {}

  /** The figures of one run. */
  public record Result(
      double tokensPerSecond,
      double gflops,
      double peakGflops,
      long peakRssBytes,
      double checkpointWriteSeconds,
      double checkpointReadSeconds,
      double snapshotSeconds,
      long checkpointBytes,
      double firstStepEarlySeconds,
      double firstStepLateSeconds) {}

  /** Writes {@code n} pseudo-random token ids below {@code vocab} as uint16 LE, deterministic. */
  public static void writeTokenStream(Path file, int vocab, long n, long seed) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate((int) (2 * n)).order(ByteOrder.LITTLE_ENDIAN);
    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
    for (long i = 0; i < n; i++) {
      buf.putShort((short) r.nextInt(vocab));
    }
    Files.write(file, buf.array());
  }

  public static Result run(
      ModelConfig mc,
      TrainConfig base,
      int steps,
      int warmup,
      Path work,
      List<URI> checkpointTargets,
      Storage storage,
      PrintWriter out)
      throws IOException {
    int b = base.microBatch();
    int t = mc.contextLength();
    URI shards = shards(storage, mc, (long) (steps + warmup + 4) * b * base.accumulation(), work);
    if (base.lora().enabled()) {
      loraBase(storage, mc, shards, URI.create(base.initFrom()));
    }
    TrainConfig tc = base.withRun(warmup + steps, 0, 1, 0);
    double peak = PeakFlops.sgemm();
    out.printf(
        Locale.ROOT,
        "config: layers %d, d-model %d, heads %d, context %d, vocab %d, batch %d x %d; %,d"
            + " parameters; %.1f MFLOP per token; engine %s; sgemm peak here %.1f GFLOP/s;"
            + " OpenBLAS kernels %s%n",
        mc.layers(),
        mc.dModel(),
        mc.heads(),
        t,
        mc.vocabSize(),
        b,
        base.accumulation(),
        mc.parameters(),
        mc.flopsPerToken(t) / 1e6,
        GptModel.resolve(tc.engineChoice(), mc, DataType.FLOAT).name().toLowerCase(Locale.ROOT),
        peak / 1e9,
        BlasKernels.describe());
    BlasKernels.advice().ifPresent(a -> out.println("note: " + a));
    out.flush();
    List<Double> times = new ArrayList<>();
    TrainListener timer =
        new TrainListener() {
          @Override
          public void onStep(Trainer trainer, StepMetrics m) {
            if (m.step() > warmup) {
              times.add(m.seconds());
            }
          }
        };
    URI run = work.resolve("run-" + System.nanoTime()).toUri();
    PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
    TrainingResult r =
        TrainRun.run(
            storage,
            new TrainRun.Request(shards, run, mc, tc, 0, DataType.FLOAT, List.of(timer)),
            quiet);
    double median = median(times);
    double tps = b * base.accumulation() * t / median;
    double gflops = tps * mc.flopsPerToken(t) / 1e9;
    long rss = peakRss();
    out.printf(
        Locale.ROOT,
        "training: median step %.3f s over %d steps -> %,.0f tokens/s, %.1f GFLOP/s (%.0f%% of"
            + " sgemm peak); peak RSS %.2f GiB; final loss %.3f%n",
        median,
        times.size(),
        tps,
        gflops,
        100 * gflops * 1e9 / peak,
        rss / (double) (1L << 30),
        r.losses().get(r.losses().size() - 1));
    out.flush();
    if (base.lora().enabled()) { // a LoRA run's checkpoints are the adapter's: not what is timed
      out.printf(
          Locale.ROOT,
          "LoRA: r %d, alpha %s on %s (the base frozen); GFLOP/s counts the full model's"
              + " training FLOPs%n",
          base.lora().r(),
          base.lora().alpha(),
          base.lora().targetModules());
      out.flush();
      storage.delete(run, true);
      return new Result(tps, gflops, peak / 1e9, rss, 0, 0, 0, 0, 0, 0);
    }

    // checkpoints: snapshot (the stall), write, read, on each target
    CheckpointStore.Loaded last =
        CheckpointStore.load(
            storage,
            Storage.resolve(
                Storage.resolve(run, "checkpoints"), CheckpointStore.dirName(warmup + steps)));
    GptModel m = GptModel.build(mc, b, t, DataType.FLOAT, 1);
    TrainRun.assign(m.parameters(), last.weights(), "benchmark");
    double snap = 0;
    double write = 0;
    double read = 0;
    long bytes = 0;
    for (URI target : checkpointTargets) {
      long t0 = System.nanoTime();
      CheckpointStore.Snapshot s =
          CheckpointStore.snapshot(
              last.state(), m.parameters(), last.optimizer(), mc, tc, last.tokenizerJson());
      long t1 = System.nanoTime();
      URI dir;
      try (CheckpointStore store =
          new CheckpointStore(
              storage, Storage.resolve(target, "bench-" + System.nanoTime()), quiet)) {
        dir = store.write(s);
      }
      long t2 = System.nanoTime();
      CheckpointStore.load(storage, dir);
      long t3 = System.nanoTime();
      bytes = 0;
      for (Storage.Entry e : storage.listFiles(dir)) {
        bytes += e.size();
      }
      storage.delete(dir, true); // a few of these per run would fill the disk
      snap = (t1 - t0) / 1e9;
      write = (t2 - t1) / 1e9;
      read = (t3 - t2) / 1e9;
      out.printf(
          Locale.ROOT,
          "checkpoint %s: %.1f MiB; snapshot (training stall) %.0f ms, write %.2f s (%.0f MiB/s),"
              + " verified read %.2f s (%.0f MiB/s)%n",
          target.getScheme() == null ? "file" : target.getScheme(),
          bytes / 1048576.0,
          snap * 1000,
          write,
          bytes / 1048576.0 / write,
          read,
          bytes / 1048576.0 / read);
      out.flush();
    }

    // time from start to the first step, resuming at step 10 and at step 10,000
    double early = resumeTime(storage, shards, work, mc, tc, last, 10, quiet);
    double late = resumeTime(storage, shards, work, mc, tc, last, 10_000, quiet);
    storage.delete(run, true);
    out.printf(
        Locale.ROOT,
        "resume: start to first step %.2f s at step 10, %.2f s at step 10,000%n",
        early,
        late);
    out.flush();
    return new Result(tps, gflops, peak / 1e9, rss, write, read, snap, bytes, early, late);
  }

  /**
   * A randomly initialised base for a LoRA benchmark at {@code dir} (kept for later runs), with the
   * shards' tokenizer.
   */
  static void loraBase(Storage storage, ModelConfig mc, URI shards, URI dir) throws IOException {
    if (CommitManifest.read(storage, dir).isPresent()) {
      return;
    }
    String tokenizer;
    try (TokenShards s = TokenShards.open(storage, shards, TokenShards.Verify.SIZES)) {
      tokenizer = TokenizerFiles.toTokenizerJson(TrainRun.shardTokenizer(storage, s));
    }
    GptModel model = GptModel.build(mc, 1, 1, DataType.FLOAT, 1);
    CheckpointStore.writeTo(
        storage,
        dir,
        CheckpointStore.snapshot(
            TrainState.start(1), model.weights(), Map.of(), mc, TrainConfig.defaults(), tokenizer));
  }

  private static double resumeTime(
      Storage storage,
      URI shards,
      Path work,
      ModelConfig mc,
      TrainConfig tc,
      CheckpointStore.Loaded from,
      long step,
      PrintStream quiet)
      throws IOException {
    URI run = work.resolve("resume-" + step + "-" + System.nanoTime()).toUri();
    TrainState s = from.state();
    TrainState at =
        new TrainState(
            step,
            s.tokensSeen(),
            step / 10, // any valid cursor: seeking is O(1) wherever it points
            step % 10,
            s.seed(),
            s.learningRate(),
            s.bestValLoss(),
            s.bestStep(),
            0);
    try (CheckpointStore store = new CheckpointStore(storage, run, quiet)) {
      store.write(
          new CheckpointStore.Snapshot(
              at, from.weights(), from.optimizer(), mc, tc, from.tokenizerJson()));
    }
    TrainConfig longer = tc.withRun(step + 10, 0, 1, 0);
    long t0 = System.nanoTime();
    long[] first = new long[1];
    TrainListener mark =
        new TrainListener() {
          @Override
          public void onStep(Trainer trainer, StepMetrics m) {
            if (first[0] == 0) {
              first[0] = System.nanoTime();
              trainer.requestStop("benchmark");
            }
          }
        };
    try {
      TrainRun.run(
          storage,
          new TrainRun.Request(shards, run, mc, longer, 1, DataType.FLOAT, List.of(mark)),
          quiet);
    } finally {
      storage.delete(run, true);
    }
    return (first[0] - t0) / 1e9;
  }

  /**
   * Shards of at least {@code sequences} random sequences for {@code mc} under {@code work} (the
   * token stream in {@code work/tokens.bin}, the shards in {@code work/shards}), reused when there.
   */
  static URI shards(Storage storage, ModelConfig mc, long sequences, Path work) throws IOException {
    long need = sequences * (mc.contextLength() + 1);
    Path tokens = work.resolve("tokens.bin");
    if (!Files.exists(tokens) || Files.size(tokens) < 2 * need) {
      writeTokenStream(tokens, mc.vocabSize(), need, 42);
      storage.delete(work.resolve("shards").toUri(), true);
    }
    return writeShards(storage, tokens, work.resolve("shards").toUri(), mc.vocabSize());
  }

  private static URI writeShards(Storage storage, Path tokens, URI dir, int vocab)
      throws IOException {
    if (ShardManifest.read(storage, dir).isPresent()) {
      return dir;
    }
    byte[] raw = Files.readAllBytes(tokens);
    ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    int[] ids = new int[raw.length / 2];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = buf.getShort() & 0xFFFF;
    }
    // a byte-level tokenizer padded with placeholder specials to the benchmark's vocabulary
    List<byte[]> toks = new ArrayList<>();
    for (int i = 0; i < 256; i++) {
      toks.add(new byte[] {(byte) i});
    }
    Map<String, Integer> specials = new LinkedHashMap<>();
    for (int i = 256; i < vocab; i++) {
      String s = "<|bench-" + i + "|>";
      specials.put(s, i);
      toks.add(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    BpeTokenizer t = new BpeTokenizer(PreTokenizer.Pattern.GPT2, toks, List.of(), specials, false);
    int val = Math.max(mcLength(ids.length), ids.length / 50);
    Map<String, ShardManifest.Split> splits = new LinkedHashMap<>();
    splits.put(
        ShardFormat.TRAIN,
        split(storage, dir, ShardFormat.TRAIN, Arrays.copyOf(ids, ids.length - val), vocab));
    splits.put(
        ShardFormat.VALIDATION,
        split(
            storage,
            dir,
            ShardFormat.VALIDATION,
            Arrays.copyOfRange(ids, ids.length - val, ids.length),
            vocab));
    TokenizerFiles.save(storage, dir, t);
    ShardManifest.of(t.hash(), vocab, 0, 0.02, splits, Map.of("source", "forja bench train"))
        .commit(storage, dir);
    return dir;
  }

  private static int mcLength(int n) {
    return Math.min(n / 4, 65_536);
  }

  private static ShardManifest.Split split(
      Storage storage, URI dir, String name, int[] ids, int vocab) throws IOException {
    String file = ShardFormat.fileName(name, 0);
    ShardWriter w = new ShardWriter(storage.create(Storage.resolve(dir, file), true), vocab, 0);
    w.writeDocument(ids, ids.length);
    w.close();
    return ShardManifest.Split.of(
        List.of(new ShardManifest.Shard(file, w.tokens(), 1, w.bytes(), w.sha256())));
  }

  static double median(List<Double> xs) {
    double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return a.length == 0 ? Double.NaN : a[a.length / 2];
  }

  /** The process's peak resident set (VmHWM), or 0 where /proc is absent. */
  static long peakRss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return 0;
  }
}
