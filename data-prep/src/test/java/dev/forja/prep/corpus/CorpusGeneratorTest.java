package dev.forja.prep.corpus;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CorpusGeneratorTest {
  private static final CorpusConfig ONE_MB =
      new CorpusConfig(1, 7, 2, CorpusConfig.SUPPORTED_LANGUAGES, 0.04, 0.04, 0.1, 0.1);

  private static String shard(CorpusConfig c, int shard) throws Exception {
    StringWriter w = new StringWriter();
    new CorpusGenerator(c).writeShard(shard, w);
    return w.toString();
  }

  @Test
  void sameSeedGivesIdenticalBytesAndOtherSeedsDiffer() throws Exception {
    assertThat(shard(ONE_MB, 1)).isEqualTo(shard(ONE_MB, 1));
    assertThat(shard(ONE_MB.withSeed(8), 1)).isNotEqualTo(shard(ONE_MB, 1));
    assertThat(shard(ONE_MB, 0)).isNotEqualTo(shard(ONE_MB, 1));
  }

  @Test
  void shardsReachTheirSizeAndPlantEveryKind() throws Exception {
    String text = shard(ONE_MB, 0);
    long bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    assertThat(bytes).isBetween(512L * 1024, 512L * 1024 + 20_000);
    ObjectMapper json = new ObjectMapper();
    Map<String, JsonNode> byId = new HashMap<>();
    Map<String, Integer> kinds = new HashMap<>();
    Map<String, Integer> langs = new HashMap<>();
    List<JsonNode> docs = new ArrayList<>();
    for (String line : text.split("\n")) {
      JsonNode d = json.readTree(line);
      docs.add(d);
      byId.put(d.get("id").asText(), d);
      kinds.merge(d.get("meta").get("kind").asText(), 1, Integer::sum);
      langs.merge(d.get("meta").get("lang").asText(), 1, Integer::sum);
    }
    assertThat(kinds.keySet()).containsExactlyInAnyOrderElementsOf(CorpusGenerator.KINDS);
    assertThat(langs.keySet()).containsExactlyInAnyOrder("en", "es", "pt");
    double articles = kinds.get("article") / (double) docs.size();
    assertThat(articles).isBetween(0.75, 0.88);

    int exact = 0;
    int near = 0;
    for (JsonNode d : docs) {
      String kind = d.get("meta").get("kind").asText();
      if (kind.endsWith("duplicate")) {
        JsonNode original = byId.get(d.get("meta").get("of").asText());
        assertThat(original.get("meta").get("kind").asText()).isEqualTo("article");
        if (kind.equals("exact-duplicate")) {
          assertThat(d.get("text").asText()).isEqualTo(original.get("text").asText());
          exact++;
        } else {
          assertThat(d.get("text").asText()).isNotEqualTo(original.get("text").asText());
          assertThat(d.get("meta").get("edit-fraction").asDouble()).isBetween(0.005, 0.03);
          near++;
        }
      }
    }
    assertThat(exact).isPositive();
    assertThat(near).isPositive();
    assertThat(text).containsPattern("[a-z]+\\.[a-z]+\\d*@[a-z.]*example\\.[a-z.]+");
    assertThat(text).contains("<script>").contains("All rights reserved.");
  }
}
