package dev.forja.prep.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Streams the documents of one input file, on an executor. Never throws for bad data: an
 * unreadable, binary, empty or truncated file, a record over the size limit, a malformed JSON line
 * or one without text each become a {@code quarantined} record naming the file, the byte offset (or
 * row) and the reason; invalid UTF-8 is repaired and counted ({@code
 * signals["read.utf8-repairs"]}).
 */
public final class FileDocReader implements Iterator<Doc> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int SAMPLE_CHARS = 200;

  private final InputFile file;
  private final PrepConfig.Reader params;
  private final Configuration conf;
  private final Deque<Doc> pending = new ArrayDeque<>();
  private final Utf8 utf8 = new Utf8();
  private boolean done;
  private boolean opened;
  private LineReader lines;
  private Iterator<Doc> delegate; // Parquet
  private long records;
  // paragraph / whole-file accumulation
  private final ByteArrayOutputStream block = new ByteArrayOutputStream();
  private long blockOffset = -1;
  private boolean blockTooLong;

  public FileDocReader(InputFile file, PrepConfig.Reader params, Configuration conf) {
    this.file = file;
    this.params = params;
    this.conf = conf;
  }

  @Override
  public boolean hasNext() {
    while (pending.isEmpty() && !done) {
      try {
        step();
      } catch (IOException | RuntimeException e) {
        flushBlockQuietly();
        String at = lines == null ? "" : " at byte " + lines.offset;
        pending.add(
            Doc.quarantined(
                file.uri(),
                lines == null ? 0 : lines.offset,
                "read-error",
                "cannot read further after "
                    + records
                    + " records"
                    + at
                    + " (truncated or corrupt file?): "
                    + e,
                null));
        done = true;
        closeQuietly();
      }
    }
    return !pending.isEmpty();
  }

  @Override
  public Doc next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    return pending.poll();
  }

  private void step() throws IOException {
    if (!opened) {
      opened = true;
      open();
      return;
    }
    if (delegate != null) {
      if (delegate.hasNext()) {
        pending.add(delegate.next());
      } else {
        done = true;
      }
      return;
    }
    boolean more = lines.next();
    if (records == 0 && pending.isEmpty() && blockOffset < 0 && !checkedHead) {
      checkedHead = true;
      if (lines.binaryAt >= 0) {
        pending.add(
            Doc.quarantined(
                file.uri(),
                lines.binaryAt,
                "binary-file",
                "NUL byte at offset " + lines.binaryAt + ": not text",
                null));
        done = true;
        closeQuietly();
        return;
      }
      if (!lines.anyBytes()) {
        pending.add(Doc.quarantined(file.uri(), 0, "empty-file", "the file holds no text", null));
        done = true;
        closeQuietly();
        return;
      }
    }
    if (!more) {
      flushBlock();
      done = true;
      closeQuietly();
      return;
    }
    onLine();
  }

  private InputStream raw;
  private boolean checkedHead;

  private void open() throws IOException {
    Path path = new Path(file.uri());
    if (file.format() == InputFormat.PARQUET) {
      delegate = new ParquetDocs(file, params, conf);
      return;
    }
    if (file.size() == 0) {
      pending.add(Doc.quarantined(file.uri(), 0, "empty-file", "the file holds no bytes", null));
      done = true;
      return;
    }
    raw = path.getFileSystem(conf).open(path);
    InputStream in =
        switch (InputFormat.compressionOf(path.getName())) {
          case GZIP -> new GZIPInputStream(raw, 1 << 16);
          case BZIP2 -> new BZip2CompressorInputStream(new BufferedInputStream(raw, 1 << 16), true);
          case ZSTD -> new com.github.luben.zstd.ZstdInputStream(raw);
          case NONE -> raw;
        };
    // Read the (decompressed) stream directly: a truncated gzip then still yields every record
    // before the cut, which a buffering wrapper would lose with the exception.
    lines = new LineReader(in, params.maxRecordBytes());
  }

  private boolean wholeFile() {
    return file.format() == InputFormat.HTML
        || (file.format() == InputFormat.TEXT && params.textMode().equals("file"));
  }

  private void onLine() {
    if (lines.skippedLength > 0 && !wholeFile()) {
      flushBlock();
      pending.add(
          Doc.quarantined(
              file.uri(),
              lines.offset,
              "record-too-long",
              "line of "
                  + lines.skippedLength
                  + " bytes exceeds prep.reader.max-record-bytes="
                  + params.maxRecordBytes(),
              null));
      return;
    }
    if (lines.sawNul) {
      flushBlock();
      pending.add(
          Doc.quarantined(
              file.uri(), lines.offset, "binary-data", "NUL bytes in the record", null));
      return;
    }
    if (file.format() == InputFormat.JSONL) {
      if (!isBlank()) {
        jsonLine();
      }
      return;
    }
    if (wholeFile()) {
      appendToBlock(true);
      return;
    }
    if (params.textMode().equals("line")) {
      if (!isBlank()) {
        pending.add(textDoc(lines.line, 0, lines.length, lines.offset, lines.length));
      }
      return;
    }
    // paragraph mode
    if (isBlank()) {
      flushBlock();
    } else {
      appendToBlock(false);
    }
  }

  private boolean isBlank() {
    for (int i = 0; i < lines.length; i++) {
      byte b = lines.line[i];
      if (b != ' ' && b != '\t' && b != '\r') {
        return false;
      }
    }
    return true;
  }

  private void appendToBlock(boolean keepBlankLines) {
    if (blockOffset < 0) {
      blockOffset = lines.offset;
    }
    if (blockTooLong) {
      return;
    }
    long size = block.size() + (long) lines.length + 1 + lines.skippedLength;
    if (size > params.maxRecordBytes() || lines.skippedLength > 0) {
      blockTooLong = true;
      return;
    }
    if (block.size() > 0) {
      block.write('\n');
    }
    block.write(lines.line, 0, lines.length);
  }

  private void flushBlock() {
    if (blockOffset < 0) {
      return;
    }
    if (blockTooLong) {
      pending.add(
          Doc.quarantined(
              file.uri(),
              blockOffset,
              "record-too-long",
              "record exceeds prep.reader.max-record-bytes=" + params.maxRecordBytes(),
              null));
    } else {
      byte[] bytes = block.toByteArray();
      pending.add(textDoc(bytes, 0, bytes.length, blockOffset, bytes.length));
    }
    block.reset();
    blockOffset = -1;
    blockTooLong = false;
  }

  private void flushBlockQuietly() {
    if (blockOffset >= 0 && !blockTooLong && !wholeFile()) {
      flushBlock();
    } else {
      block.reset();
      blockOffset = -1;
    }
  }

  private Doc textDoc(byte[] bytes, int off, int len, long offset, long rawBytes) {
    Doc d = new Doc();
    d.setId(file.uri() + "#" + offset);
    d.setSource(file.uri());
    d.setPosition(offset);
    d.setFormat(file.format().name().toLowerCase(java.util.Locale.ROOT));
    d.setText(utf8.decode(bytes, off, len));
    if (utf8.lastRepairs > 0) {
      d.signal("read.utf8-repairs", utf8.lastRepairs);
    }
    d.setRawBytes(rawBytes);
    records++;
    return d;
  }

  private void jsonLine() {
    String line = utf8.decode(lines.line, 0, lines.length);
    int repairs = utf8.lastRepairs;
    // streamed, not read into a tree: the text and id are taken as they go by, other fields become
    // metadata (strings as they are, anything else as its JSON); a duplicated field keeps its last
    // value, as a tree would
    String text = null;
    JsonNode badText = null;
    String id = null;
    Map<String, String> meta = new java.util.HashMap<>();
    try (JsonParser p = JSON.getFactory().createParser(line)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        pending.add(
            Doc.quarantined(
                file.uri(), lines.offset, "malformed-json", "not a JSON object", sample(line)));
        return;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        String value = null;
        JsonNode tree = null;
        if (t == JsonToken.VALUE_STRING) {
          value = p.getText();
        } else {
          tree = p.readValueAsTree();
        }
        if (name.equals(params.textField())) {
          text = value;
          badText = tree;
        } else {
          String v = value != null ? value : tree.toString();
          if (name.equals(params.idField())) {
            id = value != null ? value : tree.isValueNode() ? tree.asText() : null;
          } else {
            meta.put(name, v);
          }
        }
      }
      if (p.currentToken() != JsonToken.END_OBJECT) {
        throw new com.fasterxml.jackson.core.JsonParseException(p, "unexpected end of input");
      }
    } catch (IOException e) {
      pending.add(
          Doc.quarantined(
              file.uri(), lines.offset, "malformed-json", firstLine(e.getMessage()), sample(line)));
      return;
    }
    if (text == null) {
      pending.add(
          Doc.quarantined(
              file.uri(),
              lines.offset,
              "missing-text",
              badText == null
                  ? "no field '" + params.textField() + "' (set prep.reader.text-field)"
                  : "field '" + params.textField() + "' is " + badText.getNodeType() + ", not text",
              sample(line)));
      return;
    }
    Doc d = new Doc();
    d.setId(id != null && !id.isEmpty() ? id : file.uri() + "#" + lines.offset);
    d.setSource(file.uri());
    d.setPosition(lines.offset);
    d.setFormat("jsonl");
    d.setText(text);
    d.setRawBytes(lines.length + 1L);
    if (repairs > 0) {
      d.signal("read.utf8-repairs", repairs);
    }
    d.getMeta().putAll(meta);
    records++;
    pending.add(d);
  }

  static String sample(String s) {
    return s.length() <= SAMPLE_CHARS ? s : s.substring(0, SAMPLE_CHARS) + "...";
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "malformed";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private void closeQuietly() {
    try {
      if (raw != null) {
        raw.close();
      }
    } catch (IOException ignored) {
      // reading is over either way; nothing was written
    }
  }
}
