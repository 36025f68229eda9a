package dev.forja.training.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.ByteUnicode;
import dev.forja.tokenizer.PreTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.hf.HfModel;
import dev.forja.training.model.ModelConfig;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FSDataInputStream;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code forja model import --from FILE.gguf}: a GGUF model (llama.cpp's gpt2, llama, qwen2 and
 * qwen3 architectures, F32/F16/BF16/Q8_0 tensors dequantized, a byte-level BPE tokenizer) read back
 * into Hugging Face's names and Forja's config, the inverse of {@link GgufExport}: Llama's q/k rows
 * un-permuted, GPT-2's linear weights transposed back to Conv1D.
 */
public final class GgufImport {
  private static final ObjectMapper JSON = new ObjectMapper();

  private GgufImport() {}

  public static HfModel.Read read(Storage storage, URI file) throws IOException {
    String where = file.toString();
    long size = storage.size(file);
    try (FSDataInputStream in = storage.open(file)) {
      GgufReader.Header h = GgufReader.header(in, size, where);
      String arch = h.string("general.architecture");
      if (arch == null) {
        throw new IllegalArgumentException(where + " names no general.architecture");
      }
      if (!List.of("gpt2", "llama", "qwen2", "qwen3").contains(arch)) {
        throw new IllegalArgumentException(
            where
                + " holds a "
                + arch
                + " model; Forja imports the gpt2, llama, qwen2 and qwen3 architectures");
      }
      BpeTokenizer tok = tokenizer(h, where);
      // GPT-2's head is written out even when tied: tied when it is the token embedding
      boolean tied = h.tensor("output.weight") == null;
      if (arch.equals("gpt2") && !tied && h.tensor("token_embd.weight") != null) {
        tied =
            GgufReader.tensor(in, h, h.tensor("output.weight"))
                .equals(GgufReader.tensor(in, h, h.tensor("token_embd.weight")));
      }
      ModelConfig mc = config(h, arch, tied, where);
      LinkedHashMap<String, INDArray> weights = new LinkedHashMap<>();
      Map<String, String> dtypes = new LinkedHashMap<>();
      for (GgufReader.TensorInfo t : h.tensors()) {
        dtypes.merge(t.type().name().toLowerCase(java.util.Locale.ROOT), t.name(), (a, b) -> a);
      }
      Map<String, GgufReader.TensorInfo> byName = new HashMap<>();
      h.tensors().forEach(t -> byName.put(t.name(), t));
      Loader load =
          name -> {
            GgufReader.TensorInfo t = byName.remove(name);
            if (t == null) {
              throw new IllegalArgumentException(where + " lacks the tensor " + name);
            }
            return GgufReader.tensor(in, h, t);
          };
      if (arch.equals("gpt2")) {
        gpt2(mc, load, weights, byName);
      } else {
        llama(mc, arch, load, weights, byName);
      }
      byName.remove("rope_freqs.weight");
      if (!byName.isEmpty()) {
        throw new IllegalArgumentException(
            where + " holds tensors " + byName.keySet() + " that " + arch + " has no place for");
      }
      ObjectNode tc = JSON.createObjectNode();
      tc.put("tokenizer_class", "PreTrainedTokenizerFast");
      tc.put("model_max_length", mc.contextLength());
      Long eos = h.integer("tokenizer.ggml.eos_token_id");
      Long bos = h.integer("tokenizer.ggml.bos_token_id");
      if (eos != null && eos < tok.vocabSize()) {
        tc.put("eos_token", tok.tokenText(eos.intValue()));
      }
      if (bos != null && bos < tok.vocabSize()) {
        tc.put("bos_token", tok.tokenText(bos.intValue()));
      }
      if (h.string("tokenizer.chat_template") != null) {
        tc.put("chat_template", h.string("tokenizer.chat_template"));
      }
      Map<String, String> carried = new LinkedHashMap<>();
      carried.put(HfModel.TOKENIZER_CONFIG, JSON.writeValueAsString(tc));
      return new HfModel.Read(
          mc, weights, TokenizerFiles.toTokenizerJson(tok), tok, dtypes, carried);
    }
  }

