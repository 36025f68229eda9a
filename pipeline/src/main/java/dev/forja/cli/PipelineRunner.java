package dev.forja.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.config.BuildInfo;
import dev.forja.config.ConfigException;
import dev.forja.pipeline.ForjaConfig;
import dev.forja.pipeline.GateRule;
import dev.forja.pipeline.PipelineConfig;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.training.eval.EvalSuite;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code forja run}: the pipeline's stages in order, each through the command a person would run
 * (in this JVM). A stage's output lives under {@code pipeline.work} in a directory named by the
 * stage and the fingerprint of everything it depends on (its command with its inputs, which are
 * earlier stages' outputs, the configuration keys it reads, the raw inputs' files and sizes, and
 * Forja's version); a stage whose record ({@code stages/STAGE-FINGERPRINT.json}, written after it
 * succeeded) exists is reused, so a rerun after a failure continues where it stopped, and a stage
 * that stopped half-way (a training run) resumes in the same directory. The registry is locked for
 * the run (a lease, taken over when it expires).
 */
final class PipelineRunner {
  /** Exit code: the gate refused the candidate. */
  static final int NOT_PROMOTED = 3;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** The configuration prefixes each stage reads (its fingerprint covers their values). */
  private static final Map<String, List<String>> READS =
      Map.ofEntries(
          Map.entry("generate", List.of("corpus.")),
          Map.entry("prep", List.of("prep.")),
          Map.entry("tokenizer", List.of("tokenizer.")),
          Map.entry("tokenize", List.of("tokenize.")),
          Map.entry(
              "train", List.of("model.", "train.", "distributed.", "pipeline.train-overrides")),
          Map.entry("instructions", List.of()),
          Map.entry("sft-data", List.of("sft.")),
          Map.entry("finetune", List.of("train.", "pipeline.finetune-overrides")),
          Map.entry("eval", List.of()),
          Map.entry("export", List.of()),
          Map.entry("promote", List.of("promote.")));

  /**
   * One stage of the plan; {@code given}: its output is an earlier cycle's, taken as it is (the
   * champion's tokenizer when training continues from the champion).
   */
  record Stage(
      String name,
      String fingerprint,
      URI output,
      List<String> args,
      String reason,
      boolean given,
      Map<String, Object> configuration) {
    Stage(String name, String fingerprint, URI output, List<String> args, String reason) {
      this(name, fingerprint, output, args, reason, false, Map.of());
    }
  }

  private final List<Path> confFiles;
  private final List<String> overrides;
  private final ForjaConfig cfg;
  private final PipelineConfig pc;
  private final Storage storage;
  private final PrintStream out;
  private final PrintStream err;
  private final URI work;
  private final URI registry;

