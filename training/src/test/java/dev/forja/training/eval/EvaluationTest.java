package dev.forja.training.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.config.ConfigException;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.TestDirs;
import dev.forja.training.generate.Generator;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code forja eval}'s machinery on the golden GPT-2 checkpoint (context 16): suites that name a
 * wrong type, metric or key fail before work naming the valid ones; malformed lines, examples
 * without references and prompts longer than the context are counted and set aside (or truncated),
 * never fatal; the sliding-window perplexity and the multiple-choice log-likelihoods equal what the
 * key/value-cache decoder's logits give when summed by hand; and the output is committed.
 */
class EvaluationTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Storage LOCAL = new Storage(StorageConfig.defaults());
  private static final String GOLDEN =
      Path.of("src/test/resources/golden/gpt2-checkpoint-v1").toAbsolutePath().toUri().toString();
  private static final PrintWriter QUIET = new PrintWriter(java.io.Writer.nullWriter());

  private static EvalSuite suite(Path dir, String yaml) throws Exception {
    Path f = dir.resolve("suite.yaml");
    Files.writeString(f, yaml);
    return EvalSuite.parse(yaml, f.toUri());
  }

  @Test
  void badSuitesNameTheValidChoicesBeforeAnyWork() {
    URI where = URI.create("file:///tmp/suite.yaml");
    assertThatThrownBy(
            () -> EvalSuite.parse("tasks:\n  - {name: a, type: perplexty, data: x}\n", where))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'perplexty' is not a task type")
        .hasMessageContaining("perplexity, generation, multiple-choice, latency")
        .hasMessageContaining("did you mean 'perplexity'");
    assertThatThrownBy(
            () ->
                EvalSuite.parse(
                    "tasks:\n  - {name: a, type: generation, data: x, metrics: [bleu, meteor]}\n",
                    where))
        .hasMessageContaining("'meteor' is not a generation metric")
        .hasMessageContaining("exact-match, bleu, chrf, rouge");
    assertThatThrownBy(
            () ->
                EvalSuite.parse(
                    "tasks:\n  - {name: a, type: generation, data: x, max-new-token: 3}\n", where))
        .hasMessageContaining("'max-new-token' is not a key of tasks[0] (generation)")
        .hasMessageContaining("did you mean 'max-new-tokens'");
    assertThatThrownBy(() -> EvalSuite.parse("name: x\n", where))
        .hasMessageContaining("tasks: give a list of tasks");
    assertThatThrownBy(
            () -> EvalSuite.parse("tasks: [{name: a, type: latency}]\nrun-on: gpu\n", where))
        .hasMessageContaining("run-on: 'gpu' is not one of [auto, driver, spark]");
  }

  @Test
  void badLinesAreCountedAndSetAsideAndLongPromptsTruncatedOrSkipped() throws Exception {
    Path dir = TestDirs.create("eval-bad-");
    Files.writeString(
        dir.resolve("gen.jsonl"),
        String.join(
            "\n",
            "{\"prompt\": \"The\", \"references\": [\"The\"]}",
            "{\"prompt\": \"The cat\", \"references\": [\"x\"",
            "{\"prompt\": \"No references here\"}",
            "{\"prompt\": \"The the the the the the the the the the the the the the the the\","
                + " \"references\": [\"The\"]}",
            "[1, 2]",
            "{\"prompt\": \"A\", \"reference\": \"single\"}"));
    Files.writeString(
        dir.resolve("mc.jsonl"),
        String.join(
            "\n",
            "{\"context\": \"The\", \"choices\": [\"The\", \"cat\"], \"answer\": 0}",
            "{\"context\": \"The\", \"choices\": [\"The\", \"cat\"], \"answer\": 5}",
            "{\"context\": \"The\", \"choices\": [\"The\"], \"answer\": 0}"));
    for (String overflow : List.of("truncate-left", "skip")) {
      EvalSuite s =
          suite(
              dir,
              "prompt-too-long: "
                  + overflow
                  + "\ntasks:\n"
                  + "  - {name: gen, type: generation, data: gen.jsonl, max-new-tokens: 3,"
                  + " metrics: [exact-match, chrf]}\n"
                  + "  - {name: mc, type: multiple-choice, data: mc.jsonl}\n");
      Evaluation.Result r =
          new Evaluation(LOCAL, s, null, QUIET)
              .run(List.of(EvalModel.Spec.parse("golden=" + GOLDEN)));
      Evaluation.TaskRun gen = r.runs().get(0);
      assertThat(gen.problems())
          .containsEntry("malformed-json", 2L)
          .containsEntry("no-references", 1L)
          .containsEntry(overflow.equals("skip") ? "prompt-too-long" : "prompt-truncated", 1L);
      assertThat(gen.setAside()).extracting(Examples.Problem::line).containsExactly(2L, 3L, 5L);
      assertThat(gen.examples()).hasSize(3);
      JsonNode longOne = JSON.readTree(gen.examples().get(1));
      if (overflow.equals("skip")) {
        assertThat(longOne.get("skipped").asText()).isEqualTo("prompt-too-long");
      } else {
        // 16 tokens of context, 3 kept for the answer: the prompt's last 13 tokens
        assertThat(longOne.get("prompt_tokens").asInt()).isEqualTo(13);
        assertThat(longOne.get("truncated").asInt()).isPositive();
      }
      long scored = overflow.equals("skip") ? 2 : 3;
      assertThat(r.metrics())
          .filteredOn(m -> m.task().equals("gen") && m.metric().equals("exact_match"))
          .singleElement()
          .satisfies(m -> assertThat(m.n()).isEqualTo(scored));
      Evaluation.TaskRun mc = r.runs().get(1);
      assertThat(mc.problems()).containsEntry("bad-answer", 1L).containsEntry("no-choices", 1L);
      assertThat(mc.examples()).hasSize(1);
    }
  }

  @Test
  void slidingWindowPerplexityEqualsHandSummedDecoderLogits() throws Exception {
    Path dir = TestDirs.create("eval-ppl-");
    String text = "The cat sat on the mat and the dog sat on the log by the door of the house.";
    Files.writeString(dir.resolve("text.txt"), text + "\nThe end.\n");
    EvalSuite s =
        suite(
            dir,
            "bootstrap-samples: 200\ntasks:\n"
                + "  - {name: ppl, type: perplexity, data: text.txt, window: 10, stride: 4}\n"
                + "  - {name: full, type: perplexity, data: text.txt}\n"
                + "  - {name: mc, type: multiple-choice, data: mc.jsonl}\n"
                + "  - {name: mc-space, type: multiple-choice, data: mc-space.jsonl,"
                + " target-delimiter: ''}\n"
                + "  - {name: speed, type: latency, prompt-lengths: [4, 15], new-tokens: 4,"
                + " repeats: 1}\n");
    String choicesJson = "\"choices\": [\"sat\", \"on the mat\", \"The\"], \"answer\": 2}\n";
    Files.writeString(dir.resolve("mc.jsonl"), "{\"context\": \"The cat\", " + choicesJson);
    Files.writeString(dir.resolve("mc-space.jsonl"), "{\"context\": \"The cat \", " + choicesJson);
    EvalModel.Spec spec = EvalModel.Spec.parse(GOLDEN);
    Evaluation.Result r = new Evaluation(LOCAL, s, null, QUIET).run(List.of(spec));
    EvalModel m = EvalModel.load(LOCAL, spec);
    Generator g = m.generator();
    int eos = m.prefixToken();
    assertThat(eos).isEqualTo(m.tokenizer().specialId("<|endoftext|>"));

    for (String task : List.of("ppl", "full")) {
      int window = task.equals("ppl") ? 10 : 16;
      int stride = task.equals("ppl") ? 4 : 8;
      double nll = 0;
      long tokens = 0;
      for (String doc : List.of(text, "The end.")) {
        int[] body = m.tokenizer().encode(doc);
        int[] ids = new int[body.length + 1];
        ids[0] = eos;
        System.arraycopy(body, 0, ids, 1, body.length);
        // windows of `window` tokens every `stride`; each token scored once, in the first window
        // that reaches it, given everything before it in that window
        int prevEnd = 0;
        for (int begin = 0; begin < ids.length; begin += stride) {
          int end = Math.min(begin + window, ids.length);
          g.reset();
          for (int j = begin + 1; j < end; j++) {
            INDArray logits = g.next(ids[j - 1]);
            if (j >= Math.max(prevEnd, begin + 1)) {
              nll -= logSoftmax(logits.toFloatVector(), ids[j]);
              tokens++;
            }
          }
          prevEnd = end;
          if (end == ids.length) {
            break;
          }
        }
      }
      assertThat(tokens)
          .isEqualTo(m.tokenizer().encode(text).length + m.tokenizer().encode("The end.").length);
      double want = Math.exp(nll / tokens);
      Evaluation.Metric got = metric(r, task, "perplexity");
      assertThat(got.value()).as(task).isCloseTo(want, within(want * 1e-5));
      assertThat(got.ciLow()).isLessThanOrEqualTo(got.value());
      assertThat(got.ciHigh()).isGreaterThanOrEqualTo(got.value());
    }
    assertThat(metric(r, "ppl", "perplexity").value())
        .as("a shorter window sees less context")
        .isNotEqualTo(metric(r, "full", "perplexity").value());

    // multiple choice: each choice's log-likelihood after "The cat" and the delimiter, summed from
    // the decoder's logits by hand; a context's trailing space moves to the continuation
    // (lm-eval's rule), so "The cat " with no delimiter scores the same tokens
    JsonNode mc = JSON.readTree(runOf(r, "mc").examples().get(0));
    JsonNode mcSpace = JSON.readTree(runOf(r, "mc-space").examples().get(0));
    String[] choices = {"sat", "on the mat", "The"};
    double[] want = new double[3];
    for (int c = 0; c < 3; c++) {
      int[] ctx = m.tokenizer().encode("The cat");
      int[] whole = m.tokenizer().encode("The cat " + choices[c]);
      assertThat(Arrays.copyOf(whole, ctx.length)).isEqualTo(ctx);
      g.reset();
      for (int j = 1; j < whole.length; j++) {
        INDArray logits = g.next(whole[j - 1]);
        if (j >= ctx.length) {
          want[c] += logSoftmax(logits.toFloatVector(), whole[j]);
        }
      }
      assertThat(mc.get("loglikelihoods").get(c).asDouble())
          .as("choice %s", choices[c])
          .isCloseTo(want[c], within(1e-4));
      assertThat(mcSpace.get("loglikelihoods").get(c).asDouble())
          .isEqualTo(mc.get("loglikelihoods").get(c).asDouble());
    }
    int best = TaskEval.argmax(want);
    assertThat(metric(r, "mc", "acc").value()).isEqualTo(best == 2 ? 1.0 : 0.0);
    double[] norm = {want[0] / 3, want[1] / 10, want[2] / 3};
    assertThat(metric(r, "mc", "acc_norm").value())
        .isEqualTo(TaskEval.argmax(norm) == 2 ? 1.0 : 0.0);

    // latency: a prompt that leaves no room for the new tokens is skipped, not fatal
    assertThat(r.metrics()).anyMatch(x -> x.metric().equals("first_token_ms@4"));
    assertThat(r.metrics()).noneMatch(x -> x.metric().equals("first_token_ms@15"));
    assertThat(metric(r, "speed", "context_length").value()).isEqualTo(16);

    URI out = dir.resolve("out").toUri();
    EvalReport.write(LOCAL, out, r);
    CommitManifest manifest = CommitManifest.read(LOCAL, out).orElseThrow();
    assertThat(manifest.kind()).isEqualTo(EvalReport.KIND);
    manifest.verify(LOCAL, out, true);
    JsonNode results = JSON.readTree(dir.resolve("out/results.json").toFile());
    assertThat(results.get("metrics").size()).isEqualTo(r.metrics().size());
    assertThat(Files.readAllLines(dir.resolve("out/examples.jsonl")))
        .hasSize(2 + 2 + 1 + 1 + 2); // two documents per perplexity task, two items, two lengths
    assertThat(Files.readString(dir.resolve("out/report.html")))
        .contains("<table>", "data:image/png;base64,", "ppl perplexity");
    assertThat(dir.resolve("out/quality-vs-size.png")).exists();
  }

  @Test
  void generationPromptsGoThroughTheModelsChatTemplateWhereItHasOne() throws Exception {
    Path dir = TestDirs.create("eval-chat-");
    Files.writeString(
        dir.resolve("chat.jsonl"),
        "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
            + " {\"role\": \"user\", \"content\": \"The cat\"}], \"references\": [\"sat\"]}\n"
            + "{\"prompt\": \"The dog\", \"references\": [\"ran\"]}\n");
    EvalSuite auto =
        suite(
            dir,
            "tasks:\n  - {name: chat, type: generation, data: chat.jsonl, max-new-tokens: 2,"
                + " metrics: [exact-match]}\n");
    var ck = dev.forja.training.checkpoint.CheckpointStore.load(LOCAL, URI.create(GOLDEN));
    var tok = dev.forja.tokenizer.TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), "golden");
    String template =
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}"
            + "{% if add_generation_prompt %}<assistant>{% endif %}";
    int eos = tok.specialId("<|endoftext|>");
    EvalModel chat =
        new EvalModel(
            "chat",
            ck.model(),
            ck.weights(),
            tok,
            new dev.forja.training.hf.HfModel.Specials(null, eos, template),
            0,
            "golden with a chat template");
    Evaluation e = new Evaluation(LOCAL, auto, null, QUIET);
    JsonNode first =
        JSON.readTree(e.runInDriver(chat, e.readData()).runs().get(0).examples().get(0));
    JsonNode second =
        JSON.readTree(e.runInDriver(chat, e.readData()).runs().get(0).examples().get(1));
    assertThat(first.get("prompt").asText())
        .isEqualTo("<system>Be brief.<|endoftext|><user>The cat<|endoftext|><assistant>");
    assertThat(second.get("prompt").asText()).isEqualTo("<user>The dog<|endoftext|><assistant>");
    // the template's special tokens are tokens, not text: "<|endoftext|>" is one id
    int[] ids = tok.encodeWithSpecials(second.get("prompt").asText());
    assertThat(second.get("prompt_tokens").asInt() + second.path("truncated").asInt(0))
        .isEqualTo(ids.length); // the golden model's context is 16: its oldest tokens went
    assertThat(Arrays.stream(ids).filter(id -> id == eos).count()).isEqualTo(1);

    EvalSuite none =
        suite(
            dir,
            "tasks:\n  - {name: chat, type: generation, data: chat.jsonl, max-new-tokens: 2,"
                + " chat-template: none, metrics: [exact-match]}\n");
    Evaluation plain = new Evaluation(LOCAL, none, null, QUIET);
    var runs = plain.runInDriver(chat, plain.readData()).runs().get(0).examples();
    assertThat(JSON.readTree(runs.get(0)).get("prompt").asText())
        .isEqualTo("system: Be brief.\nuser: The cat\nassistant: ");
    assertThat(JSON.readTree(runs.get(1)).get("prompt").asText()).isEqualTo("The dog");
  }

  private static double logSoftmax(float[] logits, int id) {
    double max = Double.NEGATIVE_INFINITY;
    for (float v : logits) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (float v : logits) {
      sum += Math.exp(v - max);
    }
    return logits[id] - max - Math.log(sum);
  }

  private static Evaluation.TaskRun runOf(Evaluation.Result r, String task) {
    return r.runs().stream().filter(x -> x.task().name().equals(task)).findFirst().orElseThrow();
  }

  private static Evaluation.Metric metric(Evaluation.Result r, String task, String metric) {
    return r.metrics().stream()
        .filter(x -> x.task().equals(task) && x.metric().equals(metric))
        .findFirst()
        .orElseThrow(() -> new AssertionError(task + "/" + metric + " in " + r.metrics()));
  }
}
