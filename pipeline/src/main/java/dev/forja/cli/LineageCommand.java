package dev.forja.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.storage.Storage;
import java.io.PrintWriter;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code forja lineage}. */
@Command(
    name = "lineage",
    description =
        "Print how a promoted model was made, as a tree: each stage's output, fingerprint,"
            + " command and inputs, back to the raw data. URI: a registry (its champion), a"
            + " champion.json, or a promote stage's output.")
final class LineageCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec picocli.CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOptions config;
  @Mixin Forja.VerboseOption verbose;

  @Parameters(paramLabel = "URI", description = "A registry, champion.json or promote output.")
  URI uri;

  @Override
  public Integer call() throws Exception {
    Storage storage = new Storage(config.load().storage());
    JsonNode d = decision(storage, uri);
    PrintWriter out = spec.commandLine().getOut();
    out.println(
        "model "
            + d.path("model").asText()
            + (d.path("promoted").asBoolean() ? " (promoted" : " (not promoted")
            + ", "
            + d.path("decided").asText()
            + "): "
            + d.path("reason").asText());
    Map<String, JsonNode> byOutput = new LinkedHashMap<>();
    for (JsonNode r : d.path("lineage")) {
      byOutput.put(r.path("output").asText(), r);
    }
    JsonNode root = byOutput.get(d.path("model").asText());
    for (JsonNode r : d.path("lineage")) { // what judged and packaged it
      if (r.path("stage").asText().equals("eval") || r.path("stage").asText().equals("export")) {
        out.println("  " + r.path("stage").asText() + ": " + r.path("output").asText());
      }
    }
    if (root == null) {
      out.println("  (no stage records: the model was not made by forja run)");
    } else {
      print(out, root, byOutput, "  ", new java.util.HashSet<>());
    }
    JsonNode first = d.path("lineage").path(0);
    out.println(
        "forja "
            + first.path("forja_version").asText("?")
            + ", commit "
            + first.path("git_commit").asText("?"));
    out.flush();
    return 0;
  }

  private static void print(
      PrintWriter out,
      JsonNode r,
      Map<String, JsonNode> byOutput,
      String indent,
      java.util.Set<String> shown) {
    if (!shown.add(r.path("output").asText())) {
      out.println(
          indent
              + "└─ "
              + r.path("stage").asText()
              + "  "
              + r.path("output").asText()
              + " (above)");
      return;
    }
    out.println(
        indent
            + "└─ "
            + r.path("stage").asText()
            + "  "
            + r.path("output").asText()
            + "  (fingerprint "
            + r.path("fingerprint").asText().substring(0, 12)
            + ", "
            + String.format(java.util.Locale.ROOT, "%.1f s", r.path("seconds").asDouble())
            + ")");
    out.println(indent + "   forja " + String.join(" ", texts(r.path("command"))));
    if (r.path("configuration").size() > 0) {
      StringBuilder c = new StringBuilder();
      r.path("configuration")
          .fields()
          .forEachRemaining(
              e ->
                  c.append(c.length() == 0 ? "" : ", ")
                      .append(e.getKey())
                      .append('=')
                      .append(e.getValue().isTextual() ? e.getValue().asText() : e.getValue()));
      out.println(indent + "   settings: " + c);
    }
    if (r.has("manifest")) {
      out.println(indent + "   committed by " + r.path("manifest").asText());
    }
    r.path("inputs")
        .fields()
        .forEachRemaining(
            e -> {
              JsonNode up = byOutput.get(e.getValue().asText());
              if (up != null) {
                print(out, up, byOutput, indent + "   ", shown);
              }
            });
  }

  private static java.util.List<String> texts(JsonNode a) {
    java.util.List<String> out = new java.util.ArrayList<>();
    a.forEach(x -> out.add(x.asText()));
    return out;
  }

  /** The decision record {@code uri} leads to. */
  static JsonNode decision(Storage storage, URI uri) throws java.io.IOException {
    String p = uri.getPath() == null ? "" : uri.getPath();
    URI file;
    if (p.endsWith(".json")) {
      file = uri;
    } else if (storage.exists(Storage.resolve(uri, "decision.json"))) {
      file = Storage.resolve(uri, "decision.json");
    } else {
      file = Storage.resolve(uri, Registry.CHAMPION);
    }
    if (!storage.exists(file)) {
      throw new IllegalArgumentException(
          uri + " is neither a registry with a champion, a champion.json nor a promote output");
    }
    JsonNode n = JSON.readTree(storage.readString(file));
    if (n.has("decision") && !n.has("lineage")) {
      n = JSON.readTree(storage.readString(URI.create(n.get("decision").asText())));
    }
    return n;
  }
}
