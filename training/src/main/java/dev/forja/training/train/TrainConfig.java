package dev.forja.training.train;

import dev.forja.config.ConfigReader;
import dev.forja.training.model.LoraSettings;
import java.io.Serializable;
import java.util.List;

/**
 * How {@code forja train} optimises: {@code train.*}. Every default is documented where it is read
 * and pinned by a test.
 *
 * @param steps optimizer steps in the run ({@code train.steps})
 * @param microBatch sequences per forward/backward pass ({@code train.micro-batch-size})
 * @param accumulation micro-batches per optimizer step ({@code train.accumulation-steps}); the loss
 *     is normalised by the tokens of the whole step, so the gradient equals one big batch's
 * @param sequenceLength tokens per sequence; 0 uses the model's context length
 * @param lr peak learning rate, reached after {@code warmupSteps}
 * @param minLr the floor the cosine decays to at {@code steps}
 * @param warmupSteps linear warmup from 0
 * @param weightDecay decoupled (AdamW) weight decay
 * @param noDecay parameter-name fragments exempt from weight decay (biases, norms, embeddings)
 * @param beta1 Adam's first-moment decay
 * @param beta2 Adam's second-moment decay
 * @param epsilon Adam's denominator epsilon
 * @param gradClip clip the global gradient norm to this (0 disables)
 * @param evalEvery evaluate on the validation split every N steps (0: only at the end)
 * @param evalBatches micro-batches per evaluation
 * @param earlyStopPatience stop after this many evaluations without improvement (0: never)
 * @param checkpointEvery write a checkpoint every N steps (0: only at the end)
 * @param keepCheckpoints committed checkpoints kept, newest first (the best is kept as well)
 * @param logEvery print progress every N steps
 * @param seed seeds the weights, the data order and the masking
 * @param maskProbability masked-LM: share of tokens chosen for prediction
 * @param maskToken masked-LM: the special token that replaces 80% of the chosen tokens
 * @param optimizer {@code adamw} (default) or {@code sgd} ({@link Optimizer})
 * @param engine what computes loss and gradients ({@code train.engine}): {@code auto} (default: the
 *     hand-written CPU kernels on ND4J's CPU backend in fp32, SameDiff otherwise), {@code kernels}
 *     or {@code samediff} ({@link dev.forja.training.model.GptModel.Engine})
 * @param initFrom a checkpoint or run directory whose weights and architecture a fresh run starts
 *     from ({@code forja model import} writes such checkpoints); empty: random initialisation
 * @param recomputeActivations keep only each layer's input for the backward pass and compute the
 *     rest again there (activation checkpointing): about a third more work for a fraction of the
 *     activation memory; the Llama family's CPU kernels do it
 * @param lora LoRA fine-tuning ({@code train.lora.*}); null in files written before the keys
 * @param evalSuite an evaluation suite ({@code forja eval}'s YAML) run at every evaluation point;
 *     empty: none
 */
