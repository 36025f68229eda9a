package dev.forja.training.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
 * ({@code name: {dtype, shape, data_offsets: [begin, end]}} and an optional {@code __metadata__}
 * string map), padded with spaces to a multiple of 8, then the tensors' bytes, little-endian,
 * row-major, contiguous and in offset order. Reads and writes F32 and F64.
 */
public final class SafeTensors {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String METADATA = "__metadata__";

  private SafeTensors() {}

  /** Writes {@code tensors} in map order, with {@code metadata}. */
  public static void write(
      OutputStream out, Map<String, INDArray> tensors, Map<String, String> metadata)
      throws IOException {
    ObjectNode header = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject(METADATA);
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
      INDArray a = e.getValue();
      long bytes = a.length() * a.dataType().width();
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", dtypeName(a.dataType(), e.getKey()));
      var shape = t.putArray("shape");
      for (long s : a.shape()) {
        shape.add(s);
      }
      t.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    out.write(head.array());
    for (INDArray a : tensors.values()) {
      writeData(out, a);
    }
  }

  private static void writeData(OutputStream out, INDArray a) throws IOException {
    INDArray c = a.isView() || a.ordering() != 'c' ? a.dup('c') : a;
    int chunk = 1 << 20;
    if (c.dataType() == DataType.FLOAT) {
      float[] f = c.data().asFloat();
      ByteBuffer buf = ByteBuffer.allocate(chunk * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < c.length(); i += chunk) {
        int n = (int) Math.min(chunk, c.length() - i);
        buf.clear();
        buf.asFloatBuffer().put(f, i, n);
        out.write(buf.array(), 0, n * 4);
      }
    } else {
      double[] d = c.data().asDouble();
      ByteBuffer buf = ByteBuffer.allocate(chunk * 8).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < c.length(); i += chunk) {
        int n = (int) Math.min(chunk, c.length() - i);
        buf.clear();
        buf.asDoubleBuffer().put(d, i, n);
        out.write(buf.array(), 0, n * 8);
      }
    }
  }

  private static String dtypeName(DataType t, String name) {
    return switch (t) {
      case FLOAT -> "F32";
      case DOUBLE -> "F64";
      default -> throw new IllegalArgumentException(name + ": dtype " + t + " is not written");
    };
  }

  /** A file's tensors (in file order) and metadata. */
  public record Contents(LinkedHashMap<String, INDArray> tensors, Map<String, String> metadata) {}

  /** Reads a whole safetensors stream; {@code where} names it in errors. */
  public static Contents read(InputStream in, String where) throws IOException {
    DataInputStream data = new DataInputStream(in);
    byte[] len = new byte[8];
    data.readFully(len);
    long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
    if (n <= 0 || n > 100L << 20) {
      throw new IOException(where + ": not a safetensors file (header length " + n + ")");
    }
    byte[] json = new byte[(int) n];
    data.readFully(json);
    JsonNode header = JSON.readTree(new String(json, StandardCharsets.UTF_8).trim());
    Map<String, String> metadata = new LinkedHashMap<>();
    record Entry(String name, DataType type, long[] shape, long begin, long end) {}
    List<Entry> entries = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      if (f.getKey().equals(METADATA)) {
        f.getValue()
            .fields()
            .forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
        continue;
      }
      JsonNode t = f.getValue();
      DataType type =
          switch (t.path("dtype").asText()) {
            case "F32" -> DataType.FLOAT;
            case "F64" -> DataType.DOUBLE;
            default ->
                throw new IOException(
                    where + ": tensor " + f.getKey() + " has unsupported dtype " + t.get("dtype"));
          };
      long[] shape = new long[t.path("shape").size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = t.path("shape").get(i).asLong();
      }
      entries.add(
          new Entry(
              f.getKey(),
              type,
              shape,
              t.path("data_offsets").get(0).asLong(),
              t.path("data_offsets").get(1).asLong()));
    }
    entries.sort((a, b) -> Long.compare(a.begin(), b.begin()));
    LinkedHashMap<String, INDArray> tensors = new LinkedHashMap<>();
    long pos = 0;
    for (Entry e : entries) {
      long count = 1;
      for (long s : e.shape()) {
        count *= s;
      }
      int width = e.type() == DataType.FLOAT ? 4 : 8;
      if (e.begin() != pos || e.end() - e.begin() != count * width) {
        throw new IOException(
            where + ": tensor " + e.name() + " has inconsistent data_offsets (corrupt file)");
      }
      byte[] raw = new byte[Math.toIntExact(e.end() - e.begin())];
      data.readFully(raw);
      pos = e.end();
      ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
      INDArray a;
      if (e.type() == DataType.FLOAT) {
        float[] f = new float[(int) count];
        buf.asFloatBuffer().get(f);
        a = Nd4j.createFromArray(f);
      } else {
        double[] d = new double[(int) count];
        buf.asDoubleBuffer().get(d);
        a = Nd4j.createFromArray(d);
      }
      tensors.put(e.name(), e.shape().length == 0 ? a.reshape() : a.reshape('c', e.shape()));
    }
    // restore the header's order
    LinkedHashMap<String, INDArray> ordered = new LinkedHashMap<>();
    header
        .fieldNames()
        .forEachRemaining(
            k -> {
              if (!k.equals(METADATA)) {
                ordered.put(k, tensors.get(k));
              }
            });
    return new Contents(ordered, metadata);
  }
}
