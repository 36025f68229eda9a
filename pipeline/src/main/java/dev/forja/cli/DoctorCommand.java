package dev.forja.cli;

import dev.forja.pipeline.Doctor;
import java.io.PrintWriter;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code forja doctor}. */
@Command(
    name = "doctor",
    description =
        "Check this machine and configuration: versions, ND4J backend and BLAS, threads,"
            + " native-memory caps, storage.")
final class DoctorCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Option(
      names = "--check",
      paramLabel = "URI",
      description = "Also list this storage URI to prove it is reachable; repeatable.")
  List<URI> probes = new ArrayList<>();

  @Override
  public Integer call() {
    Doctor.Report report = Doctor.run(config.load(), probes);
    PrintWriter out = spec.commandLine().getOut();
    for (Map.Entry<String, Map<String, String>> section : report.sections().entrySet()) {
      out.println(section.getKey());
      section.getValue().forEach((k, v) -> out.printf("  %-26s %s%n", k, v));
    }
    if (report.warnings().isEmpty()) {
      out.println("No problems found.");
    } else {
      out.println("Warnings");
      report.warnings().forEach(w -> out.println("  ! " + w));
    }
    out.flush();
    return 0;
  }
}
