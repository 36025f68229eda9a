package dev.forja.cli;

import static dev.forja.cli.ForjaCliTest.forja;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.prep.corpus.InstructionSet;
import dev.forja.testing.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * forja run end to end on local Spark: a first cycle (generated corpus, prep, tokenizer, shards,
 * pretraining, fine-tuning data, LoRA fine-tune, evaluation, promotion) makes the first champion; a
 * rerun reuses every stage and says so; a second cycle whose fine-tuning data has its labels
 * shuffled is refused by the gate (exit 3), the champion unchanged and the reason recorded; a
 * second run is refused while the registry's lock holds and takes over an expired one; a third
 * cycle on new good data continues the champion's adapter and is promoted; a pipeline naming an
 * unknown stage starts nothing.
 */
@Tag("learning")
class PipelineRunTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void cyclesPromoteRefuseJunkAndReuseStages() throws Exception {
    Path dir = TestDirs.create("pipeline-");
    Path conf = setup(dir, 150, 1000);
    // cycle 1: the first champion
    ForjaCliTest.Run first = forja("run", "--conf", conf.toString());
    assertThat(first.code()).as(first.out() + first.err()).isZero();
    assertThat(first.out()).contains("promoted: ").contains("== train        runs");
    JsonNode champion = JSON.readTree(dir.resolve("registry/champion.json").toFile());
    assertThat(champion.get("reason").asText()).isEqualTo("the first champion");
    // learned: chance is 1 in 3 (runs on the same machine differ slightly; one gave 0.80)
    assertThat(champion.get("metrics").get("id/exact_match").asDouble())
        .isGreaterThanOrEqualTo(0.75);

    // the same configuration again: every stage reused, nothing recomputed
    ForjaCliTest.Run again = forja("run", "--conf", conf.toString());
    assertThat(again.code()).as(again.out() + again.err()).isZero();
    assertThat(again.out().lines().filter(l -> l.startsWith("== ")).toList())
        .hasSize(9)
        .allMatch(l -> l.contains(" reused "));

    // cycle 2: shuffled labels; prep, tokenizer, shards and pretraining are reused, the gate
    // refuses the candidate and the champion stays
    ForjaCliTest.Run junk =
        forja(
            "run",
            "--conf",
            conf.toString(),
            "--set",
            "pipeline.sft-input=" + dir.resolve("shuffled.jsonl"));
    assertThat(junk.code()).as(junk.out() + junk.err()).isEqualTo(PipelineRunner.NOT_PROMOTED);
    assertThat(junk.out())
        .contains("== prep         reused", "== train        reused", "== finetune     runs")
        .contains("not promoted: failed id/exact_match not-lower");
    // for schedulers that fail a task on any non-zero code: the same outcome, exit code 0
    ForjaCliTest.Run quiet =
        forja(
            "run",
            "--conf",
            conf.toString(),
            "--set",
            "pipeline.sft-input=" + dir.resolve("shuffled.jsonl"),
            "--refused-exit-code",
            "0");
    assertThat(quiet.code()).as(quiet.out() + quiet.err()).isZero();
    assertThat(quiet.out()).contains("not promoted: failed id/exact_match not-lower");
    JsonNode after = JSON.readTree(dir.resolve("registry/champion.json").toFile());
    assertThat(after.get("model").asText()).isEqualTo(champion.get("model").asText());
    assertThat(forja("model", "history", "--conf", conf.toString()).out())
        .contains("promote ")
        .contains(champion.get("model").asText());

    // the lineage leads from the champion back to the generated corpus
    ForjaCliTest.Run lineage = forja("lineage", dir.resolve("registry").toUri().toString());
    assertThat(lineage.code()).as(lineage.err()).isZero();
    assertThat(lineage.out())
        .contains("└─ finetune", "└─ train", "└─ tokenize", "└─ prep", "└─ generate");

