package dev.forja.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a {@link BpeTokenizer} from tiktoken's rank files (npm {@code tiktoken/encoders/*.json}):
 * every split of a token into two tokens becomes a merge ranked by the token, as Hugging Face's
 * converter does. Test-only: it lets the cl100k pattern be checked against tiktoken on real ids.
 */
final class TiktokenRanks {
  private TiktokenRanks() {}

  static BpeTokenizer load(Path encoderJson, PreTokenizer.Pattern pattern) throws Exception {
    JsonNode d = new ObjectMapper().readTree(encoderJson.toFile());
    String[] parts = d.get("bpe_ranks").asText().split("\\s+");
    List<byte[]> tokens = new ArrayList<>();
    int rank = 0;
    for (int i = 0; i < parts.length; i++) {
      if (parts[i].equals("!")) {
        rank = Integer.parseInt(parts[++i]);
        if (rank != tokens.size()) {
          throw new IllegalStateException("gap in ranks at " + rank);
        }
        continue;
      }
      tokens.add(Base64.getDecoder().decode(parts[i]));
      rank++;
    }
    Map<String, Integer> byBytes = new HashMap<>();
    for (int id = 0; id < tokens.size(); id++) {
      byBytes.put(ByteUnicode.encode(tokens.get(id)), id);
    }
    List<int[]> merges = new ArrayList<>();
    for (int id = 0; id < tokens.size(); id++) {
      String t = ByteUnicode.encode(tokens.get(id));
      List<int[]> local = new ArrayList<>();
      for (int k = 1; k < t.length(); k++) {
        Integer l = byBytes.get(t.substring(0, k));
        Integer r = byBytes.get(t.substring(k));
        if (l != null && r != null && l < id && r < id) {
          local.add(new int[] {l, r});
        }
      }
      local.sort(
          (a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
      merges.addAll(local);
    }
    Map<String, Integer> specials = new LinkedHashMap<>();
    d.get("special_tokens")
        .fields()
        .forEachRemaining(e -> specials.put(e.getKey(), e.getValue().asInt()));
    int size = tokens.size();
    for (int id : specials.values()) {
      size = Math.max(size, id + 1);
    }
    // cl100k leaves ids between the last rank and its special tokens unused: fill them with
    // placeholder specials so that ids stay dense.
    Map<Integer, String> specialById = new HashMap<>();
    specials.forEach((k, v) -> specialById.put(v, k));
    Map<String, Integer> allSpecials = new LinkedHashMap<>(specials);
    for (int id = tokens.size(); id < size; id++) {
      String s = specialById.getOrDefault(id, "<|unused_" + id + "|>");
      tokens.add(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      allSpecials.put(s, id);
    }
    return new BpeTokenizer(pattern, tokens, merges, allSpecials, false);
  }
}
