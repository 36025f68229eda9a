package dev.forja.training.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * LoRA adapters in both engines: the kernels' loss and adapter gradients against the SameDiff graph
 * in double precision (each adapter's B drawn non-zero, so that every product's gradient shows),
 * the base frozen for real (no gradient arrays, no products for it), PEFT's initialisation and
 * target matching.
 */
@Tag("vector-twins")
class LoraKernelsTest {
  private static final ModelConfig LLAMA =
      new ModelConfig(
          13,
          8,
          2,
          8,
          4,
          4,
          false,
          false,
          1e-6,
          0.4,
          ModelConfig.Objective.CAUSAL,
          new ModelConfig.Llama("qwen2", 2, 4, 12, 500, "none", 2, 1, 4, 4, true, true));

  private static final ModelConfig GPT =
      new ModelConfig(13, 8, 2, 8, 2, 4, true, false, 1e-5, 0.4, ModelConfig.Objective.CAUSAL);

  private static LoraSettings lora(List<String> targets, boolean rslora, List<String> saved) {
    return new LoraSettings(3, 5, 0, targets, rslora, saved);
  }

  private static LoraSettings bf16(List<String> targets) {
    return new LoraSettings(3, 5, 0, targets, false, List.of(), true);
  }

  @Test
  void aBf16BaseHoldsTheFrozenLinearsInHalfAndComputesAsTheRoundedFp32Model() {
    Nd4j.getRandom().setSeed(21);
    for (ModelConfig c : List.of(LLAMA, GPT)) {
      Architecture half = Architecture.of(c).withLora(bf16(List.of("all-linear")));
      Architecture whole =
          Architecture.of(c).withLora(lora(List.of("all-linear"), false, List.of()));
      GptModel h =
          GptModel.build(half, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.FLOAT, 3);
      wideB(h);
      GptModel f =
          GptModel.build(whole, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.FLOAT, 3);
      h.weights().forEach((n, w) -> f.weights().get(n).assign(w.castTo(DataType.FLOAT)));
      for (Architecture.Linear l : half.linears()) {
        assertThat(h.weights().get(l.weight().name()).dataType()).isEqualTo(DataType.BFLOAT16);
      }
      assertThat(h.weights().get(half.embedding().tokens().name()).dataType())
          .isEqualTo(DataType.FLOAT);
      int[] ids = GptKernelsTest.ids(c, 8);
      int[] targets = GptKernelsTest.targets(c, 9);
      Map<String, INDArray> gh = GptKernelsTest.grads(h);
      Map<String, INDArray> gf = GptKernelsTest.grads(f);
      double lh = h.pass(GptModel.Engine.KERNELS).lossAndGradients(ids, targets, 0.1, gh, false);
      double lf = f.pass(GptModel.Engine.KERNELS).lossAndGradients(ids, targets, 0.1, gf, false);
      assertThat(lh).isEqualTo(lf); // the upcast weights are the rounded ones, exactly
      gf.forEach((n, g) -> assertThat(gh.get(n)).as(n).isEqualTo(g));
      assertThat(h.pass(GptModel.Engine.SAMEDIFF).loss(ids, targets, 0.1))
          .isCloseTo(lf, within(1e-5));
    }
  }

  private static LoraSettings dropout(List<String> targets, double p) {
    return new LoraSettings(3, 5, p, targets, false, List.of());
  }

  /** Every adapter's B drawn non-zero (PEFT starts it at zero, which would hide A's gradient). */
  private static void wideB(GptModel m) {
    m.weights()
        .forEach(
            (n, a) -> {
              if (n.contains("lora_B")) {
                a.assign(Nd4j.randn(DataType.FLOAT, a.shape()).muli(0.5));
              }
            });
  }