    // a lock held by another run refuses this one; an expired one is taken over
    Path lock = dir.resolve("registry/" + Lock.FILE);
    Files.writeString(
        lock,
        "{\"owner\": \"nightly on other-host pid 7\", \"expires\": \""
            + Instant.now().plusSeconds(600)
            + "\"}");
    ForjaCliTest.Run locked = forja("run", "--conf", conf.toString());
    assertThat(locked.code()).isEqualTo(1);
    assertThat(locked.err()).contains("locked by nightly on other-host pid 7");
    Files.writeString(
        lock,
        "{\"owner\": \"nightly on other-host pid 7\", \"expires\": \""
            + Instant.now().minusSeconds(5)
            + "\"}");
    ForjaCliTest.Run takeover = forja("run", "--conf", conf.toString());
    assertThat(takeover.code()).as(takeover.out() + takeover.err()).isZero();
    assertThat(lock).doesNotExist();

    // cycle 3: new good data; the fine-tune continues the champion's adapter (same base: the
    // pretraining is reused) and is promoted; run again, it reuses every stage
    String[] nextMonth = {
      "run",
      "--conf",
      conf.toString(),
      "--set",
      "pipeline.sft-input=" + dir.resolve("next-month.jsonl"),
      "--set",
      "pipeline.continue-from-champion=true"
    };
    ForjaCliTest.Run third = forja(nextMonth);
    assertThat(third.code()).as(third.out() + third.err()).isZero();
    assertThat(third.out())
        .contains("== train        reused", "== finetune     runs")
        .contains("train.lora.init-adapter=" + champion.get("model").asText())
        .contains("promoted: ");
    JsonNode three = JSON.readTree(dir.resolve("registry/champion.json").toFile());
    // it starts where the champion ended, not from a fresh adapter
    assertThat(firstLoss(three.get("model").asText()))
        .isLessThan(firstLoss(champion.get("model").asText()) / 2);
    assertThat(three.get("previous").get("model").asText())
        .isEqualTo(champion.get("model").asText());
    assertThat(three.get("metrics").get("id/exact_match").asDouble()).isGreaterThan(0.8);
    assertThat(forja(nextMonth).out().lines().filter(l -> l.startsWith("== ")).toList())
        .hasSize(9)
        .allMatch(l -> l.contains(" reused "));

