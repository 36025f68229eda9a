package dev.forja.training.hf;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.PythonOracle;
import dev.forja.testing.TestDirs;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.TrainRun;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.checkpoint.SafeTensors;
import dev.forja.training.generate.Generator;
import dev.forja.training.generate.Sampling;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.LossPass;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainState;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Hugging Face interoperability, judged by transformers itself: tiny random GPT-2 models made and
 * saved by transformers are imported and must compute transformers' logits, greedy continuations
 * and gradients; what Forja exports must load in transformers ({@code AutoModelForCausalLM}, {@code
 * AutoTokenizer}) with the same logits and token ids.
 */
@Tag("reference")
class HfInteropTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Storage LOCAL = new Storage(StorageConfig.defaults());
  private static String oracle;

  /** GPT-2 with a tied and an untied head, and each of the Llama family's switches. */
  static final List<String> VARIANTS =
      List.of("gpt2-tied", "gpt2-untied", "llama", "mistral", "qwen2", "qwen3");

  private static Path root;

  @BeforeAll
  static void makeModels() throws Exception {
    oracle =
        new String(
            HfInteropTest.class.getResourceAsStream("/hf/oracle.py").readAllBytes(),
            StandardCharsets.UTF_8);
    root = TestDirs.create("hf-interop-");
    List<String> args = new java.util.ArrayList<>(List.of("make", root.toString()));
    args.addAll(VARIANTS);
    PythonOracle.run(oracle, args.toArray(String[]::new));
  }

  private static JsonNode reference(String variant) throws Exception {
    return JSON.readTree(root.resolve(variant).resolve("reference.json").toFile());
  }

  private static int[] ints(JsonNode a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asInt();
    }
    return out;
  }

  /** Each position's next-token logits through Forja's incremental decoder. */
  private static float[][] forjaLogits(ModelConfig mc, Map<String, INDArray> weights, int[] ids) {
    Generator g = new Generator(mc, weights);
    float[][] out = new float[ids.length][];
    for (int i = 0; i < ids.length; i++) {
      out[i] = g.next(ids[i]).toFloatVector();
    }
    return out;
  }

  private static void assertClose(float[][] forja, JsonNode expected, double tol, String what) {
    assertThat(forja.length).isEqualTo(expected.size());
    double worst = 0;
    for (int i = 0; i < forja.length; i++) {
      assertThat(forja[i].length).isEqualTo(expected.get(i).size());
      for (int j = 0; j < forja[i].length; j++) {
        worst = Math.max(worst, Math.abs(forja[i][j] - expected.get(i).get(j).asDouble()));
      }
    }
    assertThat(worst).as(what + ": largest logit difference").isLessThan(tol);
  }

  @Test
  void importedModelsComputeTransformersLogitsAndGreedyContinuations() throws Exception {
    for (String variant : VARIANTS) {
      JsonNode ref = reference(variant);
      URI ck = root.resolve(variant + "-forja").toUri();
      HfModel.Read r = HfModel.importTo(LOCAL, root.resolve(variant).toUri(), ck);
      assertThat(r.model().llamaFamily()).isEqualTo(!variant.startsWith("gpt2"));
      CheckpointStore.Loaded loaded = CheckpointStore.load(LOCAL, ck);
      int[] ids = ints(ref.get("ids"));
      assertClose(
          forjaLogits(loaded.model(), loaded.weights(), ids), ref.get("logits"), 1e-4, variant);

      Generator g = new Generator(loaded.model(), loaded.weights());
      int[] greedy =
          g.generate(
              java.util.Arrays.copyOf(ids, 5),
              32,
              new Sampling(0, 0, 1),
              new SplittableRandom(1),
              id -> false);
      assertThat(greedy).as(variant).containsExactly(ints(ref.get("greedy")));
    }
  }

  @Test
  void oneTrainingStepsGradientsEqualTorchAutograd() throws Exception {
    for (String variant : VARIANTS) {
      JsonNode ref = reference(variant);
      HfModel.Read r = HfModel.read(LOCAL, root.resolve(variant).toUri());
      int b = ref.get("batch").size();
      int t = ref.get("batch").get(0).size();
      int[] ids = new int[b * t];
      int[] targets = new int[b * t];
      for (int i = 0; i < b; i++) {
        System.arraycopy(ints(ref.get("batch").get(i)), 0, ids, i * t, t);
        System.arraycopy(ints(ref.get("targets").get(i)), 0, targets, i * t, t);
      }
      List<GptModel.Engine> engines = List.of(GptModel.Engine.KERNELS, GptModel.Engine.SAMEDIFF);
      for (GptModel.Engine engine : engines) {
        GptModel m = GptModel.build(r.model(), b, t, DataType.FLOAT, 1);
        TrainRun.assign(m.parameters(), r.weights(), "imported");
        LossPass pass = m.pass(engine);
        Map<String, INDArray> grads = new HashMap<>();
        m.parameters().forEach((n, p) -> grads.put(n, p.ulike()));
        double loss = pass.lossAndGradients(ids, targets, 1.0 / (b * t), grads, false);
        assertThat(loss)
            .as(variant + " " + engine)
            .isCloseTo(ref.get("loss").asDouble(), org.assertj.core.data.Offset.offset(1e-5));
        JsonNode expected = ref.get("grads");
        assertThat(grads.keySet()).containsExactlyInAnyOrderElementsOf(() -> expected.fieldNames());
        for (Map.Entry<String, INDArray> e : grads.entrySet()) {
          float[] got = e.getValue().dup('c').reshape(e.getValue().length()).toFloatVector();
          JsonNode want = expected.get(e.getKey());
          double scale = 1e-8;
          double worst = 0;
          for (int i = 0; i < got.length; i++) {
            scale = Math.max(scale, Math.abs(want.get(i).asDouble()));
            worst = Math.max(worst, Math.abs(got[i] - want.get(i).asDouble()));
          }
          assertThat(worst / scale)
              .as(
                  "%s %s %s: largest difference relative to the largest gradient",
                  variant, engine, e.getKey())
              .isLessThan(1e-4);
        }
      }
    }
  }

  @Test
  void exportsLoadInTransformersWithTheSameLogitsAndTokenIds() throws Exception {
    JsonNode ref = reference("gpt2-tied");
    URI ck = root.resolve("export-source").toUri();
    HfModel.importTo(LOCAL, root.resolve("gpt2-tied").toUri(), ck);
    CheckpointStore.Loaded loaded = CheckpointStore.load(LOCAL, ck);
    URI out = root.resolve("exported-f32").toUri();
    HfModel.write(LOCAL, loaded, out, SafeTensors.Dtype.F32, HfModel.DEFAULT_SHARD_BYTES, Map.of());
    assertThat(CommitManifest.read(LOCAL, out).orElseThrow().kind()).isEqualTo(HfModel.KIND);

    String ids = ref.get("ids").toString().replaceAll("[\\[\\] ]", "");
    JsonNode back = JSON.readTree(PythonOracle.run(oracle, "logits", Path.of(out).toString(), ids));
    assertClose(
        forjaLogits(loaded.model(), loaded.weights(), ints(ref.get("ids"))),
        back.get("logits"),
        1e-4,
        "exported f32");
    // AutoTokenizer on the exported tokenizer gives Forja's ids
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(loaded.tokenizerJson(), "exported");
    for (int i = 0; i < ref.get("texts").size(); i++) {
      assertThat(ints(back.get("texts").get(i)))
          .as(ref.get("texts").get(i).asText())
          .containsExactly(tok.encode(ref.get("texts").get(i).asText()));
    }

    // bf16 halves the file and keeps the logits close
    URI half = root.resolve("exported-bf16").toUri();
    HfModel.write(
        LOCAL, loaded, half, SafeTensors.Dtype.BF16, HfModel.DEFAULT_SHARD_BYTES, Map.of());
    assertThat(Files.size(Path.of(half).resolve(HfModel.WEIGHTS)))
        .isLessThan(Files.size(Path.of(out).resolve(HfModel.WEIGHTS)) * 6 / 10);
    JsonNode bf = JSON.readTree(PythonOracle.run(oracle, "logits", Path.of(half).toString(), ids));
    assertThat(Files.readString(Path.of(half).resolve(HfModel.CONFIG)))
        .contains("\"dtype\" : \"bfloat16\"");
    assertClose(
        forjaLogits(loaded.model(), loaded.weights(), ints(ref.get("ids"))),
        bf.get("logits"),
        0.1,
        "exported bf16");
  }

  @Test
  void theLlamaFamilyExportsToWhatTransformersLoadsWithTheSameLogits() throws Exception {
    for (String variant : VARIANTS.subList(2, VARIANTS.size())) {
      JsonNode ref = reference(variant);
      URI ck = root.resolve(variant + "-export-source").toUri();
      HfModel.importTo(LOCAL, root.resolve(variant).toUri(), ck);
      CheckpointStore.Loaded loaded = CheckpointStore.load(LOCAL, ck);
      URI out = root.resolve(variant + "-exported").toUri();
      HfModel.write(
          LOCAL, loaded, out, SafeTensors.Dtype.F32, HfModel.DEFAULT_SHARD_BYTES, Map.of());
      String ids = ref.get("ids").toString().replaceAll("[\\[\\] ]", "");
      JsonNode back =
          JSON.readTree(PythonOracle.run(oracle, "logits", Path.of(out).toString(), ids));
      assertClose(
          forjaLogits(loaded.model(), loaded.weights(), ints(ref.get("ids"))),
          back.get("logits"),
          1e-4,
          variant + " exported");
      assertThat(Files.readString(Path.of(out).resolve(HfModel.CONFIG)))
          .contains("\"model_type\" : \"" + variant + "\"");
    }
  }

  @Test
  void aForjaModelWithoutBiasesOrTiedHeadExportsInShardsThatTransformersLoads() throws Exception {
    JsonNode ref = reference("gpt2-tied");
    String tokJson = Files.readString(root.resolve("gpt2-tied").resolve("tokenizer.json"));
    ModelConfig mc =
        new ModelConfig(
            300, 40, 2, 32, 4, 3, false, false, 1e-5, 0.3, ModelConfig.Objective.CAUSAL);
    GptModel m = GptModel.build(mc, 1, 8, DataType.FLOAT, 11);
    LinkedHashMap<String, INDArray> weights = new LinkedHashMap<>();
    m.parameters().forEach((n, p) -> weights.put(n, p.dup('c')));
    URI ck = root.resolve("forja-native").toUri();
    CheckpointStore.writeTo(
        LOCAL,
        ck,
        new CheckpointStore.Snapshot(
            TrainState.start(11),
            weights,
            new LinkedHashMap<>(),
            mc,
            TrainConfig.defaults(),
            tokJson));
    CheckpointStore.Loaded loaded = CheckpointStore.load(LOCAL, ck);
    URI out = root.resolve("forja-native-hf").toUri();
    HfModel.write(LOCAL, loaded, out, SafeTensors.Dtype.F32, 40_000, Map.of());
    assertThat(Path.of(out).resolve(HfModel.INDEX)).exists();
    assertThat(Path.of(out).resolve(HfModel.WEIGHTS)).doesNotExist();

    String ids = ref.get("ids").toString().replaceAll("[\\[\\] ]", "");
    JsonNode back = JSON.readTree(PythonOracle.run(oracle, "logits", Path.of(out).toString(), ids));
    assertClose(
        forjaLogits(mc, loaded.weights(), ints(ref.get("ids"))),
        back.get("logits"),
        1e-4,
        "Forja model, no biases, untied head, sharded");
    // and the shards come back in through the index
    HfModel.Read again = HfModel.read(LOCAL, out);
    assertThat(again.model().tiedEmbeddings()).isFalse();
    assertThat(again.weights().get(GptModel.LM_HEAD))
        .isEqualTo(loaded.weights().get(GptModel.LM_HEAD));
  }
}
