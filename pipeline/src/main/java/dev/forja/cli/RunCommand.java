package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja run}. */
@Command(
    name = "run",
    description =
        "Run the pipeline a config file describes (pipeline.stages): each stage whose committed"
            + " output has the same fingerprint is reused. Exit code 0: done (promoted), 3: the"
            + " gate refused the candidate, 1: a failure, 2: a configuration error (not retried).")
final class RunCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(names = "--from", paramLabel = "STAGE", description = "Start at this stage.")
  String from;

  @Option(names = "--until", paramLabel = "STAGE", description = "Stop after this stage.")
  String until;

  @Option(
      names = "--dry-run",
      description = "Print the plan (what runs, what is reused, and why) and stop.")
  boolean dryRun;

  @Option(
      names = "--refused-exit-code",
      paramLabel = "N",
      description =
          "Exit code when the gate refuses the candidate (default 3); 0 for schedulers that"
              + " fail a task on any other code (the summary JSON still says so).")
  int refusedExitCode = PipelineRunner.NOT_PROMOTED;

  @Override
  public Integer call() throws Exception {
    ForjaConfig cfg = config.load();
    PrintStream out = printStream(spec.commandLine().getOut());
    PrintStream err = printStream(spec.commandLine().getErr());
    int code =
        new PipelineRunner(config.confFiles, config.overrides, cfg, out, err)
            .run(from, until, dryRun);
    return code == PipelineRunner.NOT_PROMOTED ? refusedExitCode : code;
  }

  private static PrintStream printStream(java.io.PrintWriter w) {
    return new PrintStream(
        new java.io.OutputStream() {
          @Override
          public void write(int b) {
            w.write(b);
          }

          @Override
          public void write(byte[] b, int off, int len) {
            w.write(new String(b, off, len, StandardCharsets.UTF_8));
          }

          @Override
          public void flush() {
            w.flush();
          }
        },
        true,
        StandardCharsets.UTF_8);
  }
}
