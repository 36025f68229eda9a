package dev.forja.cli;

import static dev.forja.cli.ForjaCliTest.forja;
import static org.assertj.core.api.Assertions.assertThat;

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
 * never does.
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
                "train.lora.target-modules=all-linear"));
    ok(ft);
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
      if (stopped && GenerateCommand.continuation(tok, prompt, out).equals(e[1])) {
        right++;
      }
    }
    return (double) right / examples.size();
  }
}