  private interface Loader {
    INDArray get(String name) throws IOException;
  }

  private static void gpt2(
      ModelConfig mc, Loader load, Map<String, INDArray> w, Map<String, GgufReader.TensorInfo> left)
      throws IOException {
    w.put("transformer.wte.weight", load.get("token_embd.weight"));
    w.put("transformer.wpe.weight", load.get("position_embd.weight"));
    for (int i = 0; i < mc.layers(); i++) {
      String b = "blk." + i + ".";
      String h = "transformer.h." + i + ".";
      pair(w, h + "ln_1", load, b + "attn_norm", false);
      pair(w, h + "attn.c_attn", load, b + "attn_qkv", true);
      pair(w, h + "attn.c_proj", load, b + "attn_output", true);
      pair(w, h + "ln_2", load, b + "ffn_norm", false);
      pair(w, h + "mlp.c_fc", load, b + "ffn_up", true);
      pair(w, h + "mlp.c_proj", load, b + "ffn_down", true);
    }
    pair(w, "transformer.ln_f", load, "output_norm", false);
    if (left.containsKey("output.weight")) {
      INDArray out = load.get("output.weight");
      if (!mc.tiedEmbeddings()) {
        w.put("lm_head.weight", out);
      }
    } else if (!mc.tiedEmbeddings()) {
      throw new IllegalStateException("an untied GPT-2 without output.weight");
    }
  }

  private static void pair(
      Map<String, INDArray> w, String to, Loader load, String from, boolean conv)
      throws IOException {
    INDArray weight = load.get(from + ".weight");
    w.put(to + ".weight", conv ? weight.transpose().dup('c') : weight);
    w.put(to + ".bias", load.get(from + ".bias"));
  }

  private static void llama(
      ModelConfig mc,
      String arch,
      Loader load,
      Map<String, INDArray> w,
      Map<String, GgufReader.TensorInfo> left)
      throws IOException {
    ModelConfig.Llama l = mc.llama();
    boolean permuted = arch.equals("llama");
    w.put("model.embed_tokens.weight", load.get("token_embd.weight"));
    for (int i = 0; i < mc.layers(); i++) {
      String b = "blk." + i + ".";
      String h = "model.layers." + i + ".";
      w.put(h + "input_layernorm.weight", load.get(b + "attn_norm.weight"));
      INDArray q = load.get(b + "attn_q.weight");
      INDArray k = load.get(b + "attn_k.weight");
      w.put(h + "self_attn.q_proj.weight", permuted ? unpermute(q, mc.heads()) : q);
      w.put(h + "self_attn.k_proj.weight", permuted ? unpermute(k, l.kvHeads()) : k);
      w.put(h + "self_attn.v_proj.weight", load.get(b + "attn_v.weight"));
      w.put(h + "self_attn.o_proj.weight", load.get(b + "attn_output.weight"));
      if (l.attentionBias()) {
        for (String p : List.of("q", "k", "v")) {
          INDArray bias = load.get(b + "attn_" + p + ".bias");
          if (permuted && !p.equals("v")) {
            int heads = p.equals("q") ? mc.heads() : l.kvHeads();
            bias =
                unpermute(bias.reshape('c', bias.length(), 1), heads).reshape('c', bias.length());
          }
          w.put(h + "self_attn." + p + "_proj.bias", bias);
        }
      }
      if (l.qkNorm()) {
        w.put(h + "self_attn.q_norm.weight", load.get(b + "attn_q_norm.weight"));
        w.put(h + "self_attn.k_norm.weight", load.get(b + "attn_k_norm.weight"));
      }
      w.put(h + "post_attention_layernorm.weight", load.get(b + "ffn_norm.weight"));
      w.put(h + "mlp.gate_proj.weight", load.get(b + "ffn_gate.weight"));
      w.put(h + "mlp.up_proj.weight", load.get(b + "ffn_up.weight"));
      w.put(h + "mlp.down_proj.weight", load.get(b + "ffn_down.weight"));
    }
    w.put("model.norm.weight", load.get("output_norm.weight"));
    if (!mc.tiedEmbeddings()) {
      w.put("lm_head.weight", load.get("output.weight"));
    }
  }

