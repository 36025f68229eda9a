package dev.forja.prep.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import dev.forja.testing.TestDirs;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/** Every kind of bad input becomes a counted, explained record; good input reads exactly. */
class FileDocReaderTest {
  static final Storage LOCAL = new Storage(StorageConfig.defaults());
  final Path dir = TestDirs.create("reader-");

  static PrepConfig.Reader params(String... overrides) {
    return PrepConfig.read(new ConfigReader(ConfigSource.load(List.of(), List.of(overrides))))
        .reader();
  }

  List<Doc> read(Path file, PrepConfig.Reader params) throws Exception {
    List<InputFile> files = InputLister.list(LOCAL, List.of(file.toUri().toString()));
    List<Doc> out = new ArrayList<>();
    for (InputFile f : files) {
      new FileDocReader(f, params, new Configuration()).forEachRemaining(out::add);
    }
    return out;
  }

  Path write(String name, byte[] bytes) throws Exception {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void jsonlKeepsIdAndMetadataAndQuarantinesBadLines() throws Exception {
    Path f =
        write(
            "a.jsonl",
            utf8(
                "{\"id\": \"d1\", \"text\": \"hello\", \"url\": \"http://x\"}\n"
                    + "{\"text\": \"cut\n"
                    + "\n"
                    + "{\"id\": 3, \"body\": \"no text field\"}\n"
                    + "{\"text\": 42}\n"
                    + "[1, 2]\n"
                    + "{\"text\": \"no id\"}\n"));
    List<Doc> docs = read(f, params());
    assertThat(docs).hasSize(6);
    assertThat(docs.get(0).getId()).isEqualTo("d1");
    assertThat(docs.get(0).getMeta()).containsEntry("url", "http://x");
    assertThat(docs.get(1).getStatus()).isEqualTo(Doc.QUARANTINED);
    assertThat(docs.get(1).getReason()).isEqualTo("malformed-json");
    assertThat(docs.get(1).getPosition()).isEqualTo(49);
    assertThat(docs.get(2).getReason()).isEqualTo("missing-text");
    assertThat(docs.get(2).getDetail())
        .contains("no field 'text'")
        .contains("prep.reader.text-field");
    assertThat(docs.get(3).getDetail()).contains("NUMBER, not text");
    assertThat(docs.get(4).getReason()).isEqualTo("malformed-json");
    assertThat(docs.get(5).getId())
        .endsWith("a.jsonl#" + docs.get(5).getPosition())
        .startsWith("file:");
  }

  @Test
  void jsonlMetadataKeepsNonStringValuesAsJsonAndTheLastOfARepeatedField() throws Exception {
    Path f =
        write(
            "m.jsonl",
            utf8(
                "{\"text\": 1, \"n\": 1.5, \"o\": {\"a\": [1, \"x\"]}, \"b\": true,"
                    + " \"z\": null, \"id\": 7, \"s\": \"first\", \"s\": \"last\","
                    + " \"text\": \"body\"}\n"));
    List<Doc> docs = read(f, params());
    assertThat(docs).hasSize(1);
    Doc d = docs.get(0);
    assertThat(d.kept()).isTrue();
    assertThat(d.getText()).isEqualTo("body");
    assertThat(d.getId()).isEqualTo("7");
    assertThat(d.getMeta())
        .containsExactlyInAnyOrderEntriesOf(
            java.util.Map.of(
                "n", "1.5", "o", "{\"a\":[1,\"x\"]}", "b", "true", "z", "null", "s", "last"));
  }

  @Test
  void invalidUtf8IsRepairedAndCounted() throws Exception {
    byte[] bad = {'c', 'a', 'f', (byte) 0xC3, ' ', 'o', 'k', (byte) 0xFF, '\n'};
    List<Doc> docs = read(write("bad.txt", bad), params("prep.reader.text-mode=line"));
    assertThat(docs).hasSize(1);
    assertThat(docs.get(0).kept()).isTrue();
    assertThat(docs.get(0).getText()).isEqualTo("caf\uFFFD ok\uFFFD");
    assertThat(docs.get(0).signals()).containsEntry("read.utf8-repairs", 2.0);
  }

  @Test
  void binaryEmptyAndTruncatedFilesAreQuarantinedWithTheirReason() throws Exception {
    byte[] binary = new byte[4096];
    binary[100] = 0;
    Arrays.fill(binary, 0, 100, (byte) 'x');
    assertThat(read(write("blob.bin", binary), params()))
        .singleElement()
        .satisfies(
            d -> {
              assertThat(d.getReason()).isEqualTo("binary-file");
              assertThat(d.getDetail()).contains("NUL byte at offset 100");
            });
    assertThat(read(write("empty.txt", new byte[0]), params()))
        .singleElement()
        .satisfies(d -> assertThat(d.getReason()).isEqualTo("empty-file"));

    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (OutputStream out = new GZIPOutputStream(gz)) {
      for (int i = 0; i < 2000; i++) {
        out.write(utf8("{\"text\": \"line number " + i + " with some words\"}\n"));
      }
    }
    byte[] whole = gz.toByteArray();
    List<Doc> docs = read(write("cut.jsonl.gz", Arrays.copyOf(whole, whole.length / 2)), params());
    Doc last = docs.get(docs.size() - 1);
    assertThat(last.getStatus()).isEqualTo(Doc.QUARANTINED);
    assertThat(last.getReason()).isEqualTo("read-error");
    assertThat(last.getDetail()).contains("truncated or corrupt");
    assertThat(docs.subList(0, docs.size() - 1)).allMatch(Doc::kept).hasSizeGreaterThan(100);
  }

  @Test
  void aHundredMegabyteLineIsQuarantinedWithoutReadingItIntoMemory() throws Exception {
    Path f = dir.resolve("huge.txt");
    try (OutputStream out = Files.newOutputStream(f)) {
      out.write(utf8("first line\n"));
      byte[] chunk = new byte[1 << 20];
      Arrays.fill(chunk, (byte) 'a');
      for (int i = 0; i < 100; i++) {
        out.write(chunk);
      }
      out.write(utf8("\nlast line\n"));
    }
    List<Doc> docs = read(f, params("prep.reader.text-mode=line"));
    assertThat(docs)
        .extracting(Doc::getStatus)
        .containsExactly(Doc.KEPT, Doc.QUARANTINED, Doc.KEPT);
    assertThat(docs.get(1).getReason()).isEqualTo("record-too-long");
    assertThat(docs.get(1).getDetail()).contains("104857600 bytes");
    assertThat(docs.get(2).getText()).isEqualTo("last line");
  }

  @Test
  void textModesAndCompressionsReadTheSameDocuments() throws Exception {
    String text = "para one\nstill one\n\npara two\r\n\n\n  \npara three\n";
    assertThat(read(write("p.txt", utf8(text)), params("prep.reader.text-mode=paragraph")))
        .extracting(Doc::getText)
        .containsExactly("para one\nstill one", "para two", "para three");
    assertThat(read(write("l.txt", utf8(text)), params("prep.reader.text-mode=line")))
        .extracting(Doc::getText)
        .containsExactly("para one", "still one", "para two", "para three");
    assertThat(read(write("f.txt", utf8(text)), params()))
        .singleElement()
        .satisfies(d -> assertThat(d.getText()).startsWith("para one\nstill one\n\npara two"));

    ByteArrayOutputStream bz = new ByteArrayOutputStream();
    try (OutputStream out = new BZip2CompressorOutputStream(bz)) {
      out.write(utf8(text));
    }
    assertThat(
            read(write("p.txt.bz2", bz.toByteArray()), params("prep.reader.text-mode=paragraph")))
        .hasSize(3);
    ByteArrayOutputStream zs = new ByteArrayOutputStream();
    try (OutputStream out = new com.github.luben.zstd.ZstdOutputStream(zs)) {
      out.write(utf8(text));
    }
    assertThat(read(write("p.txt.zst", zs.toByteArray()), params("prep.reader.text-mode=line")))
        .hasSize(4);
    assertThat(read(write("page.html", utf8("<html><body><p>x</p></body></html>")), params()))
        .singleElement()
        .satisfies(d -> assertThat(d.getFormat()).isEqualTo("html"));
  }

  @Test
  void formatCanBeForcedAndMissingInputsStopTheJob() throws Exception {
    Path f = write("data.log", utf8("{\"text\": \"json in a .log file\"}\n"));
    assertThat(InputLister.list(LOCAL, List.of("jsonl=" + f.toUri())))
        .singleElement()
        .satisfies(i -> assertThat(i.format()).isEqualTo(InputFormat.JSONL));
    assertThatThrownBy(
            () -> InputLister.list(LOCAL, List.of(dir.resolve("nope").toUri().toString())))
        .hasMessageContaining("no such file or directory");
    assertThatThrownBy(() -> InputLister.list(LOCAL, List.of("yaml=" + f.toUri())))
        .hasMessageContaining("unknown input format 'yaml'");
  }
}