  @Test
  void adapterGradientsMatchTheDoublePrecisionGraphInBothFamilies() {
    Nd4j.getRandom().setSeed(5);
    Object[][] variants = {
      {"llama all-linear", LLAMA, lora(List.of("all-linear"), false, List.of())},
      {
        "llama q/v, rsLoRA, lm_head saved",
        LLAMA,
        lora(List.of("q_proj", "v_proj"), true, List.of("lm_head"))
      },
      {"gpt-2 conv1d", GPT, lora(List.of("c_attn", "c_proj", "c_fc"), false, List.of())},
      {"gpt-2 attention only", GPT, lora(List.of("attn.c_attn"), true, List.of("wte"))},
      // the same dropout masks in both engines (a training pass, key 0)
      {"llama all-linear, dropout 0.3", LLAMA, dropout(List.of("all-linear"), 0.3)},
      {"gpt-2 conv1d, dropout 0.5", GPT, dropout(List.of("c_attn", "c_proj", "c_fc"), 0.5)},
      // the frozen linear weights in bf16, upcast per product (the graph casts them)
      {"llama q/v, bf16 base", LLAMA, bf16(List.of("q_proj", "v_proj"))},
      {"gpt-2 all-linear, bf16 base", GPT, bf16(List.of("all-linear"))},
    };
    long seed = 41;
    for (Object[] v : variants) {
      ModelConfig c = (ModelConfig) v[1];
      Architecture arch = Architecture.of(c).withLora((LoraSettings) v[2]);
      GptKernelsTest.compare(
          arch,
          seed++,
          (String) v[0],
          1e-3,
          m -> c.llamaFamily() ? new LlamaKernels(m) : new GptKernels(m),
          LoraKernelsTest::wideB);
    }
  }

  @Test
  void dropoutDropsTheAdaptersInputWhileTrainingByTheKeyAndNeverWhenEvaluating() {
    Nd4j.getRandom().setSeed(9);
    for (ModelConfig c : List.of(LLAMA, GPT)) {
      Architecture plain = Architecture.of(c).withLora(dropout(List.of("all-linear"), 0));
      Architecture dropped = Architecture.of(c).withLora(dropout(List.of("all-linear"), 0.4));
      GptModel m =
          GptModel.build(plain, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.FLOAT, 7);
      wideB(m);
      GptModel d =
          GptModel.build(dropped, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.FLOAT, 7);
      m.weights().forEach((n, w) -> d.weights().get(n).assign(w));
      int[] ids = GptKernelsTest.ids(c, 3);
      int[] targets = GptKernelsTest.targets(c, 4);
      for (GptModel.Engine engine : List.of(GptModel.Engine.KERNELS, GptModel.Engine.SAMEDIFF)) {
        String what = c.llamaFamily() + " " + engine;
        LossPass p0 = m.pass(engine);
        LossPass pd = d.pass(engine);
        double whole = p0.lossAndGradients(ids, targets, 0.1, GptKernelsTest.grads(m), false);
        // evaluating drops nothing
        assertThat(pd.loss(ids, targets, 0.1)).as(what).isCloseTo(whole, within(1e-5));
        pd.dropoutKey(11);
        double a = pd.lossAndGradients(ids, targets, 0.1, GptKernelsTest.grads(d), false);
        double again = pd.lossAndGradients(ids, targets, 0.1, GptKernelsTest.grads(d), false);
        pd.dropoutKey(12);
        double other = pd.lossAndGradients(ids, targets, 0.1, GptKernelsTest.grads(d), false);
        assertThat(again).as(what).isEqualTo(a); // the key, not a generator, decides
        assertThat(Math.abs(a - whole)).as(what).isGreaterThan(1e-4);
        assertThat(Math.abs(other - a)).as(what).isGreaterThan(1e-4);
      }
    }
    // the mask: about p of the elements dropped, the rest scaled by 1 / (1 - p)
    float[] mask = LoraDropout.mask(5, 2, 64, 100, 0.25);
    long zeros = 0;
    for (float f : mask) {
      assertThat(f == 0f || f == (float) (1 / 0.75)).isTrue();
      zeros += f == 0f ? 1 : 0;
    }
    assertThat(zeros / 6400.0).isCloseTo(0.25, within(0.03));
  }

