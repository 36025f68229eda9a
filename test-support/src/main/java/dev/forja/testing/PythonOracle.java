package dev.forja.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The reference implementations Forja's tests compare with (PyTorch, transformers, safetensors), in
 * a Python virtual environment the tests create themselves with pinned versions. pip resolves them
 * from its configured indexes: PyPI, or the directories of wheels some machines configure. The
 * environment is cached under {@code ~/.cache/forja/} by the hash of the pins, built in a temporary
 * directory and moved into place only when complete, so a killed install is redone (the tests run
 * its {@code bin/python}, which finds its packages wherever the directory lies). Test dependencies
 * only: Forja itself never runs Python.
 */
public final class PythonOracle {
  /** The pinned packages. */
  public static final List<String> PACKAGES =
      List.of(
          "torch==2.13.0+cpu",
          "transformers==5.17.0",
          "safetensors==0.8.0",
          "peft==0.21.0",
          "gguf==0.19.0",
          "sacrebleu==2.6.0",
          "torchmetrics==1.9.0",
          "nltk==3.10.3");

  private static Path python;

  private PythonOracle() {}

  /** The environment's interpreter, created on first use. */
  public static synchronized Path python() throws IOException, InterruptedException {
    if (python != null) {
      return python;
    }
    Path root =
        Path.of(
            System.getProperty(
                "forja.python-oracles",
                Path.of(System.getProperty("user.home"), ".cache", "forja", "python-oracles")
                    .toString()));
    Path env = root.resolve("env-" + hash(String.join("\n", PACKAGES)));
    Path bin = env.resolve("bin").resolve("python");
    if (!Files.isExecutable(bin) || !Files.exists(env.resolve(".complete"))) {
      Files.createDirectories(root);
      Path tmp = Files.createTempDirectory(root, "building-");
      exec(List.of("python3", "-m", "venv", tmp.toString()), 300);
      List<String> pip = new ArrayList<>(List.of(tmp.resolve("bin/pip").toString(), "install"));
      // no waiting on an unreachable PyPI: local wheel directories answer at once
      pip.addAll(List.of("--quiet", "--retries", "0", "--disable-pip-version-check"));
      pip.addAll(PACKAGES);
      exec(pip, 1200);
      Files.writeString(tmp.resolve(".complete"), String.join("\n", PACKAGES));
      deleteTree(env);
      try {
        Files.move(tmp, env, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        deleteTree(tmp); // another JVM finished first
      }
    }
    python = bin;
    return python;
  }

  /**
   * Runs {@code script} with {@code args} (in {@code sys.argv[1:]}); returns its standard output. A
   * failure throws with the script's standard error.
   */
  public static String run(String script, String... args) throws IOException, InterruptedException {
    Path file = Files.createTempFile("forja-oracle-", ".py");
    try {
      Files.writeString(file, script);
      List<String> cmd = new ArrayList<>(List.of(python().toString(), file.toString()));
      cmd.addAll(List.of(args));
      return exec(cmd, 600);
    } finally {
      Files.deleteIfExists(file);
    }
  }

  private static String exec(List<String> cmd, long timeoutSeconds)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("forja-oracle-out-", ".txt");
    Path err = Files.createTempFile("forja-oracle-err-", ".txt");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile());
      pb.redirectError(err.toFile());
      pb.environment().put("OMP_NUM_THREADS", "2");
      pb.environment().put("TOKENIZERS_PARALLELISM", "false");
      pb.environment().put("HF_HUB_OFFLINE", "1");
      Process p = pb.start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("timed out after " + timeoutSeconds + " s: " + cmd);
      }
      String stdout = Files.readString(out, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        throw new IOException(
            "exit "
                + p.exitValue()
                + ": "
                + cmd
                + "\n"
                + stderr
                + (stdout.isEmpty() ? "" : "\n" + stdout));
      }
      return stdout;
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private static String hash(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }
}
