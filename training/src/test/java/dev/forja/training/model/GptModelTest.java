package dev.forja.training.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.validation.GradCheckUtil;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class GptModelTest {
  static ModelConfig micro(int vocab, ModelConfig.Objective objective) {
    return new ModelConfig(vocab, 8, 2, 8, 2, 2, true, true, 1e-5, 0.2, objective);
  }

  static Map<String, INDArray> batch(int[][] ids, int[][] targets) {
    return Map.of(
        GptModel.INPUT_IDS, Nd4j.createFromArray(ids).castTo(DataType.INT32),
        GptModel.TARGETS, Nd4j.createFromArray(targets).castTo(DataType.INT32),
        GptModel.LOSS_SCALE, Nd4j.scalar(DataType.DOUBLE, 1.0 / (ids.length * ids[0].length)));
  }

  @Test
  void everyParameterHasHuggingFaceGpt2Naming() {
    GptModel m = GptModel.build(micro(11, ModelConfig.Objective.CAUSAL), 2, 5, DataType.FLOAT, 1);
    assertThat(m.parameterNames())
        .contains(
            "transformer.wte.weight",
            "transformer.wpe.weight",
            "transformer.h.0.ln_1.weight",
            "transformer.h.0.attn.c_attn.weight",
            "transformer.h.0.attn.c_attn.bias",
            "transformer.h.1.attn.c_proj.weight",
            "transformer.h.1.mlp.c_fc.weight",
            "transformer.h.1.mlp.c_proj.bias",
            "transformer.ln_f.bias")
        .doesNotContain("lm_head.weight"); // tied
    long count =
        m.parameterNames().stream()
            .mapToLong(n -> m.sameDiff().getVariable(n).getArr().length())
            .sum();
    assertThat(count).isEqualTo(m.config().parameters());
  }

  @Test
  void theParameterListIsTheGraphsParameters() {
    for (boolean bias : new boolean[] {true, false}) {
      for (boolean tied : new boolean[] {true, false}) {
        ModelConfig c =
            new ModelConfig(13, 6, 2, 8, 2, 3, bias, tied, 1e-5, 0.2, ModelConfig.Objective.CAUSAL);
        GptModel m = GptModel.build(c, 1, 4, DataType.FLOAT, 1);
        List<String> names = new java.util.ArrayList<>();
        for (ParameterSpec p : ParameterSpec.of(c)) {
          names.add(p.name());
          assertThat(m.sameDiff().getVariable(p.name()).getArr().shape())
              .as(p.name())
              .containsExactly(p.shape());
        }
        assertThat(m.parameterNames())
            .as("bias %s, tied %s", bias, tied)
            .containsExactlyInAnyOrderElementsOf(names);
      }
    }
    // GPT-2 124M, as Hugging Face counts it
    assertThat(ModelConfig.small(50257).parameters()).isEqualTo(124_439_808L);
  }

  @Test
  void gradientsMatchFiniteDifferencesWithRepeatedIds() {
    // repeated ids on purpose: sd.gather's gradient is wrong for them (docs/stack.md)
    DataType before = Nd4j.dataType();
    Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
    try {
      checkAll();
    } finally {
      Nd4j.setDefaultDataTypes(before, before);
    }
  }

  private static void checkAll() {
    for (ModelConfig.Objective o : ModelConfig.Objective.values()) {
      ModelConfig oneLayer = new ModelConfig(7, 5, 1, 8, 2, 2, true, true, 1e-5, 0.2, o);
      GptModel m = GptModel.build(oneLayer, 2, 5, DataType.DOUBLE, 3);
      SameDiff sd = m.sameDiff();
      Map<String, INDArray> ph =
          batch(
              new int[][] {{1, 1, 2, 3, 1}, {4, 5, 5, 6, 0}},
              new int[][] {{1, 2, 3, 1, 4}, {5, 5, 6, 0, 0}});
      // GradCheckUtil reads every floating-point placeholder's array, skipped or not
      sd.associateArrayWithVariable(ph.get(GptModel.LOSS_SCALE), GptModel.LOSS_SCALE);
      assertThat(
              GradCheckUtil.checkGradients(
                  sd,
                  ph,
                  1e-5,
                  1e-5,
                  1e-6,
                  false,
                  false,
                  false,
                  false,
                  java.util.Set.of(GptModel.LOSS_SCALE),
                  null))
          .as("gradient check, %s", o)
          .isTrue();
    }
  }

  @Test
  void causalMaskHidesTheFuture() {
    GptModel m = GptModel.build(micro(9, ModelConfig.Objective.CAUSAL), 1, 6, DataType.DOUBLE, 5);
    int[][] t = {{0, 0, 0, 0, 0, 0}};
    INDArray a =
        m.sameDiff()
            .output(batch(new int[][] {{1, 2, 3, 4, 5, 6}}, t), GptModel.LOGITS)
            .get(GptModel.LOGITS);
    INDArray b =
        m.sameDiff()
            .output(batch(new int[][] {{1, 2, 3, 8, 8, 8}}, t), GptModel.LOGITS)
            .get(GptModel.LOGITS);
    for (int pos = 0; pos < 3; pos++) {
      assertThat(a.getRow(pos).equalsWithEps(b.getRow(pos), 1e-12)).as("position %d", pos).isTrue();
    }
    assertThat(a.getRow(3).equalsWithEps(b.getRow(3), 1e-6)).isFalse();
  }

  @Test
  void targetsOfMinusOneAreIgnored() {
    GptModel m = GptModel.build(micro(9, ModelConfig.Objective.MASKED), 1, 4, DataType.DOUBLE, 5);
    int[] ids = {1, 2, 3, 4};
    double all =
        m.sameDiff()
            .output(m.feed(ids, new int[] {5, 6, 7, 8}, 1), GptModel.LOSS)
            .get(GptModel.LOSS)
            .getDouble(0);
    double two =
        m.sameDiff()
            .output(m.feed(ids, new int[] {5, -1, 7, -1}, 1), GptModel.LOSS)
            .get(GptModel.LOSS)
            .getDouble(0);
    double other =
        m.sameDiff()
            .output(m.feed(ids, new int[] {-1, 6, -1, 8}, 1), GptModel.LOSS)
            .get(GptModel.LOSS)
            .getDouble(0);
    assertThat(two + other).isCloseTo(all, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(two).isGreaterThan(0).isLessThan(all);
  }

  @Test
  void badShapesAreRefusedWithTheKey() {
    assertThatThrownBy(
            () ->
                new ModelConfig(
                    100, 16, 2, 30, 4, 4, true, true, 1e-5, 0.02, ModelConfig.Objective.CAUSAL))
        .hasMessageContaining("model.d-model (30) must be a multiple of model.heads (4)");
    assertThatThrownBy(
            () -> GptModel.build(micro(5, ModelConfig.Objective.CAUSAL), 1, 9, DataType.FLOAT, 1))
        .hasMessageContaining("exceeds model.context-length 8");
  }
}
