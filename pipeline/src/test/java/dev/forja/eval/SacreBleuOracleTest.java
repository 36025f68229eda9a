package dev.forja.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.testing.PythonOracle;
import dev.forja.testing.TestDirs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Forja's BLEU and chrF against sacreBLEU 2.6.0 itself, to 1e-6: a few hundred real sentences (this
 * repository's README and the machine's licenses) with hypotheses made by dropping, swapping and
 * replacing words, two references each, and the edge cases: an empty hypothesis, no matching
 * n-gram, Unicode, numbers with separators, HTML entities, a hypothesis longer than its references.
 */
@Tag("reference")
class SacreBleuOracleTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  static List<String> sentences() throws Exception {
    List<String> text = new ArrayList<>();
    text.add(Files.readString(Path.of("../README.md")));
    for (String name : List.of("Apache-2.0", "GPL-3")) {
      Path p = Path.of("/usr/share/common-licenses", name);
      if (Files.exists(p)) {
        text.add(Files.readString(p));
      }
    }
    List<String> out = new ArrayList<>();
    for (String t : text) {
      for (String s : t.replace('\n', ' ').split("(?<=[.!?])\\s+")) {
        String x = s.trim();
        if (x.split("\\s+").length >= 4 && x.length() < 300) {
          out.add(x);
        }
      }
    }
    return out.subList(0, Math.min(out.size(), 320));
  }

  static String perturb(String s, Random r) {
    List<String> w = new ArrayList<>(List.of(s.split(" ")));
    int edits = 1 + r.nextInt(3);
    for (int e = 0; e < edits && w.size() > 2; e++) {
      int i = r.nextInt(w.size());
      switch (r.nextInt(3)) {
        case 0 -> w.remove(i);
        case 1 -> java.util.Collections.swap(w, i, r.nextInt(w.size()));
        default ->
            w.set(
                i, List.of("model", "the", "Spark", "data", "café", "1,000.50").get(r.nextInt(6)));
      }
    }
    return String.join(" ", w);
  }

  @Test
  void bleuAndChrfEqualSacreBleus() throws Exception {
    Random r = new Random(11);
    List<String> hyps = new ArrayList<>();
    List<String> ref1 = new ArrayList<>();
    List<String> ref2 = new ArrayList<>();
    for (String s : sentences()) {
      ref1.add(s);
      ref2.add(perturb(s, r));
      hyps.add(perturb(s, r));
    }
    assertThat(hyps.size()).isGreaterThan(200);
    String[][] edge = {
      {"", "The cat sat on the mat.", "A cat was sitting on the mat."},
      {"zebra quantum xylophone", "The cat sat on the mat.", "A cat was sitting on the mat."},
      {"naïve café — 東京 😀 and Ñandú", "naïve café — 東京 😀 und Ñandú", "café naïve"},
      {
        "It costs 1,000.50 dollars, i.e. 3.14-15%.",
        "It costs 1,000.50 dollars (3.14-15%).",
        "1,000.50"
      },
      {"Tom &amp; Jerry &lt;3 &quot;quotes&quot;", "Tom & Jerry <3 \"quotes\"", "Tom and Jerry"},
      {"the the the the the the the", "the cat", "the"},
      {"a b c d e f g h i j k l m n o p", "a b c", "a b c d"},
      {"word", "word", "word"},
    };
    for (String[] e : edge) {
      hyps.add(e[0]);
      ref1.add(e[1]);
      ref2.add(e[2]);
    }
    List<List<String>> refs = List.of(ref1, ref2);
    Path in = TestDirs.create("sacrebleu-").resolve("in.json");
    Files.writeString(
        in, JSON.writeValueAsString(Map.of("hyps", hyps, "refs", refs)), StandardCharsets.UTF_8);
    String script =
        new String(
            SacreBleuOracleTest.class
                .getResourceAsStream("/eval/sacrebleu_oracle.py")
                .readAllBytes(),
            StandardCharsets.UTF_8);
    JsonNode want = JSON.readTree(PythonOracle.run(script, in.toString()));

    Bleu.Score bleu = Bleu.corpus(hyps, refs);
    assertThat(bleu.score()).isCloseTo(want.get("bleu").asDouble(), within(1e-6));
    assertThat(bleu.signature()).isEqualTo(want.get("signature").asText());
    assertThat(bleu.brevityPenalty()).isCloseTo(want.get("bp").asDouble(), within(1e-9));
    for (int n = 0; n < 4; n++) {
      assertThat(bleu.precisions()[n])
          .isCloseTo(want.get("precisions").get(n).asDouble(), within(1e-6));
    }
    assertThat(Chrf.corpus(hyps, refs)).isCloseTo(want.get("chrf").asDouble(), within(1e-6));
    for (int i = 0; i < hyps.size(); i++) {
      List<String> mine = List.of(ref1.get(i), ref2.get(i));
      assertThat(Bleu.sentence(hyps.get(i), mine).score())
          .as("sentence BLEU %d: %s", i, hyps.get(i))
          .isCloseTo(want.get("sentence_bleu").get(i).asDouble(), within(1e-6));
      assertThat(Chrf.sentence(hyps.get(i), mine))
          .as("sentence chrF %d: %s", i, hyps.get(i))
          .isCloseTo(want.get("sentence_chrf").get(i).asDouble(), within(1e-6));
    }
  }
}
