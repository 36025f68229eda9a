package dev.forja.training.gguf;

import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.PreTokenizer;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.model.Rope;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A model as llama.cpp loads it: a GGUF file with llama.cpp's architecture ({@code gpt2}, {@code
 * llama} for Llama and Mistral, {@code qwen2}, {@code qwen3}), its hyperparameter keys, its tensor
 * names (Hugging Face's mapped as llama.cpp's converter maps them: GPT-2's Conv1D weights
 * transposed, Llama's q/k rows permuted into llama.cpp's rotary layout, Llama 3's RoPE scaling as
 * the {@code rope_freqs} tensor) and the byte-level BPE tokenizer with its merges, special tokens
 * and chat template.
 */
public final class GgufExport {
  public static final String FILE = "model.gguf";
  public static final String KIND = "gguf-model";

  /** Llama 3 RoPE scaling's parameters, beside llama.cpp's rope_freqs tensor (Forja's keys). */
  static final String LLAMA3 = "forja.rope.scaling.";

  private GgufExport() {}

  /** What the file says besides the weights. */
  public record Meta(String name, Integer bos, Integer eos, String chatTemplate) {}

  /** Parses {@code f32}, {@code f16}, {@code bf16} or {@code q8_0}. */
  public static GgufWriter.TensorType dtype(String id) {
    return switch (id.toLowerCase(Locale.ROOT)) {
      case "f32" -> GgufWriter.TensorType.F32;
      case "f16" -> GgufWriter.TensorType.F16;
      case "bf16" -> GgufWriter.TensorType.BF16;
      case "q8_0" -> GgufWriter.TensorType.Q8_0;
      default ->
          throw new IllegalArgumentException(
              "--dtype " + id + " is not a GGUF type Forja writes: use f32, f16, bf16 or q8_0");
    };
  }

  public static final String ADAPTER_FILE = "adapter.gguf";
  public static final String ADAPTER_KIND = "gguf-lora-adapter";

  /**
   * A LoRA adapter as llama.cpp applies it at load time ({@code --lora FILE}): {@code general.type
   * adapter}, {@code adapter.type lora}, {@code adapter.lora.alpha} (with rsLoRA, the alpha that
   * gives llama.cpp's {@code alpha / r} the same scale), and for each adapted linear layer {@code
   * <its GGUF weight>.lora_a} ({@code [r, in]}) and {@code .lora_b} ({@code [out, r]}, its rows
   * permuted as the weight's are). Modules trained whole beside the adapter cannot travel in it.
   */
  public static long writeAdapterCommitted(
      Storage storage,
      URI dir,
      ModelConfig base,
      dev.forja.training.model.LoraSettings settings,
      Map<String, INDArray> adapter,
      Map<String, String> lineage)
      throws IOException {
    String arch = architecture(base);
    if (!settings.modulesToSave().isEmpty()) {
      throw new IllegalArgumentException(
          "llama.cpp's LoRA adapters hold only low-rank pairs; this adapter also trains "
              + settings.modulesToSave()
              + " whole: export the merged model (--format gguf) instead");
    }
    dev.forja.training.model.Architecture a =
        dev.forja.training.model.Architecture.of(base).withLora(settings);
    GgufWriter w = new GgufWriter();
    w.put("general.architecture", arch);
    w.put("general.type", "adapter");
    w.put("general.name", "forja lora adapter");
    w.put("adapter.type", "lora");
    w.putF32(
        "adapter.lora.alpha",
        settings.rslora() ? settings.alpha() * Math.sqrt(settings.rank()) : settings.alpha());
    for (dev.forja.training.model.Architecture.Linear l : a.linears()) {
      if (l.lora() == null) {
        continue;
      }
      String name = tensorName(l.weight().name(), arch);
      INDArray la = adapter.get(l.lora().a().name());
      INDArray lb = adapter.get(l.lora().b().name());
      if (la == null || lb == null) {
        throw new IllegalArgumentException("the adapter lacks " + l.lora().a().name());
      }
      if (arch.equals("llama") && (name.contains(".attn_q.") || name.contains(".attn_k."))) {
        lb = permute(lb, name.contains(".attn_q.") ? base.heads() : base.llama().kvHeads());
      }
      w.tensor(name + ".lora_a", la, GgufWriter.TensorType.F32);
      w.tensor(name + ".lora_b", lb, GgufWriter.TensorType.F32);
    }
    Map<String, String> props = new LinkedHashMap<>(lineage);
    props.put("architecture", arch);
    return commit(storage, dir, ADAPTER_FILE, w, Map.of(), ADAPTER_KIND, props);
  }

