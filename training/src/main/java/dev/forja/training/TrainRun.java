package dev.forja.training;

import dev.forja.shard.SequenceSampler;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.ShardManifest;
import dev.forja.shard.TokenShards;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.checkpoint.CheckpointListener;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.distributed.DistributedConfig;
import dev.forja.training.distributed.ParameterAveraging;
import dev.forja.training.distributed.WorkerSpec;
import dev.forja.training.hf.LoraCheckpoints;
import dev.forja.training.hf.PeftAdapter;
import dev.forja.training.model.Architecture;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.model.ParameterSpec;
import dev.forja.training.runtime.BlasKernels;
import dev.forja.training.runtime.PeakFlops;
import dev.forja.training.train.Batches;
import dev.forja.training.train.DivergenceCheck;
import dev.forja.training.train.EvalListener;
import dev.forja.training.train.Evaluator;
import dev.forja.training.train.LocalSteps;
import dev.forja.training.train.MemoryPlan;
import dev.forja.training.train.MetricsLog;
import dev.forja.training.train.Optimizer;
import dev.forja.training.train.ProgressLogger;
import dev.forja.training.train.StepStrategy;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainState;
import dev.forja.training.train.Trainer;
import dev.forja.training.train.TrainingResult;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import org.apache.spark.api.java.JavaSparkContext;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code forja train}: trains on token shards into a run directory, resuming from the run's newest
 * good checkpoint when it has one (the architecture then comes from the checkpoint, not from the
 * config). Returns what happened; throws {@link IllegalArgumentException} with the key to change
 * for a configuration that cannot work.
 */
public final class TrainRun {
  /**
   * One run.
   *
   * @param data the token shards directory
   * @param runDir where checkpoints and metrics go
   * @param model the architecture for a fresh run (vocabulary 0: the tokenizer's)
   * @param train how to optimise
   * @param stopAfter end this invocation after this many steps (0: run to train.steps)
   * @param dtype FLOAT for training; DOUBLE for exactness tests
   * @param listeners more listeners (monitoring hooks), called after Forja's own
   * @param distributed in this JVM, or across Spark workers with parameter averaging
   */
  public record Request(
      URI data,
      URI runDir,
      ModelConfig model,
      TrainConfig train,
      long stopAfter,
      DataType dtype,
      List<dev.forja.training.train.TrainListener> listeners,
      DistributedConfig distributed) {

    /** A run in this JVM. */
    public Request(
        URI data,
        URI runDir,
        ModelConfig model,
        TrainConfig train,
        long stopAfter,
        DataType dtype,
        List<dev.forja.training.train.TrainListener> listeners) {
      this(data, runDir, model, train, stopAfter, dtype, listeners, DistributedConfig.LOCAL);
    }
  }

  private TrainRun() {}

  /** A run in this JVM ({@code distributed.workers} must be 0). */
  public static TrainingResult run(Storage storage, Request req, PrintStream out)
      throws IOException {
    return run(storage, req, out, null);
  }