  PipelineRunner(
      List<Path> confFiles,
      List<String> overrides,
      ForjaConfig cfg,
      PrintStream out,
      PrintStream err) {
    this.confFiles = confFiles;
    this.overrides = overrides;
    this.cfg = cfg;
    this.pc = cfg.pipeline();
    this.storage = new Storage(cfg.storage());
    this.out = out;
    this.err = err;
    List<String> problems = new ArrayList<>();
    if (pc.work().isBlank()) {
      problems.add("pipeline.work: give the URI where stage outputs go");
    }
    if (pc.stages().contains("promote") && pc.registry().isBlank()) {
      problems.add("pipeline.registry: the promote stage needs the model registry's URI");
    }
    if (pc.stages().contains("eval") && pc.evalSuite().isBlank()) {
      problems.add("pipeline.eval-suite: the eval stage needs a suite (forja eval's YAML)");
    }
    if (pc.stages().contains("prep") && !pc.stages().contains("generate") && pc.input().isEmpty()) {
      problems.add("pipeline.input: the prep stage needs raw corpus URIs (or the generate stage)");
    }
    if (pc.stages().contains("sft-data")
        && !pc.stages().contains("instructions")
        && pc.sftInput().isBlank()) {
      problems.add(
          "pipeline.sft-input: the sft-data stage needs instruction data (or the instructions"
              + " stage)");
    }
    if (problems.isEmpty()) {
      // what a stage would otherwise find out only when it runs, hours into the cycle
      stageOverrideProblems("train", "pipeline.train-overrides", pc.trainOverrides(), problems);
      stageOverrideProblems(
          "finetune", "pipeline.finetune-overrides", pc.finetuneOverrides(), problems);
      if (pc.stages().contains("eval")) {
        suiteProblems(problems);
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    this.work = Storage.locate(pc.work());
    this.registry = pc.registry().isBlank() ? null : Storage.locate(pc.registry());
  }

  /** The configuration a stage with its own overrides reads must load. */
  private void stageOverrideProblems(
      String stage, String key, List<String> stageOverrides, List<String> problems) {
    if (!pc.stages().contains(stage) || stageOverrides.isEmpty()) {
      return;
    }
    List<String> all = new ArrayList<>(overrides);
    all.addAll(stageOverrides);
    try {
      ForjaConfig.load(confFiles, all);
    } catch (ConfigException e) {
      e.problems().forEach(p -> problems.add(key + ": " + p));
    }
  }

  /**
   * The evaluation suite must read as a suite once its {@code ${stage}} names are filled in, name
   * only this pipeline's stages, and hold every task {@code promote.gate} names.
   */
  private void suiteProblems(List<String> problems) {
    URI suite = Storage.locate(pc.evalSuite());
    Map<String, URI> outputs = new LinkedHashMap<>(); // stand-ins for the stages' outputs
    pc.stages().forEach(stage -> outputs.put(stage, URI.create("file:/forja-run/" + stage)));
    String text;
    try {
      text = resolvedSuite(outputs);
    } catch (IOException | RuntimeException e) {
      problems.add("pipeline.eval-suite: cannot read " + suite + " (" + e.getMessage() + ")");
      return;
    }
    String left = placeholderIn(text);
    if (left != null) {
      problems.add(
          "pipeline.eval-suite: "
              + suite
              + " names "
              + left
              + ", which is not a stage of this pipeline; valid: ${"
              + String.join("}, ${", pc.stages())
              + "}");
      return;
    }
    EvalSuite parsed;
    try {
      parsed = EvalSuite.parse(text, suite);
    } catch (ConfigException e) {
      e.problems().forEach(p -> problems.add("pipeline.eval-suite: " + p));
      return;
    }
    List<String> tasks = parsed.tasks().stream().map(EvalSuite.Task::name).toList();
    for (String g : pc.gate()) {
      String task = GateRule.parse(g).task();
      if (!tasks.contains(task)) {
        problems.add(
            "promote.gate: '"
                + g
                + "' names the task '"
                + task
                + "', which "
                + suite
                + " does not hold; its tasks: "
                + String.join(", ", tasks));
      }
    }
  }

  private static final java.util.regex.Pattern PLACEHOLDER =
      java.util.regex.Pattern.compile("\\$\\{[^}]*}");
  private static final java.util.regex.Pattern COMMENT =
      java.util.regex.Pattern.compile("(^|\\s)#");

  /**
   * The first {@code ${name}} left in a YAML text outside its comments, or null. (Read as text: an
   * unreplaced name inside a flow mapping is not valid YAML.)
   */
  static String placeholderIn(String yaml) {
    for (String line : yaml.split("\n")) {
      java.util.regex.Matcher comment = COMMENT.matcher(line);
      java.util.regex.Matcher m =
          PLACEHOLDER.matcher(comment.find() ? line.substring(0, comment.start()) : line);
      if (m.find()) {
        return m.group();
      }
    }
    return null;
  }

  /** The stages in order, with the selection's bounds checked. */
  List<String> stages(String from, String until) {
    List<String> chosen =
        PipelineConfig.ORDER.stream().filter(s -> pc.stages().contains(s)).toList();
    for (String bound : new String[] {from, until}) {
      if (bound != null && !chosen.contains(bound)) {
        throw new IllegalArgumentException(
            "'" + bound + "' is not one of this pipeline's stages: " + String.join(", ", chosen));
      }
    }
    return chosen;
  }

  /**
   * Runs (or with {@code dryRun} only prints) the plan; returns the exit code: 0 done (promoted,
   * where the pipeline promotes), {@link #NOT_PROMOTED}, or 1 a failure (2, a stage that refused
   * its settings or input, is thrown as {@link StageRefused}).
   */
  int run(String from, String until, boolean dryRun) throws Exception {
    List<String> names = stages(from, until);
    String runId = Instant.now().toString().replace(":", "").replace(".", "");
    Lock lock = null;
    if (!dryRun && registry != null) {
      lock = Lock.acquire(storage, registry, runId, pc.leaseSeconds());
    }
    ObjectNode summary = JSON.createObjectNode();
    summary.put("run", runId);
    summary.put("forja_version", BuildInfo.forjaVersion());
    ArrayNode stagesDone = summary.putArray("stages");
    Map<String, URI> outputs = new LinkedHashMap<>();
    int code = 0;
    boolean started = from == null;
    try {
      for (String name : names) {
        started |= name.equals(from);
        Stage s = plan(name, outputs);
        outputs.put(name, s.output());
        boolean reusable = s.given() || recorded(s);
        String verdict;
        if (reusable) {
          verdict = "reused";
        } else if (!started) {
          throw new IllegalArgumentException(
              "stage "
                  + name
                  + " has no committed output for this configuration (fingerprint "
                  + s.fingerprint().substring(0, 12)
                  + "), so the run cannot start after it: drop --from or start earlier");
        } else {
          verdict = dryRun ? "would run" : "runs";
        }
        out.printf(
            Locale.ROOT,
            "== %-12s %-9s %s (%s)%n",
            name,
            verdict,
            s.output(),
            s.given()
                ? s.reason()
                : reusable
                    ? "committed with the same fingerprint " + s.fingerprint().substring(0, 12)
                    : s.reason());
        if (!reusable && !s.args().isEmpty() && !s.args().get(0).startsWith("(")) {
          out.println("   forja " + String.join(" ", s.args()));
        }
        out.flush();
        ObjectNode st = stagesDone.addObject();
        st.put("stage", name);
        st.put("fingerprint", s.fingerprint());
        st.put("output", s.output().toString());
        st.put("status", verdict);
        if (!reusable && !dryRun) {
          if (lock != null) {
            lock.renew();
          }
          long t0 = System.nanoTime();
          int attempts = executeWithRetries(s, outputs, t0);
          if (attempts > 1) {
            st.put("attempts", attempts);
          }
          st.put("seconds", (System.nanoTime() - t0) / 1e9);
        }
        if (name.equals("promote") && !dryRun) {
          JsonNode decision =
              JSON.readTree(storage.readString(Storage.resolve(s.output(), "decision.json")));
          summary.set("decision", decision);
          code = decision.path("promoted").asBoolean() ? 0 : NOT_PROMOTED;
          out.println(
              decision.path("promoted").asBoolean()
                  ? "promoted: " + decision.path("model").asText()
                  : "not promoted: " + decision.path("reason").asText());
        }
        if (name.equals(until)) {
          break;
        }
      }
    } catch (Exception e) {
      summary.put("error", String.valueOf(e.getMessage()));
      code = e instanceof StageRefused ? Forja.EXIT_USAGE : 1;
      if (!dryRun) {
        writeSummary(runId, summary, code);
      }
      throw e;
    } finally {
      if (lock != null) {
        lock.release();
      }
    }
    if (!dryRun) {
      writeSummary(runId, summary, code);
    }
    return code;
  }

  private void writeSummary(String runId, ObjectNode summary, int code) throws IOException {
    summary.put("exit_code", code);
    URI file = Storage.resolve(Storage.resolve(work, "runs"), runId + ".json");
    storage.writeString(file, JSON.writeValueAsString(summary), true);
    out.println("Summary: " + file);
    out.flush();
  }

  // ---- the plan ----

  private URI output(String name, String fp) {
    return Storage.resolve(work, name + "-" + fp.substring(0, 12));
  }

  private URI recordUri(Stage s) {
    return Storage.resolve(
        Storage.resolve(work, "stages"),
        s.name() + "-" + s.fingerprint().substring(0, 12) + ".json");
  }

  private boolean recorded(Stage s) throws IOException {
    return storage.exists(recordUri(s));
  }

  /** The stage's command and fingerprint, given the outputs of the stages before it. */
  Stage plan(String name, Map<String, URI> up) throws IOException {
    URI champion = championModel(up);
    if (name.equals("tokenizer") && pc.continueFromChampion() && champion != null) {
      URI tok = championStage("tokenizer");
      if (tok != null) { // the ids must mean what they meant to the champion
        return new Stage(
            name,
            sha256(tok.toString()),
            tok,
            List.of(),
            "the champion's tokenizer",
            true,
            Map.of());
      }
    }
    JsonNode current =
        registry == null
            ? null
            : Registry.read(storage, Storage.resolve(registry, Registry.CHAMPION));
    // the data the registry's models have seen: deduplicated against, or replayed in part
    boolean earlier =
        current != null
            && (name.equals("prep") && pc.dedupAgainstChampion()
                || name.equals("tokenize") && cfg.tokenize().replayRatio() > 0);
    Stage s = plan(name, up, champion, earlier ? preps(current, up) : List.of());
    if (current != null) {
      // a rerun of the cycle that made the champion: it started from the champion before it
      // (none, for the first champion)
      JsonNode prev = current.path("previous");
      if (name.equals(continuing()) && pc.continueFromChampion()) {
        URI before = prev.has("model") ? URI.create(prev.path("model").asText()) : null;
        Stage again = plan(name, up, before, List.of());
        if (again.output().toString().equals(current.path("model").asText())) {
          return again;
        }
      }
      if (earlier) {
        Stage again = plan(name, up, champion, preps(prev, up));
        URI made = stageOf(current, name);
        if (made != null && again.output().toString().equals(made.toString())) {
          return again;
        }
      }
    }
    return s;
  }

  /**
   * The prep outputs of a champion and of every champion before it (each record holds the one it
   * replaced), this cycle's own aside: all the data the registry's models have seen.
   */
  private static List<URI> preps(JsonNode champion, Map<String, URI> up) {
    List<URI> out = new ArrayList<>();
    for (JsonNode c = champion; c != null && c.has("lineage"); c = c.get("previous")) {
      URI p = stageOf(c, "prep");
      if (p != null && !out.contains(p) && !p.equals(up.get("prep"))) {
        out.add(p);
      }
    }
    return out;
  }

  /** The output of {@code stage} in a champion record's lineage, or null. */
  private static URI stageOf(JsonNode champion, String stage) {
    for (JsonNode r : champion.path("lineage")) {
      if (r.path("stage").asText().equals(stage)) {
        return URI.create(r.path("output").asText());
      }
    }
    return null;
  }

  private Stage plan(String name, Map<String, URI> up, URI champion, List<URI> earlier)
      throws IOException {
    List<String> args = new ArrayList<>();
    Map<String, Object> depends = new TreeMap<>();
    switch (name) {
      case "generate" -> args.addAll(List.of("corpus", "generate"));
      case "prep" -> {
        args.add("prep");
        List<String> inputs =
            up.containsKey("generate") ? List.of(up.get("generate").toString()) : pc.input();
        for (String in : inputs) {
          args.addAll(List.of("--input", in));
          if (!up.containsKey("generate")) {
            depends.put("input " + in, listing(Storage.locate(in)));
          }
        }
        for (URI d : earlier) { // the champions' data: only new documents are kept
          args.addAll(List.of("--dedup-against", d.toString()));
        }
      }
      case "tokenizer" -> args.addAll(List.of("tokenizer", "train", "--input", need(up, "prep")));
      case "tokenize" -> {
        args.addAll(
            List.of("tokenize", "--input", need(up, "prep"), "--tokenizer", need(up, "tokenizer")));
        for (URI d : earlier) { // tokenize.replay-ratio of the training documents come from these
          args.addAll(List.of("--replay", d.toString()));
        }
      }
      case "train" -> {
        args.addAll(List.of("train", "--data", need(up, "tokenize")));
        if (pc.workers() > 0) {
          args.addAll(List.of("--workers", String.valueOf(pc.workers())));
        }
        if (pc.continueFromChampion() && champion != null && continuing().equals(name)) {
          args.addAll(List.of("--init-from", champion.toString()));
        }
        pc.trainOverrides().forEach(o -> args.addAll(List.of("--set", o)));
      }
      case "instructions" -> args.add("(generated instruction set)");
      case "sft-data" -> {
        String in =
            up.containsKey("instructions")
                ? Storage.resolve(up.get("instructions"), "train.jsonl").toString()
                : pc.sftInput();
        args.addAll(List.of("sft-data", "--input", in, "--tokenizer-from", need(up, "train")));
        if (!up.containsKey("instructions")) {
          depends.put("sft input", listing(Storage.locate(in)));
        }
      }
      case "finetune" -> {
        args.addAll(
            List.of("finetune", "--base", need(up, "train"), "--data", need(up, "sft-data")));
        pc.finetuneOverrides().forEach(o -> args.addAll(List.of("--set", o)));
        if (pc.continueFromChampion() && champion != null) {
          URI championBase = stageOf(championRecord(champion), "train");
          if (up.get("train").equals(championBase)) { // its adapter, trained further
            args.addAll(List.of("--set", "train.lora.init-adapter=" + champion));
          } else {
            depends.put(
                "fresh adapter", "the champion's base " + championBase + " is not this one");
          }
        }
      }
      case "eval" -> {
        args.addAll(List.of("eval", "--model", "candidate=" + candidate(up)));
        if (up.containsKey("finetune")) { // the fine-tune beside the model it started from
          args.addAll(List.of("--model", "base=" + up.get("train")));
        }
        if (champion != null) {
          args.addAll(List.of("--model", "champion=" + champion));
        }
        depends.put("suite", resolvedSuite(up));
      }
      case "export" ->
          args.addAll(
              List.of("model", "export", "--checkpoint", candidate(up), "--format", "gguf"));
      case "promote" -> {
        args.addAll(List.of("(promote)", need(up, "eval")));
        depends.put("champion", champion == null ? "none" : champion.toString());
        if (up.containsKey("export")) {
          depends.put("bundle", up.get("export").toString());
        }
      }
      default -> throw new IllegalArgumentException("unknown stage " + name);
    }
    depends.put("stage", name);
    depends.put("command", args);
    depends.put("forja", BuildInfo.forjaVersion());
    Map<String, Object> keys = new TreeMap<>();
    cfg.values()
        .forEach(
            (k, v) -> {
              for (String prefix : READS.get(name)) {
                if (k.startsWith(prefix)) {
                  keys.put(k, v);
                }
              }
            });
    depends.put("configuration", keys);
    String fp = sha256(JSON.writeValueAsString(depends));
    URI output = output(name, fp);
    String reason =
        storage.exists(output)
            ? "an earlier run of it stopped before it finished: it continues there"
            : recordedAny(name)
                ? "its inputs or configuration changed since its last run"
                : "no earlier run of it";
    return new Stage(name, fp, output, List.copyOf(args), reason, false, keys);
  }

  private boolean recordedAny(String name) throws IOException {
    URI dir = Storage.resolve(work, "stages");
    if (!storage.exists(dir)) {
      return false;
    }
    for (Storage.Entry e : storage.list(dir)) {
      if (e.uri().getPath().contains("/" + name + "-")) {
        return true;
      }
    }
    return false;
  }

  /**
   * The stage that continues from the champion: in a fine-tuning pipeline the fine-tune (the
   * champion's adapter trained further, on the same base), else the training run (its weights).
   */
  private String continuing() {
    return pc.stages().contains("finetune") ? "finetune" : "train";
  }

  /** The registry's record of {@code model}: the champion's, or one it replaced; else null. */
  private JsonNode championRecord(URI model) throws IOException {
    JsonNode c = Registry.read(storage, Storage.resolve(registry, Registry.CHAMPION));
    for (; c != null && c.has("model"); c = c.get("previous")) {
      if (c.path("model").asText().equals(model.toString())) {
        return c;
      }
    }
    return JSON.createObjectNode();
  }

  /** The model a cycle produces: the fine-tune's where there is one, else the training run's. */
  private static String candidate(Map<String, URI> up) {
    return up.containsKey("finetune") ? up.get("finetune").toString() : need(up, "train");
  }

  private static String need(Map<String, URI> up, String stage) {
    URI u = up.get(stage);
    if (u == null) {
      throw new IllegalArgumentException(
          "this stage needs the "
              + stage
              + " stage's output: add "
              + stage
              + " to pipeline.stages");
    }
    return u.toString();
  }

  /** Files and sizes below a raw input: a new or changed file changes the fingerprint. */
  private String listing(URI dir) throws IOException {
    StringBuilder b = new StringBuilder();
    List<Storage.Entry> files =
        storage.exists(dir)
                && !storage
                    .fileSystem(dir)
                    .getFileStatus(new org.apache.hadoop.fs.Path(dir))
                    .isFile()
            ? storage.listFiles(dir)
            : List.of(new Storage.Entry(dir, storage.exists(dir) ? storage.size(dir) : -1, false));
    for (Storage.Entry e : files) {
      b.append(e.uri()).append(' ').append(e.size()).append('\n');
    }
    return sha256(b.toString());
  }

  /**
   * The suite's text with {@code ${stage}} replaced by that stage's output, and its relative data
   * paths kept relative to where the suite is ({@code data-root}).
   */
  private String resolvedSuite(Map<String, URI> up) throws IOException {
    URI suite = Storage.locate(pc.evalSuite());
    String text = storage.readString(suite);
    if (!text.matches("(?s)(.*\\n)?data-root:.*")) {
      text = "data-root: " + suite.resolve(".") + "\n" + text;
    }
    for (Map.Entry<String, URI> e : up.entrySet()) {
      text = text.replace("${" + e.getKey() + "}", e.getValue().toString().replaceAll("/+$", ""));
    }
    return text;
  }

  /**
   * The champion this cycle's candidate is measured against: the registry's, or, where this very
   * candidate was promoted already (a rerun), the one it replaced, so that a rerun plans the same
   * stages.
   */
  private URI championModel(Map<String, URI> up) throws IOException {
    if (registry == null) {
      return null;
    }
    JsonNode c = Registry.read(storage, Storage.resolve(registry, Registry.CHAMPION));
    if (c == null) {
      return null;
    }
    String cand =
        up.containsKey("finetune")
            ? up.get("finetune").toString()
            : up.containsKey("train") ? up.get("train").toString() : null;
    if (c.path("model").asText().equals(cand)) {
      c = c.path("previous");
      if (c.isMissingNode() || !c.has("model")) {
        return null;
      }
    }
    return URI.create(c.path("model").asText());
  }

  /** The output of the champion's {@code stage}, from its lineage, or null. */
  private URI championStage(String stage) throws IOException {
    JsonNode c = Registry.read(storage, Storage.resolve(registry, Registry.CHAMPION));
    return c == null ? null : stageOf(c, stage);
  }

  // ---- running a stage ----

  /**
   * Runs the stage and writes its record, and both again after a failure up to {@code
   * pipeline.stage-retries} times (a store that went away, a lost executor); each attempt replaces
   * what the one before left half-written (a training run resumes from its last checkpoint).
   * Returns the attempts it took.
   */
  private int executeWithRetries(Stage s, Map<String, URI> up, long t0) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        execute(s, up);
        record(s, up, (System.nanoTime() - t0) / 1e9); // the store may fail here too
        return attempt;
      } catch (StageRefused e) {
        throw e; // its settings or input are wrong: the same again would fail the same way
      } catch (Exception e) {
        if (attempt > pc.stageRetries() || s.name().equals("promote")) {
          throw e;
        }
        err.printf(
            Locale.ROOT,
            "forja run: stage %s failed (%s); running it again in %d s (attempt %d of %d)%n",
            s.name(),
            e.getMessage(),
            pc.retryWaitSeconds(),
            attempt + 1,
            pc.stageRetries() + 1);
        err.flush();
        Thread.sleep(pc.retryWaitSeconds() * 1000);
      }
    }
  }

  private void execute(Stage s, Map<String, URI> up) throws Exception {
    switch (s.name()) {
      case "instructions" -> Registry.writeInstructions(storage, s.output());
      case "promote" -> promote(s, up);
      case "eval" -> {
        URI suite =
            Storage.resolve(
                Storage.resolve(work, "suites"), s.fingerprint().substring(0, 12) + ".yaml");
        storage.writeString(suite, resolvedSuite(up), true);
        List<String> args = new ArrayList<>(s.args());
        args.addAll(List.of("--suite", suite.toString()));
        command(s, args);
      }
      default -> command(s, new ArrayList<>(s.args()));
    }
  }

  private void command(Stage s, List<String> args) {
    args.addAll(List.of("--output", s.output().toString()));
    if (!s.name().equals("train") && !s.name().equals("finetune")) {
      args.add("--overwrite"); // a half-written output of an interrupted run is replaced
    }
    for (Path f : confFiles) {
      args.addAll(List.of("--conf", f.toString()));
    }
    List<String> all = new ArrayList<>();
    // the pipeline's --set overrides first: a stage's own (--set after them) wins
    int firstSet = args.indexOf("--set");
    List<String> head = firstSet < 0 ? args : args.subList(0, firstSet);
    all.addAll(head);
    for (String o : overrides) {
      all.addAll(List.of("--set", o));
    }
    if (firstSet >= 0) {
      all.addAll(args.subList(firstSet, args.size()));
    }
    java.util.concurrent.atomic.AtomicReference<Exception> failure =
        new java.util.concurrent.atomic.AtomicReference<>();
    int code = Forja.execute(all.toArray(String[]::new), out, err, failure::set);
    if (code != 0) {
      String what =
          "stage " + s.name() + " failed (exit " + code + "): forja " + String.join(" ", all);
      if (refusesItsSettings(failure.get())) {
        throw new StageRefused(
            what
                + " -- its settings or input are wrong ("
                + failure.get().getMessage()
                + "), so it is not run again: fix them and rerun (finished stages are reused)");
      }
      throw new IllegalStateException(what);
    }
  }

  /**
   * Whether a stage failed on its settings or input (a config key, an argument, an output that
   * exists), which running it again cannot change, as opposed to a store or an executor going away.
   */
  static boolean refusesItsSettings(Exception e) {
    return e instanceof ConfigException
        // (Hadoop wraps an unknown host, which may be a passing outage, in this type)
        || e instanceof IllegalArgumentException && !(e.getCause() instanceof IOException)
        || e instanceof dev.forja.storage.OutputGuard.OutputExistsException
        || e instanceof picocli.CommandLine.ParameterException;
  }

  /** A stage that failed on its settings or input: not retried, exit code 2. */
  static final class StageRefused extends IllegalArgumentException {
    StageRefused(String message) {
      super(message);
    }
  }

  private void record(Stage s, Map<String, URI> up, double seconds) throws IOException {
    ObjectNode r = JSON.createObjectNode();
    r.put("stage", s.name());
    r.put("fingerprint", s.fingerprint());
    r.put("output", s.output().toString());
    r.set("command", JSON.valueToTree(s.args()));
    r.set("configuration", JSON.valueToTree(s.configuration()));
    ObjectNode inputs = r.putObject("inputs");
    up.forEach(
        (k, v) -> {
          String u = v.toString().replaceAll("/+$", "");
          if (!k.equals(s.name()) && s.args().stream().anyMatch(a -> a.startsWith(u))) {
            inputs.put(k, v.toString());
          }
        });
    r.put("seconds", seconds);
    r.put("finished", Instant.now().toString());
    r.put("forja_version", BuildInfo.forjaVersion());
    r.put("git_commit", BuildInfo.gitCommit());
    if (CommitManifest.read(storage, s.output()).isPresent()) {
      r.put("manifest", Storage.resolve(s.output(), CommitManifest.FILE_NAME).toString());
    }
    storage.writeString(recordUri(s), JSON.writeValueAsString(r), true);
  }

  // ---- promotion ----

  private void promote(Stage s, Map<String, URI> up) throws IOException {
    URI evalOut = URI.create(need(up, "eval"));
    JsonNode results = JSON.readTree(storage.readString(Storage.resolve(evalOut, "results.json")));
    List<URI> lineage = new ArrayList<>();
    for (Map.Entry<String, URI> e : up.entrySet()) {
      if (!e.getKey().equals("promote")) {
        lineage.add(e.getValue());
      }
    }
    Registry.decide(
        storage,
        registry,
        s.output(),
        URI.create(candidate(up)),
        up.get("export"),
        results,
        pc.gate(),
        stageRecords(up),
        out);
  }

  /** The records of the stages that led here, in order. */
  private ArrayNode stageRecords(Map<String, URI> up) throws IOException {
    ArrayNode a = JSON.createArrayNode();
    URI dir = Storage.resolve(work, "stages");
    for (Map.Entry<String, URI> e : up.entrySet()) {
      String last = e.getValue().getPath();
      last = last.replaceAll("/+$", "");
      String base = last.substring(last.lastIndexOf('/') + 1);
      URI rec = Storage.resolve(dir, base + ".json");
      if (storage.exists(rec)) {
        a.add(JSON.readTree(storage.readString(rec)));
      }
    }
    return a;
  }

  static String sha256(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
