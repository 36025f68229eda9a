package dev.forja.cli;

import dev.forja.config.ConfigReader;
import dev.forja.pipeline.ForjaConfig;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** {@code forja config keys|show}. */
@Command(
    name = "config",
    description = "List the configuration keys, or show the configuration in effect.",
    subcommands = {ConfigCommand.Keys.class, ConfigCommand.Show.class})
final class ConfigCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "Missing subcommand: keys or show");
  }

  @Command(name = "keys", description = "Every configuration key with its default and meaning.")
  static final class Keys implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      for (ConfigReader.KeyDoc k : ForjaConfig.keys()) {
        out.printf(
            "%-36s %-12s %s%n",
            k.key(), k.defaultValue().isEmpty() ? "\"\"" : k.defaultValue(), k.doc());
      }
      out.flush();
      return 0;
    }
  }

  @Command(name = "show", description = "The configuration in effect (secrets masked).")
  static final class Show implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;
    @Mixin ConfigOptions config;
    @Mixin Forja.VerboseOption verbose;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      config.load().effective().forEach((k, v) -> out.println(k + ": " + v));
      out.flush();
      return 0;
    }
  }
}