  /**
   * A run; with {@code distributed.workers > 0} its rounds run as Spark jobs in the context {@code
   * spark} supplies (asked for only then).
   */
  public static TrainingResult run(
      Storage storage, Request req, PrintStream out, Supplier<JavaSparkContext> spark)
      throws IOException {
    storage.requireUsable(req.runDir());
    BlasKernels.advice().ifPresent(a -> out.println("note: " + a));
    TrainConfig tc = req.train();
    if (!tc.lora().initAdapter().isEmpty() && !tc.lora().enabled()) {
      throw new IllegalArgumentException(
          "train.lora.init-adapter continues a LoRA adapter: set train.lora.enabled (forja"
              + " finetune --lora), or drop the key");
    }
    try (TokenShards shards = TokenShards.open(storage, req.data(), TokenShards.Verify.SIZES);
        CheckpointStore store = new CheckpointStore(storage, req.runDir(), out)) {
      BpeTokenizer tokenizer = shardTokenizer(storage, shards);
      Optional<CheckpointStore.Loaded> resume = store.loadLatest();
      // the run's own newest checkpoint, else the one train.init-from names: its architecture, its
      // tokenizer (which must be the shards'), and the model files it carries
      CheckpointStore.Loaded from =
          resume.isPresent() || tc.initFrom().isEmpty()
              ? resume.orElse(null)
              : CheckpointStore.loadAny(storage, URI.create(tc.initFrom()), "train.init-from");
      ModelConfig mc =
          from != null
              ? from.model()
              : req.model().vocabSize() == 0
                  ? req.model().withVocabSize(tokenizer.vocabSize())
                  : req.model();
      TrainState state;
      Map<String, String> carried = Map.of();
      String tokenizerText = null; // the checkpoint's own tokenizer.json, kept as written
      if (from != null) {
        BpeTokenizer ckTok =
            TokenizerFiles.fromTokenizerJson(from.tokenizerJson(), from.dir() + "");
        shards.requireTokenizer(
            ckTok.hash(),
            (resume.isPresent()
                    ? "the checkpoint's tokenizer at "
                    : "the tokenizer of train.init-from ")
                + from.dir());
        carried = from.carried();
        tokenizerText = from.tokenizerJson();
      }
      if (resume.isPresent()) {
        state = from.state();
        out.println("resuming from " + from.dir() + " (step " + state.step() + ")");
        if (req.model().vocabSize() != 0 && !sameShape(req.model(), mc)) {
          out.println(
              "note: model.* settings differ from the checkpoint's; the checkpoint's architecture"
                  + " is used");
        }
      } else if (from != null) {
        state = TrainState.start(tc.seed());
        out.println(
            "initialising from "
                + from.dir()
                + " (step "
                + from.state().step()
                + "; its architecture, not model.*)");
      } else {
        state = TrainState.start(tc.seed());
      }
      if (mc.vocabSize() < tokenizer.vocabSize()) {
        throw new IllegalArgumentException(
            "model.vocab-size "
                + mc.vocabSize()
                + " is smaller than the tokenizer's "
                + tokenizer.vocabSize()
                + ": set model.vocab-size to 0 (the tokenizer's) or at least "
                + tokenizer.vocabSize());
      }
      int rows = shards.manifest().rows(); // examples in rows (forja sft-data), else a stream
      if (rows > 0 && mc.objective() != ModelConfig.Objective.CAUSAL) {
        throw new IllegalArgumentException(
            "The shards at "
                + shards.dir()
                + " hold fine-tuning examples, which train a causal model; this one is "
                + mc.objective().name().toLowerCase(Locale.ROOT));
      }
      int length = sequenceLength(tc, mc, rows);
      if (length > mc.contextLength()) {
        throw new IllegalArgumentException(
            "train.sequence-length "
                + length
                + " exceeds model.context-length "
                + mc.contextLength()
                + ": lower train.sequence-length or set it to 0");
      }
      int maskId = -1;
      if (mc.objective() == ModelConfig.Objective.MASKED) {
        if (!tokenizer.specials().containsKey(tc.maskToken())) {
          throw new IllegalArgumentException(
              "model.objective=masked needs the mask token "
                  + tc.maskToken()
                  + " (train.mask-token) in the tokenizer's special tokens "
                  + tokenizer.specials().keySet()
                  + ": add it to tokenizer.special-tokens and retrain the tokenizer");
        }
        maskId = tokenizer.specialId(tc.maskToken());
      }
      Architecture arch = architecture(mc, tc);
      GptModel.Engine engine = GptModel.resolve(tc.engineChoice(), mc, req.dtype());
      MemoryPlan plan = planOf(arch, engine, tc, length, req.dtype());
      plan.requireFits(nativeLimit(), tc.microBatch(), tc.accumulation());

      long seed = state.seed();
      DistributedConfig dc = req.distributed();
      // worker 0 of N (1 in this JVM): fails here, before any graph is built, when the data cannot
      // give every worker sequences of its own
      SequenceSampler trainSampler =
          new SequenceSampler(
              shards.split(ShardFormat.TRAIN), length, seed, 0, Math.max(1, dc.workers()));
      GptModel model = GptModel.build(arch, tc.microBatch(), length, req.dtype(), seed, rows > 0);
      Optimizer adam = Optimizer.create(tc, model.parameters(), arch);
      if (tc.lora().enabled()) {
        carried = loraBase(storage, tc, resume.isPresent(), from, model, carried, out);
      }
      if (from != null && (!tc.lora().enabled() || resume.isPresent())) {
        assign(model.parameters(), from.weights(), from.dir() + "");
      } else if (!tc.lora().initAdapter().isEmpty()) {
        initAdapter(storage, tc, carried, model, out);
      }
      if (resume.isPresent()) {
        adam.load(from.optimizer());
      }
      Evaluator evaluator = evaluator(shards, tokenizer, model, tc, mc, length, maskId, out);
      MetricsLog metrics = new MetricsLog(storage, req.runDir(), state.step());
      DivergenceCheck divergence = new DivergenceCheck();
      List<dev.forja.training.train.TrainListener> listeners =
          new java.util.ArrayList<>(List.of(divergence));
      if (evaluator != null) {
        listeners.add(new EvalListener(evaluator));
      }
      if (!tc.evalSuite().isEmpty()) {
        if (evaluator == null) {
          out.println(
              "train.eval-suite: this run has no validation split, so no evaluation points:"
                  + " the suite does not run");
        } else {
          listeners.add(
              new dev.forja.training.eval.SuiteListener(
                  storage,
                  Storage.locate(tc.evalSuite()),
                  model,
                  tc,
                  tokenizer,
                  Map.copyOf(carried),
                  metrics,
                  new java.io.PrintWriter(out, true)));
        }
      }
      listeners.add(new ProgressLogger(out, mc.flopsPerToken(length), PeakFlops.sgemm()));
      listeners.add(metrics);
      // the same tokenizer (its hash was checked above), in the file the checkpoint came with
      String tokJson =
          tokenizerText != null ? tokenizerText : TokenizerFiles.toTokenizerJson(tokenizer);
      listeners.add(new CheckpointListener(store, metrics, tokJson, carried, out));
      listeners.addAll(req.listeners());
      StepStrategy strategy;
      if (dc.enabled()) {
        if (spark == null) {
          throw new IllegalArgumentException(
              "distributed.workers=" + dc.workers() + " needs Spark: run it with forja train");
        }
        WorkerSpec spec =
            new WorkerSpec(
                shards.dir(),
                storage.config(),
                mc,
                tc,
                length,
                maskId,
                req.dtype(),
                dc,
                req.runDir() + "#" + UUID.randomUUID(),
                tc.lora().enabled() ? LoraCheckpoints.Base.of(carried) : null);
        JavaSparkContext jsc = spark.get();
        requireExecutorOverhead(jsc.getConf(), plan, out);
        strategy = new ParameterAveraging(jsc, spec, model, adam, out);
        out.printf(
            Locale.ROOT,
            "distributed: %d workers x %d sequences, averaging every %d steps (%s%s)%n",
            dc.workers(),
            tc.sequencesPerStep(),
            dc.averagingPeriod(),
            tc.lora().enabled() ? "the adapter" : "parameters",
            (dc.averageOptimizerState() ? " and optimizer moments" : "")
                + (tc.lora().enabled() ? "; each executor loads the frozen base once" : ""));
      } else {
        Batches train =
            new Batches(
                trainSampler,
                tc.microBatch(),
                mc.objective(),
                tc.maskProbability(),
                maskId,
                mc.vocabSize(),
                seed);
        strategy = new LocalSteps(model, tc, train, adam);
      }
      Trainer trainer = new Trainer(model, tc, adam, strategy, state, listeners);
      // the graph leaves a step's native arrays to the collector: collect after every step; the
      // kernels allocate nothing per step: collect only if memory nears the cap anyway
      long cap = nativeLimit();
      trainer.setNativeBudget(
          engine == GptModel.Engine.SAMEDIFF ? 0 : cap > 0 ? cap / 4 * 3 : Long.MAX_VALUE);
      TrainingResult result;
      try {
        result = trainer.run(req.stopAfter());
      } finally {
        strategy.close(); // a distributed run's weight exchange stops listening
      }
      if (divergence.message() != null) {
        throw new TrainingDivergedException(divergence.message(), result);
      }
      return result;
    }
  }

