package dev.forja.training.eval;

import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.ChatTemplate;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.generate.Generator;
import dev.forja.training.hf.HfModel;
import dev.forja.training.hf.LoraCheckpoints;
import dev.forja.training.model.Architecture;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.LossPass;
import dev.forja.training.model.ModelConfig;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A model under evaluation: its weights (a LoRA adapter merged), tokenizer, special tokens and chat
 * template, and the two things evaluation asks of it: the summed log-likelihood of target tokens
 * after a context (the training loss pass, so graph and kernels give the figures training reports)
 * and greedy generation (the key/value-cache {@link Generator}). An instance is used by one thread
 * at a time; {@link #borrow} keeps one per concurrent task in each JVM, loaded once.
 */
public final class EvalModel {
  /**
   * Which model: a name for the reports, a URI (checkpoint, run directory, Forja-imported or
   * Hugging Face model directory), a LoRA adapter to apply, and which checkpoint of a run.
   */
  public record Spec(String name, String uri, String adapter, String select)
      implements Serializable {
    /**
     * Parses {@code [NAME=]URI[,adapter=URI][,select=best|latest|step-N]}; a run directory's best
     * checkpoint by default.
     */
    public static Spec parse(String text) {
      String name = null;
      String rest = text;
      int eq = text.indexOf('=');
      int colon = text.indexOf(':');
      int comma = text.indexOf(',');
      if (eq > 0
          && (colon < 0 || eq < colon)
          && (comma < 0 || eq < comma)
          && text.substring(0, eq).matches("[A-Za-z0-9._-]+")) {
        name = text.substring(0, eq);
        rest = text.substring(eq + 1);
      }
      String[] parts = rest.split(",");
      String uri = parts[0];
      String adapter = null;
      String select = "best";
      for (int i = 1; i < parts.length; i++) {
        if (parts[i].startsWith("adapter=")) {
          adapter = parts[i].substring(8);
        } else if (parts[i].startsWith("select=")) {
          select = parts[i].substring(7);
        } else {
          throw new IllegalArgumentException(
              "--model "
                  + text
                  + ": '"
                  + parts[i]
                  + "' is not adapter=URI or select=best|latest|step-N (the form is"
                  + " [NAME=]URI[,adapter=URI][,select=...])");
        }
      }
      if (uri.isBlank()) {
        throw new IllegalArgumentException("--model " + text + ": give the model's URI");
      }
      if (name == null) {
        String p = uri.replaceAll("/+$", "");
        name = p.substring(p.lastIndexOf('/') + 1);
        if (adapter != null) {
          String a = adapter.replaceAll("/+$", "");
          name += "+" + a.substring(a.lastIndexOf('/') + 1);
        }
      }
      return new Spec(name, uri, adapter, select);
    }
  }

  private static final int MIN_BUCKET = 32;
  private static final Map<String, ConcurrentLinkedQueue<EvalModel>> POOL =
      new ConcurrentHashMap<>();

  private final String name;
  private final ModelConfig config;
  private final Map<String, INDArray> weights;
  private final BpeTokenizer tokenizer;
  private final HfModel.Specials specials;
  private final long diskBytes;
  private final String source;
  private final Map<Integer, GptModel> byLength = new HashMap<>();
  private Generator generator;

  public EvalModel(
      String name,
      ModelConfig config,
      Map<String, INDArray> weights,
      BpeTokenizer tokenizer,
      HfModel.Specials specials,
      long diskBytes,
      String source) {
    if (config.objective() != ModelConfig.Objective.CAUSAL) {
      throw new IllegalArgumentException(
          name + " was trained with model.objective=masked: evaluation scores causal models");
    }
    this.name = name;
    this.config = config;
    this.weights = weights;
    this.tokenizer = tokenizer;
    this.specials = specials;
    this.diskBytes = diskBytes;
    this.source = source;
  }

  /** Reads the model {@code spec} names. */
  public static EvalModel load(Storage storage, Spec spec) throws IOException {
    URI uri = URI.create(spec.uri());
    String where = "--model " + spec.name();
    boolean hf =
        CommitManifest.read(storage, uri).map(m -> HfModel.KIND.equals(m.kind())).orElse(false)
            || (CommitManifest.read(storage, uri).isEmpty()
                && storage.exists(Storage.resolve(uri, HfModel.CONFIG)));
    CheckpointStore.Loaded ck;
    if (hf) {
      HfModel.Read r = HfModel.read(storage, uri);
      ck =
          new CheckpointStore.Loaded(
              uri,
              dev.forja.training.train.TrainState.start(0),
              r.weights(),
              new java.util.LinkedHashMap<>(),
              r.model(),
              dev.forja.training.train.TrainConfig.defaults(),
              r.tokenizerJson(),
              r.carried());
    } else {
      String select = spec.select();
      if (select.equals("best")) { // a checkpoint is itself; a run: its best where it kept it
        select = "latest";
        if (CommitManifest.read(storage, uri).isEmpty()) {
          long best = CheckpointStore.loadAny(storage, uri, where).state().bestStep();
          try (CheckpointStore s = new CheckpointStore(storage, uri, System.err)) {
            if (best >= 0 && s.committedSteps().contains(best)) {
              select = "best";
            }
          }
        }
      }
      ck = CheckpointStore.select(storage, uri, select, where);
    }
    long bytes = sizeOf(storage, ck.dir());
    if (LoraCheckpoints.isLora(ck)) { // serving it takes the base as well
      bytes += sizeOf(storage, checkpointDir(storage, LoraCheckpoints.Base.of(ck.carried()).uri()));
    }
    ck = LoraCheckpoints.materialize(storage, ck);
    Map<String, INDArray> w = ck.weights();
    String source = ck.dir().toString();
    if (spec.adapter() != null) {
      URI a = URI.create(spec.adapter());
      w = LoraCheckpoints.applyTo(ck, LoraCheckpoints.readAdapter(storage, a, ck, where), where);
      source += " + " + a;
      bytes += sizeOf(storage, a);
    }
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), ck.dir() + "");
    return new EvalModel(
        spec.name(), ck.model(), w, tok, HfModel.Specials.of(tok, ck.carried()), bytes, source);
  }

  /** A committed checkpoint directory, or a run directory's newest committed checkpoint. */
  private static URI checkpointDir(Storage storage, String uri) throws IOException {
    URI u = URI.create(uri);
    if (CommitManifest.read(storage, u).isPresent()) {
      return u;
    }
    try (CheckpointStore s = new CheckpointStore(storage, u, System.err)) {
      List<Long> steps = s.committedSteps();
      return steps.isEmpty()
          ? u
          : Storage.resolve(
              Storage.resolve(u, CheckpointStore.DIR),
              CheckpointStore.dirName(steps.get(steps.size() - 1)));
    }
  }

  /** The weight files' bytes in a model or checkpoint directory (safetensors). */
  private static long sizeOf(Storage storage, URI dir) throws IOException {
    long total = 0;
    for (Storage.Entry e : storage.listFiles(dir)) {
      if (e.uri().getPath().endsWith(".safetensors")
          && !e.uri().getPath().endsWith(CheckpointStore.OPTIMIZER)) {
        total += e.size();
      }
    }
    return total;
  }

  /**
   * A model of {@code spec} for this thread's use, loaded in this JVM once per concurrent user;
   * give it back with {@link #release}.
   */
  public static EvalModel borrow(Storage storage, Spec spec) throws IOException {
    EvalModel m = POOL.computeIfAbsent(key(spec), k -> new ConcurrentLinkedQueue<>()).poll();
    return m != null ? m : load(storage, spec);
  }

  public static void release(Spec spec, EvalModel m) {
    POOL.computeIfAbsent(key(spec), k -> new ConcurrentLinkedQueue<>()).add(m);
  }

  private static String key(Spec s) {
    return s.name() + "|" + s.uri() + "|" + s.adapter() + "|" + s.select();
  }

  public String name() {
    return name;
  }

  public ModelConfig config() {
    return config;
  }

  public BpeTokenizer tokenizer() {
    return tokenizer;
  }

  public HfModel.Specials specials() {
    return specials;
  }

  public String source() {
    return source;
  }

  /** Bytes of the weight files on disk (the adapter's added). */
  public long diskBytes() {
    return diskBytes;
  }

  /** Parameters (a tied head counted once). */
  public long parameterCount() {
    long total = 0;
    for (INDArray a : weights.values()) {
      total += a.length();
    }
    return total;
  }

  /** Bytes of the weights in memory. */
  public long memoryBytes() {
    long total = 0;
    for (INDArray a : weights.values()) {
      total += a.length() * a.dataType().width();
    }
    return total;
  }

  /** Bytes of a full-context key/value cache in fp32. */
  public long kvCacheBytes() {
    Architecture.SelfAttention at = Architecture.of(config).layers().get(0).attention();
    return 2L * config.layers() * config.contextLength() * at.kvHeads() * at.headDim() * 4;
  }

  /** The chat template, where the model has one and the task wants it. */
  public Optional<ChatTemplate> chatTemplate() {
    if (specials.chatTemplate() == null) {
      return Optional.empty();
    }
    Map<String, String> tokens = new HashMap<>();
    if (specials.bos() != null) {
      tokens.put("bos_token", tokenizer.tokenText(specials.bos()));
    }
    if (specials.eos() != null) {
      tokens.put("eos_token", tokenizer.tokenText(specials.eos()));
    }
    return Optional.of(new ChatTemplate(specials.chatTemplate(), tokens));
  }

  /**
   * The token that stands before a text when nothing else does (lm-evaluation-harness's prefix
   * token): the beginning-of-sequence token, else the end-of-text token; -1 if neither.
   */
  public int prefixToken() {
    return specials.bos() != null ? specials.bos() : specials.eos() != null ? specials.eos() : -1;
  }

  /**
   * The summed natural-log likelihood of {@code ids[from..]}, each token given every token before
   * it ({@code from} at least 1; {@code ids} no longer than the context plus one).
   */
  public double logLikelihood(int[] ids, int from) {
    if (from < 1 || from > ids.length) {
      throw new IllegalArgumentException("score from 1 to " + ids.length + ", got " + from);
    }
    int n = ids.length - 1; // input positions
    if (n > config.contextLength()) {
      throw new IllegalArgumentException(
          ids.length + " tokens exceed the context (" + config.contextLength() + ") plus one");
    }
    if (from == ids.length) {
      return 0;
    }
    int length = bucket(n);
    int[] in = new int[length];
    int[] targets = new int[length];
    Arrays.fill(targets, -1);
    System.arraycopy(ids, 0, in, 0, n);
    for (int j = from - 1; j < n; j++) {
      targets[j] = ids[j + 1];
    }
    LossPass pass = model(length).pass(GptModel.Engine.AUTO);
    return -pass.loss(in, targets, null, 1.0);
  }

  /** The smallest power of two (at least {@value #MIN_BUCKET}) that holds n, capped at context. */
  private int bucket(int n) {
    int b = MIN_BUCKET;
    while (b < n) {
      b *= 2;
    }
    return Math.min(b, config.contextLength());
  }

  /** A graph of one row of {@code length} positions whose parameters are this model's arrays. */
  private GptModel model(int length) {
    return byLength.computeIfAbsent(
        length,
        l -> {
          GptModel m = GptModel.build(config, 1, l, DataType.FLOAT, 0);
          for (Map.Entry<String, INDArray> e : m.weights().entrySet()) {
            INDArray mine = weights.get(e.getKey());
            if (mine == null) {
              throw new IllegalArgumentException(name + " has no weight " + e.getKey());
            }
            m.sameDiff().getVariable(e.getKey()).setArray(mine.castTo(DataType.FLOAT));
          }
          return m;
        });
  }

  /** The key/value-cache decoder over this model's weights. */
  public Generator generator() {
    if (generator == null) {
      generator = new Generator(config, weights);
    }
    return generator;
  }
}
