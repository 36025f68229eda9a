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
        .hasMessageContaining("x.safetensors: not a safetensors file");
  }
}
