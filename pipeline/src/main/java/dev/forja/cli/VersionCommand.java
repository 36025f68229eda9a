package dev.forja.cli;

import dev.forja.config.BuildInfo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** {@code forja version}: Forja's version and the stack it was built against. */
@Command(
    name = "version",
    description = "Print Forja's version and the versions it was built with.")
final class VersionCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin Forja.VerboseOption verbose;

  static String line() {
    return "forja "
        + BuildInfo.forjaVersion()
        + " (Spark "
        + BuildInfo.get("spark.version")
        + ", Scala "
        + BuildInfo.get("scala.binary.version")
        + ", Hadoop "
        + BuildInfo.get("hadoop.version")
        + ", DL4J "
        + BuildInfo.get("dl4j.version")
        + " "
        + BuildInfo.get("nd4j.backend")
        + ")";
  }

  @Override
  public Integer call() {
    spec.commandLine().getOut().println(line());
    return 0;
  }
}