  /**
   * Writes {@code w} as {@code dir/name} and {@code files} (name to text) beside it, then commits
   * the directory with a manifest of {@code kind}; returns the GGUF file's size.
   */
  private static long commit(
      Storage storage,
      URI dir,
      String name,
      GgufWriter w,
      Map<String, String> files,
      String kind,
      Map<String, String> props)
      throws IOException {
    long size;
    try (OutputStream out = storage.create(Storage.resolve(dir, name), true)) {
      size = w.write(new java.io.BufferedOutputStream(out, 1 << 20));
    }
    for (Map.Entry<String, String> f : files.entrySet()) {
      storage.writeString(Storage.resolve(dir, f.getKey()), f.getValue(), true);
    }
    CommitManifest.commit(storage, dir, kind, props);
    return size;
  }

  /** llama.cpp's name of a linear layer's weight, from its Hugging Face name. */
  static String tensorName(String hf, String arch) {
    String[] p = hf.split("\\.");
    if (arch.equals("gpt2")) { // transformer.h.N.attn.c_attn.weight
      String layer = "blk." + p[2] + ".";
      return layer
          + switch (p[3] + "." + p[4]) {
            case "attn.c_attn" -> "attn_qkv";
            case "attn.c_proj" -> "attn_output";
            case "mlp.c_fc" -> "ffn_up";
            case "mlp.c_proj" -> "ffn_down";
            default -> throw new IllegalArgumentException("no GGUF name for " + hf);
          }
          + ".weight";
    }
    String layer = "blk." + p[2] + "."; // model.layers.N.self_attn.q_proj.weight
    return layer
        + switch (p[4]) {
          case "q_proj" -> "attn_q";
          case "k_proj" -> "attn_k";
          case "v_proj" -> "attn_v";
          case "o_proj" -> "attn_output";
          case "gate_proj" -> "ffn_gate";
          case "up_proj" -> "ffn_up";
          case "down_proj" -> "ffn_down";
          default -> throw new IllegalArgumentException("no GGUF name for " + hf);
        }
        + ".weight";
  }

  /** llama.cpp's name for the architecture of {@code c}; refuses what GGUF cannot express. */
  public static String architecture(ModelConfig c) {
    if (c.objective() != ModelConfig.Objective.CAUSAL) {
      throw new IllegalArgumentException(
          "GGUF holds causal language models; this one is "
              + c.objective().name().toLowerCase(Locale.ROOT)
              + " (masked): llama.cpp cannot run it");
    }
    if (!c.llamaFamily()) {
      return "gpt2";
    }
    ModelConfig.Llama l = c.llama();
    return switch (l.modelType()) {
      case "llama", "mistral" -> {
        if (l.qkNorm()) {
          throw new IllegalArgumentException(
              "llama.cpp's llama architecture has no q/k norms; this " + l.modelType() + " has");
        }
        yield "llama";
      }
      case "qwen2" -> "qwen2";
      case "qwen3" -> "qwen3";
      default ->
          throw new IllegalArgumentException(
              "model_type " + l.modelType() + " has no GGUF architecture in Forja's export");
    };
  }

  /**
   * Writes {@code FILE} and {@code files} (name to text) into {@code dir} and commits the directory
   * with a manifest; returns the GGUF file's size.
   */
  public static long writeCommitted(
      Storage storage,
      URI dir,
      ModelConfig c,
      Map<String, INDArray> weights,
      BpeTokenizer tok,
      Meta meta,
      GgufWriter.TensorType dtype,
      Map<String, String> lineage,
      Map<String, String> files)
      throws IOException {
    GgufWriter w = writer(c, weights, tok, meta, dtype);
    Map<String, String> props = new LinkedHashMap<>(lineage);
    props.put("architecture", architecture(c));
    props.put("dtype", dtype.name().toLowerCase(Locale.ROOT));
    return commit(storage, dir, FILE, w, files, KIND, props);
  }

