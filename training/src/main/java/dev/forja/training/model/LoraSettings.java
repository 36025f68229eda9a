package dev.forja.training.model;

import java.util.List;

/**
 * What a LoRA fine-tune adapts ({@code train.lora.*}), as PEFT's {@code LoraConfig} says it.
 *
 * @param rank {@code r}: the adapters' inner width
 * @param alpha {@code lora_alpha}: the update is scaled by {@code alpha / r} ({@code alpha /
 *     sqrt(r)} with rsLoRA)
 * @param dropout {@code lora_dropout}: dropout on the adapters' input while training
 * @param targetModules the linear layers adapted, by Hugging Face name ({@code q_proj}, {@code
 *     c_attn}, ...; a name matches a module it equals or ends with after a dot), or {@code
 *     all-linear} (every linear layer but the head)
 * @param rslora {@code use_rslora}
 * @param modulesToSave whole modules trained beside the adapters (e.g. {@code embed_tokens}, {@code
 *     lm_head} for added tokens)
 * @param bf16Base hold the frozen linear weights in bfloat16, upcast to the model's precision for
 *     each product ({@code train.lora.base-dtype: bf16}; not PEFT's, not saved with the adapter)
 */
public record LoraSettings(
    int rank,
    double alpha,
    double dropout,
    List<String> targetModules,
    boolean rslora,
    List<String> modulesToSave,
    boolean bf16Base) {

  /** PEFT's settings: the base held as it comes. */
  public LoraSettings(
      int rank,
      double alpha,
      double dropout,
      List<String> targetModules,
      boolean rslora,
      List<String> modulesToSave) {
    this(rank, alpha, dropout, targetModules, rslora, modulesToSave, false);
  }

  /** Every linear layer of the transformer blocks (PEFT's name for it). */
  public static final String ALL_LINEAR = "all-linear";

  public LoraSettings {
    targetModules = List.copyOf(targetModules);
    modulesToSave = List.copyOf(modulesToSave);
    if (rank < 1) {
      throw new IllegalArgumentException("train.lora.r must be at least 1, got " + rank);
    }
    if (!(alpha > 0)) {
      throw new IllegalArgumentException("train.lora.alpha must be positive, got " + alpha);
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("train.lora.dropout must be in [0, 1), got " + dropout);
    }
    if (targetModules.isEmpty()) {
      throw new IllegalArgumentException(
          "train.lora.target-modules is empty: name the linear layers to adapt (e.g. [q_proj,"
              + " v_proj]) or all-linear");
    }
  }

  /** {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA. */
  public double scale() {
    return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
  }

  /** The target that selects {@code module} (a Hugging Face module name), or null. */
  public String target(String module) {
    for (String t : targetModules) {
      if (t.equals(ALL_LINEAR) || matches(module, t)) {
        return t;
      }
    }
    return null;
  }

  /** PEFT's rule: {@code name} is the module's name or its last dotted part(s). */
  public static boolean matches(String module, String name) {
    return module.equals(name) || module.endsWith("." + name);
  }
}
