package dev.forja.training.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.training.Fixtures;
import dev.forja.training.model.Architecture;
import dev.forja.training.model.LoraSettings;
import dev.forja.training.model.ModelConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The memory plan: six copies of what trains, one of what is frozen. */
class MemoryPlanTest {
  static final ModelConfig MC = Fixtures.tinyLlama().withVocabSize(512);

  @Test
  void aLoraPlanHoldsTheFrozenBaseOnceAndSixCopiesOfTheAdapter() {
    Architecture full = Architecture.of(MC);
    Architecture lora =
        full.withLora(
            new LoraSettings(4, 8, 0, List.of(LoraSettings.ALL_LINEAR), false, List.of()));
    long base = MC.parameters();
    long adapter =
        lora.parameters().stream().filter(p -> p.trainable()).mapToLong(p -> p.count()).sum();
    assertThat(adapter).isPositive().isLessThan(base / 4);
    MemoryPlan f = MemoryPlan.estimate(full, 2, 16, 4, true, false);
    MemoryPlan l = MemoryPlan.estimate(lora, 2, 16, 4, true, false);
    assertThat(f.parameterBytes()).isEqualTo(6 * 4 * base);
    assertThat(l.parameterBytes()).isEqualTo(4 * base + 6 * 4 * adapter);
    assertThat(l.activationBytes()).isEqualTo(f.activationBytes());
    // a bf16 base: the frozen linear weights at 2 bytes, embeddings and norms at 4
    Architecture half =
        full.withLora(
            new LoraSettings(4, 8, 0, List.of(LoraSettings.ALL_LINEAR), false, List.of(), true));
    long linears = full.linears().stream().mapToLong(x -> x.weight().count()).sum();
    assertThat(half.halfPrecision()).hasSize(full.linears().size());
    assertThat(MemoryPlan.estimate(half, 2, 16, 4, true, false).parameterBytes())
        .isEqualTo(l.parameterBytes() - 2 * linears);
    // the same cap refuses the full fine-tune and lets the LoRA one through
    long cap = (l.totalBytes() + f.totalBytes()) / 2;
    l.requireFits(cap, 2, 1);
    assertThatThrownBy(() -> f.requireFits(cap, 2, 1))
        .hasMessageContaining("set train.micro-batch-size=1 and train.accumulation-steps=2");
  }
}
