package dev.forja.training.gguf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.GrammarShards;
import dev.forja.testing.MiniHdfs;
import dev.forja.testing.S3Server;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.training.Fixtures;
import dev.forja.training.hf.HfModel;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.ModelConfig;
import java.net.URI;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;

/** GGUF written to and read back from a real HDFS and a real S3 server, committed by manifest. */
class GgufRemoteTest {
  static Stream<Arguments> stores() {
    return Stream.of(
        Arguments.of("hdfs", MiniHdfs.storageConfig(), Storage.resolve(MiniHdfs.uri(), "gguf")),
        Arguments.of(
            "s3a", S3Server.storageConfig(), URI.create("s3a://" + S3Server.BUCKET + "/gguf")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void exportsAndImportsOnRemoteStorage(String scheme, StorageConfig config, URI base)
      throws Exception {
    Storage storage = new Storage(config);
    BpeTokenizer tok = GrammarShards.byteTokenizer("<|endoftext|>");
    ModelConfig mc = Fixtures.tinyLlama().withVocabSize(tok.vocabSize());
    GptModel m = GptModel.build(mc, 1, 1, DataType.FLOAT, 3);
    URI dir = Storage.resolve(base, "model-" + UUID.randomUUID());
    long size =
        GgufExport.writeCommitted(
            storage,
            dir,
            mc,
            m.weights(),
            tok,
            new GgufExport.Meta("remote", null, null, null),
            GgufWriter.TensorType.Q8_0,
            Map.of(),
            Map.of("Modelfile", "FROM ./model.gguf\n"));
    CommitManifest manifest = CommitManifest.read(storage, dir).orElseThrow();
    assertThat(manifest.kind()).isEqualTo(GgufExport.KIND);
    manifest.verify(storage, dir, true);
    assertThat(storage.size(Storage.resolve(dir, GgufExport.FILE))).isEqualTo(size);
    HfModel.Read back = GgufImport.read(storage, Storage.resolve(dir, GgufExport.FILE));
    assertThat(back.weights().keySet()).isEqualTo(m.weights().keySet());
    m.weights()
        .forEach(
            (n, w) ->
                assertThat(back.weights().get(n).sub(w).amaxNumber().doubleValue())
                    .as("%s %s", scheme, n)
                    .isLessThan(w.amaxNumber().doubleValue() / 100));
  }
}
