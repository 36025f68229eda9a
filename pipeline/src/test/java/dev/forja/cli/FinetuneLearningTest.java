package dev.forja.cli;

import static dev.forja.cli.ForjaCliTest.forja;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.prep.corpus.InstructionSet;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.TestDirs;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.generate.Generator;
import dev.forja.training.generate.Sampling;
import dev.forja.training.hf.LoraCheckpoints;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A task learned only from fine-tuning data: a tiny model pretrained on the embedded corpus, then
 * LoRA-fine-tuned through forja sft-data and forja finetune on a generated instruction set (name
 * the language of a sentence), answers held-out prompts exactly and stops with EOS, where the base
 * never does; forja eval then scores both side by side, in the driver and on Spark alike.
 */
@Tag("learning")
class FinetuneLearningTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String[] LOCAL = {
    "--set", "spark.master=local[2]", "--set", "spark.ui-enabled=false"
  };

  /** Prompt and answer pairs of the held-out set. */
  static List<String[]> heldOut(int n) {
    List<String[]> out = new ArrayList<>();
    for (InstructionSet.Example e : InstructionSet.languageOfSentence(n, true)) {
      out.add(new String[] {e.prompt(), e.completion()});
    }
    return out;
  }

  static String[] args(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  /** The overhead a {@code --memory-plan} run printed, in MiB. */
  private static long overhead(ForjaCliTest.Run r, String command) {
    ok(r);
    var m =
        java.util.regex.Pattern.compile("(?m)^spark.executor.memoryOverhead=([0-9]+)m$")
            .matcher(r.out());
    assertThat(m.find()).as(command + ": " + r.out()).isTrue();
    return Long.parseLong(m.group(1));
  }

  static void ok(ForjaCliTest.Run r) {
    assertThat(r.code()).as(r.out() + r.err()).isZero();
  }

  @Test
  void loraFineTuneLearnsTheTaskAndStops() throws Exception {
    Path dir = TestDirs.create("finetune-learn-");
    String raw = dir.resolve("raw").toUri().toString();
    String prep = dir.resolve("prep").toUri().toString();
    String tok = dir.resolve("tok").toUri().toString();
    String shards = dir.resolve("shards").toUri().toString();
    String base = dir.resolve("base").toUri().toString();
    ok(forja(args(new String[] {"corpus", "generate", "--output", raw, "--size-mb", "1"}, LOCAL)));
    ok(forja(args(new String[] {"prep", "--input", raw, "--output", prep}, LOCAL)));
    ok(
        forja(
            args(
                new String[] {
                  "tokenizer", "train", "--input", prep, "--output", tok, "--vocab-size", "800"
                },
                LOCAL)));
    ok(
        forja(
            args(
                new String[] {"tokenize", "--input", prep, "--tokenizer", tok, "--output", shards},
                LOCAL)));
    String[] tiny = {
      "--set",
      "model.context-length=64",
      "--set",
      "model.d-model=64",
      "--set",
      "model.layers=2",
      "--set",
      "model.heads=4",
      "--set",
      "train.micro-batch-size=8",
      "--set",
      "train.eval-every=0",
      "--set",
      "train.checkpoint-every=1000",
      "--set",
      "train.log-every=50",
      "--set",
      "train.warmup-steps=10",
      "--set",
      "train.lr=0.003"
    };
    ok(
        forja(
            args(
                new String[] {"train", "--data", shards, "--output", base, "--steps", "150"},
                tiny)));

    // the instruction set: 300 to learn from (forja corpus instructions), 60 held out
    Path in = Files.createDirectories(dir.resolve("sft-in"));
    ok(
        forja(
            "corpus",
            "instructions",
            "--output",
            in.resolve("train.jsonl").toString(),
            "--examples",
            "300"));
    assertThat(Files.readAllLines(in.resolve("train.jsonl"))).hasSize(300);
    String sft = dir.resolve("sft").toUri().toString();
    ForjaCliTest.Run data =
        forja(
            args(
                new String[] {
                  "sft-data",
                  "--input",
                  in.toUri().toString(),
                  "--tokenizer-from",
                  base,
                  "--output",
                  sft,
                  "--seq-len",
                  "64"
                },
                args(LOCAL, "--set", "sft.validation-fraction=0.1")));
    ok(data);
    assertThat(data.out()).contains("300 examples kept", "0 quarantined", "template: plain");

    String run = dir.resolve("run").toUri().toString();
    // the memory plan forja-submit sizes YARN containers with: the base's architecture (not the
    // configuration's model), the same as training from it with LoRA, and nothing written
    String[] plan = {"--data", sft, "--output", run, "--memory-plan"};
    String[] wide = {"--set", "model.d-model=512", "--set", "model.layers=6"};
    long finetunePlan =
        overhead(
            forja(args(args(new String[] {"finetune", "--base", base}, plan), wide)), "finetune");
    long trainPlan =
        overhead(
            forja(
                args(
                    new String[] {"train", "--init-from", base},
                    args(plan, "--set", "train.lora.enabled=true"))),
            "train");
    long configModel = overhead(forja(args(new String[] {"train"}, args(plan, wide))), "train");
    assertThat(finetunePlan).isEqualTo(trainPlan).isLessThan(configModel).isGreaterThan(512);
    assertThat(dir.resolve("run")).doesNotExist();
    Path suite = writeSuite(dir, shards);
    ForjaCliTest.Run ft =
        forja(
            args(
                new String[] {
                  "finetune",
                  "--base",
                  base,
                  "--data",
                  sft,
                  "--output",
                  run,
                  "--lora",
                  "--steps",
                  "250"
                },
                "--set",
                "train.micro-batch-size=8",
                "--set",
                "train.lr=0.01",
                "--set",
                "train.warmup-steps=10",
                "--set",
                "train.eval-every=40",
                "--set",
                "train.eval-batches=2",
                "--set",
                "train.checkpoint-every=1000",
                "--set",
                "train.log-every=40",
                "--set",
                "train.lora.r=8",
                "--set",
                "train.lora.alpha=16",
                "--set",
                "train.lora.target-modules=all-linear",
                "--set",
                "train.eval-suite=" + suite));
    ok(ft);
    // train.eval-suite: the suite's metrics at every evaluation point, in metrics.jsonl and a chart
    List<JsonNode> suiteLines = new ArrayList<>();
    for (String line : Files.readAllLines(dir.resolve("run/metrics.jsonl"))) {
      JsonNode n = JSON.readTree(line);
      if (n.path("type").asText().equals("suite")) {
        suiteLines.add(n);
      }
    }
    assertThat(suiteLines).extracting(n -> n.get("step").asLong()).contains(40L, 80L, 250L);
    double firstAcc = suiteLines.get(0).get("metrics").get("mc/acc_norm").asDouble();
    double lastAcc =
        suiteLines.get(suiteLines.size() - 1).get("metrics").get("mc/acc_norm").asDouble();
    assertThat(lastAcc).isGreaterThan(0.9).isGreaterThanOrEqualTo(firstAcc);
    assertThat(dir.resolve("run/eval-suite.png")).exists();
    assertThat(ft.out()).contains("completed at step 250", "validation loss");

    Storage storage = new Storage(StorageConfig.defaults());
    List<String[]> held = heldOut(60);
    double before = score(storage, URI.create(base), held);
    double after = score(storage, URI.create(run), held);
    System.out.printf(
        java.util.Locale.ROOT,
        "%s%nexact match on %d held-out prompts: base %.2f, fine-tuned %.2f%n",
        ft.out(),
        held.size(),
        before,
        after);
    assertThat(before).as("the base model's exact match").isLessThanOrEqualTo(0.1);
    assertThat(after).as("the fine-tuned model's exact match").isGreaterThanOrEqualTo(0.9);

    evaluatesSideBySideInTheDriverAndOnSparkAlike(dir, base, run, shards);
  }

  /** Held-out generation and multiple-choice items and a suite over them and the shards. */
  static Path writeSuite(Path dir, String shards) throws Exception {
    Path data = Files.createDirectories(dir.resolve("eval-data"));
    ok(
        forja(
            "corpus",
            "instructions",
            "--held-out",
            "--examples",
            "60",
            "--output",
            data.resolve("id.jsonl").toString()));
    ok(
        forja(
            "corpus",
            "instructions",
            "--held-out",
            "--multiple-choice",
            "--examples",
            "60",
            "--output",
            data.resolve("mc.jsonl").toString()));
    Path suite = data.resolve("suite.yaml");
    Files.writeString(
        suite,
        "name: finetune\nbootstrap-samples: 300\ntasks:\n"
            + "  - {name: text, type: perplexity, data: "
            + shards
            + ", limit: 2}\n"
            + "  - {name: id, type: generation, data: id.jsonl, max-new-tokens: 8,"
            + " metrics: [exact-match, chrf, rouge]}\n"
            + "  - {name: mc, type: multiple-choice, data: mc.jsonl}\n");
    return suite;
  }

  /**
   * forja eval of the base and the fine-tuned model: multiple-choice accuracy well above chance (a
   * third), the raw accuracy equal to what the decoder's log-likelihoods give by hand; the same
   * results and per-example records whether the examples run in the driver or on Spark's executors.
   */
  static void evaluatesSideBySideInTheDriverAndOnSparkAlike(
      Path dir, String base, String run, String shards) throws Exception {
    Path data = dir.resolve("eval-data");
    Path suite = data.resolve("suite.yaml");
    JsonNode[] results = new JsonNode[2];
    List<List<String>> examples = new ArrayList<>();
    String[] where = {"driver", "spark"};
    for (int i = 0; i < 2; i++) {
      Path out = dir.resolve("eval-" + where[i]);
      ForjaCliTest.Run r =
          forja(
              args(
                  new String[] {
                    "eval",
                    "--model",
                    "base=" + base,
                    "--model",
                    "tuned=" + run,
                    "--model",
                    "adapted=" + base + ",adapter=" + run,
                    "--suite",
                    suite.toString(),
                    "--output",
                    out.toUri().toString(),
                    "--run-on",
                    where[i]
                  },
                  LOCAL));
      ok(r);
      assertThat(r.err()).contains("examples/s, " + where[i] + ")");
      results[i] = JSON.readTree(out.resolve("results.json").toFile());
      List<String> rows = new ArrayList<>();
      for (String line : Files.readAllLines(out.resolve("examples.jsonl"))) {
        com.fasterxml.jackson.databind.node.ObjectNode o =
            (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(line);
        o.remove(List.of("seconds", "first_token_seconds"));
        rows.add(o.toString());
      }
      examples.add(rows);
      assertThat(out.resolve("report.html")).exists();
      assertThat(out.resolve("_MANIFEST.json")).exists();
    }
    assertThat(results[1].get("metrics")).isEqualTo(results[0].get("metrics"));
    assertThat(examples.get(1)).isEqualTo(examples.get(0));

    java.util.Map<String, Double> got = new java.util.HashMap<>();
    results[0]
        .get("metrics")
        .forEach(
            m ->
                got.put(
                    m.get("model").asText()
                        + "/"
                        + m.get("task").asText()
                        + "/"
                        + m.get("metric").asText(),
                    m.get("value").asDouble()));
    // raw log-likelihoods favour the shorter names; per character (acc_norm) the model knows
    assertThat(got.get("tuned/mc/acc_norm"))
        .as("fine-tuned accuracy per character, chance 0.33")
        .isGreaterThan(0.9);
    assertThat(got.get("tuned/id/exact_match")).isGreaterThanOrEqualTo(0.9);
    assertThat(got.get("base/id/exact_match")).isLessThanOrEqualTo(0.1);
    assertThat(got.get("tuned/text/perplexity")).isPositive();
    // the base with the run's adapter applied is the fine-tuned model
    for (String k : List.of("text/perplexity", "id/exact_match", "id/chrf", "mc/acc")) {
      assertThat(got.get("adapted/" + k)).as(k).isCloseTo(got.get("tuned/" + k), within(1e-6));
    }

    // the accuracy by hand: each choice's summed log-probabilities from the decoder's logits
    Storage storage = new Storage(StorageConfig.defaults());
    CheckpointStore.Loaded ck =
        LoraCheckpoints.materialize(
            storage, CheckpointStore.loadAny(storage, URI.create(run), "model"));
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), "checkpoint");
    Generator g = new Generator(ck.model(), ck.weights());
    int right = 0;
    List<String> items = Files.readAllLines(data.resolve("mc.jsonl"));
    for (String line : items) {
      JsonNode item = JSON.readTree(line);
      int[] ctx = tok.encode(item.get("context").asText());
      double best = Double.NEGATIVE_INFINITY;
      int pick = -1;
      for (int c = 0; c < item.get("choices").size(); c++) {
        int[] whole =
            tok.encode(item.get("context").asText() + " " + item.get("choices").get(c).asText());
        g.reset();
        double ll = 0;
        for (int j = 1; j < whole.length; j++) {
          float[] logits = g.next(whole[j - 1]).toFloatVector();
          if (j >= ctx.length) {
            double max = Double.NEGATIVE_INFINITY;
            for (float v : logits) {
              max = Math.max(max, v);
            }
            double sum = 0;
            for (float v : logits) {
              sum += Math.exp(v - max);
            }
            ll += logits[whole[j]] - max - Math.log(sum);
          }
        }
        if (ll > best) {
          best = ll;
          pick = c;
        }
      }
      if (pick == item.get("answer").asInt()) {
        right++;
      }
    }
    assertThat(got.get("tuned/mc/acc")).isEqualTo((double) right / items.size());
  }

  /** Share of prompts answered exactly, the answer ended by EOS (greedy decoding). */
  static double score(Storage storage, URI model, List<String[]> examples) throws Exception {
    CheckpointStore.Loaded ck =
        LoraCheckpoints.materialize(storage, CheckpointStore.loadAny(storage, model, "model"));
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), "checkpoint");
    int eos = tok.specialId("<|endoftext|>");
    Generator g = new Generator(ck.model(), ck.weights());
    int right = 0;
    for (String[] e : examples) {
      int[] prompt = tok.encode(e[0]);
      int[] out =
          g.generate(prompt, 8, new Sampling(0, 0, 1), new SplittableRandom(1), id -> id == eos);
      boolean stopped = out.length < 8;
      if (stopped
          && dev.forja.training.generate.Generator.continuation(tok, prompt, out).equals(e[1])) {
        right++;
      }
    }
    return (double) right / examples.size();
  }
}
