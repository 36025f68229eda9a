package dev.forja.training.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.GrammarShards;
import dev.forja.testing.TestDirs;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.TrainRun;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.generate.Generator;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Each GGUF type of a small Llama that Forja trained on the grammar, scored by llama.cpp on
 * held-out text: perplexity within 1% of Forja's for f32 (and f16, bf16 within 1% of it too),
 * within 3% for Forja's own Q8_0 quantization.
 */
@Tag("reference")
class GgufDtypesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Storage LOCAL = new Storage(StorageConfig.defaults());

  @Test
  void everyTypeKeepsForjasPerplexityInLlamaCpp() throws Exception {
    Path root = TestDirs.create("gguf-dtypes-");
    URI shards = GrammarShards.write(LOCAL, root.resolve("shards").toUri(), 60_000, 6_000);
    ModelConfig mc =
        new ModelConfig(
            0,
            64,
            2,
            64,
            4,
            2,
            false,
            false,
            1e-5,
            0.02,
            ModelConfig.Objective.CAUSAL,
            new ModelConfig.Llama("llama", 2, 16, 128, 10000, "none", 1, 1, 4, 64, false, false));
    Map<String, String> keys = new LinkedHashMap<>();
    keys.put("train.steps", "60");
    keys.put("train.micro-batch-size", "8");
    keys.put("train.lr", "0.01");
    keys.put("train.eval-every", "0");
    keys.put("train.checkpoint-every", "0");
    TrainConfig tc = dev.forja.training.Fixtures.trainConfig(keys);
    URI run = root.resolve("run").toUri();
    TrainRun.run(
        LOCAL,
        new TrainRun.Request(shards, run, mc, tc, 0, DataType.FLOAT, List.of()),
        new PrintStream(new ByteArrayOutputStream()));
    CheckpointStore.Loaded ck = CheckpointStore.loadAny(LOCAL, run, "test");
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), "test");
    int[] text = GrammarShards.grammar(tok, 48, 987); // not the training stream's seed

    double forja = perplexity(new Generator(ck.model(), ck.weights()), text);
    StringBuilder report = new StringBuilder();
    Map<String, Double> bound = Map.of("f32", 0.01, "f16", 0.01, "bf16", 0.01, "q8_0", 0.03);
    for (String dtype : List.of("f32", "f16", "bf16", "q8_0")) {
      URI out = root.resolve("gguf-" + dtype).toUri();
      long size =
          GgufExport.writeCommitted(
              LOCAL,
              out,
              ck.model(),
              ck.weights(),
              tok,
              new GgufExport.Meta("grammar", null, null, null),
              GgufExport.dtype(dtype),
              Map.of(),
              Map.of());
      ObjectNode req = JSON.createObjectNode();
      req.put("model", Path.of(out).resolve(GgufExport.FILE).toString());
      req.set("prompt", JSON.valueToTree(new int[] {text[0]}));
      req.put("tokens", 1).put("top", 1).put("context", 64);
      req.set("score", JSON.valueToTree(text));
      JsonNode llama = LlamaCpp.run(req);
      double sum = 0;
      for (JsonNode lp : llama.get("logprobs")) {
        sum += lp.asDouble();
      }
      double ppl = Math.exp(-sum / (text.length - 1));
      report.append(
          String.format(
              Locale.ROOT,
              "%s: %,d bytes, llama.cpp perplexity %.5f, Forja's (f32) %.5f%n",
              dtype,
              size,
              ppl,
              forja));
      assertThat(ppl).as(report.toString()).isCloseTo(forja, within(bound.get(dtype) * forja));
    }
    assertThat(forja).isLessThan(8); // it learned the grammar: 16 symbols, far below 256 bytes
    System.out.print(report);
  }

  /** Forja's perplexity of {@code text}, each token predicted from those before it. */
  static double perplexity(Generator g, int[] text) {
    g.reset();
    double sum = 0;
    INDArray logits = g.next(text[0]);
    for (int i = 1; i < text.length; i++) {
      INDArray logp = Transforms.log(Transforms.softmax(logits.reshape(1, -1), true));
      sum += logp.getDouble(0, text[i]);
      logits = g.next(text[i]);
    }
    return Math.exp(-sum / (text.length - 1));
  }
}
