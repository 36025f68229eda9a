package dev.forja.training.checkpoint;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageException;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import dev.forja.training.train.TrainState;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Checkpoints of a run on any Hadoop URI. Format version 1: {@code RUN/checkpoints/step-NNNNNNNN/}
 * holds {@code model.safetensors} (Hugging Face GPT-2 names), {@code optimizer.safetensors} ({@code
 * exp_avg.NAME}, {@code exp_avg_sq.NAME}), {@code trainer-state.json}, {@code model-config.json},
 * {@code train-config.json} and {@code tokenizer.json}; {@code _MANIFEST.json} with every file's
 * size and SHA-256 is written last and is the commit. A directory without it is a crash mid-write
 * and is never read.
 *
 * <p>Writing: {@link #snapshot} copies the arrays on the training thread (a memory copy), then
 * {@link #writeAsync} writes on a background thread; the next write waits for the previous one.
 * After each commit the store keeps the newest {@code train.keep-checkpoints} and the best. Loading
 * verifies sizes and checksums and falls back to the previous committed checkpoint, with a warning,
 * when the newest is damaged.
 */
public final class CheckpointStore implements AutoCloseable {
  public static final String DIR = "checkpoints";
  public static final String KIND = "forja-checkpoint";
  public static final int FORMAT_VERSION = 1;
  public static final String MODEL = "model.safetensors";
  public static final String OPTIMIZER = "optimizer.safetensors";
  public static final String STATE = "trainer-state.json";
  public static final String MODEL_CONFIG = "model-config.json";

  /**
   * The version of {@code model-config.json}: 1 (no version field) GPT-2 only, 2 adds the Llama
   * family ({@code llama}). Files of version 1 still load.
   */
  public static final int MODEL_CONFIG_VERSION = 2;

  static final String MODEL_CONFIG_VERSION_FIELD = "format_version";
  public static final String TRAIN_CONFIG = "train-config.json";
  public static final String TOKENIZER = "tokenizer.json";

  static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /**
   * Files a checkpoint carries verbatim for the model it came from, so that an export gives them
   * back: the chat template and special tokens ({@code tokenizer_config.json}) and the generation
   * defaults ({@code generation_config.json}) of an imported model.
   */
  public static final List<String> CARRIED =
      List.of("tokenizer_config.json", "generation_config.json", CheckpointStore.LORA_BASE);

  /**
   * In a LoRA run's checkpoints (which hold the adapter, not the base): the frozen base's URI and
   * the SHA-256 of its weights, checked when the run resumes or the adapter is applied.
   */
  public static final String LORA_BASE = "lora-base.json";

  /**
   * What a checkpoint holds, detached from the live training arrays; {@code carried}: the {@link
   * #CARRIED} files it has, by name.
   */
  public record Snapshot(
      TrainState state,
      LinkedHashMap<String, INDArray> weights,
      LinkedHashMap<String, INDArray> optimizer,
      ModelConfig model,
      TrainConfig train,
      String tokenizerJson,
      Map<String, String> carried) {
    public Snapshot(
        TrainState state,
        LinkedHashMap<String, INDArray> weights,
        LinkedHashMap<String, INDArray> optimizer,
        ModelConfig model,
        TrainConfig train,
        String tokenizerJson) {
      this(state, weights, optimizer, model, train, tokenizerJson, Map.of());
    }
  }

  /** A checkpoint read back. */
  public record Loaded(
      URI dir,
      TrainState state,
      LinkedHashMap<String, INDArray> weights,
      LinkedHashMap<String, INDArray> optimizer,
      ModelConfig model,
      TrainConfig train,
      String tokenizerJson,
      Map<String, String> carried) {
    /** This checkpoint with other weights and carried files (an adapter merged in, say). */
    public Loaded with(LinkedHashMap<String, INDArray> otherWeights, Map<String, String> files) {
      return new Loaded(dir, state, otherWeights, optimizer, model, train, tokenizerJson, files);
    }
  }

  private final Storage storage;
  private final URI root;
  private final PrintStream log;
  private final ExecutorService writer =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "forja-checkpoint-writer");
            t.setDaemon(true);
            return t;
          });
  private Future<URI> pending;

  public CheckpointStore(Storage storage, URI runDir, PrintStream log) {
    this.storage = storage;
    this.root = Storage.resolve(runDir, DIR);
    this.log = log;
  }

  public URI root() {
    return root;
  }

  public static String dirName(long step) {
    return String.format("step-%08d", step);
  }

  /** Copies the arrays, so that training can go on while the copy is written. */
  public static Snapshot snapshot(
      TrainState state,
      Map<String, INDArray> weights,
      Map<String, INDArray> optimizer,
      ModelConfig model,
      TrainConfig train,
      String tokenizerJson) {
    return snapshot(state, weights, optimizer, model, train, tokenizerJson, Map.of());
  }

  /** As above, with the {@link #CARRIED} files. */
  public static Snapshot snapshot(
      TrainState state,
      Map<String, INDArray> weights,
      Map<String, INDArray> optimizer,
      ModelConfig model,
      TrainConfig train,
      String tokenizerJson,
      Map<String, String> carried) {
    LinkedHashMap<String, INDArray> w = new LinkedHashMap<>();
    weights.forEach((k, v) -> w.put(k, v.dup('c')));
    LinkedHashMap<String, INDArray> o = new LinkedHashMap<>();
    optimizer.forEach((k, v) -> o.put(k, v.dup('c')));
    return new Snapshot(state, w, o, model, train, tokenizerJson, carried);
  }

  /**
   * Writes {@code s} in the background after any previous write has finished; then prunes to the
   * newest {@code keep} plus the best. Failures surface from the next {@link #await}.
   */
  public synchronized void writeAsync(Snapshot s, int keep) {
    await();
    pending =
        writer.submit(
            () -> {
              URI dir = write(s);
              prune(keep, s.state().bestStep());
              return dir;
            });
  }

  /** Waits for the background write; rethrows its failure. */
  public synchronized Optional<URI> await() {
    if (pending == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(pending.get());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while writing a checkpoint", e);
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable c = e.getCause();
      throw c instanceof RuntimeException r
          ? r
          : new UncheckedIOException(
              "writing a checkpoint failed: " + c.getMessage(),
              c instanceof IOException io ? io : new IOException(c));
    } finally {
      pending = null;
    }
  }

  /** Writes and commits a checkpoint now; returns its directory. */
  public URI write(Snapshot s) throws IOException {
    return writeTo(storage, Storage.resolve(root, dirName(s.state().step())), s);
  }

  /**
   * Writes and commits {@code s} as the checkpoint directory {@code dir} (outside any run: what
   * {@code forja model import} writes); returns {@code dir}.
   */
  public static URI writeTo(Storage storage, URI dir, Snapshot s) throws IOException {
    if (storage.exists(dir)) {
      storage.delete(dir, true); // an uncommitted leftover, or a checkpoint being redone
    }
    storage.mkdirs(dir);
    List<CommitManifest.FileRecord> files = new ArrayList<>();
    Map<String, String> meta = Map.of("format", "pt", "forja_step", "" + s.state().step());
    files.add(writeFile(storage, dir, MODEL, out -> SafeTensors.write(out, s.weights(), meta)));
    files.add(
        writeFile(storage, dir, OPTIMIZER, out -> SafeTensors.write(out, s.optimizer(), meta)));
    files.add(writeFile(storage, dir, STATE, out -> JSON.writeValue(out, s.state())));
    files.add(
        writeFile(
            storage, dir, MODEL_CONFIG, out -> JSON.writeValue(out, modelConfigJson(s.model()))));
    files.add(writeFile(storage, dir, TRAIN_CONFIG, out -> JSON.writeValue(out, s.train())));
    files.add(
        writeFile(
            storage,
            dir,
            TOKENIZER,
            out -> out.write(s.tokenizerJson().getBytes(StandardCharsets.UTF_8))));
    for (Map.Entry<String, String> e : new java.util.TreeMap<>(s.carried()).entrySet()) {
      if (!CARRIED.contains(e.getKey())) {
        throw new IllegalArgumentException("a checkpoint does not carry " + e.getKey());
      }
      files.add(
          writeFile(
              storage,
              dir,
              e.getKey(),
              out -> out.write(e.getValue().getBytes(StandardCharsets.UTF_8))));
    }
    files.add(
        writeFile(
            storage,
            dir,
            CommitManifest.README,
            out -> out.write(readme(s.state().step()).getBytes(StandardCharsets.UTF_8))));
    Map<String, String> props = new TreeMap<>();
    props.put("step", Long.toString(s.state().step()));
    props.put("checkpoint_format_version", Integer.toString(FORMAT_VERSION));
    CommitManifest m =
        new CommitManifest(
            CommitManifest.FORMAT_VERSION, KIND, Instant.now().toString(), props, files);
    storage.writeString(Storage.resolve(dir, CommitManifest.FILE_NAME), m.toJson(), false);
    return dir;
  }

  /** {@code model-config.json}: the architecture with its format version first. */
  static com.fasterxml.jackson.databind.node.ObjectNode modelConfigJson(ModelConfig c) {
    com.fasterxml.jackson.databind.node.ObjectNode n = JSON.createObjectNode();
    n.put(MODEL_CONFIG_VERSION_FIELD, MODEL_CONFIG_VERSION);
    n.setAll((com.fasterxml.jackson.databind.node.ObjectNode) JSON.valueToTree(c));
    return n;
  }

  /** Reads {@code model-config.json} of any version up to {@link #MODEL_CONFIG_VERSION}. */
  public static ModelConfig readModelConfig(String json, String where) throws IOException {
    com.fasterxml.jackson.databind.JsonNode n = JSON.readTree(json);
    int version = n.path(MODEL_CONFIG_VERSION_FIELD).asInt(1);
    if (version > MODEL_CONFIG_VERSION) {
      throw new StorageException(
          where
              + " has format version "
              + version
              + "; this Forja reads up to "
              + MODEL_CONFIG_VERSION
              + " (upgrade Forja)");
    }
    return JSON.treeToValue(n, ModelConfig.class);
  }

  /** A checkpoint directory's README.txt: what each file is. */
  static String readme(long step) {
    Map<String, String> contents = new java.util.LinkedHashMap<>();
    contents.put(MODEL, "the weights, fp32, with their Hugging Face names and layout");
    contents.put(OPTIMIZER, "AdamW's moments: exp_avg.NAME, exp_avg_sq.NAME");
    contents.put(
        STATE, "step, tokens seen, learning rate, seed, data cursor, best validation loss");
    contents.put(MODEL_CONFIG, "the architecture (model.*)");
    contents.put(TRAIN_CONFIG, "the training configuration (train.*)");
    contents.put(TOKENIZER, "the tokenizer, Hugging Face format");
    contents.put(
        String.join(", ", CARRIED),
        "where present: the imported model's chat template, special tokens and generation"
            + " defaults, given back by forja model export");
    return CommitManifest.readme(
        "A Forja checkpoint of step "
            + step
            + " (checkpoint format version "
            + FORMAT_VERSION
            + ").",
        contents);
  }

  private interface Body {
    void write(OutputStream out) throws IOException;
  }

  private static CommitManifest.FileRecord writeFile(
      Storage storage, URI dir, String name, Body body) throws IOException {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    long[] count = new long[1];
    try (OutputStream raw = storage.create(Storage.resolve(dir, name), true);
        OutputStream buffered = new java.io.BufferedOutputStream(raw, 1 << 20);
        DigestOutputStream digest = new DigestOutputStream(buffered, sha);
        OutputStream counting =
            new java.io.FilterOutputStream(digest) {
              @Override
              public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                count[0] += len;
              }

              @Override
              public void write(int b) throws IOException {
                out.write(b);
                count[0]++;
              }
            }) {
      body.write(counting);
    }
    return new CommitManifest.FileRecord(name, count[0], HexFormat.of().formatHex(sha.digest()));
  }

  /** Steps of the committed checkpoints, newest first (committed = readable manifest). */
  public List<Long> committedSteps() throws IOException {
    List<Long> steps = new ArrayList<>();
    if (!storage.exists(root)) {
      return steps;
    }
    for (Storage.Entry e : storage.list(root)) {
      String name = lastSegment(e.uri());
      if (e.directory() && name.matches("step-\\d{8,}")) {
        if (CommitManifest.read(storage, e.uri()).isPresent()) {
          steps.add(Long.parseLong(name.substring(5)));
        }
      }
    }
    steps.sort((a, b) -> Long.compare(b, a));
    return steps;
  }

  private static String lastSegment(URI uri) {
    String p = uri.getPath();
    if (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p.substring(p.lastIndexOf('/') + 1);
  }

  /** Deletes committed checkpoints beyond the newest {@code keep}, sparing {@code bestStep}. */
  void prune(int keep, long bestStep) throws IOException {
    List<Long> steps = committedSteps();
    for (int i = keep; i < steps.size(); i++) {
      if (steps.get(i) != bestStep) {
        storage.delete(Storage.resolve(root, dirName(steps.get(i))), true);
      }
    }
  }

  /**
   * The newest committed checkpoint that passes its checksums; a damaged one is skipped with a
   * warning naming the problem. Empty when the run has none.
   */
  public Optional<Loaded> loadLatest() throws IOException {
    List<Long> steps = committedSteps();
    for (long step : steps) {
      URI dir = Storage.resolve(root, dirName(step));
      try {
        return Optional.of(load(storage, dir));
      } catch (IOException | StorageException | UncheckedIOException e) {
        log.println(
            "WARNING: checkpoint "
                + dir
                + " is damaged ("
                + e.getMessage()
                + "); falling back to the previous committed checkpoint");
      }
    }
    return Optional.empty();
  }

  /**
   * A checkpoint of a run directory by {@code selector}: {@code latest} (the newest good one),
   * {@code best} (the one at the lowest validation loss, which pruning keeps), or {@code step-N}. A
   * committed checkpoint directory is itself whatever the selector (only {@code latest} applies).
   */
  public static Loaded select(Storage storage, URI uri, String selector, String option)
      throws IOException {
    if (selector.equals("latest")) {
      return loadAny(storage, uri, option);
    }
    if (CommitManifest.read(storage, uri).isPresent()) {
      throw new IllegalArgumentException(
          option
              + " "
              + uri
              + " is one checkpoint: --select "
              + selector
              + " picks among a run directory's checkpoints");
    }
    long step;
    if (selector.equals("best")) {
      Loaded latest = loadAny(storage, uri, option);
      if (latest.state().bestStep() < 0) {
        throw new IllegalArgumentException(
            "the run "
                + uri
                + " has no validation loss yet (train.eval-every): --select latest or step-N");
      }
      step = latest.state().bestStep();
    } else if (selector.matches("step-\\d+")) {
      step = Long.parseLong(selector.substring(5));
    } else {
      throw new IllegalArgumentException(
          "--select " + selector + " is not latest, best or step-N (e.g. step-2000)");
    }
    URI dir = Storage.resolve(Storage.resolve(uri, DIR), dirName(step));
    if (CommitManifest.read(storage, dir).isEmpty()) {
      List<Long> steps;
      try (CheckpointStore s = new CheckpointStore(storage, uri, System.err)) {
        steps = s.committedSteps();
      }
      throw new IllegalArgumentException(
          "the run " + uri + " has no committed checkpoint at step " + step + "; it has " + steps);
    }
    return load(storage, dir);
  }

  /**
   * A committed checkpoint directory, or the newest good checkpoint of a run directory; {@code
   * option} names where the URI came from in the error.
   */
  public static Loaded loadAny(Storage storage, URI uri, String option) throws IOException {
    if (CommitManifest.read(storage, uri).isPresent()) {
      return load(storage, uri);
    }
    try (CheckpointStore store = new CheckpointStore(storage, uri, System.err)) {
      return store
          .loadLatest()
          .orElseThrow(
              () ->
                  new IllegalArgumentException(
                      option
                          + " "
                          + uri
                          + " is neither a committed checkpoint nor a run directory with one"
                          + " (expected _MANIFEST.json, or checkpoints/step-*/)"));
    }
  }

  /**
   * The model configuration of a committed checkpoint, or of a run directory's newest one, read
   * alone (no weights): empty where there is none.
   */
  public static Optional<ModelConfig> modelConfigOf(Storage storage, URI uri) throws IOException {
    URI dir = uri;
    if (CommitManifest.read(storage, uri).isEmpty()) {
      try (CheckpointStore store =
          new CheckpointStore(storage, uri, new PrintStream(OutputStream.nullOutputStream()))) {
        List<Long> steps = store.committedSteps();
        if (steps.isEmpty()) {
          return Optional.empty();
        }
        dir = Storage.resolve(store.root(), dirName(steps.get(0)));
      }
    }
    URI file = Storage.resolve(dir, MODEL_CONFIG);
    return Optional.of(readModelConfig(storage.readString(file), file.toString()));
  }

  /** Reads one committed checkpoint, verifying every file's size and SHA-256 first. */
  public static Loaded load(Storage storage, URI dir) throws IOException {
    CommitManifest m =
        CommitManifest.read(storage, dir)
            .orElseThrow(
                () ->
                    new StorageException(
                        dir + " is not a committed checkpoint (no readable _MANIFEST.json)"));
    if (!KIND.equals(m.kind())) {
      throw new StorageException(dir + " holds a " + m.kind() + ", not a checkpoint");
    }
    m.verify(storage, dir, true);
    LinkedHashMap<String, INDArray> weights;
    try (InputStream in = storage.open(Storage.resolve(dir, MODEL))) {
      weights =
          SafeTensors.read(in, storage.size(Storage.resolve(dir, MODEL)), dir + "/" + MODEL)
              .tensors();
    }
    LinkedHashMap<String, INDArray> opt;
    try (InputStream in = storage.open(Storage.resolve(dir, OPTIMIZER))) {
      opt =
          SafeTensors.read(in, storage.size(Storage.resolve(dir, OPTIMIZER)), dir + "/" + OPTIMIZER)
              .tensors();
    }
    TrainState state =
        JSON.readValue(storage.readString(Storage.resolve(dir, STATE)), TrainState.class);
    ModelConfig model =
        readModelConfig(
            storage.readString(Storage.resolve(dir, MODEL_CONFIG)), dir + "/" + MODEL_CONFIG);
    TrainConfig train =
        JSON.readValue(storage.readString(Storage.resolve(dir, TRAIN_CONFIG)), TrainConfig.class);
    String tokenizer = storage.readString(Storage.resolve(dir, TOKENIZER));
    return new Loaded(dir, state, weights, opt, model, train, tokenizer, readCarried(storage, dir));
  }

  /**
   * The {@link #CARRIED} files that {@code dir} holds, by name (a checkpoint or a model directory).
   */
  public static Map<String, String> readCarried(Storage storage, URI dir) throws IOException {
    Map<String, String> carried = new LinkedHashMap<>();
    for (String name : CARRIED) {
      URI f = Storage.resolve(dir, name);
      if (storage.exists(f)) {
        carried.put(name, storage.readString(f));
      }
    }
    return carried;
  }

  @Override
  public void close() {
    try {
      await();
    } finally {
      writer.shutdown();
    }
  }
}