  /** The inverse of {@link GgufExport#permute}. */
  static INDArray unpermute(INDArray w, int heads) {
    long out = w.size(0);
    long in = w.size(1);
    return w.reshape('c', heads, out / heads / 2, 2, in)
        .permute(0, 2, 1, 3)
        .dup('c')
        .reshape('c', out, in);
  }

  private static ModelConfig config(GgufReader.Header h, String arch, boolean tied, String where) {
    int vocab;
    GgufReader.TensorInfo embd = h.tensor("token_embd.weight");
    if (embd == null) {
      throw new IllegalArgumentException(where + " lacks the tensor token_embd.weight");
    }
    vocab = (int) embd.ne()[1];
    int context = intKey(h, arch + ".context_length", where);
    int d = intKey(h, arch + ".embedding_length", where);
    int layers = intKey(h, arch + ".block_count", where);
    int heads = intKey(h, arch + ".attention.head_count", where);
    int ff = intKey(h, arch + ".feed_forward_length", where);
    if (arch.equals("gpt2")) {
      if (ff % d != 0) {
        throw new IllegalArgumentException(
            where + ": gpt2.feed_forward_length " + ff + " is not a multiple of " + d);
      }
      double eps = number(h, "gpt2.attention.layer_norm_epsilon", 1e-5);
      return new ModelConfig(
          vocab,
          context,
          layers,
          d,
          heads,
          ff / d,
          true,
          tied,
          eps,
          0.02,
          ModelConfig.Objective.CAUSAL);
    }
    int kv = intKeyOr(h, arch + ".attention.head_count_kv", heads);
    int headDim = intKeyOr(h, arch + ".attention.key_length", d / heads);
    double theta = number(h, arch + ".rope.freq_base", 10000);
    double eps = number(h, arch + ".attention.layer_norm_rms_epsilon", 1e-6);
    String scaling = "none";
    double factor = 1;
    double low = 1;
    double high = 4;
    int original = context;
    String type = h.string(arch + ".rope.scaling.type");
    if ("linear".equals(type)) {
      scaling = "linear";
      factor = number(h, arch + ".rope.scaling.factor", 1);
    } else if (type != null && !type.equals("none")) {
      throw new IllegalArgumentException(
          where + " uses RoPE scaling " + type + ", which Forja does not implement");
    }
    if (h.tensor("rope_freqs.weight") != null) {
      if (!"llama3".equals(h.string(GgufExport.LLAMA3 + "type"))) {
        throw new IllegalArgumentException(
            where
                + " scales RoPE by a rope_freqs tensor without its Llama 3 parameters: import"
                + " the Hugging Face model instead (its config.json has them)");
      }
      scaling = "llama3";
      factor = number(h, GgufExport.LLAMA3 + "factor", 8);
      low = number(h, GgufExport.LLAMA3 + "low_freq_factor", 1);
      high = number(h, GgufExport.LLAMA3 + "high_freq_factor", 4);
      original = intKey(h, GgufExport.LLAMA3 + "original_context_length", where);
    }
    boolean bias = h.tensor("blk.0.attn_q.bias") != null;
    boolean qkNorm = h.tensor("blk.0.attn_q_norm.weight") != null;
    ModelConfig.Llama l =
        new ModelConfig.Llama(
            arch, kv, headDim, ff, theta, scaling, factor, low, high, original, bias, qkNorm);
    return new ModelConfig(
        vocab,
        context,
        layers,
        d,
        heads,
        1,
        false,
        tied,
        eps,
        0.02,
        ModelConfig.Objective.CAUSAL,
        l);
  }

