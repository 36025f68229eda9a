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
import java.util.TreeSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Forja's ROUGE-1/2/L and Porter stemmer against torchmetrics 1.9.0 and NLTK 3.10.3 themselves
 * (rouge-score is not installable here; torchmetrics follows its algorithm and uses NLTK's
 * stemmer): the same few hundred sentence pairs as the sacreBLEU test, two references each, with
 * and without stemming, to 1e-6; and every distinct word of those sentences plus the stemmer's hard
 * cases stemmed as NLTK stems them.
 */
@Tag("reference")
class RougeOracleTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void rougeAndStemsEqualTorchmetricsAndNltk() throws Exception {
    Random r = new Random(5);
    List<String> hyps = new ArrayList<>();
    List<String> ref1 = new ArrayList<>();
    List<String> ref2 = new ArrayList<>();
    for (String s : SacreBleuOracleTest.sentences()) {
      ref1.add(s);
      ref2.add(SacreBleuOracleTest.perturb(s, r));
      hyps.add(SacreBleuOracleTest.perturb(s, r));
    }
    String[][] edge = {
      {"", "The cat sat on the mat.", "A cat was sitting on the mat."},
      {"generalizations happily running", "generalization happy runs", "general"},
      {"the the the the", "the cat", "the"},
      {"Ñandú naïve 東京 1,000.50", "nandu naive 1 000 50", "café"},
    };
    for (String[] e : edge) {
      hyps.add(e[0]);
      ref1.add(e[1]);
      ref2.add(e[2]);
    }
    TreeSet<String> words = new TreeSet<>();
    for (List<String> side : List.of(hyps, ref1)) {
      side.forEach(s -> words.addAll(Rouge.tokenize(s)));
    }
    words.addAll(
        List.of(
            "caresses",
            "ponies",
            "ties",
            "dies",
            "flies",
            "spied",
            "died",
            "agreed",
            "feed",
            "disabled",
            "matting",
            "mating",
            "meeting",
            "milling",
            "messing",
            "meetings",
            "happy",
            "enjoy",
            "sky",
            "skies",
            "dying",
            "lying",
            "innings",
            "proceed",
            "succeeded",
            "relational",
            "conditional",
            "rational",
            "valenci",
            "digitizer",
            "conformabli",
            "radicalli",
            "differentli",
            "vileli",
            "analogousli",
            "vietnamization",
            "predication",
            "operator",
            "feudalism",
            "decisiveness",
            "hopefulness",
            "callousness",
            "formaliti",
            "sensitiviti",
            "sensibiliti",
            "triplicate",
            "formative",
            "formalize",
            "electriciti",
            "electrical",
            "hopeful",
            "goodness",
            "revival",
            "allowance",
            "inference",
            "airliner",
            "gyroscopic",
            "adjustable",
            "defensible",
            "irritant",
            "replacement",
            "adjustment",
            "dependent",
            "adoption",
            "homologou",
            "communism",
            "activate",
            "angulariti",
            "homologous",
            "effective",
            "bowdlerize",
            "probate",
            "rate",
            "cease",
            "controll",
            "roll",
            "generalizations",
            "oscillators",
            "hopefully",
            "logically",
            "archaeology",
            "geology",
            "yyyyy",
            "syzygy",
            "eed",
            "oed",
            "ied",
            "ies",
            "ees",
            "abies",
            "spy",
            "fly",
            "toy",
            "bye"));
    assertThat(words).hasSizeGreaterThan(800);
    List<List<String>> refs = List.of(ref1, ref2);
    Path in = TestDirs.create("rouge-").resolve("in.json");
    Files.writeString(
        in,
        JSON.writeValueAsString(Map.of("hyps", hyps, "refs", refs, "words", List.copyOf(words))),
        StandardCharsets.UTF_8);
    String script =
        new String(
            RougeOracleTest.class.getResourceAsStream("/eval/rouge_oracle.py").readAllBytes(),
            StandardCharsets.UTF_8);
    JsonNode want = JSON.readTree(PythonOracle.run(script, in.toString()));

    List<String> wordList = List.copyOf(words);
    for (int i = 0; i < wordList.size(); i++) {
      assertThat(PorterStemmer.stem(wordList.get(i)))
          .as("stem of %s", wordList.get(i))
          .isEqualTo(want.get("stems").get(i).asText());
    }
    for (boolean stem : new boolean[] {false, true}) {
      JsonNode rows = want.get(stem ? "stemmed" : "plain");
      for (int i = 0; i < hyps.size(); i++) {
        List<String> mine = List.of(ref1.get(i), ref2.get(i));
        String h = hyps.get(i);
        for (String k : List.of("rouge1", "rouge2", "rougeL")) {
          java.util.function.BiFunction<String, String, Rouge.Score> metric =
              switch (k) {
                case "rouge1" -> (t, p) -> Rouge.n(1, t, p, stem);
                case "rouge2" -> (t, p) -> Rouge.n(2, t, p, stem);
                default -> (t, p) -> Rouge.l(t, p, stem);
              };
          String what = k + (stem ? " stemmed" : "") + " of pair " + i + ": " + h + " against ";
          double bestF = 0;
          for (int j = 0; j < mine.size(); j++) {
            JsonNode row = rows.get(i).get(j);
            Rouge.Score got = metric.apply(mine.get(j), h);
            assertThat(got.precision())
                .as(what + mine.get(j))
                .isCloseTo(row.get(k + "_precision").asDouble(), within(1e-6));
            assertThat(got.recall())
                .as(what + mine.get(j))
                .isCloseTo(row.get(k + "_recall").asDouble(), within(1e-6));
            assertThat(got.fmeasure())
                .as(what + mine.get(j))
                .isCloseTo(row.get(k + "_fmeasure").asDouble(), within(1e-6));
            bestF = Math.max(bestF, row.get(k + "_fmeasure").asDouble());
          }
          // several references: the best by F1 (rouge-score's score_multi)
          assertThat(Rouge.best(mine, h, metric).fmeasure())
              .as(what + mine)
              .isCloseTo(bestF, within(1e-6));
        }
      }
    }
  }
}
