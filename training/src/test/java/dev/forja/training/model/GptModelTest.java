package dev.forja.training.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.autodiff.validation.GradCheckUtil;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

class GptModelTest {
  static ModelConfig micro(int vocab, ModelConfig.Objective objective) {
    return new ModelConfig(vocab, 8, 2, 8, 2, 2, 0.0, true, true, 1e-5, 0.2, objective);
  }

  static Map<String, INDArray> batch(int[][] ids, int[][] targets) {
    return Map.of(
        GptModel.INPUT_IDS, Nd4j.createFromArray(ids).castTo(DataType.INT32),
        GptModel.TARGETS, Nd4j.createFromArray(targets).castTo(DataType.INT32));
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
  void gradientsMatchFiniteDifferencesWithRepeatedIds() {
    // repeated ids on purpose: sd.gather's gradient is wrong for them (STACK.md)
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
      ModelConfig oneLayer = new ModelConfig(7, 5, 1, 8, 2, 2, 0.0, true, true, 1e-5, 0.2, o);
      GptModel m = GptModel.build(oneLayer, 2, 5, DataType.DOUBLE, 3);
      SameDiff sd = m.sameDiff();
      Map<String, INDArray> ph =
          batch(
              new int[][] {{1, 1, 2, 3, 1}, {4, 5, 5, 6, 0}},
              new int[][] {{1, 2, 3, 1, 4}, {5, 5, 6, 0, 0}});
      assertThat(GradCheckUtil.checkGradients(sd, ph)).as("gradient check, %s", o).isTrue();
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
  void learnsADeterministicSequence() {
    int vocab = 10;
    GptModel m =
        GptModel.build(micro(vocab, ModelConfig.Objective.CAUSAL), 4, 8, DataType.FLOAT, 7);
    SameDiff sd = m.sameDiff();
    sd.setTrainingConfig(
        TrainingConfig.builder()
            .updater(new Adam(1e-2))
            .dataSetFeatureMapping(GptModel.INPUT_IDS)
            .dataSetLabelMapping(GptModel.TARGETS)
            .build());
    int[][] ids = new int[4][8];
    int[][] next = new int[4][8];
    for (int b = 0; b < 4; b++) {
      for (int t = 0; t < 8; t++) {
        ids[b][t] = (b + t * 3) % vocab;
        next[b][t] = (b + (t + 1) * 3) % vocab;
      }
    }
    Map<String, INDArray> ph = batch(ids, next);
    double before = sd.output(ph, GptModel.LOSS).get(GptModel.LOSS).getDouble(0);
    assertThat(before).isCloseTo(Math.log(vocab), org.assertj.core.data.Offset.offset(0.3));
    MultiDataSet data =
        new MultiDataSet(
            new INDArray[] {ph.get(GptModel.INPUT_IDS)}, new INDArray[] {ph.get(GptModel.TARGETS)});
    for (int step = 0; step < 150; step++) {
      sd.fit(data);
    }
    double after = sd.output(ph, GptModel.LOSS).get(GptModel.LOSS).getDouble(0);
    assertThat(after).isLessThan(0.1);
  }

  @Test
  void badShapesAreRefusedWithTheKey() {
    assertThatThrownBy(
            () ->
                new ModelConfig(
                    100, 16, 2, 30, 4, 4, 0, true, true, 1e-5, 0.02, ModelConfig.Objective.CAUSAL))
        .hasMessageContaining("model.d-model (30) must be a multiple of model.heads (4)");
    assertThatThrownBy(
            () -> GptModel.build(micro(5, ModelConfig.Objective.CAUSAL), 1, 9, DataType.FLOAT, 1))
        .hasMessageContaining("exceeds model.context-length 8");
  }
}
