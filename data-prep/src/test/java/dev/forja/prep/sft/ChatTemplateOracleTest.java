package dev.forja.prep.sft;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.testing.PythonOracle;
import dev.forja.tokenizer.ChatTemplate;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chat templates of real model families (Qwen2.5's ChatML, Llama 2 and 3, Zephyr, SmolLM2,
 * Phi-3) rendered by Forja (Jinjava) equal transformers' {@code apply_chat_template}, with and
 * without the generation prompt, on conversations with a system turn, several turns, surrounding
 * spaces, non-Latin text and a wrong role order (an error in both).
 */
@Tag("reference")
class ChatTemplateOracleTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void jinjavaRendersAsTransformers(@TempDir Path tmp) throws Exception {
    String spec = resource("templates.json");
    Path specFile = tmp.resolve("templates.json");
    Files.writeString(specFile, spec);
    JsonNode expected =
        JSON.readTree(PythonOracle.run(resource("chat_template.py"), specFile.toString()));
    JsonNode root = JSON.readTree(spec);
    Map<String, String> tokens =
        JSON.convertValue(
            root.get("tokens"), new com.fasterxml.jackson.core.type.TypeReference<>() {});
    int compared = 0;
    int errors = 0;
    for (Iterator<Map.Entry<String, JsonNode>> it = root.get("templates").fields();
        it.hasNext(); ) {
      Map.Entry<String, JsonNode> t = it.next();
      ChatTemplate template = new ChatTemplate(t.getValue().asText(), tokens);
      JsonNode convs = root.get("conversations");
      for (int i = 0; i < convs.size(); i++) {
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (JsonNode m : convs.get(i)) {
          messages.add(new ChatTemplate.Message(m.get("role").asText(), m.get("content").asText()));
        }
        for (boolean agp : new boolean[] {false, true}) {
          String key = t.getKey() + "/" + i + "/" + agp;
          String want = expected.get(key).asText();
          if (want.startsWith("ERROR: ")) {
            errors++;
            String message = want.substring("ERROR: ".length());
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> template.render(messages, agp))
                .as(key)
                .isInstanceOf(ChatTemplate.TemplateException.class)
                .hasMessageContaining(message);
          } else {
            assertThat(template.render(messages, agp)).as(key).isEqualTo(want);
          }
          compared++;
        }
      }
    }
    assertThat(compared).isEqualTo(60);
    assertThat(errors)
        .as("llama2 refuses a conversation that starts with the assistant")
        .isEqualTo(2);
  }

  static String resource(String name) throws Exception {
    try (var in = ChatTemplateOracleTest.class.getResourceAsStream("/sft/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
