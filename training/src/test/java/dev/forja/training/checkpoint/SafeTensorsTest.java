package dev.forja.training.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SafeTensorsTest {
  @Test
  void roundTripsExactlyWithTheDocumentedLayout() throws Exception {
    LinkedHashMap<String, INDArray> t = new LinkedHashMap<>();
    t.put("transformer.wte.weight", Nd4j.rand(DataType.FLOAT, 5, 3));
    t.put("transformer.ln_f.bias", Nd4j.createFromArray(1.5f, -2f, 3.25f));
    t.put("double", Nd4j.rand(DataType.DOUBLE, 2, 2, 2));
    t.put(
        "view",
        Nd4j.rand(DataType.FLOAT, 4, 4).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 3)));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    SafeTensors.write(out, t, Map.of("format", "pt"));
    byte[] bytes = out.toByteArray();

    // header: u64 little-endian length, JSON padded to 8, then the raw data
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(n % 8).isZero();
    String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    assertThat(header)
        .startsWith("{\"__metadata__\":{\"format\":\"pt\"}")
        .contains(
            "\"transformer.ln_f.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[60,72]}");
    assertThat(bytes.length).isEqualTo(8 + n + 15 * 4 + 3 * 4 + 8 * 8 + 8 * 4);
    float first =
        ByteBuffer.wrap(bytes, (int) (8 + n + 60), 4).order(ByteOrder.LITTLE_ENDIAN).getFloat();
    assertThat(first).isEqualTo(1.5f);

    var back = SafeTensors.read(new ByteArrayInputStream(bytes), "test");
    assertThat(back.metadata()).containsEntry("format", "pt");
    assertThat(back.tensors().keySet()).containsExactlyElementsOf(t.keySet());
    t.forEach((k, v) -> assertThat(back.tensors().get(k)).as(k).isEqualTo(v));
  }

  @Test
  void aDamagedHeaderIsReportedNotMisread() {
    byte[] junk = "not a safetensors file at all".getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> SafeTensors.read(new ByteArrayInputStream(junk), "x.safetensors"))
        .hasMessageContaining("x.safetensors: header of")
        .hasMessageContaining("not a safetensors file");
  }

  /** A file with one F32 tensor {@code t} of {@code count} floats and the given header JSON. */
  private static byte[] file(String headerJson, int dataBytes) {
    byte[] json = headerJson.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(json.length).put(json);
    return b.array();
  }

  private static void assertRejected(byte[] bytes, String message) {
    assertThatThrownBy(
            () -> SafeTensors.read(new ByteArrayInputStream(bytes), bytes.length, "m.safetensors"))
        .hasMessageContaining("m.safetensors: ")
        .hasMessageContaining(message);
  }

  @Test
  void badHeadersAreRefusedBeforeAnyTensorIsAllocated() {
    // a header length no real file has (a 2^60-byte header would be allocated by a naive reader)
    byte[] huge = new byte[16];
    ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 60);
    assertRejected(huge, "larger than the 100 MB limit");
    // overlapping tensors
    assertRejected(
        file(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            12),
        "tensor b's data_offsets [4, 12] overlap the tensor before it");
    // offsets past the end of the file, without reading or allocating 4 GB
    assertRejected(
        file(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000000],"
                + "\"data_offsets\":[0,4000000000]}}",
            8),
        "run past the end of the data (8 bytes)");
    // a shape that does not match its byte range
    assertRejected(
        file("{\"a\":{\"dtype\":\"BF16\",\"shape\":[3,2],\"data_offsets\":[0,8]}}", 8),
        "tensor a of shape [3, 2] in BF16 needs 12 bytes, its data_offsets [0, 8] hold 8");
    // an unknown dtype
    assertRejected(
        file("{\"a\":{\"dtype\":\"I4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1),
        "unsupported dtype \"I4\"");
  }

  @Test
  void aFileCutShortNamesTheTensorItLost() throws Exception {
    LinkedHashMap<String, INDArray> t = new LinkedHashMap<>();
    t.put("first", Nd4j.rand(DataType.FLOAT, 4, 4));
    t.put("second", Nd4j.rand(DataType.FLOAT, 4, 4));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    SafeTensors.write(out, t, Map.of());
    byte[] cut = java.util.Arrays.copyOf(out.toByteArray(), out.size() - 10);
    assertThatThrownBy(() -> SafeTensors.read(new ByteArrayInputStream(cut), "c.safetensors"))
        .hasMessageContaining("c.safetensors: cut short: tensor second");
    assertRejected(cut, "tensor second's data_offsets [64, 128] run past the end of the data");
  }

  @Test
  void halfPrecisionIsWrittenRoundedAndReadWidenedExactly() throws Exception {
    float[] values = {0f, 1f, -2.5f, 3.14159265f, 65504f, 1e-3f, -1e-8f, 1.00390625f};
    LinkedHashMap<String, INDArray> t = new LinkedHashMap<>();
    t.put("w", Nd4j.createFromArray(values).reshape(2, 4));
    for (SafeTensors.Dtype d :
        new SafeTensors.Dtype[] {SafeTensors.Dtype.F16, SafeTensors.Dtype.BF16}) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      SafeTensors.write(out, t, Map.of(), d);
      byte[] bytes = out.toByteArray();
      assertThat(new String(bytes, 8, 80, StandardCharsets.UTF_8)).contains("\"dtype\":\"" + d.id);
      INDArray back =
          SafeTensors.read(new ByteArrayInputStream(bytes), bytes.length, "h").tensors().get("w");
      assertThat(back.dataType()).isEqualTo(DataType.FLOAT);
      assertThat(back.shape()).containsExactly(2, 4);
      for (int i = 0; i < values.length; i++) {
        float expected =
            d == SafeTensors.Dtype.F16
                ? SafeTensors.fromF16(SafeTensors.toF16(values[i]))
                : Float.intBitsToFloat(
                    ((Float.floatToRawIntBits(values[i])
                                + 0x7FFF
                                + ((Float.floatToRawIntBits(values[i]) >>> 16) & 1))
                            >>> 16)
                        << 16);
        assertThat(back.getFloat(i / 4, i % 4)).as(d + " " + values[i]).isEqualTo(expected);
      }
    }
    // IEEE half: known encodings, and every half value survives a round trip through fp32
    assertThat(SafeTensors.toF16(1f)).isEqualTo((short) 0x3C00);
    assertThat(SafeTensors.toF16(-2.5f)).isEqualTo((short) 0xC100);
    assertThat(SafeTensors.toF16(65504f)).isEqualTo((short) 0x7BFF);
    assertThat(SafeTensors.toF16(65520f)).isEqualTo((short) 0x7C00);
    assertThat(SafeTensors.toF16(3.14159265f)).isEqualTo((short) 0x4248);
    assertThat(SafeTensors.toF16(6e-8f)).isEqualTo((short) 0x0001);
    assertThat(SafeTensors.toF16(-1e-8f)).isEqualTo((short) 0x8000);
    assertThat(SafeTensors.fromF16((short) 0x3555)).isEqualTo(0.33325195f);
    for (int h = 0; h < 0x10000; h++) {
      short half = (short) h;
      if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) {
        continue; // NaN payloads
      }
      assertThat(SafeTensors.toF16(SafeTensors.fromF16(half))).as("0x%04x", h).isEqualTo(half);
    }
    // bf16 keeps fp32's range, rounds to 8 significant bits: 1 + 2^-8 is a tie, to even (1)
    assertThat(SafeTensors.fromBf16(SafeTensors.toBf16(1.00390625f))).isEqualTo(1f);
    assertThat(SafeTensors.fromBf16(SafeTensors.toBf16(3e38f)))
        .isCloseTo(3e38f, org.assertj.core.data.Percentage.withPercentage(0.5));
  }
}
