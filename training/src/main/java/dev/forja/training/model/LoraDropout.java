package dev.forja.training.model;

/**
 * LoRA dropout ({@code lora_dropout}, as PEFT applies it): while training, each element of an
 * adapter's input is dropped with probability {@code p} and the rest scaled by {@code 1 / (1 - p)};
 * the base weight sees the input whole. The mask is not drawn from a generator but computed from a
 * key (the run's seed, step, micro-batch and worker), the adapter's index among the model's linear
 * layers and the element's index, so that both engines drop the same elements and a resumed or
 * retried step drops what the uninterrupted one did.
 */
public final class LoraDropout {
  private LoraDropout() {}

  /** SplitMix64's finaliser: a bijective 64-bit mix. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  /** The key of adapter {@code module}'s mask within a pass of key {@code key}. */
  static long moduleKey(long key, int module) {
    return mix(mix(key) + 0x9E3779B97F4A7C15L * (module + 1));
  }

  /**
   * The multiplier of element {@code index} (row-major over {@code [tokens, in]}) of an adapter's
   * input: 0 where dropped, else {@code 1 / (1 - p)}.
   */
  static float factor(long moduleKey, long index, double p) {
    double u = (mix(moduleKey ^ (index * 0xD1B54A32D192ED03L)) >>> 40) * 0x1.0p-24;
    return u < p ? 0f : (float) (1 / (1 - p));
  }

  /** The whole mask of adapter {@code module} for {@code rows} tokens of {@code cols} inputs. */
  public static float[] mask(long key, int module, int rows, int cols, double p) {
    long mk = moduleKey(key, module);
    float[] out = new float[rows * cols];
    for (int i = 0; i < out.length; i++) {
      out[i] = factor(mk, i, p);
    }
    return out;
  }
}