  /** The GGUF of a model: metadata, tokenizer and tensors, ready to write. */
  public static GgufWriter writer(
      ModelConfig c,
      Map<String, INDArray> weights,
      BpeTokenizer tok,
      Meta meta,
      GgufWriter.TensorType dtype) {
    String arch = architecture(c);
    GgufWriter w = new GgufWriter();
    w.put("general.architecture", arch);
    w.put("general.name", meta.name());
    w.putU32("general.file_type", fileType(dtype));
    if (dtype == GgufWriter.TensorType.Q8_0) {
      w.putU32("general.quantization_version", 2);
    }
    w.putU32(arch + ".context_length", c.contextLength());
    w.putU32(arch + ".embedding_length", c.dModel());
    w.putU32(arch + ".block_count", c.layers());
    w.putU32(arch + ".attention.head_count", c.heads());
    if (c.llamaFamily()) {
      ModelConfig.Llama l = c.llama();
      w.putU32(arch + ".feed_forward_length", l.mlpHidden());
      w.putU32(arch + ".attention.head_count_kv", l.kvHeads());
      w.putF32(arch + ".rope.freq_base", l.ropeTheta());
      w.putF32(arch + ".attention.layer_norm_rms_epsilon", c.normEpsilon());
      w.putU32(arch + ".attention.key_length", l.headDim());
      w.putU32(arch + ".attention.value_length", l.headDim());
      if (arch.equals("llama")) {
        w.putU32("llama.rope.dimension_count", l.headDim());
        w.putU32("llama.vocab_size", c.vocabSize());
      }
      if (l.ropeScaling().equals("linear")) {
        w.put(arch + ".rope.scaling.type", "linear");
        w.putF32(arch + ".rope.scaling.factor", l.ropeFactor());
      }
      if (l.ropeScaling().equals("llama3")) { // llama.cpp reads rope_freqs; these are for import
        w.put(LLAMA3 + "type", "llama3");
        w.putF32(LLAMA3 + "factor", l.ropeFactor());
        w.putF32(LLAMA3 + "low_freq_factor", l.lowFreqFactor());
        w.putF32(LLAMA3 + "high_freq_factor", l.highFreqFactor());
        w.putU32(LLAMA3 + "original_context_length", l.originalContext());
      }
    } else {
      w.putU32("gpt2.feed_forward_length", (long) c.mlpRatio() * c.dModel());
      w.putF32("gpt2.attention.layer_norm_epsilon", c.normEpsilon());
    }
    tokenizer(w, c, tok, meta);
    tensors(w, arch, c, weights, dtype);
    return w;
  }

  private static int fileType(GgufWriter.TensorType t) {
    return switch (t) {
      case F32 -> 0;
      case F16 -> 1;
      case Q8_0 -> 7;
      case BF16 -> 32;
    };
  }

  private static void tokenizer(GgufWriter w, ModelConfig c, BpeTokenizer tok, Meta meta) {
    if (tok.vocabSize() > c.vocabSize()) {
      throw new IllegalArgumentException(
          "the tokenizer has "
              + tok.vocabSize()
              + " tokens, more than the model's "
              + c.vocabSize());
    }
    BpeTokenizer.SentencePiece sp = tok.sentencePiece();
    List<String> tokens = new ArrayList<>(c.vocabSize());
    int[] types = new int[c.vocabSize()];
    for (int i = 0; i < c.vocabSize(); i++) {
      if (i < tok.vocabSize()) {
        String text = tok.tokenText(i);
        tokens.add(text);
        if (tok.isSpecial(i)) {
          types[i] = sp != null && text.equals(sp.unk()) ? 2 : 3; // unknown, control
        } else {
          types[i] = sp != null && text.matches("<0x[0-9A-F]{2}>") ? 6 : 1; // byte, normal
        }
      } else {
        tokens.add("[PAD" + i + "]"); // the model's rows beyond the tokenizer's
        types[i] = 5; // unused
      }
    }
    if (sp == null) {
      w.put("tokenizer.ggml.model", "gpt2");
      w.put("tokenizer.ggml.pre", pre(tok.pattern()));
      w.putStrings("tokenizer.ggml.tokens", tokens);
      w.putI32s("tokenizer.ggml.token_type", types);
      List<String> merges = new ArrayList<>();
      for (BpeTokenizer.Merge m : tok.merges()) {
        merges.add(tok.tokenText(m.left()) + " " + tok.tokenText(m.right()));
      }
      w.putStrings("tokenizer.ggml.merges", merges);
    } else {
      // llama.cpp's SentencePiece tokenizer merges the pair whose joined piece scores highest:
      // a piece's score is minus the rank of the merge that makes it, so it merges as BPE does
      float[] scores = new float[c.vocabSize()];
      java.util.Arrays.fill(scores, 0f);
      boolean[] seen = new boolean[c.vocabSize()];
      List<BpeTokenizer.Merge> merges = tok.merges();
      for (int r = 0; r < merges.size(); r++) {
        int id = merges.get(r).result();
        if (!seen[id]) {
          seen[id] = true;
          scores[id] = -r - 1;
        }
      }
      w.put("tokenizer.ggml.model", "llama");
      w.put("tokenizer.ggml.pre", "default");
      w.putStrings("tokenizer.ggml.tokens", tokens);
      w.putF32s("tokenizer.ggml.scores", scores);
      w.putI32s("tokenizer.ggml.token_type", types);
      w.putBool(
          "tokenizer.ggml.add_space_prefix",
          sp.prepend() != BpeTokenizer.SentencePiece.Prepend.NEVER);
      if (sp.unk() != null && tok.specials().containsKey(sp.unk())) {
        w.putU32("tokenizer.ggml.unknown_token_id", tok.specials().get(sp.unk()));
      }
    }
    if (meta.bos() != null) {
      w.putU32("tokenizer.ggml.bos_token_id", meta.bos());
    }
    if (meta.eos() != null) {
      w.putU32("tokenizer.ggml.eos_token_id", meta.eos());
      w.putU32("tokenizer.ggml.padding_token_id", meta.eos());
    }
    w.putBool("tokenizer.ggml.add_bos_token", false);
    w.putBool("tokenizer.ggml.add_eos_token", false);
    if (meta.chatTemplate() != null && !meta.chatTemplate().isEmpty()) {
      w.put("tokenizer.chat_template", meta.chatTemplate());
    }
  }

