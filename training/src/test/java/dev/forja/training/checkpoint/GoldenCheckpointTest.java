package dev.forja.training.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.generate.Generator;
import dev.forja.training.generate.Sampling;
import dev.forja.training.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A checkpoint written by an earlier Forja (before model-config.json had a version, with the
 * removed model.dropout field in it) still loads, verifies and generates what that Forja generated.
 */
class GoldenCheckpointTest {
  private static final Path GOLDEN = Path.of("src/test/resources/golden/gpt2-checkpoint-v1");

  @Test
  void aVersion1GptCheckpointLoadsAndGeneratesAsItDid() throws Exception {
    Storage local = new Storage(StorageConfig.defaults());
    CheckpointStore.Loaded ck = CheckpointStore.load(local, GOLDEN.toAbsolutePath().toUri());
    assertThat(Files.readString(GOLDEN.resolve(CheckpointStore.MODEL_CONFIG)))
        .contains("\"dropout\"")
        .doesNotContain("format_version");
    ModelConfig mc = ck.model();
    assertThat(mc.llamaFamily()).isFalse();
    assertThat(mc.layers()).isEqualTo(1);
    assertThat(mc.dModel()).isEqualTo(16);
    assertThat(mc.vocabSize()).isEqualTo(300);
    assertThat(ck.state().step()).isEqualTo(3);
    assertThat(ck.optimizer()).isNotEmpty();

    JsonNode expected = new ObjectMapper().readTree(GOLDEN.resolve("expected.json").toFile());
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), "golden");
    int[] prompt = tok.encode(expected.get("prompt").asText());
    int[] out =
        new Generator(mc, ck.weights())
            .generate(prompt, 8, new Sampling(0, 0, 1), new SplittableRandom(1), id -> false);
    assertThat(expected.get("prompt").asText() + tok.decode(out))
        .isEqualTo(expected.get("generated").asText());
  }

  @Test
  void newModelConfigsCarryTheirVersionAndNewerOnesAreRefused() throws Exception {
    ModelConfig c = ModelConfig.tiny(50);
    String json = CheckpointStore.modelConfigJson(c).toString();
    assertThat(json).startsWith("{\"format_version\":" + CheckpointStore.MODEL_CONFIG_VERSION);
    assertThat(CheckpointStore.readModelConfig(json, "m")).isEqualTo(c);
    String future = json.replace("\"format_version\":2", "\"format_version\":99");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> CheckpointStore.readModelConfig(future, "m.json"))
        .hasMessageContaining("m.json has format version 99; this Forja reads up to 2");
  }
}
