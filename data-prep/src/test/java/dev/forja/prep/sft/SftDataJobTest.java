package dev.forja.prep.sft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.shard.SequenceSampler;
import dev.forja.shard.ShardFormat;
import dev.forja.shard.TokenShards;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.GrammarShards;
import dev.forja.testing.TestDirs;
import dev.forja.testing.TestSpark;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerFiles;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * forja sft-data on local Spark: the rows hold each kept example whole, the assistant's tokens
 * (with the end-of-turn token) flagged as trained and nothing else; every bad line is quarantined
 * with its reason; packing and padding hold the same examples.
 */
class SftDataJobTest {
  static final Storage STORAGE = new Storage(StorageConfig.defaults());
  static final ObjectMapper JSON = new ObjectMapper();
  static final String TEMPLATE =
      "{% for message in messages %}{% if message['role'] == 'system' and not loop.first %}"
          + "{{ raise_exception('System message must come first') }}{% endif %}"
          + "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' +"
          + " '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
          + "{% endif %}";
  static BpeTokenizer tok;
  static URI model;
  static URI input;

  static final List<String> GOOD =
      List.of(
          "{\"prompt\": \"Reverse: a b c\", \"completion\": \"c b a\"}",
          "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\","
              + " \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello.\"},"
              + " {\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\","
              + " \"content\": \"Bye!\"}]}",
          "{\"id\": \"sharegpt-1\", \"conversations\": [{\"from\": \"human\", \"value\":"
              + " \"Language of 'hola'?\"}, {\"from\": \"gpt\", \"value\": \"Spanish\"}]}");
  static final Map<String, String> BAD =
      Map.of(
          "{\"messages\": [{\"role\": \"user\", \"content\": \"a question alone\"}]}",
          "no-assistant-turn",
          "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}, {\"role\": \"assistant\","
              + " \"content\": \"y\"}]}",
          "unknown-role",
          "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"system\","
              + " \"content\": \"late\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}",
          "template-error",
          "{\"prompt\": \"x\", \"completion\": \"" + "long ".repeat(60) + "\"}",
          "too-long",
          "{\"prompt\": \"unterminated",
          "malformed-json",
          "{\"text\": \"not an example\"}",
          "not-an-example");

