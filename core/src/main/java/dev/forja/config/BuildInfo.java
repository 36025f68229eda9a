package dev.forja.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** Versions Forja was built with (written into {@code forja-build.properties} by the build). */
public final class BuildInfo {
  private static final Properties PROPS = load();

  private BuildInfo() {}

  public static String get(String key) {
    return PROPS.getProperty(key, "unknown");
  }

  public static String forjaVersion() {
    return get("forja.version");
  }

  /**
   * The source's git commit: {@code FORJA_GIT_COMMIT}, which the submit scripts set from the
   * checkout they run in; "unknown" elsewhere.
   */
  public static String gitCommit() {
    String c = System.getenv("FORJA_GIT_COMMIT");
    return c == null || c.isBlank() ? "unknown" : c;
  }

  private static Properties load() {
    Properties p = new Properties();
    try (InputStream in = BuildInfo.class.getResourceAsStream("/forja-build.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }
}
