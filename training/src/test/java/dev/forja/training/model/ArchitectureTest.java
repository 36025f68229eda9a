package dev.forja.training.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.training.train.TrainConfig;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The one description of a model: GPT-2 and the Llama family as settings of the same blocks, the
 * parameters each block declares, which engine implements which blocks, and the weight-decay rule
 * that comes from the declarations.
 */
class ArchitectureTest {
  private static final ModelConfig GPT =
      new ModelConfig(13, 8, 2, 8, 2, 2, true, false, 1e-5, 0.4, ModelConfig.Objective.CAUSAL);
  private static final ModelConfig QWEN3 =
      new ModelConfig(
          13,
          8,
          2,
          8,
          4,
          4,
          false,
          true,
          1e-6,
          0.4,
          ModelConfig.Objective.CAUSAL,
          new ModelConfig.Llama("qwen3", 2, 4, 12, 1e6, "none", 1, 1, 4, 4, true, true));

  @Test
  void bothFamiliesAreSettingsOfTheSameBlocks() {
    Architecture gpt = Architecture.of(GPT);
    assertThat(gpt.embedding().positions().name()).isEqualTo("transformer.wpe.weight");
    Architecture.Layer g0 = gpt.layers().get(0);
    assertThat(g0.attentionNorm().kind()).isEqualTo(Architecture.NormKind.LAYER_NORM);
    assertThat(g0.attention().fused()).isTrue();
    assertThat(g0.attention().inputs().get(0).layout()).isEqualTo(Architecture.Layout.IN_OUT);
    assertThat(g0.mlp().activation()).isEqualTo(Architecture.Activation.GELU_TANH);
    assertThat(gpt.head().tied()).isFalse();

    Architecture qwen = Architecture.of(QWEN3);
    assertThat(qwen.embedding().positions()).isNull();
    Architecture.Layer q0 = qwen.layers().get(0);
    assertThat(q0.attentionNorm().kind()).isEqualTo(Architecture.NormKind.RMS_NORM);
    assertThat(q0.attention().kvHeads()).isEqualTo(2);
    assertThat(q0.attention().inputs())
        .extracting(l -> l.weight().name())
        .containsExactly(
            "model.layers.0.self_attn.q_proj.weight",
            "model.layers.0.self_attn.k_proj.weight",
            "model.layers.0.self_attn.v_proj.weight");
    assertThat(q0.attention().inputs().get(1).bias().shape()).containsExactly(8L);
    assertThat(q0.attention().qNorm().weight().shape()).containsExactly(4L);
    assertThat(q0.mlp().activation()).isEqualTo(Architecture.Activation.SWIGLU);
    assertThat(qwen.head().parameters()).isEmpty(); // tied: the embedding, counted once
    assertThat(QWEN3.parameters())
        .isEqualTo(qwen.parameters().stream().mapToLong(ParameterSpec::count).sum());
  }

  @Test
  void theGraphHoldsExactlyTheDeclaredParametersInitialisedAsDeclared() {
    for (ModelConfig c : List.of(GPT, QWEN3)) {
      GptModel m = GptModel.build(c, 1, 4, DataType.FLOAT, 3);
      List<ParameterSpec> specs = ParameterSpec.of(c);
      assertThat(m.parameterNames())
          .containsExactlyInAnyOrderElementsOf(specs.stream().map(ParameterSpec::name).toList());
      for (ParameterSpec p : specs) {
        var a = m.parameters().get(p.name());
        assertThat(a.shape()).as(p.name()).isEqualTo(p.shape());
        switch (p.init().kind()) {
          case ONES -> assertThat(a.minNumber().doubleValue()).as(p.name()).isEqualTo(1.0);
          case ZEROS -> assertThat(a.maxNumber().doubleValue()).as(p.name()).isEqualTo(0.0);
          case NORMAL -> assertThat(a.stdNumber().doubleValue()).as(p.name()).isGreaterThan(0.0);
        }
      }
    }
  }

  @Test
  void eachEngineRefusesBlocksItDoesNotImplement() {
    assertThat(GptKernels.supports(Architecture.of(GPT))).isTrue();
    assertThat(LlamaKernels.supports(Architecture.of(GPT))).isFalse();
    assertThat(LlamaKernels.supports(Architecture.of(QWEN3))).isTrue();
    assertThat(GptKernels.supports(Architecture.of(QWEN3))).isFalse();
    GptModel qwen = GptModel.build(QWEN3, 1, 4, DataType.FLOAT, 3);
    assertThatThrownBy(() -> new GptKernels(qwen))
        .hasMessageContaining("GptKernels compute GPT-2's blocks");
    ModelConfig masked =
        new ModelConfig(13, 8, 1, 8, 2, 2, true, true, 1e-5, 0.4, ModelConfig.Objective.MASKED);
    assertThat(CpuDecoder.supports(Architecture.of(GPT))).isTrue();
    assertThat(CpuDecoder.supports(Architecture.of(QWEN3))).isTrue();
    assertThatThrownBy(
            () ->
                new CpuDecoder(
                    masked, GptModel.build(masked, 1, 4, DataType.FLOAT, 3).parameters()))
        .hasMessageContaining("the CPU decoder computes GPT-2's and the Llama family's causal");
  }

  @Test
  void weightDecayFollowsTheDeclarationsAndTheDefaultExemptionsAgree() {
    TrainConfig none =
        TrainConfig.read(
            new ConfigReader(ConfigSource.empty().with("train.no-decay", List.of(), "test")));
    TrainConfig defaults = TrainConfig.defaults();
    for (ModelConfig c : List.of(GPT, QWEN3)) {
      for (ParameterSpec p : ParameterSpec.of(c)) {
        boolean matrix =
            p.shape().length == 2
                && !p.name().contains("embed")
                && !p.name().contains("wte")
                && !p.name().contains("wpe");
        assertThat(p.decays()).as(p.name()).isEqualTo(matrix);
        // the default name fragments exempt exactly what the description exempts
        assertThat(defaults.decays(p.name())).as(p.name()).isEqualTo(p.decays());
        assertThat(none.decays(p.name())).isTrue();
      }
    }
  }
}