  /**
   * A LoRA run's frozen base: read from {@code train.init-from} (on resuming, the one the
   * checkpoint names), its weights assigned to the model, its hash checked against the one the
   * checkpoint recorded; returns the files the run's checkpoints carry, the base's record with
   * them.
   */
  private static Map<String, String> loraBase(
      Storage storage,
      TrainConfig tc,
      boolean resuming,
      CheckpointStore.Loaded from,
      GptModel model,
      Map<String, String> carried,
      PrintStream out)
      throws IOException {
    LoraCheckpoints.Base record = resuming ? LoraCheckpoints.Base.of(from.carried()) : null;
    if (resuming && record == null) {
      throw new IllegalArgumentException(
          from.dir()
              + " is a full-training checkpoint, not a LoRA one: resume it without"
              + " train.lora.enabled, or start the LoRA run in a new directory");
    }
    CheckpointStore.Loaded base;
    if (resuming) { // the base the checkpoint names, refused if its weights changed
      base =
          LoraCheckpoints.loadBase(
              storage, record.uri(), record.sha256(), "the run of " + from.dir());
    } else {
      base = from;
      record =
          new LoraCheckpoints.Base(
              tc.initFrom(), PeftAdapter.baseHash(base.model(), base.weights()));
    }
    String baseUri = record.uri();
    long frozen = 0;
    long trainable = 0;
    for (ParameterSpec p : model.architecture().parameters()) {
      if (p.trainable()) {
        trainable += p.count();
      } else {
        frozen += p.count();
      }
    }
    LoraCheckpoints.assignBase(model.weights(), base.weights(), baseUri);
    out.printf(
        Locale.ROOT,
        "LoRA: r %d, alpha %s%s on %s; %,d trainable parameters (%.2f%% of %,d), base %s frozen%n",
        tc.lora().r(),
        tc.lora().alpha(),
        tc.lora().rslora() ? " (rsLoRA)" : "",
        tc.lora().targetModules(),
        trainable,
        100.0 * trainable / (trainable + frozen),
        trainable + frozen,
        baseUri);
    Map<String, String> out2 = new LinkedHashMap<>(carried);
    out2.put(CheckpointStore.LORA_BASE, record.json());
    return out2;
  }