public record TrainConfig(
    long steps,
    int microBatch,
    int accumulation,
    int sequenceLength,
    double lr,
    double minLr,
    long warmupSteps,
    double weightDecay,
    List<String> noDecay,
    double beta1,
    double beta2,
    double epsilon,
    double gradClip,
    long evalEvery,
    int evalBatches,
    int earlyStopPatience,
    long checkpointEvery,
    int keepCheckpoints,
    long logEvery,
    long seed,
    double maskProbability,
    String maskToken,
    String optimizer,
    String engine,
    String initFrom,
    boolean recomputeActivations,
    Lora lora,
    String evalSuite)
    implements Serializable {
  public static final String ADAMW = "adamw";
  public static final String SGD = "sgd";

  public TrainConfig {
    noDecay = List.copyOf(noDecay);
    initFrom = initFrom == null ? "" : initFrom; // train-config.json files written before the key
    lora = lora == null ? Lora.OFF : lora;
    evalSuite = evalSuite == null ? "" : evalSuite;
    if (minLr > lr) {
      throw new IllegalArgumentException(
          "train.min-lr (" + minLr + ") must not exceed train.lr (" + lr + ")");
    }
  }

  /** Every {@code train.*} key at its default. */
  public static TrainConfig defaults() {
    return read(new ConfigReader(dev.forja.config.ConfigSource.empty()));
  }

  public static TrainConfig read(ConfigReader r) {
    long steps = r.longIn("train.steps", 1000, 1, Long.MAX_VALUE / 2, "Optimizer steps.");
    int micro =
        r.intIn("train.micro-batch-size", 8, 1, 1 << 16, "Sequences per forward/backward pass.");
    int acc =
        r.intIn(
            "train.accumulation-steps",
            1,
            1,
            1 << 16,
            "Micro-batches per optimizer step (loss normalised by the step's tokens).");
    int len =
        r.intIn(
            "train.sequence-length",
            0,
            0,
            1 << 16,
            "Tokens per sequence; 0: model.context-length.");
    double lr = r.doubleIn("train.lr", 3e-4, 0, 10, "Peak learning rate (after warmup).");
    double minLr =
        r.doubleIn(
            "train.min-lr", 3e-5, 0, 10, "Floor of the cosine decay, reached at train.steps.");
    long warmup =
        r.longIn("train.warmup-steps", 100, 0, Long.MAX_VALUE / 2, "Linear warmup steps from 0.");
    double wd = r.doubleIn("train.weight-decay", 0.1, 0, 10, "Decoupled (AdamW) weight decay.");
    List<String> noDecay =
        r.list(
            "train.no-decay",
            List.of(".bias", "ln_", "wte", "wpe", "norm", "embed_tokens"),
            "Parameter-name fragments exempt from weight decay, on top of the model's own"
                + " declarations (which already exempt biases, norms and embeddings).");
    double b1 = r.doubleIn("train.beta1", 0.9, 0, 0.999999, "Adam beta1.");
    double b2 = r.doubleIn("train.beta2", 0.95, 0, 0.999999, "Adam beta2.");
    double eps = r.doubleIn("train.epsilon", 1e-8, 1e-30, 1, "Adam epsilon.");
    double clip =
        r.doubleIn("train.grad-clip", 1.0, 0, 1e9, "Clip the global gradient norm (0: off).");
    long evalEvery =
        r.longIn(
            "train.eval-every",
            200,
            0,
            Long.MAX_VALUE / 2,
            "Evaluate on the validation split every N steps (0: only at the end).");
    int evalBatches =
        r.intIn("train.eval-batches", 20, 1, 1 << 20, "Micro-batches per evaluation.");
    int patience =
        r.intIn(
            "train.early-stop-patience",
            0,
            0,
            1 << 20,
            "Stop after N evaluations without improvement (0: never).");
    long ckEvery =
        r.longIn(
            "train.checkpoint-every",
            200,
            0,
            Long.MAX_VALUE / 2,
            "Write a checkpoint every N steps (0: only at the end).");
    int keep =
        r.intIn(
            "train.keep-checkpoints",
            3,
            1,
            1 << 16,
            "Committed checkpoints kept, newest first; the best is kept as well.");
    long logEvery =
        r.longIn("train.log-every", 10, 1, Long.MAX_VALUE / 2, "Progress every N steps.");
    long seed =
        r.longIn(
            "train.seed", 1234, Long.MIN_VALUE, Long.MAX_VALUE, "Seeds weights, data and masking.");
    double maskP =
        r.doubleIn(
            "train.mask-probability",
            0.15,
            0.001,
            1,
            "Masked-LM: share of tokens to predict (80% masked, 10% random, 10% kept).");
    String maskToken =
        r.string("train.mask-token", "<|mask|>", "Masked-LM: the tokenizer's mask special token.");
    String optimizer =
        r.choice(
            "train.optimizer",
            ADAMW,
            List.of(ADAMW, SGD),
            "adamw (decoupled weight decay) or sgd (plain, no momentum: baselines and tests).");
    String engine =
        r.choice(
            "train.engine",
            "auto",
            dev.forja.training.model.GptModel.Engine.NAMES,
            "auto (hand-written CPU kernels on ND4J's CPU backend in fp32, SameDiff otherwise),"
                + " kernels or samediff (the reference graph).");
    String initFrom =
        r.string(
            "train.init-from",
            "",
            "Start a fresh run from this checkpoint or run directory's weights and architecture"
                + " (forja model import writes one); empty: random weights.");
    boolean recompute =
        r.bool(
            "train.recompute-activations",
            false,
            "Keep only each layer's input for the backward pass and recompute the rest there"
                + " (activation checkpointing): about a third more compute for far less memory"
                + " (Llama-family CPU kernels).");
    Lora lora = Lora.read(r);
    String evalSuite =
        r.string(
            "train.eval-suite",
            "",
            "An evaluation suite (forja eval's YAML) run on the model at every evaluation point;"
                + " its metrics go to metrics.jsonl and eval-suite.png. Empty: none.");
    r.require(
        minLr <= lr, "train.min-lr", "must not exceed train.lr (" + lr + "); lower train.min-lr");
    r.require(
        !lora.enabled() || !initFrom.isEmpty(),
        "train.lora.enabled",
        "needs the base model to adapt: set train.init-from (forja model import writes one)");
    return new TrainConfig(
        steps,
        micro,
        acc,
        len,
        lr,
        Math.min(minLr, lr),
        warmup,
        wd,
        noDecay,
        b1,
        b2,
        eps,
        clip,
        evalEvery,
        evalBatches,
        patience,
        ckEvery,
        keep,
        logEvery,
        seed,
        maskP,
        maskToken,
        optimizer,
        engine,
        initFrom,
        recompute,
        lora,
        evalSuite);
  }

  /** The learning rate of step {@code step} (0-based): linear warmup, then cosine to the floor. */
  public double learningRate(long step) {
    if (step < warmupSteps) {
      return lr * (step + 1) / warmupSteps;
    }
    if (step >= steps) {
      return minLr;
    }
    double progress = (double) (step - warmupSteps) / Math.max(1, steps - warmupSteps);
    return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (lr - minLr);
  }

  /** Whether the named parameter is decayed. */
  public boolean decays(String parameter) {
    for (String f : noDecay) {
      if (parameter.contains(f)) {
        return false;
      }
    }
    return true;
  }

  /**
   * This optimisation over another run length, evaluating every {@code evalEvery} steps on {@code
   * evalBatches} micro-batches and checkpointing every {@code checkpointEvery} (0: at the end).
   */
  public TrainConfig withRun(long steps, long evalEvery, int evalBatches, long checkpointEvery) {
    return new TrainConfig(
        steps,
        microBatch,
        accumulation,
        sequenceLength,
        lr,
        minLr,
        warmupSteps,
        weightDecay,
        noDecay,
        beta1,
        beta2,
        epsilon,
        gradClip,
        evalEvery,
        evalBatches,
        earlyStopPatience,
        checkpointEvery,
        keepCheckpoints,
        logEvery,
        seed,
        maskProbability,
        maskToken,
        optimizer,
        engine,
        initFrom,
        recomputeActivations,
        lora,
        evalSuite);
  }

  /** This optimisation computed by another engine ({@code train.engine}). */
  public TrainConfig withEngine(String engine) {
    return new TrainConfig(
        steps,
        microBatch,
        accumulation,
        sequenceLength,
        lr,
        minLr,
        warmupSteps,
        weightDecay,
        noDecay,
        beta1,
        beta2,
        epsilon,
        gradClip,
        evalEvery,
        evalBatches,
        earlyStopPatience,
        checkpointEvery,
        keepCheckpoints,
        logEvery,
        seed,
        maskProbability,
        maskToken,
        optimizer,
        engine,
        initFrom,
        recomputeActivations,
        lora,
        evalSuite);
  }

  /** The engine as a value. */
  public dev.forja.training.model.GptModel.Engine engineChoice() {
    return dev.forja.training.model.GptModel.Engine.of(engine);
  }

  /**
   * LoRA fine-tuning ({@code train.lora.*}): adapters on the base's linear layers train, the base
   * ({@code train.init-from}) stays frozen. The fields are PEFT's {@code LoraConfig}'s ({@link
   * LoraSettings}).
   */
  public record Lora(
      boolean enabled,
      int r,
      double alpha,
      double dropout,
      List<String> targetModules,
      boolean rslora,
      List<String> modulesToSave,
      String baseDtype,
      String initAdapter)
      implements Serializable {
    public static final String FP32 = "fp32";
    public static final String BF16 = "bf16";
    public static final Lora OFF =
        new Lora(false, 8, 16, 0, List.of(LoraSettings.ALL_LINEAR), false, List.of(), FP32, "");

    public Lora {
      targetModules = List.copyOf(targetModules);
      modulesToSave = List.copyOf(modulesToSave);
      baseDtype = baseDtype == null ? FP32 : baseDtype; // train-config.json written before the key
      initAdapter = initAdapter == null ? "" : initAdapter;
    }

    static Lora read(ConfigReader r) {
      boolean enabled =
          r.bool(
              "train.lora.enabled",
              false,
              "Fine-tune with LoRA: the base (train.init-from) frozen, only low-rank adapters on its"
                  + " linear layers (and train.lora.modules-to-save) trained; checkpoints hold the"
                  + " adapter.");
      int rank = r.intIn("train.lora.r", 8, 1, 4096, "LoRA rank r.");
      double alpha =
          r.doubleIn(
              "train.lora.alpha",
              16,
              1e-6,
              1e6,
              "LoRA alpha: updates are scaled by alpha / r (alpha / sqrt(r) with rslora).");
      double dropout =
          r.doubleIn(
              "train.lora.dropout",
              0,
              0,
              0.999,
              "PEFT's lora_dropout: the share of each adapter's input dropped in training passes"
                  + " (the masks follow from train.seed, the step and the micro-batch: resumes are"
                  + " exact).");
      List<String> targets =
          r.list(
              "train.lora.target-modules",
              List.of(LoraSettings.ALL_LINEAR),
              "Linear layers that get adapters, by Hugging Face name (q_proj, k_proj, v_proj,"
                  + " o_proj, gate_proj, up_proj, down_proj; c_attn, c_proj, c_fc for GPT-2), or"
                  + " all-linear.");
      boolean rslora =
          r.bool("train.lora.rslora", false, "rsLoRA: scale updates by alpha / sqrt(r).");
      List<String> saved =
          r.list(
              "train.lora.modules-to-save",
              List.of(),
              "Whole modules trained beside the adapters and saved with them, e.g. [embed_tokens,"
                  + " lm_head] when tokens were added.");
      String baseDtype =
          r.choice(
              "train.lora.base-dtype",
              FP32,
              List.of(FP32, BF16),
              "How the frozen base's linear weights are held: fp32, or bf16 (half the memory;"
                  + " each product upcasts them to fp32, so the adapters and the arithmetic stay"
                  + " fp32).");
      String initAdapter =
          r.string(
              "train.lora.init-adapter",
              "",
              "A LoRA run or checkpoint on the same base whose adapter (and modules-to-save) this"
                  + " run starts from instead of a fresh one: fine-tuning an adapter further on new"
                  + " data (forja run: continue-from-champion in a fine-tune pipeline).");
      return new Lora(
          enabled, rank, alpha, dropout, targets, rslora, saved, baseDtype, initAdapter);
    }

    /** The adapters these keys describe. */
    public LoraSettings settings() {
      return new LoraSettings(
          r, alpha, dropout, targetModules, rslora, modulesToSave, BF16.equals(baseDtype));
    }
  }

  /** Sequences per optimizer step. */
  public int sequencesPerStep() {
    return microBatch * accumulation;
  }
}
