package dev.forja.training.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.PythonOracle;
import dev.forja.testing.TestDirs;
import dev.forja.training.hf.HfModel;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Perplexity judged by transformers: tiny random GPT-2 and Llama models made by transformers,
 * evaluated by Forja straight from their Hugging Face directories and after {@code forja model
 * import}, give the summed negative log-likelihood of every text, and the perplexity, that
 * transformers computes with the same sliding window (the model's whole context and a short one).
 */
@Tag("reference")
class EvalOracleTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Storage LOCAL = new Storage(StorageConfig.defaults());

  @Test
  void perplexityEqualsTransformers() throws Exception {
    String oracle =
        new String(
            EvalOracleTest.class.getResourceAsStream("/hf/oracle.py").readAllBytes(),
            StandardCharsets.UTF_8);
    Path root = TestDirs.create("eval-oracle-");
    PythonOracle.run(oracle, "make", root.toString(), "gpt2-tied", "llama");
    List<String> texts =
        List.of(
            "The quick brown fox jumps over the lazy dog. Forja trains language models on Apache"
                + " Spark, without leaving the JVM. El zorro marrón salta sobre el perro perezoso;"
                + " a raposa marrom pula. naïve café, 東京, emoji 😀 and double spaces",
            "def f(x):\n    return x * 2  # code",
            "Forja trains language models.");
    Path textsFile = root.resolve("texts.json");
    Files.writeString(textsFile, JSON.writeValueAsString(texts));
    StringBuilder jsonl = new StringBuilder();
    for (String t : texts) {
      jsonl.append(JSON.writeValueAsString(java.util.Map.of("text", t))).append('\n');
    }
    Files.writeString(root.resolve("texts.jsonl"), jsonl);
    PrintWriter quiet = new PrintWriter(java.io.Writer.nullWriter());
    for (String kind : List.of("gpt2-tied", "llama")) {
      Path hf = root.resolve(kind);
      Path imported = root.resolve(kind + "-imported");
      HfModel.importTo(LOCAL, hf.toUri(), imported.toUri());
      for (int[] ws : new int[][] {{48, 16}, {20, 7}}) {
        Path suiteFile = root.resolve("suite-" + ws[0] + ".yaml");
        String yaml =
            "tasks:\n  - {name: ppl, type: perplexity, data: texts.jsonl, window: "
                + ws[0]
                + ", stride: "
                + ws[1]
                + "}\n";
        Files.writeString(suiteFile, yaml);
        EvalSuite suite = EvalSuite.parse(yaml, suiteFile.toUri());
        JsonNode want =
            JSON.readTree(
                PythonOracle.run(
                    oracle,
                    "perplexity",
                    hf.toString(),
                    textsFile.toString(),
                    String.valueOf(ws[0]),
                    String.valueOf(ws[1])));
        Evaluation.Result r =
            new Evaluation(LOCAL, suite, null, quiet)
                .run(
                    List.of(
                        EvalModel.Spec.parse("hf=" + hf.toUri()),
                        EvalModel.Spec.parse("imported=" + imported.toUri())));
        for (Evaluation.TaskRun run : r.runs()) {
          List<JsonNode> rows = new ArrayList<>();
          for (String e : run.examples()) {
            rows.add(JSON.readTree(e));
          }
          for (int i = 0; i < texts.size(); i++) {
            String what = kind + " " + run.model() + " window " + ws[0] + " text " + i;
            assertThat(rows.get(i).get("tokens").asInt())
                .as(what)
                .isEqualTo(want.get("tokens").get(i).asInt());
            double nll = want.get("nll").get(i).asDouble();
            assertThat(rows.get(i).get("nll").asDouble())
                .as(what)
                .isCloseTo(nll, within(Math.abs(nll) * 2e-5));
          }
          assertThat(want.get("tokens").get(0).asInt()).isGreaterThan(ws[0]);
          double ppl = want.get("perplexity").asDouble();
          assertThat(
                  r.metrics().stream()
                      .filter(m -> m.model().equals(run.model()) && m.metric().equals("perplexity"))
                      .findFirst()
                      .orElseThrow()
                      .value())
              .as(kind + " " + run.model())
              .isCloseTo(ppl, within(ppl * 2e-5));
        }
      }
    }
  }
}