  private static int intKey(GgufReader.Header h, String key, String where) {
    Long v = h.integer(key);
    if (v == null) {
      throw new IllegalArgumentException(where + " lacks the metadata key " + key);
    }
    if (v < 1 || v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(where + " has " + key + " = " + v);
    }
    return v.intValue();
  }

  private static int intKeyOr(GgufReader.Header h, String key, int otherwise) {
    Long v = h.integer(key);
    return v == null ? otherwise : Math.toIntExact(v);
  }

  private static double number(GgufReader.Header h, String key, double otherwise) {
    Double v = h.number(key);
    return v == null ? otherwise : v;
  }

  /** The byte-level BPE tokenizer of {@code tokenizer.ggml.*} ({@code gpt2} model). */
  static BpeTokenizer tokenizer(GgufReader.Header h, String where) {
    String model = h.string("tokenizer.ggml.model");
    if (!"gpt2".equals(model)) {
      throw new IllegalArgumentException(
          where
              + " has a "
              + model
              + " tokenizer; Forja imports byte-level BPE (tokenizer.ggml.model gpt2) only");
    }
    String pre = h.string("tokenizer.ggml.pre");
    PreTokenizer.Pattern pattern;
    boolean ignoreMerges = false;
    boolean nfc = false;
    switch (pre == null ? "default" : pre) {
      case "gpt-2", "default" -> pattern = PreTokenizer.Pattern.GPT2;
      case "llama-bpe", "llama3" -> {
        pattern = PreTokenizer.Pattern.CL100K;
        ignoreMerges = true;
      }
      case "qwen2" -> {
        pattern = PreTokenizer.Pattern.QWEN2;
        nfc = true;
      }
      default ->
          throw new IllegalArgumentException(
              where + " pre-tokenizes as " + pre + "; Forja knows gpt-2, llama-bpe and qwen2");
    }
    List<?> texts = list(h, "tokenizer.ggml.tokens", where);
    List<?> types = (List<?>) h.metadata().get("tokenizer.ggml.token_type");
    List<?> merges = list(h, "tokenizer.ggml.merges", where);
    int n = texts.size();
    while (n > 0 && types != null && ((Long) types.get(n - 1)) == 5L) {
      n--; // the model's rows beyond the tokenizer
    }
    List<byte[]> tokens = new ArrayList<>(n);
    Map<String, Integer> specials = new LinkedHashMap<>();
    Map<String, Integer> ids = new HashMap<>();
    for (int i = 0; i < n; i++) {
      String t = (String) texts.get(i);
      long type = types == null ? 1 : (Long) types.get(i);
      if (type == 3 || type == 4) {
        tokens.add(t.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        specials.put(t, i);
      } else {
        tokens.add(ByteUnicode.decode(t));
      }
      ids.putIfAbsent(t, i);
    }
    List<int[]> pairs = new ArrayList<>(merges.size());
    for (Object m : merges) {
      String s = (String) m;
      int sp = s.indexOf(' ', 1);
      Integer a = sp < 0 ? null : ids.get(s.substring(0, sp));
      Integer b = sp < 0 ? null : ids.get(s.substring(sp + 1));
      if (a == null || b == null) {
        throw new IllegalArgumentException(where + ": the merge '" + s + "' names unknown tokens");
      }
      pairs.add(new int[] {a, b});
    }
    return new BpeTokenizer(pattern, tokens, pairs, specials, ignoreMerges, nfc);
  }

  private static List<?> list(GgufReader.Header h, String key, String where) {
    Object v = h.metadata().get(key);
    if (!(v instanceof List<?> l)) {
      throw new IllegalArgumentException(where + " lacks the metadata key " + key);
    }
    return l;
  }
}
