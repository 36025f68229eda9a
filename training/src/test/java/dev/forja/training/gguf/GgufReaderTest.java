package dev.forja.training.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The GGUF reader against hostile files: each lie (absurd counts or dimensions, a string or array
 * longer than the file, an offset past the end, an unknown tensor type) is refused by name before
 * anything of its size is allocated; and what the writer writes reads back, every type.
 */
class GgufReaderTest {
  /** A GGUF header built field by field, little-endian. */
  static final class Bytes {
    final ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

    Bytes i32(int v) {
      b.putInt(v);
      return this;
    }

    Bytes i64(long v) {
      b.putLong(v);
      return this;
    }

    Bytes str(String s) {
      byte[] x = s.getBytes(StandardCharsets.UTF_8);
      b.putLong(x.length).put(x);
      return this;
    }

    byte[] bytes(int padTo) {
      byte[] out = new byte[Math.max(b.position(), padTo)];
      System.arraycopy(b.array(), 0, out, 0, b.position());
      return out;
    }
  }

  static Bytes start(long tensors, long kvs) {
    return new Bytes().i32(GgufWriter.MAGIC).i32(3).i64(tensors).i64(kvs);
  }

  static void refused(byte[] file, String... message) {
    assertThatThrownBy(
            () -> GgufReader.header(new ByteArrayInputStream(file), file.length, "x.gguf"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the GGUF file x.gguf")
        .hasMessageContainingAll(message);
  }

  @Test
  void hostileHeadersAreRefusedByNameBeforeAnyLargeAllocation() {
    refused(new Bytes().i32(0x58554747).i32(3).i64(0).i64(0).bytes(0), "is not a GGUF file");
    refused(new Bytes().i32(GgufWriter.MAGIC).i32(7).i64(0).i64(0).bytes(0), "GGUF version 7");
    refused(start(1L << 40, 0).bytes(0), "claims 1099511627776 tensors");
    refused(start(0, 1L << 40).bytes(0), "claims 1099511627776 metadata entries");
    // a key whose length is beyond the file
    refused(start(0, 1).i64(1_000_000_000_000L).bytes(64), "a string of 1000000000000 bytes");
    // an array of a billion strings in a small file
    refused(
        start(0, 1)
            .str("tokenizer.ggml.tokens")
            .i32(GgufWriter.ARRAY)
            .i32(GgufWriter.STRING)
            .i64(1_000_000_000L)
            .bytes(128),
        "an array (tokenizer.ggml.tokens) of 1000000000 bytes");
    refused(start(0, 1).str("k").i32(99).bytes(64), "metadata k of unknown type 99");
    // tensors: too many dimensions, an absurd dimension, an unknown type, data past the end
    refused(start(1, 0).str("t").i32(9).bytes(64), "gives tensor t 9 dimensions");
    refused(start(1, 0).str("t").i32(2).i64(1L << 50).i64(4).bytes(64), "a dimension of");
    refused(
        start(1, 0).str("t").i32(1).i64(32).i32(2).i64(0).bytes(256),
        "tensor t of ggml type 2, which Forja does not read");
    refused(
        start(1, 0).str("t").i32(1).i64(64).i32(0).i64(0).bytes(128),
        "places tensor t (256 bytes at offset 0) past the end of the file (128 bytes)");
    refused(start(1, 0).str("t").i32(1).i64(4).i32(0).i64(3).bytes(256), "unaligned offset 3");
    refused(start(0, 1).str("k").i32(GgufWriter.U32).bytes(0), "beyond its end");
  }

  @Test
  void everyTypeTheWriterWritesReadsBack(@TempDir Path tmp) throws Exception {
    INDArray a = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 3, 64).subi(0.5);
    GgufWriter w = new GgufWriter();
    w.put("general.architecture", "test").putU32("n", 7).putF32("x", 0.5);
    w.putStrings("s", List.of("a", "ü"));
    for (GgufWriter.TensorType t : GgufWriter.TensorType.values()) {
      w.tensor("t." + t, a, t);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long size = w.write(out);
    assertThat(size).isEqualTo(out.size());
    Path f = tmp.resolve("a.gguf");
    Files.write(f, out.toByteArray());
    Storage storage = new Storage(StorageConfig.defaults());
    GgufReader.Header h =
        GgufReader.header(new ByteArrayInputStream(out.toByteArray()), size, "a.gguf");
    assertThat(h.integer("n")).isEqualTo(7);
    assertThat(h.number("x")).isEqualTo(0.5);
    assertThat(h.metadata().get("s")).isEqualTo(List.of("a", "ü"));
    try (var in = storage.open(f.toUri())) {
      for (GgufWriter.TensorType t : GgufWriter.TensorType.values()) {
        INDArray back = GgufReader.tensor(in, h, h.tensor("t." + t));
        assertThat(back.shape()).containsExactly(3, 64);
        double err = back.sub(a).amaxNumber().doubleValue();
        double bound =
            switch (t) {
              case F32 -> 0;
              case F16 -> 1e-3;
              case BF16 -> 4e-3;
              case Q8_0 -> 0.5 / 127;
            };
        assertThat(err).as(t.name()).isLessThanOrEqualTo(bound);
      }
    }
    // half precision: rounding to nearest even, subnormals, infinities
    for (float x : new float[] {0f, -0f, 1f, 65504f, 1e-7f, -2.5e-5f, 3.14159f, 70000f}) {
      float back = GgufReader.halfToFloat(GgufWriter.Half.fromFloat(x));
      float nd4j = Nd4j.scalar(x).castTo(org.nd4j.linalg.api.buffer.DataType.HALF).getFloat(0);
      assertThat(back).as("%s", x).isEqualTo(nd4j);
    }
  }
}
