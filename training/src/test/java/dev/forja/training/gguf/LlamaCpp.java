package dev.forja.training.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real llama.cpp for the tests: node-llama-cpp 3.21.1 (pinned exactly in {@code
 * submit-scripts/llama-cpp}, which the quickstart uses too; its prebuilt linux-x64 CPU binary,
 * never compiled here), installed with {@code npm ci} into {@code target/llama-cpp} on first use.
 * Chosen over {@code de.kherud:llama} 4.2.0, whose greedy generation did not reproduce
 * transformers' first tokens on a model node-llama-cpp runs exactly (../shared/STACK.md), and
 * because the tests already run npm packages.
 */
public final class LlamaCpp {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path dir;

  private LlamaCpp() {}

  static synchronized Path dir() throws IOException, InterruptedException {
    if (dir != null) {
      return dir;
    }
    Path target = Path.of("target/llama-cpp");
    Files.createDirectories(target);
    for (String f : List.of("package.json", "package-lock.json")) { // the quickstart's pins
      Files.copy(
          Path.of("../submit-scripts/llama-cpp").resolve(f),
          target.resolve(f),
          StandardCopyOption.REPLACE_EXISTING);
    }
    Files.copy(
        Path.of("src/test/node/llama.mjs"),
        target.resolve("llama.mjs"),
        StandardCopyOption.REPLACE_EXISTING);
    if (!Files.isDirectory(target.resolve("node_modules/node-llama-cpp"))) {
      run(target, List.of("npm", "ci", "--no-audit", "--no-fund"), null);
    }
    dir = target;
    return dir;
  }

  /** Runs {@code llama.mjs} on a request (see the script) and returns its answer. */
  public static JsonNode run(JsonNode request) throws Exception {
    Path d = dir();
    return JSON.readTree(run(d, List.of("node", "llama.mjs"), JSON.writeValueAsString(request)));
  }

  private static String run(Path dir, List<String> cmd, String stdin)
      throws IOException, InterruptedException {
    File log = Files.createTempFile("llama-cpp", ".err").toFile();
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectError(log).start();
    try (var in = p.getOutputStream()) {
      if (stdin != null) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
    }
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IllegalStateException(
          String.join(" ", cmd)
              + " failed in "
              + dir
              + ": "
              + Files.readString(log.toPath())
              + " (the tests need Node.js and npm; .ci/run installs them)");
    }
    return new String(out, StandardCharsets.UTF_8);
  }
}
