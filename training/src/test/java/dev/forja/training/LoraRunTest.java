package dev.forja.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.hf.LoraCheckpoints;
import dev.forja.training.hf.PeftAdapter;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainListener;
import dev.forja.training.train.Trainer;
import dev.forja.training.train.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * LoRA fine-tuning runs: a tiny Llama pretrained briefly on the grammar is the base; the LoRA run
 * trains only the adapters (the base's arrays bit-identical at the end), lowers the loss, writes
 * checkpoints holding the adapter and the base's record, resumes bit-exactly, and exports an
 * adapter whose merge is the checkpoint's model.
 */
class LoraRunTest {
  static URI base;

  static final ModelConfig LLAMA = Fixtures.tinyLlama();

  @BeforeAll
  static void pretrain(@TempDir Path tmp) throws Exception {
    TrainRunTest.shards(tmp);
    TrainConfig tc =
        Fixtures.trainConfig(
            Map.of(
                "train.steps", "30",
                "train.micro-batch-size", "8",
                "train.eval-every", "30",
                "train.checkpoint-every", "0"));
    URI run = tmp.resolve("base-run").toUri();
    TrainRunTest.train(Fixtures.LOCAL, run, LLAMA, tc, 0, TrainRunTest.quiet());
    base = TrainRunTest.checkpoint(run, 30);
  }

  static TrainConfig lora(Map<String, String> more) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("train.lora.enabled", "true");
    m.put("train.lora.r", "4");
    m.put("train.init-from", base.toString());
    m.put("train.steps", "60");
    m.put("train.micro-batch-size", "8");
    m.put("train.lr", "0.01");
    m.put("train.min-lr", "0.001");
    m.put("train.eval-every", "60");
    m.put("train.checkpoint-every", "30");
    m.putAll(more);
    return Fixtures.trainConfig(m);
  }

  /** Keeps a copy of the model's frozen arrays at the start and at the end of the run. */
  static final class FrozenWatch implements TrainListener {
    final Map<String, INDArray> start = new LinkedHashMap<>();
    final Map<String, INDArray> end = new LinkedHashMap<>();

    @Override
    public void onStart(Trainer t) {
      copy(t, start);
    }

    @Override
    public void onEnd(Trainer t) {
      copy(t, end);
    }

    private static void copy(Trainer t, Map<String, INDArray> into) {
      var trainable = t.model().parameters().keySet();
      t.model()
          .weights()
          .forEach(
              (n, w) -> {
                if (!trainable.contains(n)) {
                  into.put(n, w.dup());
                }
              });
    }
  }

  @Test
  void aLoraRunTrainsOnlyTheAdaptersAndLowersTheLoss(@TempDir Path tmp) throws Exception {
    FrozenWatch watch = new FrozenWatch();
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    URI run = tmp.resolve("lora").toUri();
    TrainingResult r =
        TrainRun.run(
            Fixtures.LOCAL,
            new TrainRun.Request(
                TrainRunTest.shards,
                run,
                LLAMA,
                lora(Map.of("train.lora.modules-to-save", "embed_tokens", "train.lora.r", "8")),
                0,
                DataType.FLOAT,
                List.of(watch)),
            new PrintStream(log, true, StandardCharsets.UTF_8));
    assertThat(log.toString()).contains("LoRA: r 8, alpha 16.0 on [all-linear]");
    // the base's arrays, all of them, the same bits after 60 steps
    // (the token embedding, which is also the head, trains as a module to save)
    assertThat(watch.start).hasSize(2 * 9 + 1); // 2 layers x 9, the final norm
    watch.start.forEach((n, w) -> assertThat(watch.end.get(n)).as(n).isEqualTo(w));
    CheckpointStore.Loaded base0 = CheckpointStore.load(Fixtures.LOCAL, base);
    watch.start.forEach((n, w) -> assertThat(w).as(n).isEqualTo(base0.weights().get(n)));
    // learning: the adapters (and the embedding) lower the loss of the briefly pretrained base
    List<Double> l = r.losses();
    double first = (l.get(0) + l.get(1) + l.get(2)) / 3;
    double last = (l.get(l.size() - 1) + l.get(l.size() - 2) + l.get(l.size() - 3)) / 3;
    assertThat(last).as(log.toString()).isLessThan(first * 0.7);

    // checkpoints hold the adapter, its moments and the base's record
    CheckpointStore.Loaded ck =
        CheckpointStore.load(Fixtures.LOCAL, TrainRunTest.checkpoint(run, 60));
    assertThat(ck.weights().keySet())
        .hasSize(28 + 1)
        .allMatch(n -> n.contains(".lora_") || n.equals("model.embed_tokens.weight"));
    assertThat(ck.optimizer()).isNotEmpty();
    assertThat(LoraCheckpoints.isLora(ck)).isTrue();
    assertThat(ck.carried().get(CheckpointStore.LORA_BASE))
        .contains(PeftAdapter.baseHash(base0.model(), base0.weights()));

    // the whole model: the base with the adapter merged, as the PEFT export merges it
    CheckpointStore.Loaded whole = LoraCheckpoints.materialize(Fixtures.LOCAL, ck);
    URI peft = tmp.resolve("peft").toUri();
    PeftAdapter.Adapter a = LoraCheckpoints.adapter(ck);
    PeftAdapter.write(
        Fixtures.LOCAL,
        peft,
        a.on(ck.model()),
        a.settings(),
        a.weights(),
        a.baseModel(),
        a.baseHash());
    PeftAdapter.Adapter back = PeftAdapter.read(Fixtures.LOCAL, peft, ck.model());
    Map<String, INDArray> merged = LoraCheckpoints.applyTo(base0, back, "test");
    assertThat(merged.keySet()).isEqualTo(base0.weights().keySet());
    merged.forEach((n, w) -> assertThat(w).as(n).isEqualTo(whole.weights().get(n)));
    assertThat(merged.get("model.layers.0.self_attn.q_proj.weight"))
        .isNotEqualTo(base0.weights().get("model.layers.0.self_attn.q_proj.weight"));
  }

  @Test
  void aLoraRunWithDropoutResumesBitExactly(@TempDir Path tmp) throws Exception {
    TrainConfig tc =
        lora(
            Map.of("train.steps", "8", "train.checkpoint-every", "4", "train.lora.dropout", "0.1"));
    URI interrupted = tmp.resolve("interrupted").toUri();
    TrainingResult first =
        TrainRunTest.train(Fixtures.LOCAL, interrupted, LLAMA, tc, 4, TrainRunTest.quiet());
    TrainingResult second =
        TrainRunTest.train(Fixtures.LOCAL, interrupted, LLAMA, tc, 0, TrainRunTest.quiet());
    assertThat(second.resumedFrom()).isEqualTo(4);
    URI wholeRun = tmp.resolve("whole").toUri();
    TrainingResult whole =
        TrainRunTest.train(Fixtures.LOCAL, wholeRun, LLAMA, tc, 0, TrainRunTest.quiet());
    List<Double> resumed = new ArrayList<>(first.losses());
    resumed.addAll(second.losses());
    assertThat(resumed).containsExactlyElementsOf(whole.losses());
    var a = CheckpointStore.load(Fixtures.LOCAL, TrainRunTest.checkpoint(interrupted, 8));
    var b = CheckpointStore.load(Fixtures.LOCAL, TrainRunTest.checkpoint(wholeRun, 8));
    b.weights().forEach((n, w) -> assertThat(a.weights().get(n)).as(n).isEqualTo(w));
    b.optimizer().forEach((n, w) -> assertThat(a.optimizer().get(n)).as(n).isEqualTo(w));
  }

  @Test
  void aBf16BaseTrainsLikeTheFp32One(@TempDir Path tmp) throws Exception {
    TrainConfig fp32 = lora(Map.of("train.steps", "20", "train.checkpoint-every", "0"));
    TrainConfig bf16 =
        lora(
            Map.of(
                "train.steps", "20",
                "train.checkpoint-every", "0",
                "train.lora.base-dtype", "bf16"));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    TrainingResult h =
        TrainRunTest.train(
            Fixtures.LOCAL,
            tmp.resolve("bf16").toUri(),
            LLAMA,
            bf16,
            0,
            new PrintStream(log, true, StandardCharsets.UTF_8));
    TrainingResult f =
        TrainRunTest.train(
            Fixtures.LOCAL, tmp.resolve("fp32").toUri(), LLAMA, fp32, 0, TrainRunTest.quiet());
    // the same run on weights rounded to bf16: close, not equal
    for (int i = 0; i < 20; i++) {
      assertThat(h.losses().get(i)).isCloseTo(f.losses().get(i), within(0.02 * f.losses().get(i)));
    }
    assertThat(h.losses()).isNotEqualTo(f.losses());
    assertThat(h.losses().get(19)).isLessThan(h.losses().get(0));
    CheckpointStore.Loaded ck =
        CheckpointStore.load(
            Fixtures.LOCAL, TrainRunTest.checkpoint(tmp.resolve("bf16").toUri(), 20));
    assertThat(ck.weights().keySet()).allMatch(n -> n.contains(".lora_"));
    assertThat(ck.train().lora().baseDtype()).isEqualTo("bf16");
  }

  /**
   * train.lora.init-adapter: a new run on new data starts from an earlier run's adapter (and its
   * modules to save), exactly, and trains it further; an adapter that cannot be this run's is
   * refused with the key.
   */
  @Test
  void aLoraRunContinuesAnEarlierAdapter(@TempDir Path tmp) throws Exception {
    Map<String, String> shape = Map.of("train.lora.modules-to-save", "embed_tokens");
    URI first = tmp.resolve("first").toUri();
    Map<String, String> a = new LinkedHashMap<>(shape);
    a.putAll(Map.of("train.steps", "20", "train.checkpoint-every", "0"));
    TrainingResult one =
        TrainRunTest.train(Fixtures.LOCAL, first, LLAMA, lora(a), 0, TrainRunTest.quiet());
    Map<String, String> b = new LinkedHashMap<>(a);
    b.put("train.lora.init-adapter", first.toString());
    b.put("train.seed", "7");
    Map<String, INDArray> start = new LinkedHashMap<>();
    TrainListener atStart =
        new TrainListener() {
          @Override
          public void onStart(Trainer t) {
            t.model().parameters().forEach((n, w) -> start.put(n, w.dup()));
          }
        };
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    TrainingResult two =
        TrainRun.run(
            Fixtures.LOCAL,
            new TrainRun.Request(
                TrainRunTest.shards,
                tmp.resolve("second").toUri(),
                LLAMA,
                lora(b),
                0,
                DataType.FLOAT,
                List.of(atStart)),
            new PrintStream(log, true, StandardCharsets.UTF_8));
    assertThat(log.toString()).contains("LoRA: the adapter starts from ");
    CheckpointStore.Loaded earlier =
        CheckpointStore.load(Fixtures.LOCAL, TrainRunTest.checkpoint(first, 20));
    assertThat(start.keySet()).isEqualTo(earlier.weights().keySet());
    start.forEach((n, w) -> assertThat(w).as(n).isEqualTo(earlier.weights().get(n)));
    // it goes on from where the first run ended, not from a fresh adapter
    assertThat(two.losses().get(0)).isLessThan(one.losses().get(0) * 0.85);

    Map<String, String> fresh = new LinkedHashMap<>(a);
    fresh.put("train.lora.init-adapter", base.toString()); // a full checkpoint
    assertRefused(tmp.resolve("x"), lora(fresh), "train.lora.init-adapter", "not a LoRA one");
    Map<String, String> wider = new LinkedHashMap<>(b);
    wider.put("train.lora.r", "8");
    assertRefused(tmp.resolve("y"), lora(wider), "train.lora.init-adapter", "does not fit");
    Map<String, String> full = new LinkedHashMap<>(b);
    full.put("train.lora.enabled", "false");
    assertRefused(
        tmp.resolve("z"),
        Fixtures.trainConfig(full),
        "train.lora.init-adapter",
        "train.lora.enabled");
  }

  /**
   * A run with {@code tc} in {@code dir} fails before training, its message holding {@code words}.
   */
  private static void assertRefused(Path dir, TrainConfig tc, String... words) {
    var refusal =
        assertThatThrownBy(
            () ->
                TrainRunTest.train(
                    Fixtures.LOCAL, dir.toUri(), LLAMA, tc, 0, TrainRunTest.quiet()));
    for (String w : words) {
      refusal.hasMessageContaining(w);
    }
  }

  @Test
  void badLoraSettingsAreRefusedWithTheKey(@TempDir Path tmp) {
    assertThatThrownBy(() -> Fixtures.trainConfig(Map.of("train.lora.enabled", "true")))
        .hasMessageContaining("train.lora.enabled")
        .hasMessageContaining("train.init-from");
    TrainConfig wrong = lora(Map.of("train.lora.target-modules", "c_attn"));
    assertThatThrownBy(
            () ->
                TrainRunTest.train(
                    Fixtures.LOCAL,
                    tmp.resolve("x").toUri(),
                    LLAMA,
                    wrong,
                    0,
                    TrainRunTest.quiet()))
        .hasMessageContaining("train.lora.target-modules [c_attn]")
        .hasMessageContaining("q_proj");
  }
}