  /**
   * A fresh LoRA run's adapter (and modules-to-save) from {@code train.lora.init-adapter}: a LoRA
   * run or checkpoint whose base has the same weights as this run's and whose adapters have the
   * same shapes.
   */
  private static void initAdapter(
      Storage storage, TrainConfig tc, Map<String, String> carried, GptModel model, PrintStream out)
      throws IOException {
    String key = "train.lora.init-adapter";
    CheckpointStore.Loaded adapter =
        CheckpointStore.loadAny(storage, Storage.locate(tc.lora().initAdapter()), key);
    LoraCheckpoints.Base theirs = LoraCheckpoints.Base.of(adapter.carried());
    LoraCheckpoints.Base mine = LoraCheckpoints.Base.of(carried);
    if (theirs == null) {
      throw new IllegalArgumentException(
          key
              + ": "
              + adapter.dir()
              + " is a full checkpoint, not a LoRA one: give a LoRA run (forja finetune --lora),"
              + " or start from it with train.init-from");
    }
    if (!theirs.sha256().equals(mine.sha256())) {
      throw new IllegalArgumentException(
          key
              + ": the adapter at "
              + adapter.dir()
              + " was trained on another base ("
              + theirs.uri()
              + ", weights sha256 "
              + theirs.sha256().substring(0, 12)
              + "), not on this run's "
              + mine.uri()
              + " ("
              + mine.sha256().substring(0, 12)
              + "): give an adapter of this base, or drop the key to start a fresh one");
    }
    try {
      assign(model.parameters(), adapter.weights(), adapter.dir() + "");
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          key
              + ": the adapter at "
              + adapter.dir()
              + " does not fit this run's train.lora settings (r, target-modules,"
              + " modules-to-save must be its own): "
              + e.getMessage(),
          e);
    }
    out.println(
        "LoRA: the adapter starts from "
            + adapter.dir()
            + " (step "
            + adapter.state().step()
            + ")");
  }

  /**
   * The memory plan of a run before it starts, from small files only (the shards' manifest, the
   * model configuration of the run's own newest checkpoint or of {@code train.init-from}): what
   * {@code forja train --memory-plan} prints for {@code forja-submit}.
   */
  public static MemoryPlan plan(Storage storage, Request req) throws IOException {
    TrainConfig tc = req.train();
    ShardManifest m =
        ShardManifest.read(storage, req.data())
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "--data " + req.data() + " holds no committed shards (no manifest.json)"));
    Optional<ModelConfig> own = CheckpointStore.modelConfigOf(storage, req.runDir());
    Optional<ModelConfig> from =
        own.isPresent() || tc.initFrom().isEmpty()
            ? own
            : CheckpointStore.modelConfigOf(storage, Storage.locate(tc.initFrom()));
    ModelConfig mc =
        from.orElse(
            req.model().vocabSize() == 0 ? req.model().withVocabSize(m.vocabSize()) : req.model());
    return planOf(
        architecture(mc, tc),
        GptModel.resolve(tc.engineChoice(), mc, req.dtype()),
        tc,
        sequenceLength(tc, mc, m.rows()),
        req.dtype());
  }

  /** The sequences' length: {@code train.sequence-length}, else a row's, else the context. */
  private static int sequenceLength(TrainConfig tc, ModelConfig mc, int rows) {
    return tc.sequenceLength() == 0 ? rows > 0 ? rows : mc.contextLength() : tc.sequenceLength();
  }

  /** The model's parameters: the configuration's, with the run's LoRA adapters. */
  private static Architecture architecture(ModelConfig mc, TrainConfig tc) {
    Architecture arch = Architecture.of(mc);
    return tc.lora().enabled() ? arch.withLora(tc.lora().settings()) : arch;
  }

  private static MemoryPlan planOf(
      Architecture arch, GptModel.Engine engine, TrainConfig tc, int length, DataType dtype) {
    return MemoryPlan.estimate(
        arch,
        tc.microBatch(),
        length,
        dtype.width(),
        engine == GptModel.Engine.KERNELS,
        tc.recomputeActivations());
  }

  /** Native memory a training worker needs outside the Java heap: its plan and ND4J's baseline. */
  public static long workerNativeMib(MemoryPlan plan) {
    return ((plan.totalBytes() + (1 << 20) - 1) >> 20) + NATIVE_BASELINE_MIB;
  }

  /** What ND4J's libraries and buffers take outside the heap before any model array. */
  static final long NATIVE_BASELINE_MIB = 512;

  /**
   * On YARN and Kubernetes a container that uses more memory than it asked for is killed: the
   * executors' memory overhead (outside the heap) must hold each worker's native memory, the memory
   * plan plus ND4J's baseline. Refuses a run whose overhead cannot, naming the value to give.
   */
  static void requireExecutorOverhead(
      org.apache.spark.SparkConf conf, MemoryPlan plan, PrintStream out) {
    String master = conf.get("spark.master", "");
    if (!master.startsWith("yarn") && !master.startsWith("k8s")) {
      return; // standalone and local executors are not held to a container size
    }
    long heapMib = conf.getSizeAsMb("spark.executor.memory", "1g");
    long overheadMib =
        conf.contains("spark.executor.memoryOverhead")
            ? conf.getSizeAsMb("spark.executor.memoryOverhead")
            : Math.max(
                384, (long) (conf.getDouble("spark.executor.memoryOverheadFactor", 0.1) * heapMib));
    long needMib = workerNativeMib(plan);
    long planMib = needMib - NATIVE_BASELINE_MIB;
    if (overheadMib < needMib) {
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "spark.executor.memoryOverhead is %d MiB, but each training worker needs about %d"
                  + " MiB outside the Java heap (the memory plan's %d MiB of parameters, optimizer"
                  + " state and activations, and about %d MiB for ND4J's libraries), and %s kills a"
                  + " container that exceeds its memory: submit with --conf"
                  + " spark.executor.memoryOverhead=%dm (or lower train.micro-batch-size)",
              overheadMib,
              needMib,
              planMib,
              NATIVE_BASELINE_MIB,
              master.startsWith("yarn") ? "YARN" : "Kubernetes",
              needMib));
    }
    out.printf(
        Locale.ROOT,
        "executor memory: %d MiB heap + %d MiB overhead; each worker needs about %d MiB outside"
            + " the heap%n",
        heapMib,
        overheadMib,
        needMib);
  }

  /** The run diverged; the message says what to change. */
  public static final class TrainingDivergedException extends RuntimeException {
    private final transient TrainingResult result;

    public TrainingDivergedException(String message, TrainingResult result) {
      super(message);
      this.result = result;
    }

    public TrainingResult result() {
      return result;
    }
  }

  private static Evaluator evaluator(
      TokenShards shards,
      BpeTokenizer tokenizer,
      GptModel model,
      TrainConfig tc,
      ModelConfig mc,
      int length,
      int maskId,
      PrintStream out) {
    var split = shards.manifest().splits().get(ShardFormat.VALIDATION);
    int needed = shards.manifest().rows() > 0 ? length : length + 1;
    if (split == null || split.tokens() < needed) {
      out.println(
          "WARNING: the validation split has "
              + (split == null ? 0 : split.tokens())
              + " tokens, fewer than one sequence of "
              + needed
              + ": no evaluation (raise tokenize.validation-fraction)");
      return null;
    }
    SequenceSampler s = new SequenceSampler(shards.split(ShardFormat.VALIDATION), length, 0, 0, 1);
    Batches b =
        new Batches(
            s, tc.microBatch(), mc.objective(), tc.maskProbability(), maskId, mc.vocabSize(), 0);
    int[] bytes = new int[mc.vocabSize()];
    for (int id = 0; id < tokenizer.vocabSize(); id++) {
      bytes[id] = tokenizer.isSpecial(id) ? 0 : tokenizer.tokenBytes(id).length;
    }
    return new Evaluator(
        model.pass(tc.engineChoice(), tc.recomputeActivations()), b, tc.evalBatches(), bytes);
  }

  /** The tokenizer the shards were made with: the copy beside them, else the lineage's. */
  public static BpeTokenizer shardTokenizer(Storage storage, TokenShards shards)
      throws IOException {
    URI beside = Storage.resolve(shards.dir(), TokenizerFiles.TOKENIZER_JSON);
    BpeTokenizer t;
    if (storage.exists(beside)) {
      t = TokenizerFiles.load(storage, beside);
    } else {
      String lineage = shards.manifest().lineage().get("tokenizer");
      if (lineage == null) {
        throw new IllegalArgumentException(
            "the shards at " + shards.dir() + " name no tokenizer: re-run forja tokenize");
      }
      t = TokenizerFiles.load(storage, URI.create(lineage));
    }
    shards.requireTokenizer(t.hash(), "the tokenizer found for them");
    return t;
  }

  /** Copies checkpoint weights into the model's arrays, refusing a name or shape mismatch. */
  public static void assign(
      LinkedHashMap<String, INDArray> into, LinkedHashMap<String, INDArray> from, String where) {
    for (var e : into.entrySet()) {
      INDArray src = from.get(e.getKey());
      if (src == null) {
        throw new IllegalArgumentException(where + " lacks parameter " + e.getKey());
      }
      if (!Arrays.equals(src.shape(), e.getValue().shape())) {
        throw new IllegalArgumentException(
            where
                + ": parameter "
                + e.getKey()
                + " has shape "
                + Arrays.toString(src.shape())
                + ", the model needs "
                + Arrays.toString(e.getValue().shape()));
      }
      e.getValue().assign(src.castTo(e.getValue().dataType()));
    }
  }

  private static boolean sameShape(ModelConfig a, ModelConfig b) {
    return a.withVocabSize(b.vocabSize()).equals(b);
  }

  /** Native bytes ND4J may still use: javacpp's caps, less the Java heap. */
  static long nativeLimit() {
    long max = Pointer.maxBytes();
    long phys = Pointer.maxPhysicalBytes();
    if (phys > 0) {
      long native_ = phys - Runtime.getRuntime().maxMemory();
      max = max > 0 ? Math.min(max, native_) : native_;
    }
    return max;
  }
}
