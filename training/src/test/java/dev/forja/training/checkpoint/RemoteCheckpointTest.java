package dev.forja.training.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.GrammarShards;
import dev.forja.testing.MiniHdfs;
import dev.forja.testing.S3Server;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.training.Fixtures;
import dev.forja.training.TrainRun;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;

/** Checkpoints written to and resumed from a real HDFS and a real S3 server. */
class RemoteCheckpointTest {
  static Stream<Arguments> stores() {
    return Stream.of(
        Arguments.of("hdfs", MiniHdfs.storageConfig(), Storage.resolve(MiniHdfs.uri(), "runs")),
        Arguments.of(
            "s3a", S3Server.storageConfig(), URI.create("s3a://" + S3Server.BUCKET + "/runs")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stores")
  void trainsCheckpointsAndResumesOnRemoteStorage(
      String scheme, StorageConfig config, URI base, @TempDir Path tmp) throws Exception {
    BpeTokenizer tok = GrammarShards.byteTokenizer("<|endoftext|>");
    Storage storage = new Storage(config);
    URI shards =
        GrammarShards.writeShards(
            storage,
            Storage.resolve(base, "shards-" + UUID.randomUUID()),
            tok,
            GrammarShards.grammar(tok, 5000, 1),
            GrammarShards.grammar(tok, 1000, 2));
    URI run = Storage.resolve(base, "run-" + UUID.randomUUID());
    TrainConfig tc =
        Fixtures.trainConfig(Map.of("train.steps", "6", "train.checkpoint-every", "3"));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(log, true);
    var req =
        new TrainRun.Request(
            shards, run, Fixtures.tinyModel(0, 16), tc, 3, DataType.FLOAT, List.of());
    TrainingResult first = TrainRun.run(storage, req, out);
    assertThat(first.state().step()).isEqualTo(3);
    TrainingResult rest =
        TrainRun.run(
            storage,
            new TrainRun.Request(
                shards, run, Fixtures.tinyModel(0, 16), tc, 0, DataType.FLOAT, List.of()),
            out);
    assertThat(rest.resumedFrom()).isEqualTo(3);
    assertThat(log.toString()).contains("resuming from " + run).contains("step-00000003");
    var store = new CheckpointStore(storage, run, out);
    assertThat(store.committedSteps()).containsExactly(6L, 3L);
    var loaded = store.loadLatest().orElseThrow();
    store.close();
    assertThat(loaded.state().step()).isEqualTo(6);
    assertThat(loaded.weights()).containsKey("transformer.h.1.mlp.c_proj.weight");
    assertThat(storage.exists(Storage.resolve(run, "metrics.jsonl"))).isTrue();
  }
}