  /** llama.cpp's pre-tokenizer name for a byte-level pattern. */
  static String pre(PreTokenizer.Pattern p) {
    return switch (p) {
      case GPT2 -> "gpt-2";
      case CL100K -> "llama-bpe";
      case QWEN2 -> "qwen2";
    };
  }

  private static void tensors(
      GgufWriter w,
      String arch,
      ModelConfig c,
      Map<String, INDArray> weights,
      GgufWriter.TensorType dtype) {
    Map<String, INDArray> left = new LinkedHashMap<>(weights);
    if (arch.equals("gpt2")) {
      put(w, "token_embd.weight", take(left, "transformer.wte.weight"), dtype);
      put(w, "position_embd.weight", take(left, "transformer.wpe.weight"), dtype);
      for (int i = 0; i < c.layers(); i++) {
        String h = "transformer.h." + i + ".";
        String b = "blk." + i + ".";
        norm(w, b + "attn_norm", left, h + "ln_1");
        conv(w, b + "attn_qkv", left, h + "attn.c_attn", dtype);
        conv(w, b + "attn_output", left, h + "attn.c_proj", dtype);
        norm(w, b + "ffn_norm", left, h + "ln_2");
        conv(w, b + "ffn_up", left, h + "mlp.c_fc", dtype);
        conv(w, b + "ffn_down", left, h + "mlp.c_proj", dtype);
      }
      norm(w, "output_norm", left, "transformer.ln_f");
      INDArray head = left.remove("lm_head.weight");
      // llama.cpp's converter writes GPT-2's tied head as a tensor of its own
      put(w, "output.weight", head != null ? head : weights.get("transformer.wte.weight"), dtype);
    } else {
      ModelConfig.Llama l = c.llama();
      put(w, "token_embd.weight", take(left, "model.embed_tokens.weight"), dtype);
      if (l.ropeScaling().equals("llama3")) {
        w.tensor("rope_freqs.weight", ropeFactors(l), GgufWriter.TensorType.F32);
      }
      boolean permute = arch.equals("llama");
      for (int i = 0; i < c.layers(); i++) {
        String h = "model.layers." + i + ".";
        String b = "blk." + i + ".";
        put(w, b + "attn_norm.weight", take(left, h + "input_layernorm.weight"), null);
        INDArray q = take(left, h + "self_attn.q_proj.weight");
        INDArray k = take(left, h + "self_attn.k_proj.weight");
        put(w, b + "attn_q.weight", permute ? permute(q, c.heads()) : q, dtype);
        put(w, b + "attn_k.weight", permute ? permute(k, l.kvHeads()) : k, dtype);
        put(w, b + "attn_v.weight", take(left, h + "self_attn.v_proj.weight"), dtype);
        put(w, b + "attn_output.weight", take(left, h + "self_attn.o_proj.weight"), dtype);
        for (String p : List.of("q", "k", "v")) {
          INDArray bias = left.remove(h + "self_attn." + p + "_proj.bias");
          if (bias == null && arch.equals("qwen2")) { // llama.cpp's qwen2 needs them
            bias = Nd4j.zeros(DataType.FLOAT, p.equals("q") ? q.rows() : k.rows());
          }
          if (bias != null) {
            INDArray bb = permute && !p.equals("v") ? permuteBias(bias, p, c) : bias;
            put(w, b + "attn_" + p + ".bias", bb, null);
          }
        }
        if (l.qkNorm()) {
          put(w, b + "attn_q_norm.weight", take(left, h + "self_attn.q_norm.weight"), null);
          put(w, b + "attn_k_norm.weight", take(left, h + "self_attn.k_norm.weight"), null);
        }
        put(w, b + "ffn_norm.weight", take(left, h + "post_attention_layernorm.weight"), null);
        put(w, b + "ffn_gate.weight", take(left, h + "mlp.gate_proj.weight"), dtype);
        put(w, b + "ffn_up.weight", take(left, h + "mlp.up_proj.weight"), dtype);
        put(w, b + "ffn_down.weight", take(left, h + "mlp.down_proj.weight"), dtype);
      }
      put(w, "output_norm.weight", take(left, "model.norm.weight"), null);
      INDArray head = left.remove("lm_head.weight");
      if (head != null) {
        put(w, "output.weight", head, dtype);
      }
    }
    if (!left.isEmpty()) {
      throw new IllegalArgumentException(
          "the GGUF export has no place for " + left.keySet() + " in llama.cpp's " + arch);
    }
  }

