package dev.forja.training.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.training.model.GptModel;
import dev.forja.training.model.ModelConfig;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Decoding against the training graph; run with and without the Vector API (vector-twins). */
@org.junit.jupiter.api.Tag("vector-twins")
class GeneratorTest {
  static final ModelConfig C =
      new ModelConfig(13, 8, 2, 16, 4, 4, true, true, 1e-5, 0.3, ModelConfig.Objective.CAUSAL);

  @Test
  void incrementalLogitsEqualTheTrainingGraphsAtEveryPosition() {
    GptModel m = GptModel.build(C, 1, 8, DataType.FLOAT, 3);
    int[] ids = {3, 1, 4, 1, 5, 9, 2, 6};
    INDArray full =
        m.sameDiff().output(m.feed(ids, new int[8], 1), GptModel.LOGITS).get(GptModel.LOGITS);
    Generator g = new Generator(C, m.parameters());
    for (int t = 0; t < ids.length; t++) {
      INDArray step = g.next(ids[t]);
      assertThat(step.equalsWithEps(full.getRow(t), 1e-5)).as("position %d", t).isTrue();
    }
    assertThat(g.position()).isEqualTo(8);
    assertThatThrownBy(() -> g.next(1)).hasMessageContaining("model.context-length 8");
  }

  @Test
  void llamaDecodingEqualsTheTrainingGraphAtEveryPositionInBothEngines() {
    ModelConfig llama =
        new ModelConfig(
            29,
            9,
            2,
            24,
            4,
            4,
            false,
            false,
            1e-6,
            0.3,
            ModelConfig.Objective.CAUSAL,
            new ModelConfig.Llama("qwen3", 2, 6, 20, 500, "llama3", 2, 1, 4, 4, true, true));
    GptModel m = GptModel.build(llama, 1, 9, DataType.FLOAT, 5);
    int[] ids = {3, 1, 4, 1, 5, 9, 2, 6, 28};
    INDArray full =
        m.sameDiff().output(m.feed(ids, new int[9], 1), GptModel.LOGITS).get(GptModel.LOGITS);
    // fp32 weights take the hand-written decoder, fp64 the eager ND4J ops
    java.util.Map<String, INDArray> doubles = new java.util.LinkedHashMap<>();
    m.parameters().forEach((n, a) -> doubles.put(n, a.castTo(DataType.DOUBLE)));
    Generator fast = new Generator(llama, m.parameters());
    Generator eager = new Generator(llama, doubles);
    for (int t = 0; t < ids.length; t++) {
      INDArray want = full.getRow(t);
      assertThat(fast.next(ids[t]).equalsWithEps(want, 1e-5))
          .as("decoder, position %d", t)
          .isTrue();
      assertThat(eager.next(ids[t]).castTo(DataType.FLOAT).equalsWithEps(want, 1e-5))
          .as("eager, position %d", t)
          .isTrue();
    }
    assertThatThrownBy(() -> fast.next(1)).hasMessageContaining("model.context-length 9");
    // a prompt fed at once (several positions per product) gives the same logits
    Generator batched = new Generator(llama, m.parameters());
    assertThat(batched.feed(java.util.Arrays.copyOf(ids, 5)).equalsWithEps(full.getRow(4), 1e-5))
        .isTrue();
    assertThat(batched.feed(new int[] {ids[5], ids[6], ids[7]}).equalsWithEps(full.getRow(7), 1e-5))
        .isTrue();
    assertThat(batched.next(ids[8]).equalsWithEps(full.getRow(8), 1e-5)).isTrue();
  }

  @Test
  void aPromptLongerThanOneChunkGoesThroughInChunks() {
    int len = dev.forja.training.model.CpuDecoder.CHUNK + 5;
    ModelConfig llama =
        new ModelConfig(
            29,
            len,
            1,
            16,
            2,
            4,
            false,
            true,
            1e-6,
            0.3,
            ModelConfig.Objective.CAUSAL,
            new ModelConfig.Llama("llama", 1, 8, 20, 10000, "none", 1, 1, 4, 4, false, false));
    GptModel m = GptModel.build(llama, 1, len, DataType.FLOAT, 9);
    int[] ids = new int[len];
    for (int i = 0; i < len; i++) {
      ids[i] = (i * 7 + 3) % 29;
    }
    INDArray full =
        m.sameDiff().output(m.feed(ids, new int[len], 1), GptModel.LOGITS).get(GptModel.LOGITS);
    Generator g = new Generator(llama, m.parameters());
    assertThat(g.engine()).isEqualTo("cpu kernels");
    assertThat(
            g.feed(java.util.Arrays.copyOf(ids, len - 1)).equalsWithEps(full.getRow(len - 2), 1e-5))
        .isTrue();
    assertThat(g.next(ids[len - 1]).equalsWithEps(full.getRow(len - 1), 1e-5)).isTrue();
  }

  @Test
  void greedyDecodingIsDeterministicAndStopsAtTheStopToken() {
    GptModel m = GptModel.build(C, 1, 8, DataType.FLOAT, 3);
    Generator g = new Generator(C, m.parameters());
    Sampling greedy = new Sampling(0, 0, 1);
    int[] a = g.generate(new int[] {1, 2}, 5, greedy, new SplittableRandom(1), id -> false);
    int[] b = g.generate(new int[] {1, 2}, 5, greedy, new SplittableRandom(99), id -> false);
    assertThat(a).hasSize(5).isEqualTo(b);
    int[] stopped =
        g.generate(new int[] {1, 2}, 5, greedy, new SplittableRandom(1), id -> id == a[2]);
    int first = 0;
    while (a[first] != a[2]) {
      first++;
    }
    assertThat(stopped).containsExactly(java.util.Arrays.copyOf(a, first));
  }

  @Test
  void topKAndTopPRestrictTheChoice() {
    float[] logits = {0f, 5f, 4f, -3f, 4.5f};
    SplittableRandom rng = new SplittableRandom(7);
    for (int i = 0; i < 200; i++) {
      assertThat(new Sampling(1, 2, 1).sample(logits, rng)).isIn(1, 4);
      assertThat(new Sampling(1, 0, 0.3).sample(logits, rng)).isEqualTo(1);
    }
    assertThatThrownBy(() -> new Sampling(1, 0, 0))
        .hasMessageContaining("--top-p must be in (0, 1]");
    ModelConfig masked =
        new ModelConfig(13, 8, 1, 16, 4, 4, true, true, 1e-5, 0.3, ModelConfig.Objective.MASKED);
    assertThatThrownBy(() -> new Generator(masked, java.util.Map.of()))
        .hasMessageContaining("model.objective=masked");
  }
}
