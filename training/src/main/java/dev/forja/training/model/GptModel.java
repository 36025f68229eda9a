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

  /**
   * Placeholders of a segmented graph (packed examples, {@link #build(Architecture, int, int,
   * DataType, long, boolean)}): each token's position within its example, the additive attention
   * mask {@code [batch, 1, length, length]} that keeps each example to itself, and RoPE's cosines
   * and sines at those positions {@code [batch, 1, length, head_dim]}.
   */
  public static final String POSITION_IDS = "position_ids";

  public static final String ATTENTION_BIAS = "attention_bias";
  public static final String ROPE_COS = "rope_cos";
  public static final String ROPE_SIN = "rope_sin";

  public static final String WTE = "transformer.wte.weight";
  public static final String WPE = "transformer.wpe.weight";
  public static final String LN_F_WEIGHT = "transformer.ln_f.weight";
  public static final String LN_F_BIAS = "transformer.ln_f.bias";
  public static final String LM_HEAD = "lm_head.weight";

  private final ModelConfig config;
  private final Architecture arch;
  private final SameDiff sd;
  private final int batch;
  private final int length;
  private final boolean segmented;
  private double[][] ropeTable; // [cos, sin] of [length, head_dim], for a segmented graph's feed
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

  private GptModel(Architecture arch, SameDiff sd, int batch, int length, boolean segmented) {
    this.config = arch.config();
    this.arch = arch;
    this.sd = sd;
    this.batch = batch;
    this.length = length;
    this.segmented = segmented;
    for (Architecture.Layer l : segmented ? arch.layers() : List.<Architecture.Layer>of()) {
      if (l.attention().rotary() != null) {
        ropeTable = Rope.cosSin(l.attention().rotary().settings(), length);
        break;
      }
    }
  }

  /**
   * Whether the graph takes positions per token ({@link #POSITION_IDS}): several examples packed in
   * a row, each attending only to itself.
   */
  public boolean segmented() {
    return segmented;
  }

  public static String layer(int i, String suffix) {
    return "transformer.h." + i + "." + suffix;
  }

  public ModelConfig config() {
    return config;
  }

  /** What the graph was built from (with its LoRA adapters and frozen parameters, if any). */
  public Architecture architecture() {
    return arch;
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
    return sd.getVariable(arch.embedding().tokens().name()).dataType();
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
              : LlamaKernels.supports(arch)
                  ? new LlamaKernels(this, recompute)
                  : new GptKernels(this);
      passEngine = resolved;
      passRecomputes = recompute;
    }
    return pass;
  }

  /**
   * Builds the graph of {@link Architecture#of}{@code (c)} block by block, with fresh weights as
   * the description's parameters say (GPT-2's scheme), deterministic in {@code seed}.
   */
  public static GptModel build(ModelConfig c, int batch, int length, DataType dtype, long seed) {
    return build(Architecture.of(c), batch, length, dtype, seed);
  }

  /**
   * The graph of {@code arch} (a model's description, possibly with LoRA adapters): frozen
   * parameters become constants, which the optimizer never sees.
   */
  public static GptModel build(
      Architecture arch, int batch, int length, DataType dtype, long seed) {
    return build(arch, batch, length, dtype, seed, false);
  }

  /**
   * As above; {@code segmented}: positions, the attention mask and RoPE's angles are fed per batch
   * ({@link #POSITION_IDS}), so that a row may hold several examples, each with positions from 0
   * and attending only to itself.
   */
  public static GptModel build(
      Architecture arch, int batch, int length, DataType dtype, long seed, boolean segmented) {
    ModelConfig c = arch.config();
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
    Map<String, SDVariable> w = new LinkedHashMap<>();
    java.util.Set<String> half = arch.halfPrecision();
    for (ParameterSpec p : arch.parameters()) {
      SDVariable v = create(sd, p, dtype, rng, half.contains(p.name()));
      // a bf16 frozen weight: upcast where each product reads it
      w.put(p.name(), half.contains(p.name()) ? sd.castTo(v, dtype) : v);
    }
    Graph g = new Graph(sd, w, batch, length, dtype, segmented);
    int bt = batch * length;
    SDVariable ids = sd.placeHolder(INPUT_IDS, DataType.INT32, batch, length);
    SDVariable targets = sd.placeHolder(TARGETS, DataType.INT32, batch, length);
    SDVariable lossScale = sd.placeHolder(LOSS_SCALE, dtype);

    Architecture.Embedding e = arch.embedding();
    SDVariable oneHot = sd.oneHot(ids, c.vocabSize(), -1, 1.0, 0.0, dtype);
    SDVariable x = sd.mmul(sd.reshape(oneHot, bt, c.vocabSize()), w.get(e.tokens().name()));
    if (e.positions() != null) {
      SDVariable pos = sd.slice(w.get(e.positions().name()), new int[] {0, 0}, length, c.dModel());
      if (segmented) { // a one-hot product: gather's gradient is wrong for repeated ids
        SDVariable posIds = sd.placeHolder(POSITION_IDS, DataType.INT32, batch, length);
        SDVariable posHot = sd.reshape(sd.oneHot(posIds, length, -1, 1.0, 0.0, dtype), bt, length);
        x = x.add(sd.mmul(posHot, pos));
      } else {
        x = sd.reshape(sd.reshape(x, batch, length, c.dModel()).add(pos), bt, c.dModel());
      }
    }
    for (Architecture.Layer layer : arch.layers()) {
      x = x.add(g.attention(layer.attention(), g.norm(layer.attentionNorm(), x, 1)));
      x = x.add(g.mlp(layer.mlp(), g.norm(layer.mlpNorm(), x, 1)));
    }
    SDVariable xf = g.norm(arch.finalNorm(), x, 1);
    SDVariable head = w.get(arch.head().weight().name());
    SDVariable logits = sd.mmul(LOGITS, xf, head, false, true, false); // [B*T, V]
    SDVariable logProbs = sd.nn.logSoftmax(logits);
    SDVariable targetHot =
        sd.reshape(sd.oneHot(targets, c.vocabSize(), -1, 1.0, 0.0, dtype), bt, c.vocabSize());
    SDVariable loss = sd.math.neg(logProbs.mul(targetHot).sum()).mul(lossScale);
    loss.rename(LOSS);
    sd.setLossVariables(LOSS);
    return new GptModel(arch, sd, batch, length, segmented);
  }

  /**
   * A parameter as its spec says: a normal draw from {@code rng}, ones or zeros; held in bfloat16
   * when {@code half}.
   */
  private static SDVariable create(
      SameDiff sd, ParameterSpec p, DataType dtype, Random rng, boolean half) {
    INDArray a =
        switch (p.init().kind()) {
          case ONES -> Nd4j.ones(dtype, p.shape());
          case ZEROS -> Nd4j.zeros(dtype, p.shape());
          case UNIFORM -> {
            INDArray u = Nd4j.createUninitialized(dtype, p.shape());
            Nd4j.getExecutioner()
                .exec(
                    new org.nd4j.linalg.api.ops.random.impl.UniformDistribution(
                        u, -p.init().scale(), p.init().scale()),
                    rng);
            yield u;
          }
          case NORMAL -> {
            INDArray n = Nd4j.createUninitialized(dtype, p.shape());
            Nd4j.getExecutioner()
                .exec(
                    new org.nd4j.linalg.api.ops.random.impl.GaussianDistribution(
                        n, 0.0, p.init().scale()),
                    rng);
            yield n;
          }
        };
    if (half) {
      return sd.constant(p.name(), a.castTo(DataType.BFLOAT16));
    }
    return p.trainable() ? sd.var(p.name(), a) : sd.constant(p.name(), a);
  }

  /** The graph of each kind of block, over the parameters created from the description. */
  private static final class Graph {
    private final SameDiff sd;
    private final Map<String, SDVariable> w;
    private final int batch;
    private final int length;
    private final DataType dtype;
    private final boolean segmented;
    private SDVariable mask;
    private SDVariable cos;
    private SDVariable sin;

    Graph(
        SameDiff sd,
        Map<String, SDVariable> w,
        int batch,
        int length,
        DataType dtype,
        boolean segmented) {
      this.sd = sd;
      this.w = w;
      this.batch = batch;
      this.length = length;
      this.dtype = dtype;
      this.segmented = segmented;
    }

    private SDVariable p(ParameterSpec spec) {
      return w.get(spec.name());
    }

    /**
     * A norm over dimension {@code last} (composed: DL4J's fused norms have no usable gradient).
     */
    SDVariable norm(Architecture.Norm n, SDVariable x, int last) {
      SDVariable y;
      if (n.kind() == Architecture.NormKind.RMS_NORM) {
        SDVariable ms = x.mul(x).mean(true, last);
        y = x.div(sd.math.sqrt(ms.add(n.eps())));
      } else {
        SDVariable centered = x.sub(x.mean(true, last));
        SDVariable var = centered.mul(centered).mean(true, last);
        y = centered.div(sd.math.sqrt(var.add(n.eps())));
      }
      y = y.mul(p(n.weight()));
      return n.bias() == null ? y : y.add(p(n.bias()));
    }

    SDVariable linear(Architecture.Linear l, SDVariable x) {
      SDVariable y =
          l.layout() == Architecture.Layout.IN_OUT
              ? sd.mmul(x, p(l.weight()))
              : sd.mmul(x, p(l.weight()), false, true, false);
      if (l.bias() != null) {
        y = y.add(p(l.bias()));
      }
      if (l.lora() != null) {
        SDVariable xa = x;
        if (l.lora().dropout() > 0) { // the mask, 0 or 1 / (1 - p) per element, is fed
          xa = x.mul(sd.placeHolder(dropoutMask(l.lora()), dtype, batch * length, l.in()));
        }
        SDVariable t = sd.mmul(xa, p(l.lora().a()), false, true, false);
        y = y.add(sd.mmul(t, p(l.lora().b()), false, true, false).mul(l.lora().scale()));
      }
      return y;
    }

    SDVariable attention(Architecture.SelfAttention a, SDVariable x) {
      int h = a.heads();
      int kvh = a.kvHeads();
      int hd = a.headDim();
      SDVariable q;
      SDVariable k;
      SDVariable v;
      if (a.fused()) {
        SDVariable[] parts = sd.split(linear(a.inputs().get(0), x), 3, 1);
        q = parts[0];
        k = parts[1];
        v = parts[2];
      } else {
        q = linear(a.inputs().get(0), x);
        k = linear(a.inputs().get(1), x);
        v = linear(a.inputs().get(2), x);
      }
      SDVariable q4 = sd.reshape(q, batch, length, h, hd);
      SDVariable k4 = sd.reshape(k, batch, length, kvh, hd);
      if (a.qNorm() != null) {
        q4 = norm(a.qNorm(), q4, 3);
        k4 = norm(a.kNorm(), k4, 3);
      }
      SDVariable qh = sd.permute(q4, 0, 2, 1, 3); // [B, H, T, hd]
      SDVariable kh = sd.permute(k4, 0, 2, 1, 3); // [B, KV, T, hd]
      SDVariable vh = sd.permute(sd.reshape(v, batch, length, kvh, hd), 0, 2, 1, 3);
      if (a.rotary() != null) {
        rope(a.rotary().settings());
        qh = rotate(qh);
        kh = rotate(kh);
      }
      kh = repeatKv(sd, kh, batch, kvh, h / kvh, length, hd);
      vh = repeatKv(sd, vh, batch, kvh, h / kvh, length, hd);
      SDVariable scores =
          sd.mmul(qh, kh, false, true, false).mul(1.0 / Math.sqrt(hd)).add(mask(a.causal()));
      SDVariable att = sd.mmul(sd.nn.softmax(scores, 3), vh);
      SDVariable merged = sd.reshape(sd.permute(att, 0, 2, 1, 3), batch * length, h * hd);
      return linear(a.output(), merged);
    }

    SDVariable mlp(Architecture.Mlp m, SDVariable x) {
      SDVariable act =
          switch (m.activation()) {
            case GELU_TANH -> gelu(sd, linear(m.inputs().get(0), x));
            case SWIGLU -> {
              SDVariable gate = linear(m.inputs().get(0), x);
              yield gate.mul(sd.nn.sigmoid(gate)).mul(linear(m.inputs().get(1), x));
            }
          };
      return linear(m.output(), act);
    }

    /**
     * The additive attention mask: -1e9 above the diagonal when causal, else zeros; one graph-wide.
     */
    private SDVariable mask(boolean causal) {
      if (mask == null && segmented) {
        if (!causal) {
          throw new IllegalArgumentException("packed examples need a causal model");
        }
        mask = sd.placeHolder(ATTENTION_BIAS, dtype, batch, 1, length, length);
      }
      if (mask == null) {
        INDArray values = Nd4j.zeros(dtype, length, length);
        if (causal) {
          for (int i = 0; i < length; i++) {
            for (int j = i + 1; j < length; j++) {
              values.putScalar(i, j, -1e9);
            }
          }
        }
        mask = sd.constant("attention_mask", values);
      }
      return mask;
    }

    private void rope(ModelConfig.Llama l) {
      if (cos == null && segmented) {
        cos = sd.placeHolder(ROPE_COS, dtype, batch, 1, length, l.headDim());
        sin = sd.placeHolder(ROPE_SIN, dtype, batch, 1, length, l.headDim());
      }
      if (cos == null) {
        double[][] r = Rope.cosSin(l, length);
        int hd = l.headDim();
        cos = sd.constant("rope_cos", Nd4j.createFromArray(r[0]).reshape(length, hd).castTo(dtype));
        sin = sd.constant("rope_sin", Nd4j.createFromArray(r[1]).reshape(length, hd).castTo(dtype));
      }
    }

    /** RoPE on {@code [B, heads, T, hd]}: {@code x cos + rotate_half(x) sin}, as Hugging Face. */
    private SDVariable rotate(SDVariable x) {
      SDVariable[] halves = sd.split(x, 2, 3);
      SDVariable rotated = sd.concat(3, sd.math.neg(halves[1]), halves[0]);
      return x.mul(cos).add(rotated.mul(sin));
    }
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
    return feed(ids, targets, null, lossScale);
  }

  /**
   * As above, with each token's position within its example ({@code [batch, length]}, restarting at
   * 0 where an example starts; null: one sequence per row). A graph that is not {@link
   * #segmented()} takes only null.
   */
  public Map<String, INDArray> feed(int[] ids, int[] targets, int[] positions, double lossScale) {
    return feed(ids, targets, positions, lossScale, null);
  }

  /**
   * As above; {@code dropoutKey}: the key of a training pass's LoRA dropout masks ({@link
   * LoraDropout}), or null for a pass that drops nothing.
   */
  public Map<String, INDArray> feed(
      int[] ids, int[] targets, int[] positions, double lossScale, Long dropoutKey) {
    DataType dtype = dataType();
    Map<String, INDArray> feed = new java.util.HashMap<>();
    feed.put(INPUT_IDS, Nd4j.createFromArray(ids).reshape(batch, length));
    feed.put(TARGETS, Nd4j.createFromArray(targets).reshape(batch, length));
    feed.put(LOSS_SCALE, Nd4j.scalar(dtype, lossScale));
    List<Architecture.Linear> linears = arch.linears();
    for (int i = 0; i < linears.size(); i++) {
      Architecture.Lora lo = linears.get(i).lora();
      if (lo == null || lo.dropout() <= 0) {
        continue;
      }
      int rows = batch * length;
      int cols = linears.get(i).in();
      INDArray mask =
          dropoutKey == null
              ? Nd4j.ones(dtype, rows, cols)
              : Nd4j.createFromArray(LoraDropout.mask(dropoutKey, i, rows, cols, lo.dropout()))
                  .reshape(rows, cols)
                  .castTo(dtype);
      feed.put(dropoutMask(lo), mask);
    }
    if (!segmented) {
      if (positions != null) {
        throw new IllegalArgumentException(
            "this graph was built for one sequence per row: build it segmented for packed rows");
      }
      return feed;
    }
    int[] pos = positions;
    if (pos == null) {
      pos = new int[batch * length];
      for (int i = 0; i < pos.length; i++) {
        pos[i] = i % length;
      }
    }
    if (sd.hasVariable(POSITION_IDS)) {
      feed.put(POSITION_IDS, Nd4j.createFromArray(pos).reshape(batch, length));
    }
    float[] bias = new float[batch * length * length];
    for (int b = 0; b < batch; b++) {
      for (int i = 0; i < length; i++) {
        int from = i - pos[b * length + i];
        int o = (b * length + i) * length;
        for (int j = 0; j < length; j++) {
          bias[o + j] = j < from || j > i ? -1e9f : 0f;
        }
      }
    }
    feed.put(
        ATTENTION_BIAS, Nd4j.createFromArray(bias).reshape(batch, 1, length, length).castTo(dtype));
    if (ropeTable != null) {
      int hd = ropeTable[0].length / length;
      double[] c = new double[batch * length * hd];
      double[] sn = new double[batch * length * hd];
      for (int r = 0; r < batch * length; r++) {
        for (int k = 0; k < hd; k++) {
          c[r * hd + k] = ropeTable[0][pos[r] * hd + k];
          sn[r * hd + k] = ropeTable[1][pos[r] * hd + k];
        }
      }
      feed.put(ROPE_COS, Nd4j.createFromArray(c).reshape(batch, 1, length, hd).castTo(dtype));
      feed.put(ROPE_SIN, Nd4j.createFromArray(sn).reshape(batch, 1, length, hd).castTo(dtype));
    }
    return feed;
  }

  /** The placeholder of an adapter's dropout mask. */
  static String dropoutMask(Architecture.Lora lo) {
    return "lora_dropout_mask/" + lo.a().name();
  }

  /**
   * Every parameter by name, frozen ones included, in the description's order: the live arrays
   * (what a checkpoint of the whole model or an import assigns).
   */
  public LinkedHashMap<String, INDArray> weights() {
    LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
    for (ParameterSpec p : arch.parameters()) {
      out.put(p.name(), sd.getVariable(p.name()).getArr());
    }
    return out;
  }

  /** The trainable parameters by name (SameDiff's order); the live arrays, updated in place. */
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

  /** Names of the trainable parameters, in SameDiff's order (sorted by name, not declared). */
  public List<String> parameterNames() {
    List<String> out = new ArrayList<>();
    for (SDVariable v : sd.variables()) {
      if (v.getVariableType() == org.nd4j.autodiff.samediff.VariableType.VARIABLE) {
        out.add(v.name());
      }
    }
    return out;
  }
}
