package dev.forja.training.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameters a model of a {@link ModelConfig} has: each name (Hugging Face GPT-2's), shape and
 * whether weight decay applies, in Hugging Face's order. Checkpoints, the parameter count and
 * import/export read this list; a test holds it to the graph {@link GptModel#build} makes.
 *
 * @param name the Hugging Face name, e.g. {@code transformer.h.0.attn.c_attn.weight}
 * @param shape the shape, with linear weights as GPT-2's {@code Conv1D}: {@code [in, out]}
 * @param decays whether decoupled weight decay applies (matrices yes; biases, norms and embeddings
 *     no)
 */
public record ParameterSpec(String name, long[] shape, boolean decays) {

  public long count() {
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParameterSpec p
        && p.name.equals(name)
        && Arrays.equals(p.shape, shape)
        && p.decays == decays;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }

  /** Every parameter of {@code c}: embeddings, each block, the final norm, the head. */
  public static List<ParameterSpec> of(ModelConfig c) {
    return c.llamaFamily() ? llama(c) : gpt2(c);
  }

  /** Llama-family names, weights in Hugging Face's {@code nn.Linear} layout: {@code [out, in]}. */
  public static final String EMBED = "model.embed_tokens.weight";

  public static final String FINAL_NORM = "model.norm.weight";

  public static String llamaLayer(int i, String suffix) {
    return "model.layers." + i + "." + suffix;
  }

  private static List<ParameterSpec> llama(ModelConfig c) {
    ModelConfig.Llama l = c.llama();
    long d = c.dModel();
    long q = (long) c.heads() * l.headDim();
    long kv = (long) l.kvHeads() * l.headDim();
    long f = l.mlpHidden();
    List<ParameterSpec> out = new ArrayList<>();
    out.add(new ParameterSpec(EMBED, new long[] {c.vocabSize(), d}, false));
    for (int i = 0; i < c.layers(); i++) {
      out.add(new ParameterSpec(llamaLayer(i, "input_layernorm.weight"), new long[] {d}, false));
      for (String[] p :
          new String[][] {{"q_proj", "" + q}, {"k_proj", "" + kv}, {"v_proj", "" + kv}}) {
        long rows = Long.parseLong(p[1]);
        out.add(
            new ParameterSpec(
                llamaLayer(i, "self_attn." + p[0] + ".weight"), new long[] {rows, d}, true));
        if (l.attentionBias()) {
          out.add(
              new ParameterSpec(
                  llamaLayer(i, "self_attn." + p[0] + ".bias"), new long[] {rows}, false));
        }
      }
      out.add(new ParameterSpec(llamaLayer(i, "self_attn.o_proj.weight"), new long[] {d, q}, true));
      if (l.qkNorm()) {
        out.add(
            new ParameterSpec(
                llamaLayer(i, "self_attn.q_norm.weight"), new long[] {l.headDim()}, false));
        out.add(
            new ParameterSpec(
                llamaLayer(i, "self_attn.k_norm.weight"), new long[] {l.headDim()}, false));
      }
      out.add(
          new ParameterSpec(
              llamaLayer(i, "post_attention_layernorm.weight"), new long[] {d}, false));
      out.add(new ParameterSpec(llamaLayer(i, "mlp.gate_proj.weight"), new long[] {f, d}, true));
      out.add(new ParameterSpec(llamaLayer(i, "mlp.up_proj.weight"), new long[] {f, d}, true));
      out.add(new ParameterSpec(llamaLayer(i, "mlp.down_proj.weight"), new long[] {d, f}, true));
    }
    out.add(new ParameterSpec(FINAL_NORM, new long[] {d}, false));
    if (!c.tiedEmbeddings()) {
      out.add(new ParameterSpec(GptModel.LM_HEAD, new long[] {c.vocabSize(), d}, true));
    }
    return out;
  }

  private static List<ParameterSpec> gpt2(ModelConfig c) {
    long d = c.dModel();
    long v = c.vocabSize();
    long mlp = c.mlpWidth();
    List<ParameterSpec> out = new ArrayList<>();
    out.add(new ParameterSpec(GptModel.WTE, new long[] {v, d}, false));
    out.add(new ParameterSpec(GptModel.WPE, new long[] {c.contextLength(), d}, false));
    for (int l = 0; l < c.layers(); l++) {
      norm(out, c, GptModel.layer(l, "ln_1"), d);
      linear(out, c, GptModel.layer(l, "attn.c_attn"), d, 3 * d);
      linear(out, c, GptModel.layer(l, "attn.c_proj"), d, d);
      norm(out, c, GptModel.layer(l, "ln_2"), d);
      linear(out, c, GptModel.layer(l, "mlp.c_fc"), d, mlp);
      linear(out, c, GptModel.layer(l, "mlp.c_proj"), mlp, d);
    }
    norm(out, c, "transformer.ln_f", d);
    if (!c.tiedEmbeddings()) {
      out.add(new ParameterSpec(GptModel.LM_HEAD, new long[] {v, d}, true));
    }
    return out;
  }

  /** {@link #of} by name. */
  public static Map<String, ParameterSpec> byName(ModelConfig c) {
    Map<String, ParameterSpec> m = new LinkedHashMap<>();
    for (ParameterSpec p : of(c)) {
      m.put(p.name(), p);
    }
    return m;
  }

  private static void norm(List<ParameterSpec> out, ModelConfig c, String prefix, long d) {
    out.add(new ParameterSpec(prefix + ".weight", new long[] {d}, false));
    if (c.bias()) {
      out.add(new ParameterSpec(prefix + ".bias", new long[] {d}, false));
    }
  }

  private static void linear(
      List<ParameterSpec> out, ModelConfig c, String prefix, long in, long outWidth) {
    out.add(new ParameterSpec(prefix + ".weight", new long[] {in, outWidth}, true));
    if (c.bias()) {
      out.add(new ParameterSpec(prefix + ".bias", new long[] {outWidth}, false));
    }
  }
}
