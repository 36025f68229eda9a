package dev.forja.training.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.TestDirs;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.PreTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.checkpoint.SafeTensors;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainState;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Import refuses what it cannot read with a message that names the problem, before any weight. */
class HfModelTest {
  private static final Storage LOCAL = new Storage(StorageConfig.defaults());

  /** A tiny Hugging Face directory written by Forja's export, to damage. */
  private static Path exported() throws Exception {
    ModelConfig mc =
        new ModelConfig(260, 8, 2, 8, 2, 2, true, true, 1e-5, 0.2, ModelConfig.Objective.CAUSAL);
    GptModel m = GptModel.build(mc, 1, 4, DataType.FLOAT, 3);
    LinkedHashMap<String, INDArray> w = new LinkedHashMap<>();
    m.parameters().forEach((n, p) -> w.put(n, p.dup('c')));
    BpeTokenizer tok =
        TokenizerFiles.fromVocabAndMerges(
            bytesVocab().replaceFirst("}$", ",\"<|endoftext|>\":256}"),
            "#version: 0.2\n",
            List.of(),
            PreTokenizer.Pattern.GPT2);
    Path dir = TestDirs.create("hf-bad-");
    URI ck = dir.resolve("ck").toUri();
    CheckpointStore.writeTo(
        LOCAL,
        ck,
        new CheckpointStore.Snapshot(
            TrainState.start(1),
            w,
            new LinkedHashMap<>(),
            mc,
            TrainConfig.defaults(),
            TokenizerFiles.toTokenizerJson(tok)));
    Path hf = dir.resolve("hf");
    HfModel.write(
        LOCAL,
        CheckpointStore.load(LOCAL, ck),
        hf.toUri(),
        SafeTensors.Dtype.F32,
        HfModel.DEFAULT_SHARD_BYTES,
        Map.of());
    return hf;
  }

  private static String bytesVocab() {
    StringBuilder b = new StringBuilder("{");
    for (int i = 0; i < 256; i++) {
      String s = dev.forja.tokenizer.ByteUnicode.encode(new byte[] {(byte) i});
      b.append(i == 0 ? "" : ",")
          .append(new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(s).toString())
          .append(':')
          .append(i);
    }
    return b.append('}').toString();
  }

  private static void rewriteWeights(Path hf, Map<String, INDArray> tensors) throws Exception {
    try (OutputStream out = Files.newOutputStream(hf.resolve(HfModel.WEIGHTS))) {
      SafeTensors.write(out, tensors, Map.of("format", "pt"));
    }
  }

  private static LinkedHashMap<String, INDArray> weights(Path hf) throws Exception {
    try (var in = Files.newInputStream(hf.resolve(HfModel.WEIGHTS))) {
      return SafeTensors.read(in, "w").tensors();
    }
  }

  @Test
  void aGoodDirectoryReadsBack() throws Exception {
    Path hf = exported();
    HfModel.Read r = HfModel.read(LOCAL, hf.toUri());
    assertThat(r.model().layers()).isEqualTo(2);
    assertThat(r.tokenizer().specials()).containsKey("<|endoftext|>");
    assertThat(Files.readString(hf.resolve(HfModel.CONFIG)))
        .contains("\"model_type\" : \"gpt2\"", "\"architectures\" : [ \"GPT2LMHeadModel\" ]");
  }

  @Test
  void theChatTemplateAndGenerationDefaultsTravelFromImportToExport() throws Exception {
    Path hf = exported();
    String tokenizerConfig =
        "{\"chat_template\": \"{% for m in messages %}<|{{ m.role }}|>{{ m.content }}"
            + "{% endfor %}\", \"eos_token\": \"<|endoftext|>\"}";
    String generation = "{\"eos_token_id\": 256, \"temperature\": 0.6, \"top_p\": 0.9}";
    Files.writeString(hf.resolve(HfModel.TOKENIZER_CONFIG), tokenizerConfig);
    Files.writeString(hf.resolve(HfModel.GENERATION_CONFIG), generation);
    URI ck = hf.resolveSibling("imported").toUri();
    HfModel.importTo(LOCAL, hf.toUri(), ck);
    CheckpointStore.Loaded loaded = CheckpointStore.load(LOCAL, ck);
    assertThat(loaded.carried())
        .containsEntry(HfModel.TOKENIZER_CONFIG, tokenizerConfig)
        .containsEntry(HfModel.GENERATION_CONFIG, generation);
    Path again = hf.resolveSibling("again");
    HfModel.write(
        LOCAL, loaded, again.toUri(), SafeTensors.Dtype.F32, HfModel.DEFAULT_SHARD_BYTES, Map.of());
    assertThat(Files.readString(again.resolve(HfModel.TOKENIZER_CONFIG)))
        .isEqualTo(tokenizerConfig);
    assertThat(Files.readString(again.resolve(HfModel.GENERATION_CONFIG))).isEqualTo(generation);
  }

