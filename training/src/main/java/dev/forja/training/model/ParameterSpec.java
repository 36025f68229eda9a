package dev.forja.training.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One parameter of a model, as its {@link Architecture} declares it: the Hugging Face name and
 * shape, how it is initialised, whether weight decay applies, and whether it trains. Checkpoints,
 * the parameter count, import/export and the optimizer read these; a test holds the list to the
 * graph {@link GptModel#build} makes.
 *
 * @param name the Hugging Face name, e.g. {@code transformer.h.0.attn.c_attn.weight}
 * @param shape the shape, with linear weights in their {@link Architecture.Layout}
 * @param decays whether decoupled weight decay applies (matrices yes; biases, norms and embeddings
 *     no)
 * @param init how a fresh model initialises it
 * @param trainable whether the optimizer updates it (false: frozen)
 */
public record ParameterSpec(
    String name, long[] shape, boolean decays, Init init, boolean trainable) {

  /**
   * How a parameter starts: {@code scale} is the standard deviation of a normal draw, the bound of
   * a uniform one ({@code U(-scale, scale)}), unused otherwise.
   */
  public record Init(Kind kind, double scale) {
    public enum Kind {
      NORMAL,
      UNIFORM,
      ONES,
      ZEROS
    }

    public static Init normal(double std) {
      return new Init(Kind.NORMAL, std);
    }

    public static Init uniform(double bound) {
      return new Init(Kind.UNIFORM, bound);
    }

    public static final Init ONES = new Init(Kind.ONES, 0);
    public static final Init ZEROS = new Init(Kind.ZEROS, 0);
  }

  /** Normally distributed with {@code std}, trainable. */
  public static ParameterSpec normal(String name, double std, boolean decays, long... shape) {
    return new ParameterSpec(name, shape, decays, Init.normal(std), true);
  }

  /** Ones (a norm's weight), not decayed, trainable. */
  public static ParameterSpec ones(String name, long... shape) {
    return new ParameterSpec(name, shape, false, Init.ONES, true);
  }

  /** Zeros (a bias), not decayed, trainable. */
  public static ParameterSpec zeros(String name, long... shape) {
    return new ParameterSpec(name, shape, false, Init.ZEROS, true);
  }

  /** This parameter frozen or made trainable. */
  public ParameterSpec withTrainable(boolean t) {
    return new ParameterSpec(name, shape, decays, init, t);
  }

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
        && p.decays == decays
        && p.init.equals(init)
        && p.trainable == trainable;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }

  /** Every parameter of {@code c}: {@link Architecture#of}'s, in Hugging Face's order. */
  public static List<ParameterSpec> of(ModelConfig c) {
    return Architecture.of(c).parameters();
  }

  /** Llama-family names, weights in Hugging Face's {@code nn.Linear} layout: {@code [out, in]}. */
  public static final String EMBED = "model.embed_tokens.weight";

  public static final String FINAL_NORM = "model.norm.weight";

  public static String llamaLayer(int i, String suffix) {
    return "model.layers." + i + "." + suffix;
  }

  /** {@link #of} by name. */
  public static Map<String, ParameterSpec> byName(ModelConfig c) {
    Map<String, ParameterSpec> m = new LinkedHashMap<>();
    for (ParameterSpec p : of(c)) {
      m.put(p.name(), p);
    }
    return m;
  }
}
