package dev.forja.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.storage.Storage;
import dev.forja.testing.MiniHdfs;
import dev.forja.testing.TestDirs;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Staging the runtime for YARN on HDFS: the first run uploads every jar, a second uploads nothing,
 * a rebuilt runtime jar (same name and size, other bytes) is uploaded again alone; the printed
 * spark.yarn.jars and application jar name what is there.
 */
@Tag("storage")
class YarnStagingTest {
  @Test
  void stagesOnceAndAgainOnlyWhatChanged() throws Exception {
    Path dir = TestDirs.create("staging-");
    Path a = Files.write(dir.resolve("spark-core.jar"), new byte[] {1, 2, 3});
    Path b = Files.write(dir.resolve("hadoop-client.jar"), new byte[] {4, 5});
    Path runtime = Files.write(dir.resolve("forja-runtime.jar"), "build one".getBytes());
    String cp = a + ":" + b + ":" + dir.resolve("classes");
    URI target = Storage.resolve(MiniHdfs.uri(), "staging-" + System.nanoTime());

    String[] first = stage(target, runtime, cp);
    assertThat(first[1]).contains("3 files staged at " + target).contains("(3 uploaded");
    assertThat(first[0])
        .contains("spark.yarn.jars=" + target + "/spark-jars/*.jar")
        .contains("app.jar=" + target + "/forja-runtime.jar");
    Storage storage = new Storage(MiniHdfs.storageConfig());
    assertThat(storage.readString(Storage.resolve(target, "forja-runtime.jar")))
        .isEqualTo("build one");
    assertThat(storage.list(Storage.resolve(target, "spark-jars"))).hasSize(2);

    assertThat(stage(target, runtime, cp)[1]).contains("(0 uploaded");
    Files.write(runtime, "build two".getBytes()); // same size, other bytes
    assertThat(stage(target, runtime, cp)[1]).contains("(1 uploaded");
    assertThat(storage.readString(Storage.resolve(target, "forja-runtime.jar")))
        .isEqualTo("build two");
  }

  /** Runs the staging main; returns its standard output and error. */
  private static String[] stage(URI target, Path runtime, String cp) throws Exception {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
      YarnStaging.main(new String[] {target.toString(), runtime.toString(), cp});
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
    return new String[] {o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
  }
}
