package dev.forja.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Reads npm tiktoken's compressed rank files ({@code encoders/*.json}) into a tokenizer. */
final class TiktokenRanks {
  private TiktokenRanks() {}

  static BpeTokenizer load(Path encoderJson, PreTokenizer.Pattern pattern) throws Exception {
    JsonNode d = new ObjectMapper().readTree(encoderJson.toFile());
    String[] parts = d.get("bpe_ranks").asText().split("\\s+");
    StringBuilder lines = new StringBuilder();
    int rank = 0;
    for (int i = 0; i < parts.length; i++) {
      if (parts[i].equals("!")) {
        rank = Integer.parseInt(parts[++i]);
        continue;
      }
      lines.append(parts[i]).append(' ').append(rank++).append('\n');
    }
    Map<String, Integer> specials = new LinkedHashMap<>();
    d.get("special_tokens")
        .fields()
        .forEachRemaining(e -> specials.put(e.getKey(), e.getValue().asInt()));
    return TokenizerFiles.fromTiktoken(lines.toString(), pattern, specials);
  }
}
