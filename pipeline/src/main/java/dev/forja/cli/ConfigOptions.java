package dev.forja.cli;

import dev.forja.pipeline.ForjaConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The options every command that reads configuration shares. */
public final class ConfigOptions {
  @Option(
      names = "--conf",
      paramLabel = "FILE",
      description = "YAML config file; repeat to layer several, later files win.")
  List<Path> confFiles = new ArrayList<>();

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description = "Override one config key, e.g. --set corpus.size-mb=64; repeatable.")
  List<String> overrides = new ArrayList<>();

  /** Adds an override after those given with {@code --set}. */
  public void set(String keyValue) {
    overrides.add(keyValue);
  }

  public ForjaConfig load() {
    return ForjaConfig.load(confFiles, overrides);
  }
}
