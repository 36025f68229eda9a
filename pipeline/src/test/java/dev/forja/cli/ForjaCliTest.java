package dev.forja.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.TestDirs;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

class ForjaCliTest {
  /** One CLI invocation: exit code and what it printed. */
  record Run(int code, String out, String err) {}

  static Run forja(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Forja.execute(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static final String[] LOCAL = {
    "--set", "spark.master=local[2]", "--set", "spark.ui-enabled=false"
  };

  private static String[] local(String... args) {
    return with(args, LOCAL);
  }

  private static String[] with(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  @Test
  void versionNamesTheStack() {
    Run r = forja("version");
    assertThat(r.code()).isZero();
    assertThat(r.out()).startsWith("forja 0.").contains("Spark 4.2.0").contains("DL4J 1.0.0-M2.1");
  }

  @Test
  void everyCommandPrintsItsHelp() {
    Run r = forja("train", "--help");
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("Usage: forja train").contains("--data=URI");
    assertThat(forja("tokenizer", "train", "--help").out()).contains("--vocab-size");
  }

  @Test
  void modelCommandsNameTheirBadArguments() throws Exception {
    Path empty = TestDirs.create("model-");
    Run r =
        forja(
            "model",
            "export",
            "--checkpoint",
            empty.toString(),
            "--output",
            empty.resolve("o").toString(),
            "--dtype",
            "f8");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("unknown dtype 'f8': use f32, f16 or bf16");
    r =
        forja(
            "model",
            "import",
            "--from",
            empty.toString(),
            "--output",
            empty.resolve("o").toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("has no config.json: not a Hugging Face model directory");
    r = forja("model", "inspect", empty.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("is neither a committed checkpoint nor a run directory");
  }

  @Test
  void benchWithoutTheBenchJarSaysWhereItIs() {
    Run r = forja("bench", "prep");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("'forja bench' is in the bench module");
  }

  @Test
  void theCommittedKeyReferenceIsWhatTheCodeGenerates() throws Exception {
    // docs/configuration.md is generated: mvn verify fails when a key changes and the file does
    // not (regenerate with: submit-scripts/forja config keys --markdown > docs/configuration.md)
    Run r = forja("config", "keys", "--markdown");
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("| `model.layers` | `2` |").contains("## `prep.*`");
    assertThat(Files.readString(Path.of("../docs/configuration.md"))).isEqualTo(r.out());
  }

  @Test
  void unknownCommandIsOneClearMessageWithoutStackTrace() {
    Run r = forja("doctr");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .contains("forja: unknown command 'doctr' (did you mean 'doctor'?)")
        .doesNotContain("at dev.forja")
        .doesNotContain("Exception");
  }

  @Test
  void missingRequiredOptionNamesIt() {
    Run r = forja("corpus", "generate");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("Missing required option: '--output=URI'").contains("--help");
  }

  @Test
  void badConfigNamesKeyValueAndFixAndExitsBeforeWork() throws Exception {
    Path conf = TestDirs.create("conf-").resolve("bad.yaml");
    Files.writeString(conf, "corpus:\n  size-mb: lots\n  seeed: 3\n");
    Run r = forja("corpus", "generate", "--output", "/tmp/never", "--conf", conf.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .contains("corpus.size-mb (in " + conf + "): 'lots' is not a whole number")
        .contains("unknown key 'corpus.seeed'")
        .contains("did you mean 'corpus.seed'?")
        .doesNotContain("\tat ");
    assertThat(Files.exists(Path.of("/tmp/never"))).isFalse();

    Run missing = forja("config", "show", "--conf", "/no/such/file.yaml");
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).contains("cannot read config file '/no/such/file.yaml'");
  }

  @Test
  void unconfiguredS3FailsBeforeSparkStartsNamingTheKeys() {
    Run r = forja(local("corpus", "generate", "--output", "s3a://bucket/corpus"));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .contains("S3 is not configured")
        .contains("storage.s3.access-key")
        .contains("storage.s3.endpoint");
    assertThat(SparkSession.getActiveSession().isDefined()).isFalse();
  }

  @Test
  void credentialsNeverAppearInOutput() throws Exception {
    String[] creds = {
      "--set", "storage.s3.access-key=AKIAVERYSECRET1", "--set", "storage.s3.secret-key=sk-SECRET-2"
    };
    Run show = forja(with(with(new String[] {"config", "show"}, creds)));
    Run doctor = forja(with(with(new String[] {"doctor"}, creds)));
    Run error =
        forja(
            with(
                with(new String[] {"config", "show", "--set", "storage.s3.ssl-enabled=x"}, creds)));
    for (Run r : new Run[] {show, doctor, error}) {
      assertThat(r.out() + r.err()).doesNotContain("AKIAVERYSECRET1").doesNotContain("sk-SECRET-2");
    }
    assertThat(show.code()).isZero();
    assertThat(show.out()).contains("storage.s3.secret-key: ********");
    assertThat(doctor.out()).contains("s3a").contains("configured");
  }

  @Test
  void doctorReportsVersionsNd4jThreadsAndStorage() {
    Run r = forja("doctor", "--check", "file:///tmp");
    assertThat(r.code()).isZero();
    assertThat(r.out())
        .contains("spark                      4.2.0")
        .contains("hadoop                     3.5.0")
        .contains("backend")
        .contains("blas")
        .contains("OMP_WAIT_POLICY            PASSIVE")
        .contains("javacpp.maxbytes")
        .contains("s3a                        not configured")
        .contains("probe file:///tmp          reachable");
  }

  @Test
  void prepThroughTheCliWritesJsonlAndReportsEveryRecord() throws Exception {
    URI raw = TestDirs.create("cli-prep-").resolve("raw").toUri();
    assertThat(
            forja(local("corpus", "generate", "--output", raw.toString(), "--size-mb", "1")).code())
        .isZero();
    URI out = TestDirs.create("cli-prep-").resolve("out").toUri();
    Run prep =
        forja(
            local(
                "prep",
                "--input",
                raw.toString(),
                "--output",
                out.toString(),
                "--format",
                "jsonl"));
    assertThat(prep.code()).as(prep.err()).isZero();
    assertThat(prep.out())
        .containsPattern(
            "[\\d,]+ input records = [\\d,]+ kept \\+ [\\d,]+ rejected \\+ 0 quarantined")
        .contains("rejected:dedup.exact")
        .contains("report.html");
    Storage storage = new Storage(StorageConfig.defaults());
    assertThat(storage.listFiles(Storage.resolve(out, "kept")))
        .anyMatch(e -> e.uri().getPath().endsWith(".json"));
    assertThat(storage.readString(Storage.resolve(out, "prep-config.yaml")))
        .contains("prep.output.format: \"jsonl\"");

    // tokenizer train, encode/decode by hand, tokenize: on the JSONL prep output
    URI tok = TestDirs.create("cli-tok-").resolve("tok").toUri();
    Run train =
        forja(
            local(
                "tokenizer",
                "train",
                "--input",
                out.toString(),
                "--output",
                tok.toString(),
                "--vocab-size",
                "600",
                "--special-tokens",
                "<|endoftext|>,<|pad|>,<|user|>"));
    assertThat(train.code()).as(train.err()).isZero();
    assertThat(train.out()).containsPattern("Tokenizer [0-9a-f]{12}: 600 tokens");
    Path dir = TestDirs.create("cli-enc-");
    Files.writeString(dir.resolve("in.txt"), "Olá, naïve café 😀\n<|user|> hi<|endoftext|>\n");
    Run enc =
        forja(
            "tokenizer",
            "encode",
            "--tokenizer",
            tok.toString(),
            "--input",
            dir.resolve("in.txt").toString(),
            "--output",
            dir.resolve("ids.txt").toString());
    assertThat(enc.code()).as(enc.err()).isZero();
    java.util.List<String> ids = Files.readAllLines(dir.resolve("ids.txt"));
    assertThat(ids).hasSize(2);
    assertThat(ids.get(1)).startsWith("599 ").endsWith(" 597"); // <|user|> ... <|endoftext|>
    Run dec =
        forja(
            "tokenizer",
            "decode",
            "--tokenizer",
            tok.toString(),
            "--input",
            dir.resolve("ids.txt").toString(),
            "--output",
            dir.resolve("back.txt").toString());
    assertThat(dec.code()).as(dec.err()).isZero();
    assertThat(Files.readString(dir.resolve("back.txt")))
        .isEqualTo(Files.readString(dir.resolve("in.txt")));
    Files.writeString(dir.resolve("bad.txt"), "1 2 3\n4 x 5\n");
    Run badDec =
        forja(
            "tokenizer",
            "decode",
            "--tokenizer",
            tok.toString(),
            "--input",
            dir.resolve("bad.txt").toString());
    assertThat(badDec.code()).isEqualTo(2);
    assertThat(badDec.err()).contains("line 2: 'x' is not a token id");
    URI shards = TestDirs.create("cli-shards-").resolve("s").toUri();
    Run tokenize =
        forja(
            local(
                "tokenize",
                "--input",
                out.toString(),
                "--tokenizer",
                tok.toString(),
                "--output",
                shards.toString()));
    assertThat(tokenize.code()).as(tokenize.err()).isZero();
    assertThat(tokenize.out()).containsPattern("train\\s+[\\d,]+ tokens").contains("manifest.json");

    // train a tiny model on those shards, then generate from it
    URI run = TestDirs.create("cli-run-").resolve("run").toUri();
    String[] tiny = {
      "--set", "model.context-length=32", "--set", "model.d-model=32",
      "--set", "train.micro-batch-size=2", "--set", "train.eval-every=3",
      "--set", "train.eval-batches=1", "--set", "train.checkpoint-every=3",
      "--set", "train.log-every=3", "--set", "train.warmup-steps=2"
    };
    Run training =
        forja(
            with(
                new String[] {
                  "train", "--data", shards.toString(), "--output", run.toString(), "--steps", "6"
                },
                tiny));
    assertThat(training.code()).as(training.err()).isZero();
    assertThat(training.out())
        .contains("completed at step 6")
        .contains("validation loss")
        .contains("Checkpoints: " + run);
    Run gen =
        forja(
            "generate",
            "--checkpoint",
            run.toString(),
            "--prompt",
            "The ",
            "--max-tokens",
            "8",
            "--seed",
            "3");
    assertThat(gen.code()).as(gen.err()).isZero();
    assertThat(gen.out()).startsWith("The ");
    assertThat(gen.err()).contains("generated tokens").contains("step 6");

    // LoRA on that model: train the adapters, export them to PEFT, merge them, and generate the
    // same text from the LoRA run, from the merged model and from the base with --adapter
    URI loraRun = TestDirs.create("cli-lora-").resolve("run").toUri();
    Run lora =
        forja(
            with(
                new String[] {
                  "train",
                  "--data",
                  shards.toString(),
                  "--output",
                  loraRun.toString(),
                  "--steps",
                  "3",
                  "--init-from",
                  run.toString(),
                  "--set",
                  "train.lora.enabled=true",
                  "--set",
                  "train.lora.r=4",
                  "--set",
                  "train.lora.target-modules=c_attn,c_fc",
                  "--set",
                  "train.lr=0.05"
                },
                tiny));
    assertThat(lora.code()).as(lora.err()).isZero();
    assertThat(lora.out()).contains("completed at step 3");
    URI adapter = TestDirs.create("cli-peft-").resolve("adapter").toUri();
    Run peft =
        forja(
            "model",
            "export",
            "--checkpoint",
            loraRun.toString(),
            "--format",
            "peft",
            "--output",
            adapter.toString());
    assertThat(peft.code()).as(peft.err()).isZero();
    assertThat(java.nio.file.Path.of(adapter).resolve("adapter_config.json")).exists();
    URI merged = TestDirs.create("cli-merged-").resolve("m").toUri();
    Run merge =
        forja(
            "model",
            "merge",
            "--base",
            run.toString(),
            "--adapter",
            adapter.toString(),
            "--output",
            merged.toString());
    assertThat(merge.code()).as(merge.err()).isZero();
    String[] prompt = {"--prompt", "The ", "--max-tokens", "12", "--temperature", "0"};
    Run fromRun =
        forja(with(new String[] {"generate", "--checkpoint", loraRun.toString()}, prompt));
    Run fromMerged =
        forja(with(new String[] {"generate", "--checkpoint", merged.toString()}, prompt));
    Run withAdapter =
        forja(
            with(
                new String[] {
                  "generate", "--checkpoint", run.toString(), "--adapter", adapter.toString()
                },
                prompt));
    Run baseOnly = forja(with(new String[] {"generate", "--checkpoint", run.toString()}, prompt));
    assertThat(fromRun.code()).as(fromRun.err()).isZero();
    assertThat(fromMerged.out()).isEqualTo(fromRun.out());
    assertThat(withAdapter.out()).isEqualTo(fromRun.out());
    assertThat(baseOnly.out()).isNotEqualTo(fromRun.out());
    Run notLora =
        forja(
            "model",
            "export",
            "--checkpoint",
            run.toString(),
            "--format",
            "peft",
            "--output",
            adapter + "-2");
    assertThat(notLora.code()).isEqualTo(2);
    assertThat(notLora.err()).contains("is a whole model, not a LoRA run's checkpoint");

    // GGUF: the LoRA run merged into model.gguf with its Modelfile and model card, the adapter
    // alone as llama.cpp's adapter file, and the GGUF imported back to generate the same text
    URI gguf = TestDirs.create("cli-gguf-").resolve("g").toUri();
    Run toGguf =
        forja(
            "model",
            "export",
            "--checkpoint",
            loraRun.toString(),
            "--format",
            "gguf",
            "--dtype",
            "q8_0",
            "--output",
            gguf.toString());
    assertThat(toGguf.code()).as(toGguf.err()).isZero();
    assertThat(toGguf.out()).contains("as GGUF q8_0");
    java.nio.file.Path g = java.nio.file.Path.of(gguf);
    assertThat(java.nio.file.Files.readString(g.resolve("Modelfile")))
        .contains("FROM ./model.gguf")
        .contains("PARAMETER stop");
    assertThat(java.nio.file.Files.readString(g.resolve("README.md")))
        .contains("LoRA r 4")
        .contains("license:");
    assertThat(java.nio.file.Files.readString(g.resolve("_MANIFEST.json"))).contains("gguf-model");
    URI ggufAdapter = TestDirs.create("cli-gguf-adapter-").resolve("a").toUri();
    Run toAdapter =
        forja(
            "model",
            "export",
            "--checkpoint",
            loraRun.toString(),
            "--format",
            "gguf-adapter",
            "--output",
            ggufAdapter.toString());
    assertThat(toAdapter.code()).as(toAdapter.err()).isZero();
    assertThat(java.nio.file.Path.of(ggufAdapter).resolve("adapter.gguf")).exists();
    URI f32 = TestDirs.create("cli-gguf-f32-").resolve("g").toUri();
    assertThat(
            forja(
                    "model",
                    "export",
                    "--checkpoint",
                    loraRun.toString(),
                    "--format",
                    "gguf",
                    "--output",
                    f32.toString())
                .code())
        .isZero();
    URI imported = TestDirs.create("cli-gguf-import-").resolve("ck").toUri();
    Run fromGguf =
        forja(
            "model",
            "import",
            "--from",
            java.nio.file.Path.of(f32).resolve("model.gguf").toString(),
            "--output",
            imported.toString());
    assertThat(fromGguf.code()).as(fromGguf.err()).isZero();
    Run genImported =
        forja(with(new String[] {"generate", "--checkpoint", imported.toString()}, prompt));
    assertThat(genImported.out()).isEqualTo(fromRun.out());
    Run stepOne =
        forja(
            "model",
            "export",
            "--checkpoint",
            loraRun.toString(),
            "--format",
            "gguf",
            "--select",
            "step-1",
            "--output",
            gguf + "-4");
    assertThat(stepOne.code()).isEqualTo(2);
    assertThat(stepOne.err()).contains("has no committed checkpoint at step 1; it has [3]");
    Run badGguf =
        forja(
            "model",
            "export",
            "--checkpoint",
            run.toString(),
            "--format",
            "gguf",
            "--dtype",
            "q4_0",
            "--output",
            gguf + "-2");
    assertThat(badGguf.code()).isEqualTo(2);
    assertThat(badGguf.err()).contains("--dtype q4_0 is not a GGUF type Forja writes");
    Run wholeAsAdapter =
        forja(
            "model",
            "export",
            "--checkpoint",
            run.toString(),
            "--format",
            "gguf-adapter",
            "--output",
            gguf + "-3");
    assertThat(wholeAsAdapter.code()).isEqualTo(2);
    assertThat(wholeAsAdapter.err()).contains("is a whole model: --format gguf-adapter");
    Run badModel =
        forja(
            "train",
            "--data",
            shards.toString(),
            "--output",
            run + "-2",
            "--set",
            "model.heads=3",
            "--set",
            "model.d-model=32");
    assertThat(badModel.code()).isEqualTo(2);
    assertThat(badModel.err()).contains("model.d-model (32) must be a multiple of model.heads (3)");
    Run notACheckpoint = forja("generate", "--checkpoint", shards.toString(), "--prompt", "x");
    assertThat(notACheckpoint.code()).isEqualTo(2);
    assertThat(notACheckpoint.err())
        .contains("is neither a committed checkpoint nor a run directory");
    Run wordPiece =
        forja(
            "tokenizer",
            "encode",
            "--tokenizer",
            writeWordPiece(dir).toString(),
            "--input",
            dir.resolve("in.txt").toString());
    assertThat(wordPiece.code()).isEqualTo(2);
    assertThat(wordPiece.err()).contains("holds a WordPiece model");

    Run missing = forja(local("prep", "--input", "/no/such/corpus", "--output", out + "-2"));
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err())
        .contains("Cannot read input /no/such/corpus: no such file or directory");
  }

  @Test
  void corpusGenerateThenStatsThroughTheCli() throws Exception {
    URI out = TestDirs.create("cli-").resolve("raw").toUri();
    Run gen =
        forja(
            local(
                "corpus", "generate", "--output", out.toString(), "--size-mb", "1", "--seed", "5"));
    assertThat(gen.code()).as(gen.err()).isZero();
    assertThat(gen.out()).contains("Wrote ").contains("documents").contains("article=");
    Storage storage = new Storage(StorageConfig.defaults());
    CommitManifest m = CommitManifest.read(storage, out).orElseThrow();
    assertThat(m.properties()).containsEntry("seed", "5");

    Run again = forja(local("corpus", "generate", "--output", out.toString(), "--size-mb", "1"));
    assertThat(again.code()).isEqualTo(2);
    assertThat(again.err()).contains("already holds data").contains("--overwrite");

    Run stats = forja(local("corpus", "stats", "--input", out.toString()));
    assertThat(stats.code()).as(stats.err()).isZero();
    assertThat(stats.out())
        .containsPattern(
            "documents\\s+"
                + String.format("%,d", Long.parseLong(m.properties().get("documents"))));
  }

  private static Path writeWordPiece(Path dir) throws java.io.IOException {
    Path p = dir.resolve("tokenizer.json");
    Files.writeString(p, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}}");
    return p;
  }
}