  @Test
  void dropoutGradientsMatchFiniteDifferencesOfTheTrainingLoss() {
    Nd4j.getRandom().setSeed(13);
    Architecture arch = Architecture.of(LLAMA).withLora(dropout(List.of("all-linear"), 0.3));
    GptModel m =
        GptModel.build(arch, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.DOUBLE, 5);
    wideB(m);
    int[] ids = GptKernelsTest.ids(LLAMA, 5);
    int[] targets = GptKernelsTest.targets(LLAMA, 6);
    LossPass pass = m.pass(GptModel.Engine.SAMEDIFF);
    pass.dropoutKey(77);
    Map<String, INDArray> g = GptKernelsTest.grads(m);
    pass.lossAndGradients(ids, targets, 0.1, g, false);
    Map<String, INDArray> scratch = GptKernelsTest.grads(m);
    double h = 1e-5;
    for (String name :
        List.of(
            "model.layers.0.self_attn.q_proj.lora_A.weight",
            "model.layers.1.mlp.down_proj.lora_A.weight",
            "model.layers.0.mlp.gate_proj.lora_B.weight")) {
      INDArray w = m.parameters().get(name);
      for (long i = 0; i < Math.min(6, w.length()); i++) {
        double x = w.getDouble(i);
        w.putScalar(i, x + h);
        double up = pass.lossAndGradients(ids, targets, 0.1, scratch, false);
        w.putScalar(i, x - h);
        double down = pass.lossAndGradients(ids, targets, 0.1, scratch, false);
        w.putScalar(i, x);
        double numeric = (up - down) / (2 * h);
        double analytic = g.get(name).getDouble(i);
        assertThat(analytic)
            .as("%s[%d]", name, i)
            .isCloseTo(numeric, within(1e-6 + 1e-4 * Math.abs(numeric)));
      }
    }
  }

  @Test
  void theBaseIsFrozenAndTheAdaptersStartAsPeftStartsThem() {
    Architecture arch =
        Architecture.of(LLAMA).withLora(lora(List.of("all-linear"), false, List.of()));
    GptModel m =
        GptModel.build(arch, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.FLOAT, 3);
    // only the adapters train: 7 linear layers x 2 layers x (A, B)
    assertThat(m.parameterNames()).hasSize(28).allMatch(n -> n.contains(".lora_"));
    assertThat(m.weights()).containsKey("model.layers.1.mlp.down_proj.weight");
    INDArray a = m.weights().get("model.layers.0.self_attn.q_proj.lora_A.weight");
    assertThat(a.shape()).containsExactly(3, 8);
    double bound = 1 / Math.sqrt(8);
    assertThat(a.amaxNumber().doubleValue()).isLessThanOrEqualTo(bound).isGreaterThan(bound / 2);
    assertThat(m.weights().get("model.layers.0.self_attn.q_proj.lora_B.weight").shape())
        .containsExactly(16, 3); // [out, r]: 4 query heads x head_dim 4
    // B starts at zero: the adapted model computes the base's loss
    GptModel base =
        GptModel.build(LLAMA, GptKernelsTest.BATCH, GptKernelsTest.LENGTH, DataType.FLOAT, 3);
    base.weights().forEach((n, w) -> m.weights().get(n).assign(w));
    int[] ids = GptKernelsTest.ids(LLAMA, 1);
    int[] targets = GptKernelsTest.targets(LLAMA, 2);
    Map<String, INDArray> g = GptKernelsTest.grads(m);
    double adapted = new LlamaKernels(m).lossAndGradients(ids, targets, 0.1, g, false);
    assertThat(adapted).isEqualTo(new LlamaKernels(base).loss(ids, targets, 0.1));
    assertThat(g.get("model.layers.0.self_attn.q_proj.lora_B.weight").amaxNumber().doubleValue())
        .isGreaterThan(0);
  }

  @Test
  void targetsThatNameNothingAreRefusedWithTheModelsModules() {
    assertThatThrownBy(
            () -> Architecture.of(LLAMA).withLora(lora(List.of("c_attn"), false, List.of())))
        .hasMessageContaining("train.lora.target-modules [c_attn]")
        .hasMessageContaining("q_proj")
        .hasMessageContaining("down_proj");
    assertThatThrownBy(
            () -> Architecture.of(GPT).withLora(lora(List.of("c_attn"), false, List.of("embed"))))
        .hasMessageContaining("train.lora.modules-to-save [embed]");
    assertThatThrownBy(() -> new LoraSettings(0, 8, 0, List.of("q_proj"), false, List.of()))
        .hasMessageContaining("train.lora.r must be at least 1");
  }
}
