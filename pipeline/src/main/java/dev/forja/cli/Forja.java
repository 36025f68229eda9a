package dev.forja.cli;

import dev.forja.config.ConfigException;
import dev.forja.storage.OutputGuard;
import dev.forja.storage.StorageException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.ServiceLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code forja} command line: parses, then hands over to a subcommand's {@code run}. Exit
 * codes: 0 success, 1 a failure while running, 2 a usage or configuration error.
 */
@Command(
    name = "forja",
    mixinStandardHelpOptions = true,
    versionProvider = Forja.Version.class,
    description = "Train and fine-tune transformer language models on Apache Spark.",
    subcommands = {
      VersionCommand.class,
      DoctorCommand.class,
      ConfigCommand.class,
      CorpusCommand.class,
      PrepCommand.class,
      TokenizerCommand.class,
      TokenizeCommand.class,
      SftDataCommand.class,
      FinetuneCommand.class,
      TrainCommand.class,
      GenerateCommand.class,
      EvalCommand.class,
      RunCommand.class,
      LineageCommand.class,
      ModelCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Forja implements Runnable {
  public static final int EXIT_FAILURE = 1;
  public static final int EXIT_USAGE = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing command");
  }

  public static void main(String[] args) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
    int code = execute(args, out, err);
    if (insideYarnApplicationMaster()) {
      // YARN cluster mode runs this main in the ApplicationMaster, which reports the application
      // failed when main calls System.exit (even with 0): return, or throw to fail it
      if (code != 0) {
        throw new IllegalStateException("forja " + String.join(" ", args) + ": exit code " + code);
      }
      return;
    }
    System.exit(code);
  }

  /** Whether this JVM is a YARN ApplicationMaster running the driver (cluster deploy mode). */
  static boolean insideYarnApplicationMaster() {
    return "yarn".equals(System.getProperty("spark.master"))
        && "cluster".equals(System.getProperty("spark.submit.deployMode"));
  }

  /** Runs one command line; returns the exit code. */
  public static int execute(String[] args, PrintStream out, PrintStream err) {
    return execute(args, out, err, e -> {});
  }

  /**
   * Runs one command line; returns the exit code, and hands {@code failed} what made it fail (a
   * rejected command line or the command's exception).
   */
  static int execute(
      String[] args,
      PrintStream out,
      PrintStream err,
      java.util.function.Consumer<Exception> failed) {
    boolean verbose = Arrays.asList(args).contains("--verbose");
    CommandLine cmd = new CommandLine(new Forja());
    for (ForjaPlugin plugin : ServiceLoader.load(ForjaPlugin.class)) {
      cmd.addSubcommand(plugin);
    }
    withHelpOptions(cmd);
    if (args.length > 0 && args[0].equals("bench") && !cmd.getSubcommands().containsKey("bench")) {
      err.println(
          "forja: 'forja bench' is in the bench module, not on this classpath: build it (mvn -B"
              + " -DskipTests install) and run submit-scripts/forja bench");
      return EXIT_USAGE;
    }
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    cmd.setParameterExceptionHandler(
        (ex, argv) -> {
          failed.accept(ex);
          CommandLine c = ex.getCommandLine();
          err.println("forja: " + usageMessage(ex));
          err.println("Run '" + c.getCommandSpec().qualifiedName() + " --help' for usage.");
          return EXIT_USAGE;
        });
    cmd.setExecutionExceptionHandler(
        (ex, c, parseResult) -> {
          failed.accept(ex);
          boolean usage =
              ex instanceof ConfigException
                  || ex instanceof StorageException
                  || ex instanceof OutputGuard.OutputExistsException
                  || ex instanceof dev.forja.tokenizer.TokenizerException
                  || ex instanceof dev.forja.shard.ShardException
                  || ex instanceof IllegalArgumentException;
          err.println("forja: " + message(ex));
          if (verbose) {
            ex.printStackTrace(err);
          } else if (!usage) {
            err.println("(run again with --verbose for the stack trace)");
          }
          return usage ? EXIT_USAGE : EXIT_FAILURE;
        });
    return cmd.execute(args);
  }

  /** {@code --help} on every command, not only the top one. */
  private static void withHelpOptions(CommandLine cmd) {
    for (CommandLine sub : cmd.getSubcommands().values()) {
      CommandLine.Model.CommandSpec spec = sub.getCommandSpec();
      if (spec.findOption("--help") == null && spec.findOption("-h") == null) {
        spec.addOption(
            CommandLine.Model.OptionSpec.builder("-h", "--help")
                .usageHelp(true)
                .description("Show this help message and exit.")
                .build());
      }
      withHelpOptions(sub);
    }
  }

  /** picocli's message, with "unknown command" wording and its closest suggestion. */
  private static String usageMessage(CommandLine.ParameterException ex) {
    if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
      String first = u.getUnmatched().get(0);
      if (!first.startsWith("-") && !ex.getCommandLine().getCommandSpec().subcommands().isEmpty()) {
        java.util.List<String> suggestions = u.getSuggestions();
        return "unknown command '"
            + first
            + "'"
            + (suggestions.isEmpty() ? "" : " (did you mean '" + suggestions.get(0) + "'?)");
      }
      if (first.startsWith("-")) {
        java.util.List<String> suggestions = u.getSuggestions();
        return "unknown option '"
            + first
            + "'"
            + (suggestions.isEmpty() ? "" : " (did you mean '" + suggestions.get(0) + "'?)");
      }
    }
    return ex.getMessage();
  }

  private static String message(Throwable t) {
    String m = t.getMessage();
    if (m == null || m.isBlank()) {
      return t.getClass().getSimpleName();
    }
    if (m.contains("above the max threshold") && m.contains("yarn.scheduler.maximum-allocation")) {
      // Spark names the cluster's limits; the job's own settings are what a user changes
      m +=
          " Ask for less: spark.executor.memory plus spark.executor.memoryOverhead (and"
              + " spark.driver.memory plus spark.driver.memoryOverhead in cluster mode) must fit in"
              + " the largest container YARN grants (forja-submit --conf"
              + " spark.executor.memory=...).";
    }
    return m;
  }

  /** {@code forja --version}. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {VersionCommand.line()};
    }
  }

  /** The {@code --verbose} flag every command accepts. */
  public static final class VerboseOption {
    @CommandLine.Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;
  }
}
