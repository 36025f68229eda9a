package dev.forja.training.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.PythonOracle;
import dev.forja.testing.TestDirs;
import dev.forja.training.generate.Generator;
import dev.forja.training.model.Architecture;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.LossPass;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * LoRA adapters judged by PEFT 0.21 on tiny random transformers models: an adapter PEFT wrote
 * (random, non-zero B) is read by Forja, whose engines compute PEFT's loss and adapter gradients
 * unmerged, and whose merge computes the logits of PEFT's adapted model and of its {@code
 * merge_and_unload}; the adapter Forja writes loads in {@code PeftModel.from_pretrained} with the
 * same logits.
 */
@Tag("reference")
class PeftInteropTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Storage LOCAL = new Storage(StorageConfig.defaults());

  /** base kind, targets, modules to save, rsLoRA. */
  private static final List<String[]> CASES =
      List.of(
          new String[] {"llama", "all-linear", "lm_head", "1"},
          new String[] {"qwen3", "q_proj,v_proj", "-", "0"},
          new String[] {"gpt2-untied", "c_attn,c_proj,c_fc", "-", "0"});

  private static String oracle;
  private static Path root;

  @BeforeAll
  static void makeAdapters() throws Exception {
    oracle =
        new String(
            PeftInteropTest.class.getResourceAsStream("/hf/oracle.py").readAllBytes(),
            StandardCharsets.UTF_8);
    root = TestDirs.create("peft-interop-");
    PythonOracle.run(oracle, "make", root.toString(), "llama", "qwen3", "gpt2-untied");
    for (String[] c : CASES) {
      PythonOracle.run(
          oracle,
          "lora",
          root.resolve(c[0]).toString(),
          root.resolve(c[0] + "-lora").toString(),
          c[1],
          c[2],
          c[3]);
    }
  }

  private static JsonNode json(Path p) throws Exception {
    return JSON.readTree(p.toFile());
  }

  private static int[] ints(JsonNode a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asInt();
    }
    return out;
  }

  private static double worst(float[][] got, JsonNode want) {
    double worst = 0;
    for (int i = 0; i < got.length; i++) {
      for (int j = 0; j < got[i].length; j++) {
        worst = Math.max(worst, Math.abs(got[i][j] - want.get(i).get(j).asDouble()));
      }
    }
    return worst;
  }

  private static float[][] logits(HfModel.Read base, Map<String, INDArray> weights, int[] ids) {
    Generator g = new Generator(base.model(), weights);
    float[][] out = new float[ids.length][];
    for (int i = 0; i < ids.length; i++) {
      out[i] = g.next(ids[i]).toFloatVector();
    }
    return out;
  }

  @Test
  void peftAdaptersGivePeftsLossGradientsAndLogitsInForja() throws Exception {
    for (String[] c : CASES) {
      HfModel.Read base = HfModel.read(LOCAL, root.resolve(c[0]).toUri());
      Path out = root.resolve(c[0] + "-lora");
      PeftAdapter.Adapter adapter =
          PeftAdapter.read(LOCAL, out.resolve("adapter").toUri(), base.model());
      JsonNode ref = json(out.resolve("reference.json"));
      JsonNode baseRef = json(root.resolve(c[0]).resolve("reference.json"));

      // unmerged: the adapted graph and kernels, against PEFT's autograd
      int b = baseRef.get("batch").size();
      int t = baseRef.get("batch").get(0).size();
      int[] ids = new int[b * t];
      int[] targets = new int[b * t];
      for (int i = 0; i < b; i++) {
        System.arraycopy(ints(baseRef.get("batch").get(i)), 0, ids, i * t, t);
        System.arraycopy(ints(baseRef.get("targets").get(i)), 0, targets, i * t, t);
      }
      Architecture arch = adapter.on(base.model());
      for (GptModel.Engine engine : List.of(GptModel.Engine.KERNELS, GptModel.Engine.SAMEDIFF)) {
        GptModel m = GptModel.build(arch, b, t, DataType.FLOAT, 1);
        m.weights()
            .forEach((n, w) -> w.assign(adapter.weights().getOrDefault(n, base.weights().get(n))));
        LossPass pass = m.pass(engine);
        Map<String, INDArray> grads = new HashMap<>();
        m.parameters().forEach((n, p) -> grads.put(n, p.ulike()));
        double loss = pass.lossAndGradients(ids, targets, 1.0 / (b * t), grads, false);
        String what = c[0] + " " + engine;
        assertThat(loss)
            .as(what)
            .isCloseTo(ref.get("loss").asDouble(), org.assertj.core.data.Offset.offset(1e-5));
        assertThat(grads.keySet())
            .as(what)
            .containsExactlyInAnyOrderElementsOf(() -> ref.get("grads").fieldNames());
        for (var e : grads.entrySet()) {
          float[] got = e.getValue().dup('c').reshape(e.getValue().length()).toFloatVector();
          JsonNode want = ref.get("grads").get(e.getKey());
          double scale = 1e-8;
          double worst = 0;
          for (int i = 0; i < got.length; i++) {
            scale = Math.max(scale, Math.abs(want.get(i).asDouble()));
            worst = Math.max(worst, Math.abs(got[i] - want.get(i).asDouble()));
          }
          assertThat(worst / scale).as("%s %s", what, e.getKey()).isLessThan(1e-4);
        }
      }

      // merged: the logits of PEFT's adapted model and of its merge_and_unload
      int[] seq = ints(baseRef.get("ids"));
      LinkedHashMap<String, INDArray> merged =
          PeftAdapter.merge(base.model(), base.weights(), adapter);
      float[][] forja = logits(base, merged, seq);
      assertThat(worst(forja, ref.get("logits"))).as(c[0] + " adapted").isLessThan(1e-4);
      assertThat(worst(forja, ref.get("merged"))).as(c[0] + " merged").isLessThan(1e-4);
      // and the base's own weights are untouched by merging
      assertThat(worst(logits(base, base.weights(), seq), baseRef.get("logits"))).isLessThan(1e-4);

      // Forja's adapter in PEFT
      URI mine = root.resolve(c[0] + "-forja-adapter").toUri();
      PeftAdapter.write(
          LOCAL,
          mine,
          arch,
          adapter.settings(),
          adapter.weights(),
          root.resolve(c[0]).toString(),
          PeftAdapter.baseHash(base.model(), base.weights()));
      assertThat(CommitManifest.read(LOCAL, mine).orElseThrow().kind()).isEqualTo(PeftAdapter.KIND);
      String idList = baseRef.get("ids").toString().replaceAll("[\\[\\] ]", "");
      JsonNode peft =
          JSON.readTree(
              PythonOracle.run(
                  oracle,
                  "peft-logits",
                  root.resolve(c[0]).toString(),
                  Path.of(mine).toString(),
                  idList));
      assertThat(worst(forja, peft.get("logits")))
          .as(c[0] + " Forja's adapter in PEFT")
          .isLessThan(1e-4);
      String config = Files.readString(Path.of(mine).resolve(PeftAdapter.CONFIG));
      assertThat(config)
          .contains("\"base_model_name_or_path\"")
          .contains("\"peft_type\" : \"LORA\"");
    }
  }

  @Test
  void anAdapterForAnotherBaseIsRefusedNamingBothHashes() throws Exception {
    HfModel.Read base = HfModel.read(LOCAL, root.resolve("qwen3").toUri());
    PeftAdapter.Adapter adapter =
        PeftAdapter.read(
            LOCAL, root.resolve("qwen3-lora").resolve("adapter").toUri(), base.model());
    URI mine = root.resolve("qwen3-hashed").toUri();
    PeftAdapter.write(
        LOCAL,
        mine,
        adapter.on(base.model()),
        adapter.settings(),
        adapter.weights(),
        "qwen3",
        "aaaa");
    PeftAdapter.Adapter again = PeftAdapter.read(LOCAL, mine, base.model());
    assertThat(again.baseHash()).isEqualTo("aaaa");
    String actual = PeftAdapter.baseHash(base.model(), base.weights());
    assertThatThrownBy(() -> PeftAdapter.checkBase(again, actual, "generate --adapter"))
        .hasMessageContaining("aaaa")
        .hasMessageContaining(actual);
    // an adapter for one family does not fit another's base
    HfModel.Read gpt = HfModel.read(LOCAL, root.resolve("gpt2-untied").toUri());
    assertThatThrownBy(() -> PeftAdapter.read(LOCAL, mine, gpt.model()))
        .hasMessageContaining("does not fit the base model")
        .hasMessageContaining("c_attn");
  }
}
