package dev.forja.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Binds a {@link ConfigSource} to typed values, one key at a time, collecting every problem instead
 * of stopping at the first. Each config record reads its own keys through this class (declaring
 * default and documentation in one place); {@link #finish()} then reports unknown keys with the
 * nearest valid key, and throws one {@link ConfigException} holding all problems.
 */
public final class ConfigReader {
  /** A declared key: its default as text and its documentation ({@code forja config keys}). */
  public record KeyDoc(
      String key, String defaultValue, String doc, boolean secret, Object rawDefault) {
    public KeyDoc(String key, String defaultValue, String doc, boolean secret) {
      this(key, defaultValue, doc, secret, defaultValue);
    }
  }

  private final ConfigSource source;
  private final Map<String, KeyDoc> declared = new LinkedHashMap<>();
  private final Set<String> prefixes = new LinkedHashSet<>();
  private final Set<String> secretKeys = new LinkedHashSet<>();
  private final List<String> problems = new ArrayList<>();

  public ConfigReader(ConfigSource source) {
    this.source = source;
  }

  public String string(String key, String defaultValue, String doc) {
    declare(key, defaultValue, doc, false);
    ConfigSource.Entry e = source.entries().get(key);
    return e == null ? defaultValue : scalar(key, e, defaultValue);
  }

  /** A value that must never be printed: error messages and descriptions mask it. */
  public String secret(String key, String doc) {
    declare(key, "", doc, true);
    secretKeys.add(key);
    ConfigSource.Entry e = source.entries().get(key);
    return e == null ? "" : scalar(key, e, "");
  }

  public int intIn(String key, int defaultValue, int min, int max, String doc) {
    return (int) longIn(key, defaultValue, min, max, doc);
  }

  public long longIn(String key, long defaultValue, long min, long max, String doc) {
    return parsed(
        key,
        defaultValue,
        doc,
        text -> {
          try {
            long v = Long.parseLong(text.trim().replace("_", ""));
            return v < min || v > max ? outOfRange(v, min, max) : v;
          } catch (NumberFormatException ex) {
            throw new Bad("'" + text + "' is not a whole number");
          }
        });
  }

  public double doubleIn(String key, double defaultValue, double min, double max, String doc) {
    return parsed(
        key,
        defaultValue,
        doc,
        text -> {
          try {
            double v = Double.parseDouble(text.trim());
            return v >= min && v <= max ? v : outOfRange(v, min, max);
          } catch (NumberFormatException ex) {
            throw new Bad("'" + text + "' is not a number");
          }
        });
  }

  public boolean bool(String key, boolean defaultValue, String doc) {
    return parsed(
        key,
        defaultValue,
        doc,
        text ->
            switch (text.trim().toLowerCase(Locale.ROOT)) {
              case "true" -> true;
              case "false" -> false;
              default -> throw new Bad("'" + text + "' is not a boolean; use true or false");
            });
  }

  /** A value that failed to parse: the message says what is wrong and how to fix it. */
  private static final class Bad extends RuntimeException {
    Bad(String message) {
      super(message, null, false, false);
    }
  }

  private static <T> T outOfRange(Object value, Object min, Object max) {
    throw new Bad(value + " is out of range; use a value from " + min + " to " + max);
  }

  /** Declares {@code key}, then parses its value if set; a bad value is a problem, not a throw. */
  private <T> T parsed(
      String key, T defaultValue, String doc, java.util.function.Function<String, T> parse) {
    declare(key, String.valueOf(defaultValue), doc, false);
    ConfigSource.Entry e = source.entries().get(key);
    String text = e == null ? null : scalar(key, e, null);
    if (text == null) {
      return defaultValue;
    }
    try {
      return parse.apply(text);
    } catch (Bad bad) {
      problem(key, e, bad.getMessage());
      return defaultValue;
    }
  }

  /** One of a fixed set of kebab-case words, e.g. {@code parquet|jsonl}. */
  public String choice(String key, String defaultValue, List<String> allowed, String doc) {
    declare(key, defaultValue, doc + " One of: " + String.join(", ", allowed) + ".", false);
    ConfigSource.Entry e = source.entries().get(key);
    if (e == null) {
      return defaultValue;
    }
    String text = scalar(key, e, null);
    if (text == null) {
      return defaultValue;
    }
    String v = text.trim().toLowerCase(Locale.ROOT);
    if (!allowed.contains(v)) {
      String near = Suggest.nearest(v, allowed);
      problem(
          key,
          e,
          "'"
              + text
              + "' is not one of "
              + allowed
              + (near == null ? "" : " (did you mean '" + near + "'?)"));
      return defaultValue;
    }
    return v;
  }

  /** A list: a YAML list, or comma-separated text from --set. */
  public List<String> list(String key, List<String> defaultValue, String doc) {
    declared.put(key, new KeyDoc(key, String.join(",", defaultValue), doc, false, defaultValue));
    ConfigSource.Entry e = source.entries().get(key);
    if (e == null) {
      return defaultValue;
    }
    if (e.value() instanceof List<?> items) {
      List<String> out = new ArrayList<>();
      for (Object o : items) {
        out.add(String.valueOf(o).trim());
      }
      return List.copyOf(out);
    }
    String text = String.valueOf(e.value()).trim();
    if (text.isEmpty()) {
      return List.of();
    }
    return Arrays.stream(text.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }

  /**
   * Every key below {@code prefix + "."}, passed through as text (e.g. {@code spark.conf.*} to
   * Spark, {@code storage.hadoop.*} to Hadoop). Returned with the prefix removed.
   */
  public Map<String, String> passThrough(String prefix, String doc) {
    prefixes.add(prefix + ".");
    declared.put(prefix + ".*", new KeyDoc(prefix + ".*", "", doc, false));
    Map<String, String> out = new TreeMap<>();
    for (Map.Entry<String, ConfigSource.Entry> e : source.entries().entrySet()) {
      if (e.getKey().startsWith(prefix + ".")) {
        Object v = e.getValue().value();
        String text =
            v instanceof List<?> l
                ? String.join(",", l.stream().map(String::valueOf).toList())
                : String.valueOf(v);
        out.put(e.getKey().substring(prefix.length() + 1), text);
      }
    }
    return Collections.unmodifiableMap(out);
  }

  /** A cross-field rule: when {@code ok} is false, records {@code message} against {@code key}. */
  public void require(boolean ok, String key, String message) {
    if (!ok) {
      problems.add(key + ": " + message);
    }
  }

  /** Whether the user set this key explicitly (files or overrides). */
  public boolean isSet(String key) {
    return source.entries().containsKey(key);
  }

  public List<KeyDoc> keys() {
    return List.copyOf(declared.values());
  }

  public boolean isSecret(String key) {
    return secretKeys.contains(key) || Secrets.looksSecret(key);
  }

  /** Reports unknown keys and throws if anything was wrong. */
  public void finish() {
    List<String> known = new ArrayList<>();
    for (String k : declared.keySet()) {
      if (!k.endsWith(".*")) {
        known.add(k);
      }
    }
    for (Map.Entry<String, ConfigSource.Entry> e : source.entries().entrySet()) {
      String key = e.getKey();
      if (declared.containsKey(key) || prefixes.stream().anyMatch(key::startsWith)) {
        continue;
      }
      String near = Suggest.nearest(key, known);
      problems.add(
          "unknown key '"
              + key
              + "' (in "
              + e.getValue().origin()
              + ")"
              + (near == null
                  ? "; see 'forja config keys' for the valid keys"
                  : "; did you mean '" + near + "'?"));
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
  }

  private void declare(String key, String defaultValue, String doc, boolean secret) {
    declared.put(key, new KeyDoc(key, defaultValue, doc, secret));
  }

  private String scalar(String key, ConfigSource.Entry e, String fallback) {
    if (e.value() instanceof List<?>) {
      problem(key, e, "a list was given where a single value is expected");
      return fallback;
    }
    return String.valueOf(e.value());
  }

  private void problem(String key, ConfigSource.Entry e, String message) {
    if (isSecret(key)) {
      message = "invalid value (not shown: secret)";
    }
    problems.add(key + " (in " + e.origin() + "): " + message);
  }
}
