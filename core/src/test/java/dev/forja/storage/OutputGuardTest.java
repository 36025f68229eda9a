package dev.forja.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputGuardTest {
  private final Storage storage = new Storage(StorageConfig.defaults());

  @Test
  void dataIsReplacedOnlyWhenToldAndEmptyDirectoriesNeverStopAWrite(@TempDir Path dir)
      throws Exception {
    Path out = dir.resolve("out");
    // what a killed job left: directories without a file (a Spark write's own output path)
    Files.createDirectories(out.resolve("dedup/documents/_temporary/0"));
    OutputGuard.prepare(storage, out.toUri(), false);
    assertThat(out.resolve("dedup")).doesNotExist();

    Files.createDirectories(out.resolve("kept"));
    Files.writeString(out.resolve("kept/part-0.parquet"), "data");
    assertThatThrownBy(() -> OutputGuard.prepare(storage, out.toUri(), false))
        .isInstanceOf(OutputGuard.OutputExistsException.class)
        .hasMessageContaining("pass --overwrite to replace it");
    assertThat(out.resolve("kept/part-0.parquet")).exists();

    OutputGuard.prepare(storage, out.toUri(), true);
    assertThat(out.resolve("kept")).doesNotExist();
  }
}