  @Test
  void anUnsupportedModelTypeNamesTheSupportedOnes() throws Exception {
    Path hf = exported();
    Files.writeString(
        hf.resolve(HfModel.CONFIG),
        Files.readString(hf.resolve(HfModel.CONFIG)).replace("\"gpt2\"", "\"mamba\""));
    assertThatThrownBy(() -> HfModel.read(LOCAL, hf.toUri()))
        .hasMessageContaining(
            "model_type 'mamba' is not supported (supported: gpt2, llama, mistral, qwen2, qwen3)");
  }

  @Test
  void slidingWindowAttentionIsRefused() throws Exception {
    Path hf = exported();
    Files.writeString(
        hf.resolve(HfModel.CONFIG),
        "{\"model_type\": \"mistral\", \"vocab_size\": 260, \"hidden_size\": 8,"
            + " \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
            + " \"intermediate_size\": 16, \"max_position_embeddings\": 64,"
            + " \"sliding_window\": 16, \"rms_norm_eps\": 1e-6}");
    assertThatThrownBy(() -> HfModel.read(LOCAL, hf.toUri()))
        .hasMessageContaining(
            "sliding-window attention (16 of 64 positions) is not supported: Forja runs full"
                + " attention");
  }

  @Test
  void missingUnexpectedAndMisshapenTensorsAreNamed() throws Exception {
    Path hf = exported();
    LinkedHashMap<String, INDArray> w = weights(hf);
    LinkedHashMap<String, INDArray> missing = new LinkedHashMap<>(w);
    missing.remove("transformer.h.1.mlp.c_fc.weight");
    rewriteWeights(hf, missing);
    assertThatThrownBy(() -> HfModel.read(LOCAL, hf.toUri()))
        .hasMessageContaining("missing tensor transformer.h.1.mlp.c_fc.weight");

    LinkedHashMap<String, INDArray> extra = new LinkedHashMap<>(w);
    extra.put("transformer.h.0.attn.q_norm.weight", Nd4j.ones(DataType.FLOAT, 4));
    rewriteWeights(hf, extra);
    assertThatThrownBy(() -> HfModel.read(LOCAL, hf.toUri()))
        .hasMessageContaining("unexpected tensor transformer.h.0.attn.q_norm.weight");

    LinkedHashMap<String, INDArray> misshapen = new LinkedHashMap<>(w);
    misshapen.put("transformer.h.0.attn.c_attn.weight", Nd4j.ones(DataType.FLOAT, 24, 8));
    rewriteWeights(hf, misshapen);
    assertThatThrownBy(() -> HfModel.read(LOCAL, hf.toUri()))
        .hasMessageContaining(
            "tensor transformer.h.0.attn.c_attn.weight has shape [24, 8]; config.json implies"
                + " [8, 24]");
  }

  @Test
  void anIndexNamingAMissingShardIsRefused() throws Exception {
    Path hf = exported();
    Files.delete(hf.resolve(HfModel.WEIGHTS));
    Files.writeString(
        hf.resolve(HfModel.INDEX),
        "{\"metadata\":{\"total_size\":1},\"weight_map\":{\"transformer.wte.weight\":"
            + "\"model-00002-of-00002.safetensors\"}}");
    assertThatThrownBy(() -> HfModel.read(LOCAL, hf.toUri()))
        .hasMessageContaining("names the shard model-00002-of-00002.safetensors, which is missing");
  }

  @Test
  void aDamagedWeightsFileIsNamed() throws Exception {
    Path hf = exported();
    byte[] bytes = Files.readAllBytes(hf.resolve(HfModel.WEIGHTS));
    Files.write(hf.resolve(HfModel.WEIGHTS), java.util.Arrays.copyOf(bytes, bytes.length - 100));
    assertThatThrownBy(() -> HfModel.read(LOCAL, hf.toUri()))
        .hasMessageContaining("model.safetensors: tensor")
        .hasMessageContaining("run past the end of the data");
  }

  @Test
  void anUnknownTokenizerModelIsNamed() throws Exception {
    Path hf = exported();
    Files.writeString(
        hf.resolve(TokenizerFiles.TOKENIZER_JSON),
        "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}");
    assertThatThrownBy(() -> HfModel.read(LOCAL, hf.toUri()))
        .hasMessageContaining("holds a WordPiece model");
  }

  @Test
  void aMaskedLanguageModelIsNotExportedAsACausalOne() {
    ModelConfig masked =
        new ModelConfig(260, 8, 1, 8, 2, 2, true, true, 1e-5, 0.2, ModelConfig.Objective.MASKED);
    assertThatThrownBy(() -> HfModel.configJson(masked, 0, 0, "float32"))
        .hasMessageContaining("model.objective=masked");
  }
}
