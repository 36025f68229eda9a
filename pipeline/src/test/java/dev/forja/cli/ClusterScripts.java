package dev.forja.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The submit scripts as a user runs them, against one {@code submit-scripts/local-cluster} (its
 * state directory and port base), with their output in a log file: for the cluster tests.
 */
record ClusterScripts(Path state, String portBase, Map<String, String> env) {
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  record Result(int code, String output) {}

  /** Runs {@code command} (its first word relative to the repository) to its end. */
  Result script(long timeoutSeconds, String... command) throws Exception {
    Path log = Files.createTempFile(state.getParent(), "script-", ".log");
    Process p = start(log, command);
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      kill(p);
      return new Result(124, Files.readString(log));
    }
    return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }

  /** Starts {@code command} with its output in {@code log}. */
  Process start(Path log, String... command) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(command));
    cmd.set(0, ROOT.resolve(cmd.get(0)).toString());
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("FORJA_LOCAL_DIR", state.toString());
    pb.environment().put("FORJA_PORT_BASE", portBase);
    pb.environment().put("FORJA_DRIVER_MEMORY", "1g");
    pb.environment().remove("SPARK_HOME");
    pb.environment().putAll(env);
    return pb.start();
  }

  /** SIGKILL to the script and everything it started (the driver JVM is its child). */
  static void kill(Process p) throws InterruptedException {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    p.waitFor(30, TimeUnit.SECONDS);
  }

  /**
   * forja train with two workers on {@code shards} for {@code steps} steps: a 16-token, 32-wide
   * model, averaged every 2 steps, checkpointed every 8, no evaluation during the run.
   */
  static List<String> trainArgs(String shards, String run, int steps) {
    List<String> args =
        new ArrayList<>(List.of("train", "--data", shards, "--output", run, "--workers", "2"));
    for (String kv :
        List.of(
            "model.context-length=16",
            "model.d-model=32",
            "train.steps=" + steps,
            "train.micro-batch-size=4",
            "train.warmup-steps=4",
            "train.lr=0.01",
            "train.min-lr=0.001",
            "train.eval-every=0",
            "train.eval-batches=2",
            "train.checkpoint-every=8",
            "distributed.averaging-period=2")) {
      args.addAll(List.of("--set", kv));
    }
    return args;
  }

  /** The processes (other than this one) whose command line names a path under {@code dir}. */
  static List<String> processesMentioning(String dir) {
    List<String> found = new ArrayList<>();
    ProcessHandle.allProcesses()
        .forEach(
            ph -> {
              String cmd = ph.info().commandLine().orElse("");
              if (cmd.contains(dir + File.separator) && ph.pid() != ProcessHandle.current().pid()) {
                found.add(ph.pid() + " " + cmd);
              }
            });
    return found;
  }
}
