package dev.forja.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.cli.Forja;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code forja bench} command runs through the CLI on tiny inputs and prints its figures, so
 * that none of them can rot between measurements.
 */
class BenchCommandsTest {
  @TempDir Path dir;

  /** A model small enough to time in a second. */
  private static final String[] TINY_MODEL = {
    "--conf", "../conf/presets/bench-a.yaml",
    "--set", "model.layers=1",
    "--set", "model.d-model=32",
    "--set", "model.heads=2",
    "--set", "model.vocab-size=512",
    "--set", "model.context-length=32",
    "--set", "train.micro-batch-size=2"
  };

  private record Run(int exit, String out, String err) {}

  private static Run forja(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit =
        Forja.execute(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    Run r =
        new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    assertThat(r.exit()).as("exit code; stderr: %s", r.err()).isZero();
    return r;
  }

  private static String[] concat(String[] a, String... b) {
    List<String> all = new ArrayList<>(List.of(a));
    all.addAll(List.of(b));
    return all.toArray(String[]::new);
  }

  private Path text() throws Exception {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 400; i++) {
      b.append("The quick brown fox ")
          .append(i)
          .append(" jumps over the lazy dog; el zorro marrón salta, naïve café, 東京 ")
          .append(i % 7)
          .append('\n');
    }
    Path f = dir.resolve("text.txt");
    Files.writeString(f, b.toString());
    return f;
  }

  @Test
  void theBenchCommandIsFoundOnTheClasspathAndListsEverySubcommand() {
    Run r = forja("bench", "--help");
    assertThat(r.out())
        .contains(
            "prep ",
            "prep-stages",
            "dedup",
            "tokenizer",
            "bpe-train",
            "train",
            "step",
            "distributed");
  }

  @Test
  void tokenizerChecksIdenticalIdsAndComparesWithJtokkit() throws Exception {
    Run r = forja("bench", "tokenizer", "--input", text().toString(), "--rounds", "1");
    assertThat(r.out()).contains("Identical ids on").containsPattern("forja/jtokkit = [0-9.]+x");
  }

  @Test
  void bpeTrainReportsTheVocabularyItLearned() throws Exception {
    Run r =
        forja(
            "bench", "bpe-train", "--input", text().toString(), "--vocab-size", "300", "--no-spm");
    assertThat(r.out()).contains("vocab 300").contains("distinct pre-tokens");
  }

  @Test
  void dedupFindsPlantedPairsAndRejectsDissimilarOnes() {
    Run r = forja("bench", "dedup", "--pairs", "600", "--seed", "7");
    Matcher recall =
        Pattern.compile("recall at J >= 0.8: ([0-9.]+) \\((\\d+) of (\\d+) pairs\\)")
            .matcher(r.out());
    Matcher fp =
        Pattern.compile("false positives at J <= 0.5: ([0-9.]+) \\((\\d+) of (\\d+) pairs\\)")
            .matcher(r.out());
    assertThat(recall.find()).as(r.out()).isTrue();
    assertThat(fp.find()).as(r.out()).isTrue();
    assertThat(Integer.parseInt(recall.group(3))).isGreaterThan(100);
    assertThat(Double.parseDouble(recall.group(1))).isGreaterThanOrEqualTo(0.95);
    assertThat(Integer.parseInt(fp.group(3))).isGreaterThan(100);
    assertThat(Double.parseDouble(fp.group(1))).isLessThanOrEqualTo(0.01);
  }

  @Test
  void prepStagesTimesEveryStage() {
    Run r =
        forja(
            "bench",
            "prep-stages",
            "--docs",
            "200",
            "--rounds",
            "2",
            "--work",
            dir.resolve("stages").toString());
    for (String stage : List.of("read", "clean", "language", "quality", "pii", "total")) {
      assertThat(r.out()).containsPattern("(?m)^" + stage + " +[0-9.]+ us/doc");
    }
  }

  @Test
  void prepTimesAWholeRunAndAccountsForItsDocuments() {
    Run r =
        forja(
            "bench",
            "prep",
            "--size-mb",
            "1",
            "--modes",
            "full",
            "--work",
            dir.resolve("prep").toString());
    assertThat(r.out()).containsPattern("prep full .* MiB/s  \\(kept [0-9,]+ of [0-9,]+; phases");
  }

  @Test
  void trainReportsThroughputCheckpointAndResume() {
    Run r =
        forja(
            concat(
                new String[] {"bench", "train"},
                concat(
                    TINY_MODEL,
                    "--steps",
                    "2",
                    "--warmup",
                    "1",
                    "--work",
                    dir.resolve("train").toString())));
    assertThat(r.out())
        .contains("tokens/s")
        .contains("checkpoint file:")
        .contains("resume: start to first step");
  }

  @Test
  void stepReportsOnePassAgainstTheMemoryPlan() {
    Run r =
        forja(
            "bench",
            "step",
            "--conf",
            "../conf/presets/tiny-llama.yaml",
            "--set",
            "model.vocab-size=300",
            "--set",
            "train.micro-batch-size=2",
            "--set",
            "train.sequence-length=16",
            "--set",
            "train.recompute-activations=true",
            "--passes",
            "1");
    assertThat(r.out())
        .contains("engine kernels (activations recomputed)")
        .containsPattern("planned: weights [0-9.]+ GiB, gradients [0-9.]+ GiB, activations")
        .containsPattern("forward\\+backward: [0-9.]+ s .* loss [0-9.]+; .* peak RSS [0-9.]+ GiB");
  }

  @Test
  void distributedReportsEachAveragingPeriod() {
    Run r =
        forja(
            concat(
                new String[] {"bench", "distributed"},
                concat(
                    TINY_MODEL,
                    "--workers",
                    "2",
                    "--periods",
                    "1,2",
                    "--rounds",
                    "1",
                    "--work",
                    dir.resolve("distributed").toString())));
    assertThat(r.out()).containsPattern("(?m)^1 \\| ").containsPattern("(?m)^2 \\| ");
  }

  @Test
  void distributedLoraMovesOnlyTheAdapter() {
    Run r =
        forja(
            concat(
                new String[] {"bench", "distributed", "--lora"},
                concat(
                    TINY_MODEL,
                    "--workers",
                    "2",
                    "--periods",
                    "1",
                    "--rounds",
                    "1",
                    "--set",
                    "train.lora.r=2",
                    "--work",
                    dir.resolve("distributed-lora").toString())));
    assertThat(r.out()).contains("(LoRA r 2 on [all-linear])");
    Matcher row = Pattern.compile("(?m)^1 \\|.* \\| ([0-9.]+) \\| ([0-9.]+)$").matcher(r.out());
    assertThat(row.find()).as(r.out()).isTrue();
    // the adapter and its moments (12 kB), not the tiny model's 12 bytes per parameter (0.4 MiB)
    assertThat(Double.parseDouble(row.group(1))).isLessThan(0.05);
    assertThat(Double.parseDouble(row.group(2)))
        .isEqualTo(2 * Double.parseDouble(row.group(1)), org.assertj.core.data.Offset.offset(0.11));
  }
}