  private static INDArray take(Map<String, INDArray> left, String name) {
    INDArray a = left.remove(name);
    if (a == null) {
      throw new IllegalArgumentException("the model lacks " + name);
    }
    return a;
  }

  /**
   * One tensor: 2-D weights in {@code dtype} (Q8_0 where rows allow it, else f16 as llama.cpp's
   * converter falls back), 1-D ones (norms, biases) always f32.
   */
  private static void put(GgufWriter w, String name, INDArray a, GgufWriter.TensorType dtype) {
    GgufWriter.TensorType t = dtype == null || a.rank() < 2 ? GgufWriter.TensorType.F32 : dtype;
    if (t == GgufWriter.TensorType.Q8_0 && a.size(a.rank() - 1) % 32 != 0) {
      t = GgufWriter.TensorType.F16;
    }
    w.tensor(name, a, t);
  }

  private static void norm(GgufWriter w, String to, Map<String, INDArray> left, String from) {
    INDArray weight = take(left, from + ".weight");
    put(w, to + ".weight", weight, null);
    put(w, to + ".bias", biasOrZeros(left, from + ".bias", weight.length()), null);
  }

  /** GPT-2's Conv1D {@code [in, out]}, transposed to the {@code [out, in]} of a linear layer. */
  private static void conv(
      GgufWriter w, String to, Map<String, INDArray> left, String from, GgufWriter.TensorType t) {
    INDArray weight = take(left, from + ".weight");
    put(w, to + ".weight", weight.transpose().dup('c'), t);
    put(w, to + ".bias", biasOrZeros(left, from + ".bias", weight.size(1)), null);
  }

  /** A bias; zeros for a model without biases (llama.cpp's gpt2 needs them; zeros add nothing). */
  private static INDArray biasOrZeros(Map<String, INDArray> left, String name, long n) {
    INDArray b = left.remove(name);
    return b != null ? b : Nd4j.zeros(DataType.FLOAT, n);
  }

  /**
   * llama.cpp's rotary layout for Llama's q and k: within each head, the rows of the two halves
   * interleaved ({@code reshape(heads, 2, hd / 2, in).swapaxes(1, 2)}).
   */
  static INDArray permute(INDArray w, int heads) {
    long out = w.size(0);
    long in = w.size(1);
    return w.reshape('c', heads, 2, out / heads / 2, in)
        .permute(0, 2, 1, 3)
        .dup('c')
        .reshape('c', out, in);
  }

  private static INDArray permuteBias(INDArray b, String which, ModelConfig c) {
    int heads = which.equals("q") ? c.heads() : c.llama().kvHeads();
    return permute(b.reshape('c', b.length(), 1), heads).reshape('c', b.length());
  }

  /** Llama 3's RoPE scaling as llama.cpp applies it: each frequency divided by its factor. */
  static INDArray ropeFactors(ModelConfig.Llama l) {
    ModelConfig.Llama plain =
        new ModelConfig.Llama(
            l.modelType(),
            l.kvHeads(),
            l.headDim(),
            l.mlpHidden(),
            l.ropeTheta(),
            "none",
            1,
            l.lowFreqFactor(),
            l.highFreqFactor(),
            l.originalContext(),
            l.attentionBias(),
            l.qkNorm());
    double[] base = Rope.inverseFrequencies(plain);
    double[] scaled = Rope.inverseFrequencies(l);
    float[] f = new float[base.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) (base[i] / scaled[i]);
    }
    return Nd4j.createFromArray(f);
  }
}