    // an unknown stage: named with the valid ones, and nothing starts
    ForjaCliTest.Run bad =
        forja("run", "--conf", conf.toString(), "--set", "pipeline.stages=prep,tokenise,train");
    assertThat(bad.code()).isEqualTo(2);
    assertThat(bad.err()).contains("'tokenise' is not a stage").contains("did you mean 'tokenize'");
    assertThat(bad.out()).doesNotContain("== ");
  }

  /**
   * The shipped quickstart pipeline (conf/quickstart.yaml with its suite and gate) passes the
   * checks forja run makes before it starts, and its plan runs every stage.
   */
  @Test
  void theQuickstartPipelinePlansEveryStage() throws Exception {
    Path dir = TestDirs.create("pipeline-quickstart-");
    Path root = Path.of("..").toAbsolutePath().normalize();
    ForjaCliTest.Run plan =
        forja(
            "run",
            "--conf",
            root.resolve("conf/quickstart.yaml").toString(),
            "--conf",
            root.resolve("conf/presets/tiny.yaml").toString(),
            "--set",
            "pipeline.work=" + dir.resolve("work"),
            "--set",
            "pipeline.registry=" + dir.resolve("work/registry"),
            "--set",
            "pipeline.eval-suite=" + root.resolve("conf/eval/pipeline-quickstart.yaml"),
            "--dry-run");
    assertThat(plan.code()).as(plan.out() + plan.err()).isZero();
    assertThat(plan.out().lines().filter(l -> l.startsWith("== ")).toList())
        .as(plan.out())
        .hasSize(11)
        .allMatch(l -> l.contains(" would run "));
  }

  /**
   * What a stage would refuse only when it runs (its own overrides, the evaluation suite, a gate
   * rule naming no task of the suite) stops the run before anything starts, named with the fix.
   */
  @Test
  void settingsAStageWouldRefuseStopTheRunBeforeAnythingStarts() throws Exception {
    Path dir = TestDirs.create("pipeline-refused-");
    String conf = setup(dir, 10, 1000).toString();
    ForjaCliTest.Run bad =
        forja(
            "run",
            "--conf",
            conf,
            "--set",
            "pipeline.finetune-overrides=train.lrr=0.01",
            "--set",
            "promote.gate=idd/exact_match not-lower 0.05");
    assertThat(bad.code()).as(bad.out() + bad.err()).isEqualTo(2);
    assertThat(bad.err())
        .contains("pipeline.finetune-overrides: unknown key 'train.lrr'")
        .contains(
            "promote.gate: 'idd/exact_match not-lower 0.05' names the task 'idd', which "
                + dir.resolve("suite.yaml").toUri()
                + " does not hold; its tasks: text, id, mc");
    assertThat(bad.out()).doesNotContain("== ");

    Files.writeString(
        dir.resolve("typo.yaml"),
        "tasks:\n  - {name: text, type: perplexityy, data: ${tokenize}}\n");
    ForjaCliTest.Run typo =
        forja("run", "--conf", conf, "--set", "pipeline.eval-suite=" + dir.resolve("typo.yaml"));
    assertThat(typo.code()).as(typo.out() + typo.err()).isEqualTo(2);
    assertThat(typo.err())
        .contains("pipeline.eval-suite: ")
        .contains("'perplexityy' is not a task type")
        .contains("did you mean 'perplexity'");

    Files.writeString(
        dir.resolve("stage.yaml"),
        "# ${stage} is that stage's output (a comment: not checked)\n"
            + "tasks:\n  - {name: text, type: perplexity, data: ${tokenise}}\n");
    ForjaCliTest.Run stage =
        forja("run", "--conf", conf, "--set", "pipeline.eval-suite=" + dir.resolve("stage.yaml"));
    assertThat(stage.code()).as(stage.out() + stage.err()).isEqualTo(2);
    assertThat(stage.err())
        .contains("names ${tokenise}, which is not a stage of this pipeline; valid: ${generate},");
    assertThat(dir.resolve("work")).doesNotExist();
  }

  /**
   * Scheduled pretraining on new data: a second cycle on a new window of the corpus keeps the
   * champion's tokenizer, trains from the champion's weights, passes the gate and becomes the
   * champion; run again, it reuses every stage.
   */
  @Test
  void aNewWindowContinuesFromTheChampionAndIsPromoted() throws Exception {
    Path dir = TestDirs.create("pipeline-continue-");
    Files.writeString(
        dir.resolve("suite.yaml"),
        "name: text\nbootstrap-samples: 100\ntasks:\n"
            + "  - {name: text, type: perplexity, data: ${tokenize}, limit: 2}\n");
    Path conf = dir.resolve("pipeline.yaml");
    Files.writeString(
        conf,
        String.join(
            "\n",
            "spark: {master: 'local[2]', ui-enabled: false}",
            "corpus: {size-mb: 1, seed: 3}",
            "tokenizer: {vocab-size: 800}",
            "model: {context-length: 64, d-model: 64, layers: 2, heads: 4}",
            "train: {steps: 100, micro-batch-size: 8, lr: 0.003, warmup-steps: 10, eval-every: 0,"
                + " eval-batches: 2, checkpoint-every: 1000, log-every: 50}",
            "pipeline:",
            "  work: " + dir.resolve("work"),
            "  registry: " + dir.resolve("registry"),
            "  stages: [generate, prep, tokenizer, tokenize, train, eval, promote]",
            "  continue-from-champion: true",
            "  eval-suite: " + dir.resolve("suite.yaml"),
            "promote:",
            "  gate: [text/perplexity lower 1%]",
            ""));
    // a training stage that refuses its settings (a checkpoint that is not there) is not run
    // again: the cycle ends at once, and the run after the fix reuses what finished
    ForjaCliTest.Run refused =
        forja(
            "run",
            "--conf",
            conf.toString(),
            "--set",
            "pipeline.train-overrides=train.init-from=" + dir.resolve("no-such-run").toUri());
    assertThat(refused.code()).as(refused.out() + refused.err()).isEqualTo(2);
    assertThat(refused.out()).contains("== tokenize     runs", "== train        runs");
    assertThat(refused.err())
        .contains("is neither a committed checkpoint nor a run directory")
        .contains("so it is not run again")
        .doesNotContain("running it again");
    var summary = java.util.regex.Pattern.compile("Summary: (\\S+)").matcher(refused.out());
    assertThat(summary.find()).as(refused.out()).isTrue();
    JsonNode refusedSummary =
        JSON.readTree(Path.of(java.net.URI.create(summary.group(1))).toFile());
    assertThat(refusedSummary.get("exit_code").asInt()).isEqualTo(2);
    assertThat(dir.resolve("registry/champion.json")).doesNotExist();

    ForjaCliTest.Run first = forja("run", "--conf", conf.toString());
    assertThat(first.code()).as(first.out() + first.err()).isZero();
    assertThat(first.out()).contains("== tokenize     reused", "== train        runs");
    JsonNode one = JSON.readTree(dir.resolve("registry/champion.json").toFile());

    String[] window2 = {"run", "--conf", conf.toString(), "--set", "corpus.seed=4"};
    ForjaCliTest.Run second = forja(window2);
    assertThat(second.code()).as(second.out() + second.err()).isZero();
    assertThat(second.out())
        .contains("== generate     runs", "== prep         runs")
        .contains("== tokenizer    reused")
        .contains("the champion's tokenizer")
        .contains("--init-from " + one.get("model").asText())
        .contains("promoted: ");
    JsonNode two = JSON.readTree(dir.resolve("registry/champion.json").toFile());
    assertThat(two.get("previous").get("model").asText()).isEqualTo(one.get("model").asText());
    // trained on twice the data from the champion's weights: lower perplexity than the champion
    assertThat(two.get("passed").get(0).asText()).contains("text/perplexity lower");

    ForjaCliTest.Run again = forja(window2);
    assertThat(again.code()).as(again.out() + again.err()).isZero();
    assertThat(again.out().lines().filter(l -> l.startsWith("== ")).toList())
        .hasSize(7)
        .allMatch(l -> l.contains(" reused "));
  }

  /**
   * Incremental data: each cycle's input holds the earlier windows again beside a new one;
   * deduplicated against every champion's prep, only the new window's documents are kept, and a
   * quarter of the training documents are replayed from the earlier windows. Each cycle run again
   * plans the same stages (none deduplicates against, or replays, its own data).
   */
  @Test
  void aNewWindowKeepsOnlyDocumentsTheChampionHasNotSeen() throws Exception {
    Path dir = TestDirs.create("pipeline-window-");
    for (String[] w : new String[][] {{"december", "3"}, {"january", "4"}, {"february", "5"}}) {
      ForjaCliTest.Run g =
          forja(
              "corpus",
              "generate",
              "--output",
              dir.resolve(w[0]).toUri().toString(),
              "--size-mb",
              "1",
              "--seed",
              w[1],
              "--set",
              "spark.master=local[2]");
      assertThat(g.code()).as(g.err()).isZero();
    }
    Files.writeString(
        dir.resolve("suite.yaml"),
        "tasks:\n  - {name: text, type: perplexity, data: ${tokenize}, limit: 1}\n");
    Path conf = dir.resolve("pipeline.yaml");
    Files.writeString(
        conf,
        String.join(
            "\n",
            "spark: {master: 'local[2]', ui-enabled: false}",
            "tokenizer: {vocab-size: 600}",
            "tokenize: {replay-ratio: 0.25}",
            "model: {context-length: 32, d-model: 32, layers: 1, heads: 2}",
            "train: {steps: 20, micro-batch-size: 4, warmup-steps: 2, eval-every: 0,"
                + " eval-batches: 2, checkpoint-every: 1000}",
            "pipeline:",
            "  work: " + dir.resolve("work"),
            "  registry: " + dir.resolve("registry"),
            "  stages: [prep, tokenizer, tokenize, train, eval, promote]",
            "  input: [" + dir.resolve("december") + "]",
            "  continue-from-champion: true",
            "  dedup-against-champion: true",
            "  eval-suite: " + dir.resolve("suite.yaml"),
            ""));
    ForjaCliTest.Run first = forja("run", "--conf", conf.toString());
    assertThat(first.code()).as(first.out() + first.err()).isZero();
    assertThat(first.out()).doesNotContain("--replay", "--dedup-against");
    assertAllReused(forja("run", "--conf", conf.toString()), 6);
    String[] window2 = {
      "run",
      "--conf",
      conf.toString(),
      "--set",
      "pipeline.input=" + dir.resolve("december") + "," + dir.resolve("january")
    };
    ForjaCliTest.Run second = forja(window2);
    assertThat(second.code()).as(second.out() + second.err()).isZero();
    assertThat(second.out()).contains("--dedup-against ");
    assertReplayShare(second.out(), 1, 0.25);
    assertAllReused(forja(window2), 6);
    long kept1 = kept(first.out());
    long kept2 = kept(second.out());
    long input2 = inputRecords(second.out());
    // December's documents are all in the champion's data: about half the input goes
    assertThat(input2).isGreaterThan(2 * kept1);
    assertThat(kept2).isLessThan(kept1 + kept1 / 4 + 1).isGreaterThan(kept1 / 2);

    // a third window repeating both: deduplicated against both champions' data
    ForjaCliTest.Run third =
        forja(
            "run",
            "--conf",
            conf.toString(),
            "--set",
            "pipeline.input="
                + dir.resolve("december")
                + ","
                + dir.resolve("january")
                + ","
                + dir.resolve("february"));
    assertThat(third.code()).as(third.out() + third.err()).isZero();
    assertThat(third.out().split("--dedup-against ", -1)).hasSize(3); // two earlier windows
    assertThat(kept(third.out())).isLessThan(kept1 + kept1 / 4 + 1).isGreaterThan(kept1 / 2);
    assertReplayShare(third.out(), 2, 0.25);
  }

  private static void assertAllReused(ForjaCliTest.Run run, int stages) {
    assertThat(run.code()).as(run.out() + run.err()).isZero();
    assertThat(run.out().lines().filter(l -> l.startsWith("== ")).toList())
        .as(run.out())
        .hasSize(stages)
        .allMatch(l -> l.contains(" reused "));
  }

  /** The replayed share of the training split's documents, from forja tokenize's report. */
  private static void assertReplayShare(String out, int windows, double share) {
    var r =
        java.util.regex.Pattern.compile(
                "([0-9,]+) of the training documents replayed from " + windows + " earlier")
            .matcher(out);
    var t =
        java.util.regex.Pattern.compile("train +[0-9,]+ tokens +([0-9,]+) documents").matcher(out);
    assertThat(r.find() && t.find()).as(out).isTrue();
    double replayed = Long.parseLong(r.group(1).replace(",", ""));
    double train = Long.parseLong(t.group(1).replace(",", ""));
    assertThat(replayed / train).as(out).isBetween(share - 0.05, share + 0.05);
  }

  /** The loss of a run's first step, from its metrics.jsonl. */
  private static double firstLoss(String run) throws Exception {
    Path metrics = Path.of(java.net.URI.create(run)).resolve("metrics.jsonl");
    return JSON.readTree(Files.readAllLines(metrics).get(0)).get("loss").asDouble();
  }

  private static long kept(String out) {
    var m = java.util.regex.Pattern.compile("input records = ([0-9,]+) kept").matcher(out);
    assertThat(m.find()).as(out).isTrue();
    return Long.parseLong(m.group(1).replace(",", ""));
  }

  private static long inputRecords(String out) {
    var m = java.util.regex.Pattern.compile("([0-9,]+) input records =").matcher(out);
    assertThat(m.find()).as(out).isTrue();
    return Long.parseLong(m.group(1).replace(",", ""));
  }

  /**
   * A pipeline in {@code dir}: generated corpus through promotion, fine-tuning data from {@code
   * good.jsonl} (and {@code shuffled.jsonl} beside it), a suite over held-out items; returns the
   * config file.
   */
  static Path setup(Path dir, int trainSteps, int checkpointEvery) throws Exception {
    writeSft(dir.resolve("good.jsonl"), false, 0);
    writeSft(dir.resolve("shuffled.jsonl"), true, 0);
    writeSft(dir.resolve("next-month.jsonl"), false, 300);
    StringBuilder gen = new StringBuilder();
    StringBuilder mc = new StringBuilder();
    List<String> names = List.of("english", "spanish", "portuguese");
    for (InstructionSet.Example e : InstructionSet.languageOfSentence(60, true)) {
      gen.append(
              JSON.writeValueAsString(
                  Map.of("prompt", e.prompt(), "references", List.of(e.completion()))))
          .append('\n');
      Map<String, Object> item = new LinkedHashMap<>();
      item.put("context", e.prompt());
      item.put("choices", names);
      item.put("answer", names.indexOf(e.completion().strip()));
      mc.append(JSON.writeValueAsString(item)).append('\n');
    }
    Files.writeString(dir.resolve("id.jsonl"), gen);
    Files.writeString(dir.resolve("mc.jsonl"), mc);
    Files.writeString(
        dir.resolve("suite.yaml"),
        "name: cycle\nbootstrap-samples: 200\ntasks:\n"
            + "  - {name: text, type: perplexity, data: ${tokenize}, limit: 2}\n"
            + "  - {name: id, type: generation, data: id.jsonl, max-new-tokens: 8,"
            + " metrics: [exact-match]}\n"
            + "  - {name: mc, type: multiple-choice, data: mc.jsonl}\n");
    Path conf = dir.resolve("pipeline.yaml");
    Files.writeString(
        conf,
        String.join(
            "\n",
            "spark: {master: 'local[2]', ui-enabled: false}",
            "corpus: {size-mb: 1, seed: 3}",
            "tokenizer: {vocab-size: 800}",
            "model: {context-length: 64, d-model: 64, layers: 2, heads: 4}",
            "sft: {sequence-length: 64, validation-fraction: 0.1}",
            "train: {steps: "
                + trainSteps
                + ", micro-batch-size: 8, lr: 0.003, warmup-steps: 10, eval-every: 0,"
                + " eval-batches: 2, checkpoint-every: "
                + checkpointEvery
                + ", log-every: 50}",
            "pipeline:",
            "  work: " + dir.resolve("work"),
            "  registry: " + dir.resolve("registry"),
            "  stages: [generate, prep, tokenizer, tokenize, train, sft-data, finetune, eval,"
                + " promote]",
            "  sft-input: " + dir.resolve("good.jsonl"),
            "  eval-suite: " + dir.resolve("suite.yaml"),
            "  finetune-overrides: [train.steps=250, train.lr=0.01, train.lora.r=8,"
                + " train.lora.alpha=16, train.lora.target-modules=all-linear]",
            "promote:",
            "  gate: [id/exact_match not-lower 0.05, mc/acc_norm not-lower 0.05]",
            ""));

    return conf;
  }

  /**
   * 300 items of the instruction set from number {@code from} on; {@code shuffled}: each answer
   * replaced by another language's.
   */
  static void writeSft(Path file, boolean shuffled, int from) throws Exception {
    List<String> lines = new ArrayList<>();
    List<String> names = List.of(" english", " spanish", " portuguese");
    for (InstructionSet.Example e :
        InstructionSet.languageOfSentence(from + 300, false).subList(from, from + 300)) {
      String answer = e.completion();
      if (shuffled) {
        answer = names.get((names.indexOf(answer) + 1) % names.size());
      }
      lines.add(JSON.writeValueAsString(Map.of("prompt", e.prompt(), "completion", answer)));
    }
    Files.write(file, lines);
  }
}
