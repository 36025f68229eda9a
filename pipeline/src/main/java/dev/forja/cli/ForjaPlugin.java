package dev.forja.cli;

/**
 * A {@code forja} subcommand that lives outside the runtime jar (the {@code bench} module's {@code
 * forja bench}): a picocli {@code @Command} class with a public no-argument constructor, listed in
 * {@code META-INF/services/dev.forja.cli.ForjaPlugin}. {@link Forja} adds every one on the
 * classpath.
 */
public interface ForjaPlugin {}