  @BeforeAll
  static void prepare() throws Exception {
    Path dir = TestDirs.create("sft-data-");
    tok = GrammarShards.byteTokenizer("<|endoftext|>", "<|im_start|>", "<|im_end|>");
    model = dir.resolve("model").toUri();
    TokenizerFiles.save(STORAGE, model, tok);
    Files.writeString(
        dir.resolve("model/tokenizer_config.json"),
        JSON.writeValueAsString(
            Map.of(
                "chat_template",
                TEMPLATE,
                "eos_token",
                "<|im_end|>",
                "pad_token",
                "<|endoftext|>")));
    Path in = Files.createDirectories(dir.resolve("in"));
    List<String> lines = new ArrayList<>(GOOD);
    lines.addAll(BAD.keySet());
    Files.writeString(in.resolve("a.jsonl"), String.join("\n", lines) + "\n");
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(in.resolve("b.jsonl.gz")))) {
      o.write((String.join("\n", GOOD) + "\n").getBytes(StandardCharsets.UTF_8));
    }
    input = in.toUri();
  }

  static SftConfig config(String... overrides) {
    ConfigReader r = new ConfigReader(ConfigSource.load(List.of(), List.of(overrides)));
    SftConfig c = SftConfig.read(r);
    r.finish();
    return c;
  }

  private static SftDataJob.Result run(URI out, SftConfig cfg) throws Exception {
    SparkSession spark = TestSpark.local();
    return SftDataJob.run(
        spark, STORAGE, cfg, List.of(input.toString()), model, out, false, 1 << 20);
  }

  /** Each example of the rows: its text and the text of its trained tokens. */
  private static List<String[]> examples(URI out, int rowLength) throws Exception {
    List<String[]> found = new ArrayList<>();
    try (TokenShards s = TokenShards.open(STORAGE, out, TokenShards.Verify.CHECKSUMS)) {
      for (String split : List.of(ShardFormat.TRAIN, ShardFormat.VALIDATION)) {
        if (s.manifest().split(split).tokens() == 0) {
          continue;
        }
        SequenceSampler sampler = new SequenceSampler(s.split(split), rowLength, 1, 0, 1);
        int[] ids = new int[rowLength + 1];
        byte[] flags = new byte[rowLength];
        for (long r = 0; r < sampler.sequencesPerEpoch(); r++) {
          sampler.next(ids, flags);
          int start = -1;
          for (int t = 0; t <= rowLength; t++) {
            boolean boundary = t == rowLength || (flags[t] & ShardFormat.START) != 0;
            boolean padding =
                t < rowLength && flags[t] == 0 && ids[t] == tok.specialId("<|endoftext|>");
            if (start >= 0 && (boundary || padding)) {
              List<Integer> all = new ArrayList<>();
              List<Integer> trained = new ArrayList<>();
              for (int k = start; k < t; k++) {
                all.add(ids[k]);
                if ((flags[k] & ShardFormat.LOSS) != 0) {
                  trained.add(ids[k]);
                }
              }
              found.add(new String[] {decode(all), decode(trained)});
              start = -1;
            }
            if (t < rowLength && (flags[t] & ShardFormat.START) != 0) {
              start = t;
            }
          }
        }
      }
    }
    return found;
  }

  private static String decode(List<Integer> ids) {
    return tok.decode(ids.stream().mapToInt(Integer::intValue).toArray());
  }

  @Test
  void keptExamplesAreWholeWithOnlyTheAssistantTrained() throws Exception {
    URI out = TestDirs.create("sft-out-").resolve("packed").toUri();
    SftDataJob.Result r = run(out, config("sft.sequence-length=256"));
    SftDataJob.Stats s = r.stats();
    assertThat(s.read).isEqualTo(2L * GOOD.size() + BAD.size());
    assertThat(s.kept).isEqualTo(2L * GOOD.size());
    Map<String, Long> reasons = new HashMap<>();
    BAD.values().forEach(v -> reasons.put(v, 1L));
    assertThat(s.quarantined).isEqualTo(reasons);
    assertThat(r.manifest().rows()).isEqualTo(256);
    assertThat(r.manifest().hasFlags()).isTrue();
    assertThat(r.manifest().version()).isEqualTo(2);
    // packed: fewer rows than examples
    assertThat(s.rows).isLessThan(s.kept);

    List<String[]> ex = examples(out, 256);
    assertThat(ex).hasSize(2 * GOOD.size());
    Map<String, Integer> byText = new HashMap<>();
    for (String[] e : ex) {
      byText.merge(e[0] + "|" + e[1], 1, Integer::sum);
    }
    assertThat(byText)
        .containsEntry(
            "<|im_start|>user\nReverse: a b c<|im_end|>\n<|im_start|>assistant\nc b a<|im_end|>\n"
                + "|c b a<|im_end|>\n",
            2)
        .containsEntry(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
                + "<|im_start|>assistant\nBye!<|im_end|>\n|Hello.<|im_end|>\nBye!<|im_end|>\n",
            2)
        .containsEntry(
            "<|im_start|>user\nLanguage of 'hola'?<|im_end|>\n<|im_start|>assistant\nSpanish"
                + "<|im_end|>\n|Spanish<|im_end|>\n",
            2);

    // every bad line is in quarantine/ with its reason and where it came from
    List<String> quarantined = new ArrayList<>();
    for (Storage.Entry e : STORAGE.listFiles(Storage.resolve(out, SftDataJob.QUARANTINE))) {
      for (String line : STORAGE.readString(e.uri()).split("\n")) {
        JsonNode q = JSON.readTree(line);
        assertThat(q.get("source").asText()).endsWith("a.jsonl");
        quarantined.add(q.get("reason").asText());
        if (q.get("reason").asText().equals("template-error")) {
          assertThat(q.get("detail").asText()).contains("System message must come first", "line");
        }
      }
    }
    assertThat(quarantined).containsExactlyInAnyOrderElementsOf(BAD.values());
    JsonNode stats = JSON.readTree(STORAGE.readString(Storage.resolve(out, SftDataJob.STATS)));
    assertThat(stats.get("quarantined_by_reason").get("too-long").asLong()).isEqualTo(1);
    assertThat(STORAGE.readString(Storage.resolve(out, SftDataJob.REPORT)))
        .contains("| examples kept | 6 |", "unknown-role", "(report.png)");
    assertThat(STORAGE.readString(Storage.resolve(out, SftDataJob.REPORT_HTML)))
        .contains("6 examples kept", "<td>unknown-role</td>", "data:image/png;base64,");
    java.awt.image.BufferedImage chart =
        javax.imageio.ImageIO.read(new java.io.File(Storage.resolve(out, SftDataJob.REPORT_PNG)));
    assertThat(chart.getWidth()).isEqualTo(900);
    assertThat(chart.getHeight()).isGreaterThan(400);
    assertThat(STORAGE.exists(Storage.resolve(out, SftDataJob.TOKENIZER_CONFIG))).isTrue();
  }

  @Test
  void paddingPutsOneExamplePerRowAndTruncationKeepsTheFirstTokens() throws Exception {
    URI out = TestDirs.create("sft-out-").resolve("padded").toUri();
    SftDataJob.Result r =
        run(out, config("sft.sequence-length=96", "sft.packing=false", "sft.overlong=truncate"));
    assertThat(r.stats().kept).isEqualTo(2L * GOOD.size() + 1);
    assertThat(r.stats().truncated).isEqualTo(1);
    assertThat(r.stats().rows).isEqualTo(r.stats().kept);
    assertThat(examples(out, 96)).hasSize((int) r.stats().kept);
  }

  @Test
  void trainingOnInputsFlagsEveryTokenAndPlainJoinsWithoutTemplate() throws Exception {
    SftConfig cfg = config("sft.sequence-length=96", "sft.train-on-inputs=true");
    SftEncoder enc =
        new SftEncoder(tok, SftDataJob.template(STORAGE, model).orElseThrow(), 258, cfg);
    SftEncoder.Outcome o = enc.encode(GOOD.get(0), "x");
    assertThat(o.trainedTokens()).isEqualTo(o.ids().length);
    SftEncoder plain = new SftEncoder(tok, null, tok.specialId("<|endoftext|>"), config());
    SftEncoder.Outcome p = plain.encode(GOOD.get(0), "x");
    assertThat(tok.decode(p.ids())).isEqualTo("Reverse: a b cc b a<|endoftext|>");
    List<Integer> trained = new ArrayList<>();
    for (int i = 0; i < p.ids().length; i++) {
      if (p.trained()[i]) {
        trained.add(p.ids()[i]);
      }
    }
    assertThat(decode(trained)).isEqualTo("c b a<|endoftext|>");
  }

  @Test
  void noUsableExampleIsAClearError() throws Exception {
    Path dir = TestDirs.create("sft-bad-");
    Files.writeString(dir.resolve("x.jsonl"), "{\"nope\": 1}\n");
    assertThatThrownBy(
            () ->
                SftDataJob.run(
                    TestSpark.local(),
                    STORAGE,
                    config(),
                    List.of(dir.resolve("x.jsonl").toUri().toString()),
                    model,
                    dir.resolve("out").toUri(),
                    false,
                    1 << 20))
        .hasMessageContaining("No example could be used: {not-an-example=1}");
  }
}
