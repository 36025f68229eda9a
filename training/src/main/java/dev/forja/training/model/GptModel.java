package dev.forja.training.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.rng.Random;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A pre-LayerNorm GPT built by hand in SameDiff for a fixed (batch, sequence length). Parameter
 * names follow Hugging Face's GPT-2 ({@code transformer.h.0.attn.c_attn.weight}), with weights laid
 * out as GPT-2's {@code Conv1D} ({@code [in, out]}), so exporting is a renaming-free copy.
 *
 * <p>Works around DL4J 1.0.0-M2.1 bugs (docs/stack.md): the embedding lookup is a one-hot matmul
 * ({@code gather}'s gradient is wrong for repeated ids), cross-entropy is computed explicitly from
 * {@code logSoftmax} over the last dimension ({@code sparseSoftmaxCrossEntropy} ignores the
 * upstream gradient), causal attention is composed (scores, additive mask, softmax), and GELU is
 * GPT-2's tanh form written with basic ops.
 */
public final class GptModel {
  /** Placeholders and outputs, named once. */
  public static final String INPUT_IDS = "input_ids";

  public static final String TARGETS = "targets";

  /**
   * Scalar that multiplies the summed token losses: 1 / (tokens in the optimizer step) in training,
   * 1 to get the sum in evaluation. Targets of -1 (unmasked positions in masked-LM) add nothing.
   */
  public static final String LOSS_SCALE = "loss_scale";

  public static final String LOGITS = "logits";
  public static final String LOSS = "loss";

  public static final String WTE = "transformer.wte.weight";
  public static final String WPE = "transformer.wpe.weight";
  public static final String LN_F_WEIGHT = "transformer.ln_f.weight";
  public static final String LN_F_BIAS = "transformer.ln_f.bias";
  public static final String LM_HEAD = "lm_head.weight";

  private final ModelConfig config;
  private final SameDiff sd;
  private final int batch;
  private final int length;
  private LossPass pass;
  private Engine passEngine;
  private boolean passRecomputes;

  /**
   * What computes the loss and gradients: {@code train.engine}. {@code auto} takes the hand-written
   * CPU kernels ({@link GptKernels}) when ND4J runs on the CPU in fp32, and the SameDiff graph
   * otherwise (GPUs, other precisions).
   */
  public enum Engine {
    AUTO,
    KERNELS,
    SAMEDIFF;

    public static final java.util.List<String> NAMES =
        java.util.List.of("auto", "kernels", "samediff");

    public static Engine of(String name) {
      int i = NAMES.indexOf(name);
      if (i < 0) {
        throw new IllegalArgumentException(
            "train.engine must be one of " + NAMES + ", got '" + name + "'");
      }
      return values()[i];
    }
  }

  private GptModel(ModelConfig config, SameDiff sd, int batch, int length) {
    this.config = config;
    this.sd = sd;
    this.batch = batch;
    this.length = length;
  }

  public static String layer(int i, String suffix) {
    return "transformer.h." + i + "." + suffix;
  }

  public ModelConfig config() {
    return config;
  }

  public SameDiff sameDiff() {
    return sd;
  }

  public int batch() {
    return batch;
  }

  public int length() {
    return length;
  }

  public DataType dataType() {
    return sd.getVariable(config.llamaFamily() ? ParameterSpec.EMBED : WTE).dataType();
  }

  /** Whether {@link GptKernels} can run this model here: ND4J's CPU backend, fp32. */
  public boolean kernelsApply() {
    return kernelsApply(config, dataType());
  }

  /** Whether the hand-written kernels serve {@code c} in {@code dtype} on this ND4J backend. */
  public static boolean kernelsApply(ModelConfig c, DataType dtype) {
    return Nd4j.getBackend().getClass().getName().contains(".cpu.") && dtype == DataType.FLOAT;
  }

  /**
   * The engine that {@code engine} means for {@code c} in {@code dtype}: auto picks the kernels
   * where they apply; an explicit choice that cannot run here is an error naming the fix.
   */
  public static Engine resolve(Engine engine, ModelConfig c, DataType dtype) {
    boolean kernels = kernelsApply(c, dtype);
    if (engine == Engine.AUTO) {
      return kernels ? Engine.KERNELS : Engine.SAMEDIFF;
    }
    if (engine == Engine.KERNELS && !kernels) {
      throw new IllegalArgumentException(
          "train.engine=kernels needs ND4J's CPU backend and fp32 (here: "
              + Nd4j.getBackend().getClass().getSimpleName()
              + ", "
              + dtype
              + "): set train.engine=auto");
    }
    return engine;
  }

  /** The loss pass of {@code engine}, built once per model (its buffers are reused). */
  public LossPass pass(Engine engine) {
    return pass(engine, false);
  }

  /**
   * As above; {@code recompute}: the pass keeps only each layer's input and computes the rest again
   * in the backward pass ({@code train.recompute-activations}; the Llama family's kernels).
   */
  public synchronized LossPass pass(Engine engine, boolean recompute) {
    Engine resolved = resolve(engine, config, dataType());
    if (pass == null || passEngine != resolved || passRecomputes != recompute) {
      pass =
          resolved != Engine.KERNELS
              ? new SameDiffPass(this)
              : config.llamaFamily() ? new LlamaKernels(this, recompute) : new GptKernels(this);
      passEngine = resolved;
      passRecomputes = recompute;
    }
    return pass;
  }

  /** Builds the graph with freshly initialised weights (GPT-2's scheme), deterministic in seed. */
  public static GptModel build(ModelConfig c, int batch, int length, DataType dtype, long seed) {
    if (c.vocabSize() < 2) {
      throw new IllegalArgumentException(
          "model.vocab-size is unresolved (0): take it from the tokenizer before building");
    }
    if (length > c.contextLength()) {
      throw new IllegalArgumentException(
          "sequence length " + length + " exceeds model.context-length " + c.contextLength());
    }
    SameDiff sd = SameDiff.create();
    Random rng = Nd4j.getRandomFactory().getNewRandomInstance(seed);
    Init init = new Init(sd, dtype, rng);
    if (c.llamaFamily()) {
      return buildLlama(sd, init, c, batch, length, dtype);
    }
    int d = c.dModel();
    int h = c.heads();
    int hs = c.headSize();
    int bt = batch * length;

    SDVariable ids = sd.placeHolder(INPUT_IDS, DataType.INT32, batch, length);
    SDVariable targets = sd.placeHolder(TARGETS, DataType.INT32, batch, length);
    SDVariable lossScale = sd.placeHolder(LOSS_SCALE, dtype);
    SDVariable wte = init.normal(WTE, c.initStd(), c.vocabSize(), d);
    SDVariable wpe = init.normal(WPE, c.initStd() / 2, c.contextLength(), d);

    SDVariable oneHot = sd.oneHot(ids, c.vocabSize(), -1, 1.0, 0.0, dtype);
    SDVariable tok = sd.mmul(sd.reshape(oneHot, bt, c.vocabSize()), wte);
    SDVariable pos = sd.slice(wpe, new int[] {0, 0}, length, d);
    SDVariable x = sd.reshape(sd.reshape(tok, batch, length, d).add(pos), bt, d);

    SDVariable mask = attentionMask(sd, c, length, dtype);
    double projStd = c.initStd() / Math.sqrt(2.0 * c.layers());
    for (int l = 0; l < c.layers(); l++) {
      SDVariable a = layerNorm(sd, init, c, x, layer(l, "ln_1"));
      SDVariable qkv = linear(sd, init, c, a, layer(l, "attn.c_attn"), d, 3 * d, c.initStd());
      SDVariable[] parts = sd.split(qkv, 3, 1);
      SDVariable q = heads(sd, parts[0], batch, length, h, hs);
      SDVariable k = heads(sd, parts[1], batch, length, h, hs);
      SDVariable v = heads(sd, parts[2], batch, length, h, hs);
      SDVariable scores = sd.mmul(q, k, false, true, false).mul(1.0 / Math.sqrt(hs)).add(mask);
      SDVariable probs = sd.nn.softmax(scores, 3);
      SDVariable att = sd.mmul(probs, v); // [B, H, T, hs]
      SDVariable merged = sd.reshape(sd.permute(att, 0, 2, 1, 3), bt, d);
      x = x.add(linear(sd, init, c, merged, layer(l, "attn.c_proj"), d, d, projStd));
      SDVariable m = layerNorm(sd, init, c, x, layer(l, "ln_2"));
      SDVariable up = linear(sd, init, c, m, layer(l, "mlp.c_fc"), d, c.mlpWidth(), c.initStd());
      x =
          x.add(
              linear(sd, init, c, gelu(sd, up), layer(l, "mlp.c_proj"), c.mlpWidth(), d, projStd));
    }
    SDVariable xf = layerNormNamed(sd, init, c, x, LN_F_WEIGHT, LN_F_BIAS);
    SDVariable head =
        c.tiedEmbeddings() ? wte : init.normal(LM_HEAD, c.initStd(), c.vocabSize(), d);
    SDVariable logits = sd.mmul(LOGITS, xf, head, false, true, false); // [B*T, V]
    SDVariable logProbs = sd.nn.logSoftmax(logits);
    SDVariable targetHot =
        sd.reshape(sd.oneHot(targets, c.vocabSize(), -1, 1.0, 0.0, dtype), bt, c.vocabSize());
    SDVariable loss = sd.math.neg(logProbs.mul(targetHot).sum()).mul(lossScale);
    loss.rename(LOSS);
    sd.setLossVariables(LOSS);
    return new GptModel(c, sd, batch, length);
  }

  /**
   * The Llama family: RMSNorm, grouped-query attention with RoPE (and q/k RMSNorm, q/k/v biases
   * where the config says), a SwiGLU MLP. Weights in Hugging Face's {@code [out, in]} layout.
   */
  private static GptModel buildLlama(
      SameDiff sd, Init init, ModelConfig c, int batch, int length, DataType dtype) {
    ModelConfig.Llama l = c.llama();
    int d = c.dModel();
    int h = c.heads();
    int kvh = l.kvHeads();
    int hd = l.headDim();
    int bt = batch * length;
    double std = c.initStd();
    SDVariable ids = sd.placeHolder(INPUT_IDS, DataType.INT32, batch, length);
    SDVariable targets = sd.placeHolder(TARGETS, DataType.INT32, batch, length);
    SDVariable lossScale = sd.placeHolder(LOSS_SCALE, dtype);
    SDVariable embed = init.normal(ParameterSpec.EMBED, std, c.vocabSize(), d);
    SDVariable oneHot = sd.oneHot(ids, c.vocabSize(), -1, 1.0, 0.0, dtype);
    SDVariable x = sd.mmul(sd.reshape(oneHot, bt, c.vocabSize()), embed);

    double[][] rope = Rope.cosSin(l, length);
    SDVariable cos =
        sd.constant("rope_cos", Nd4j.createFromArray(rope[0]).reshape(length, hd).castTo(dtype));
    SDVariable sin =
        sd.constant("rope_sin", Nd4j.createFromArray(rope[1]).reshape(length, hd).castTo(dtype));
    SDVariable mask = attentionMask(sd, c, length, dtype);
    for (int i = 0; i < c.layers(); i++) {
      String p = "model.layers." + i + ".";
      SDVariable a = rmsNorm(sd, x, init.ones(p + "input_layernorm.weight", d), c.normEpsilon(), 1);
      SDVariable q =
          projection(sd, init, a, p + "self_attn.q_proj", h * hd, d, std, l.attentionBias());
      SDVariable k =
          projection(sd, init, a, p + "self_attn.k_proj", kvh * hd, d, std, l.attentionBias());
      SDVariable v =
          projection(sd, init, a, p + "self_attn.v_proj", kvh * hd, d, std, l.attentionBias());
      SDVariable wo = init.normal(p + "self_attn.o_proj.weight", std, d, h * hd);
      SDVariable q4 = sd.reshape(q, batch, length, h, hd);
      SDVariable k4 = sd.reshape(k, batch, length, kvh, hd);
      if (l.qkNorm()) {
        q4 = rmsNorm(sd, q4, init.ones(p + "self_attn.q_norm.weight", hd), c.normEpsilon(), 3);
        k4 = rmsNorm(sd, k4, init.ones(p + "self_attn.k_norm.weight", hd), c.normEpsilon(), 3);
      }
      SDVariable qh = rotate(sd, sd.permute(q4, 0, 2, 1, 3), cos, sin); // [B, H, T, hd]
      SDVariable kh = rotate(sd, sd.permute(k4, 0, 2, 1, 3), cos, sin); // [B, KV, T, hd]
      SDVariable vh = sd.permute(sd.reshape(v, batch, length, kvh, hd), 0, 2, 1, 3);
      kh = repeatKv(sd, kh, batch, kvh, h / kvh, length, hd);
      vh = repeatKv(sd, vh, batch, kvh, h / kvh, length, hd);
      SDVariable scores = sd.mmul(qh, kh, false, true, false).mul(1.0 / Math.sqrt(hd)).add(mask);
      SDVariable att = sd.mmul(sd.nn.softmax(scores, 3), vh);
      SDVariable merged = sd.reshape(sd.permute(att, 0, 2, 1, 3), bt, h * hd);
      x = x.add(sd.mmul(merged, wo, false, true, false));
      SDVariable m =
          rmsNorm(sd, x, init.ones(p + "post_attention_layernorm.weight", d), c.normEpsilon(), 1);
      SDVariable gate = projection(sd, init, m, p + "mlp.gate_proj", l.mlpHidden(), d, std, false);
      SDVariable up = projection(sd, init, m, p + "mlp.up_proj", l.mlpHidden(), d, std, false);
      SDVariable wd = init.normal(p + "mlp.down_proj.weight", std, d, l.mlpHidden());
      SDVariable act = gate.mul(sd.nn.sigmoid(gate)).mul(up); // SiLU(gate) * up
      x = x.add(sd.mmul(act, wd, false, true, false));
    }
    SDVariable xf = rmsNorm(sd, x, init.ones(ParameterSpec.FINAL_NORM, d), c.normEpsilon(), 1);
    SDVariable head = c.tiedEmbeddings() ? embed : init.normal(LM_HEAD, std, c.vocabSize(), d);
    SDVariable logits = sd.mmul(LOGITS, xf, head, false, true, false);
    SDVariable logProbs = sd.nn.logSoftmax(logits);
    SDVariable targetHot =
        sd.reshape(sd.oneHot(targets, c.vocabSize(), -1, 1.0, 0.0, dtype), bt, c.vocabSize());
    SDVariable loss = sd.math.neg(logProbs.mul(targetHot).sum()).mul(lossScale);
    loss.rename(LOSS);
    sd.setLossVariables(LOSS);
    return new GptModel(c, sd, batch, length);
  }

  /** The additive attention mask: -1e9 above the diagonal for a causal model, else zeros. */
  private static SDVariable attentionMask(SameDiff sd, ModelConfig c, int length, DataType dtype) {
    INDArray maskValues = Nd4j.zeros(dtype, length, length);
    if (c.objective() == ModelConfig.Objective.CAUSAL) {
      for (int i = 0; i < length; i++) {
        for (int j = i + 1; j < length; j++) {
          maskValues.putScalar(i, j, -1e9);
        }
      }
    }
    return sd.constant("attention_mask", maskValues);
  }

  /** {@code x W^T (+ b)} with W {@code [out, in]}, Hugging Face's {@code nn.Linear}. */
  private static SDVariable projection(
      SameDiff sd,
      Init init,
      SDVariable x,
      String name,
      int out,
      int in,
      double std,
      boolean bias) {
    SDVariable y = sd.mmul(x, init.normal(name + ".weight", std, out, in), false, true, false);
    return bias ? y.add(init.zeros(name + ".bias", out)) : y;
  }

  /** RMSNorm over the last dimension: {@code x / sqrt(mean(x^2) + eps) * w}. */
  private static SDVariable rmsNorm(SameDiff sd, SDVariable x, SDVariable w, double eps, int last) {
    SDVariable ms = x.mul(x).mean(true, last);
    return x.div(sd.math.sqrt(ms.add(eps))).mul(w);
  }

  /**
   * RoPE on {@code [B, heads, T, hd]}: {@code x cos + rotate_half(x) sin}, Hugging Face's layout.
   */
  private static SDVariable rotate(SameDiff sd, SDVariable x, SDVariable cos, SDVariable sin) {
    SDVariable[] halves = sd.split(x, 2, 3);
    SDVariable rotated = sd.concat(3, sd.math.neg(halves[1]), halves[0]);
    return x.mul(cos).add(rotated.mul(sin));
  }

  /** Each key/value head repeated for the {@code rep} query heads that share it. */
  private static SDVariable repeatKv(
      SameDiff sd, SDVariable x, int b, int kvh, int rep, int t, int hd) {
    if (rep == 1) {
      return x;
    }
    SDVariable five = sd.reshape(x, b, kvh, 1, t, hd);
    SDVariable[] copies = new SDVariable[rep];
    java.util.Arrays.fill(copies, five);
    return sd.reshape(sd.concat(2, copies), b, kvh * rep, t, hd);
  }

  private static SDVariable heads(SameDiff sd, SDVariable x, int b, int t, int h, int hs) {
    return sd.permute(sd.reshape(x, b, t, h, hs), 0, 2, 1, 3);
  }

  private static SDVariable linear(
      SameDiff sd,
      Init init,
      ModelConfig c,
      SDVariable x,
      String name,
      int in,
      int out,
      double std) {
    SDVariable w = init.normal(name + ".weight", std, in, out);
    SDVariable y = sd.mmul(x, w);
    return c.bias() ? y.add(init.zeros(name + ".bias", out)) : y;
  }

  private static SDVariable layerNorm(
      SameDiff sd, Init init, ModelConfig c, SDVariable x, String prefix) {
    return layerNormNamed(sd, init, c, x, prefix + ".weight", prefix + ".bias");
  }

  /** LayerNorm over the last dimension, composed: mean, variance, scale, shift. */
  private static SDVariable layerNormNamed(
      SameDiff sd, Init init, ModelConfig c, SDVariable x, String weight, String bias) {
    int d = c.dModel();
    SDVariable mean = x.mean(true, 1);
    SDVariable centered = x.sub(mean);
    SDVariable var = centered.mul(centered).mean(true, 1);
    SDVariable norm = centered.div(sd.math.sqrt(var.add(c.normEpsilon())));
    SDVariable y = norm.mul(init.ones(weight, d));
    return c.bias() ? y.add(init.zeros(bias, d)) : y;
  }

  /** GPT-2's GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  static SDVariable gelu(SameDiff sd, SDVariable x) {
    SDVariable inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(0.5).mul(sd.math.tanh(inner).add(1.0));
  }

  /**
   * Placeholder values for one batch: ids and targets {@code [batch, length]} row-major; targets of
   * -1 are ignored.
   */
  public Map<String, INDArray> feed(int[] ids, int[] targets, double lossScale) {
    DataType dtype = dataType();
    return Map.of(
        INPUT_IDS, Nd4j.createFromArray(ids).reshape(batch, length),
        TARGETS, Nd4j.createFromArray(targets).reshape(batch, length),
        LOSS_SCALE, Nd4j.scalar(dtype, lossScale));
  }

  /** The parameters by name, in graph order; the live arrays, which training updates in place. */
  public LinkedHashMap<String, INDArray> parameters() {
    LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
    for (String n : parameterNames()) {
      out.put(n, sd.getVariable(n).getArr());
    }
    return out;
  }

  /**
   * Builds the backward graph now. SameDiff 1.0.0-M2.1 prints a line per differentiated op to
   * {@code System.out} while doing so (hundreds of lines, not through a logger), so standard output
   * is held back for that moment.
   */
  public synchronized void prepareGradients() {
    if (sd.hasGradientFunction()) {
      return;
    }
    java.io.PrintStream out = System.out;
    System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
    try {
      sd.createGradFunction(LOSS);
    } finally {
      System.setOut(out);
    }
  }

  /** Names of the trainable parameters, in graph order. */
  public List<String> parameterNames() {
    List<String> out = new ArrayList<>();
    for (SDVariable v : sd.variables()) {
      if (v.getVariableType() == org.nd4j.autodiff.samediff.VariableType.VARIABLE) {
        out.add(v.name());
      }
    }
    return out;
  }

  /** Creates parameters deterministically. */
  private static final class Init {
    private final SameDiff sd;
    private final DataType dtype;
    private final Random rng;

    Init(SameDiff sd, DataType dtype, Random rng) {
      this.sd = sd;
      this.dtype = dtype;
      this.rng = rng;
    }

    SDVariable normal(String name, double std, long... shape) {
      INDArray a = Nd4j.createUninitialized(dtype, shape);
      Nd4j.getExecutioner()
          .exec(new org.nd4j.linalg.api.ops.random.impl.GaussianDistribution(a, 0.0, std), rng);
      return sd.var(name, a);
    }

    SDVariable zeros(String name, long... shape) {
      return sd.var(name, Nd4j.zeros(dtype, shape));
    }

    SDVariable ones(String name, long... shape) {
      return sd.var(name, Nd4j.ones(dtype, shape));
    }
  }
}
