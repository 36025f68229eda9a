package dev.forja.training.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.forja.config.ConfigException;
import dev.forja.config.Suggest;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * An evaluation suite: a small YAML file listing tasks (perplexity, generation, multiple choice,
 * latency) with their data and settings. Every key is checked: an unknown one, an unknown task type
 * or metric is an error naming the valid ones, before any model loads.
 */
public record EvalSuite(
    String name,
    Overflow overflow,
    RunOn runOn,
    int sparkThreshold,
    int bootstrap,
    long seed,
    List<Task> tasks)
    implements Serializable {

  /** What a prompt (or text) longer than the model's context gets. */
  public enum Overflow {
    /** Its oldest tokens are dropped (lm-evaluation-harness does this for log-likelihoods). */
    TRUNCATE_LEFT,
    /** The example is counted and set aside. */
    SKIP
  }

  /** Where the examples are evaluated. */
  public enum RunOn {
    AUTO,
    DRIVER,
    SPARK
  }

  /** Task types. */
  public enum Type {
    PERPLEXITY,
    GENERATION,
    MULTIPLE_CHOICE,
    LATENCY;

    public String key() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  /** Metrics of a generation task. */
  public static final List<String> GENERATION_METRICS =
      List.of("exact-match", "bleu", "chrf", "rouge");

  /**
   * One task.
   *
   * @param data its data file (resolved against the suite's directory), null for latency
   * @param window perplexity: tokens per window, 0 for the model's context length
   * @param stride perplexity: tokens the window moves by, 0 for half the window
   * @param metrics generation: which metrics
   * @param maxNewTokens generation: tokens generated at most
   * @param stop generation: strings that end a generation (not included)
   * @param chatTemplate generation and multiple choice: apply the model's chat template (auto:
   *     where it has one)
   * @param normalize exact match: also lower-case and drop punctuation
   * @param stemmer ROUGE: Porter-stem tokens longer than 3 characters, as rouge-score's option
   * @param targetDelimiter multiple choice: between the context and each choice (lm-eval's " ")
   * @param promptLengths latency: prompt lengths in tokens
   * @param newTokens latency: tokens decoded per measurement
   * @param repeats latency: measurements per prompt length (the median is reported)
   * @param limit examples used at most, 0 for all
   */
  public record Task(
      String name,
      Type type,
      URI data,
      int window,
      int stride,
      List<String> metrics,
      int maxNewTokens,
      List<String> stop,
      String chatTemplate,
      boolean normalize,
      boolean stemmer,
      String targetDelimiter,
      List<Integer> promptLengths,
      int newTokens,
      int repeats,
      int limit)
      implements Serializable {}

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final List<String> SUITE_KEYS =
      List.of(
          "name",
          "tasks",
          "prompt-too-long",
          "run-on",
          "spark-threshold",
          "bootstrap-samples",
          "seed",
          "data-root");
  private static final List<String> COMMON_KEYS = List.of("name", "type", "data", "limit");

  private static List<String> keysOf(Type t) {
    List<String> k = new ArrayList<>(COMMON_KEYS);
    switch (t) {
      case PERPLEXITY -> k.addAll(List.of("window", "stride"));
      case GENERATION ->
          k.addAll(
              List.of(
                  "metrics", "max-new-tokens", "stop", "chat-template", "normalize", "stemmer"));
      case MULTIPLE_CHOICE -> k.addAll(List.of("target-delimiter", "chat-template"));
      case LATENCY -> k.addAll(List.of("prompt-lengths", "new-tokens", "repeats"));
    }
    return k;
  }

  /** Reads and checks a suite; {@code where} is its URI (data paths resolve against it). */
  public static EvalSuite parse(String yaml, URI where) {
    JsonNode root;
    try {
      root = YAML.readTree(yaml);
    } catch (IOException e) {
      throw new ConfigException(
          where + " is not valid YAML: " + e.getMessage().lines().findFirst().orElse(""));
    }
    List<String> problems = new ArrayList<>();
    if (root == null || !root.isObject()) {
      throw new ConfigException(where + ": a suite is a mapping with 'tasks:' (a list)");
    }
    unknownKeys(root, SUITE_KEYS, "the suite", problems);
    String name = root.path("name").asText(baseName(where));
    Overflow overflow =
        choice(root, "prompt-too-long", Overflow.class, Overflow.TRUNCATE_LEFT, "", problems);
    RunOn runOn = choice(root, "run-on", RunOn.class, RunOn.AUTO, "", problems);
    int threshold = integer(root, "spark-threshold", 2000, 1, "", problems);
    int bootstrap = integer(root, "bootstrap-samples", 1000, 0, "", problems);
    long seed = root.path("seed").asLong(0);
    // relative data paths resolve against data-root (a directory) where given, else the suite
    URI base =
        root.path("data-root").isTextual()
            ? URI.create(root.get("data-root").asText().replaceAll("/*$", "/"))
            : where;
    List<Task> tasks = new ArrayList<>();
    JsonNode list = root.path("tasks");
    if (!list.isArray() || list.isEmpty()) {
      problems.add("tasks: give a list of tasks, each with 'name' and 'type'");
    } else {
      Set<String> names = new LinkedHashSet<>();
      for (int i = 0; i < list.size(); i++) {
        Task t = task(list.get(i), i, base, problems);
        if (t != null && !names.add(t.name())) {
          problems.add("tasks[" + i + "].name: '" + t.name() + "' is used twice");
        }
        if (t != null) {
          tasks.add(t);
        }
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(problems.stream().map(p -> where + ": " + p).toList());
    }
    return new EvalSuite(name, overflow, runOn, threshold, bootstrap, seed, List.copyOf(tasks));
  }

  /** This suite run where {@code where} says (driver, spark or auto). */
  public EvalSuite withRunOn(String where) {
    RunOn r;
    try {
      r = RunOn.valueOf(where.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--run-on " + where + " is not driver, spark or auto");
    }
    return new EvalSuite(name, overflow, r, sparkThreshold, bootstrap, seed, tasks);
  }

  private static Task task(JsonNode n, int i, URI where, List<String> problems) {
    String at = "tasks[" + i + "]";
    if (!n.isObject()) {
      problems.add(at + ": a task is a mapping with 'name' and 'type'");
      return null;
    }
    String typeText = n.path("type").asText("");
    Type type = null;
    List<String> valid = java.util.Arrays.stream(Type.values()).map(Type::key).toList();
    for (Type t : Type.values()) {
      if (t.key().equals(typeText)) {
        type = t;
      }
    }
    if (type == null) {
      String near = Suggest.nearest(typeText, valid);
      problems.add(
          at
              + ".type: '"
              + typeText
              + "' is not a task type; valid: "
              + String.join(", ", valid)
              + (near != null ? " (did you mean '" + near + "'?)" : ""));
      return null;
    }
    unknownKeys(n, keysOf(type), at + " (" + type.key() + ")", problems);
    String name = n.path("name").asText("");
    if (name.isBlank() || !name.matches("[A-Za-z0-9._-]+")) {
      problems.add(at + ".name: give a name of letters, digits, '.', '_' or '-'");
    }
    String p = at + ".";
    URI data = null;
    if (type != Type.LATENCY) {
      if (!n.path("data").isTextual()) {
        problems.add(p + "data: give the task's data file (a path or URI)");
      } else {
        data = resolve(where, n.get("data").asText());
      }
    }
    List<String> metrics = List.of();
    if (type == Type.GENERATION) {
      metrics = strings(n, "metrics", GENERATION_METRICS);
      for (String m : metrics) {
        if (!GENERATION_METRICS.contains(m)) {
          String near = Suggest.nearest(m, GENERATION_METRICS);
          problems.add(
              p
                  + "metrics: '"
                  + m
                  + "' is not a generation metric; valid: "
                  + String.join(", ", GENERATION_METRICS)
                  + (near != null ? " (did you mean '" + near + "'?)" : ""));
        }
      }
    }
    String template = n.path("chat-template").asText(type == Type.GENERATION ? "auto" : "none");
    if (!List.of("auto", "none").contains(template)) {
      problems.add(p + "chat-template: '" + template + "' is not auto or none");
    }
    List<Integer> lengths = new ArrayList<>();
    if (n.has("prompt-lengths")) {
      for (JsonNode v : n.get("prompt-lengths")) {
        if (!v.canConvertToInt() || v.asInt() < 1) {
          problems.add(p + "prompt-lengths: each is a number of tokens, 1 or more");
        } else {
          lengths.add(v.asInt());
        }
      }
    } else {
      lengths.addAll(List.of(16, 128));
    }
    return new Task(
        name,
        type,
        data,
        integer(n, "window", 0, 0, p, problems),
        integer(n, "stride", 0, 0, p, problems),
        metrics,
        integer(n, "max-new-tokens", 32, 1, p, problems),
        strings(n, "stop", List.of()),
        template,
        n.path("normalize").asBoolean(false),
        n.path("stemmer").asBoolean(false),
        n.path("target-delimiter").asText(" "),
        List.copyOf(lengths),
        integer(n, "new-tokens", 32, 1, p, problems),
        integer(n, "repeats", 3, 1, p, problems),
        integer(n, "limit", 0, 0, p, problems));
  }

  static URI resolve(URI suite, String path) {
    URI u = URI.create(path.replace(" ", "%20"));
    if (u.getScheme() != null) {
      return u;
    }
    return suite.resolve(u);
  }

  private static String baseName(URI where) {
    String p = where.getPath() == null ? "suite" : where.getPath();
    String b = p.substring(p.lastIndexOf('/') + 1);
    return b.replaceAll("\\.ya?ml$", "");
  }

  private static void unknownKeys(JsonNode n, List<String> valid, String what, List<String> out) {
    for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!valid.contains(k)) {
        String near = Suggest.nearest(k, valid);
        out.add(
            "'"
                + k
                + "' is not a key of "
                + what
                + "; valid: "
                + String.join(", ", valid)
                + (near != null ? " (did you mean '" + near + "'?)" : ""));
      }
    }
  }

  private static List<String> strings(JsonNode n, String key, List<String> dflt) {
    if (!n.has(key)) {
      return dflt;
    }
    JsonNode v = n.get(key);
    if (v.isTextual()) {
      return List.of(v.asText());
    }
    List<String> out = new ArrayList<>();
    v.forEach(x -> out.add(x.asText()));
    return List.copyOf(out);
  }

  private static int integer(
      JsonNode n, String key, int dflt, int min, String at, List<String> problems) {
    if (!n.has(key)) {
      return dflt;
    }
    JsonNode v = n.get(key);
    if (!v.canConvertToInt() || v.asInt() < min) {
      problems.add(at + key + ": '" + v.asText() + "' is not a whole number of at least " + min);
      return dflt;
    }
    return v.asInt();
  }

  private static <E extends Enum<E>> E choice(
      JsonNode n, String key, Class<E> type, E dflt, String at, List<String> problems) {
    if (!n.has(key)) {
      return dflt;
    }
    String text = n.get(key).asText();
    for (E e : type.getEnumConstants()) {
      if (e.name().toLowerCase(Locale.ROOT).replace('_', '-').equals(text)) {
        return e;
      }
    }
    problems.add(
        at
            + key
            + ": '"
            + text
            + "' is not one of "
            + java.util.Arrays.stream(type.getEnumConstants())
                .map(e -> e.name().toLowerCase(Locale.ROOT).replace('_', '-'))
                .toList());
    return dflt;
  }
}
