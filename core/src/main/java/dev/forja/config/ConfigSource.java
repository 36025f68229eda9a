package dev.forja.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Raw configuration values, flattened to dotted keys: YAML files (nested maps or dotted keys, the
 * later file winning) and then {@code key=value} overrides. Values stay untyped here; {@link
 * ConfigReader} types and validates them.
 */
public final class ConfigSource {
  /** A value and where it came from ("conf/prep.yaml", "--set"), for error messages. */
  public record Entry(Object value, String origin) {}

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private final Map<String, Entry> entries = new LinkedHashMap<>();

  public static ConfigSource empty() {
    return new ConfigSource();
  }

  /** Loads files in order, then applies {@code key=value} overrides; collects every problem. */
  public static ConfigSource load(List<Path> files, List<String> overrides) {
    ConfigSource source = new ConfigSource();
    List<String> problems = new ArrayList<>();
    for (Path file : files) {
      source.addFile(file, problems);
    }
    for (String override : overrides) {
      source.addOverride(override, problems);
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    return source;
  }

  public Map<String, Entry> entries() {
    return java.util.Collections.unmodifiableMap(entries);
  }

  /** Sets a value programmatically (CLI options that mirror a key, tests). */
  public ConfigSource with(String key, Object value, String origin) {
    entries.put(key, new Entry(value, origin));
    return this;
  }

  private void addFile(Path file, List<String> problems) {
    if (!Files.isRegularFile(file)) {
      problems.add(
          "cannot read config file '" + file + "': no such file (check the path given to --conf)");
      return;
    }
    JsonNode root;
    try {
      root = YAML.readTree(file.toFile());
    } catch (IOException e) {
      problems.add(
          "cannot parse config file '"
              + file
              + "': "
              + firstLine(e.getMessage())
              + " (it must be YAML: nested maps or dotted keys)");
      return;
    }
    if (root == null || root.isMissingNode() || root.isNull()) {
      return; // an empty file sets nothing
    }
    if (!root.isObject()) {
      problems.add("config file '" + file + "' must hold a map of keys, not " + root.getNodeType());
      return;
    }
    flatten("", root, file.toString(), problems);
  }

  private void flatten(String prefix, JsonNode node, String origin, List<String> problems) {
    Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String key = prefix.isEmpty() ? field.getKey() : prefix + "." + field.getKey();
      JsonNode value = field.getValue();
      if (value.isObject()) {
        flatten(key, value, origin, problems);
      } else if (value.isArray()) {
        List<String> items = new ArrayList<>();
        for (JsonNode item : value) {
          if (item.isContainerNode()) {
            problems.add(key + " (in " + origin + "): list items must be plain values");
          }
          items.add(item.asText());
        }
        entries.put(key, new Entry(items, origin));
      } else if (value.isNull()) {
        entries.put(key, new Entry("", origin));
      } else {
        entries.put(key, new Entry(value.asText(), origin));
      }
    }
  }

  private void addOverride(String override, List<String> problems) {
    int eq = override.indexOf('=');
    if (eq <= 0) {
      problems.add("--set '" + override + "' must have the form key=value");
      return;
    }
    entries.put(override.substring(0, eq).trim(), new Entry(override.substring(eq + 1), "--set"));
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "unknown error";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
