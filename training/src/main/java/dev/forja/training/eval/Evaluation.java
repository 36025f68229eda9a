package dev.forja.training.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.eval.Bleu;
import dev.forja.eval.Chrf;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Runs a suite on models: each task's examples through each model, in the driver or spread over
 * Spark executors (each task of the job borrows one loaded model per JVM slot, {@link
 * EvalModel#borrow}), then the per-example records aggregated into metrics with bootstrap
 * intervals. Per-example work is deterministic and aggregation happens in the driver in example
 * order, so both ways give identical results.
 */
public final class Evaluation {
  /** One metric of one model on one task. */
  public record Metric(
      String model,
      String task,
      String type,
      String metric,
      double value,
      Double ciLow,
      Double ciHigh,
      long n,
      boolean higherIsBetter) {}

  /** What a model is: for the reports' size and context columns. */
  public record ModelInfo(
      String name,
      String source,
      String architecture,
      long parameters,
      long diskBytes,
      long memoryBytes,
      long kvCacheBytes,
      int contextLength) {}

  /** A task's outcome on one model. */
  public record TaskRun(
      String model,
      EvalSuite.Task task,
      List<String> examples,
      Map<String, Long> problems,
      List<Examples.Problem> setAside,
      double seconds,
      String where) {}

  /** Everything a run produced. */
  public record Result(
      EvalSuite suite, List<ModelInfo> models, List<TaskRun> runs, List<Metric> metrics) {}

  private final Storage storage;
  private final EvalSuite suite;
  private final java.util.function.Supplier<SparkSession> spark;
  private final PrintWriter log;

  /**
   * @param spark gives the session for tasks that run on Spark (called when the first one does), or
   *     null: everything in the driver
   */
  public Evaluation(
      Storage storage,
      EvalSuite suite,
      java.util.function.Supplier<SparkSession> spark,
      PrintWriter log) {
    this.storage = storage;
    this.suite = suite;
    this.spark = spark;
    this.log = log;
  }

  /** Whether a task of {@code n} examples goes to Spark. */
  public static boolean onSpark(EvalSuite suite, long n) {
    return switch (suite.runOn()) {
      case SPARK -> true;
      case DRIVER -> false;
      case AUTO -> n >= suite.sparkThreshold();
    };
  }

  /** The suite's data, read and checked once; examples set aside are counted. */
  public Map<String, Examples.Read> readData() throws IOException {
    Map<String, Examples.Read> data = new LinkedHashMap<>();
    for (EvalSuite.Task t : suite.tasks()) {
      if (t.type() != EvalSuite.Type.LATENCY) {
        Examples.Read r = Examples.read(storage, t);
        data.put(t.name(), r);
        log.printf(
            Locale.ROOT,
            "task %s (%s): %,d examples%s%n",
            t.name(),
            t.type().key(),
            r.items().size(),
            r.problems().isEmpty() ? "" : ", set aside " + r.counts());
        log.flush();
      }
    }
    return data;
  }

  /** Every task on every model named. */
  public Result run(List<EvalModel.Spec> specs) throws IOException {
    Map<String, Examples.Read> data = readData();
    List<ModelInfo> infos = new ArrayList<>();
    List<TaskRun> runs = new ArrayList<>();
    List<Metric> metrics = new ArrayList<>();
    for (EvalModel.Spec spec : specs) {
      EvalModel m = EvalModel.borrow(storage, spec);
      try {
        evaluate(m, spec, data, true, infos, runs, metrics);
      } finally {
        EvalModel.release(spec, m);
      }
    }
    log.flush();
    return new Result(suite, infos, runs, metrics);
  }

  /**
   * The tasks on a model in memory (a training run's), in the driver; latency tasks are left out
   * (timings beside a training loop mean little).
   */
  public Result runInDriver(EvalModel m, Map<String, Examples.Read> data) throws IOException {
    List<ModelInfo> infos = new ArrayList<>();
    List<TaskRun> runs = new ArrayList<>();
    List<Metric> metrics = new ArrayList<>();
    evaluate(m, null, data, false, infos, runs, metrics);
    return new Result(suite, infos, runs, metrics);
  }

  /** {@code spec}: where executors load the model from, or null (the driver only). */
  private void evaluate(
      EvalModel m,
      EvalModel.Spec spec,
      Map<String, Examples.Read> data,
      boolean latency,
      List<ModelInfo> infos,
      List<TaskRun> runs,
      List<Metric> metrics)
      throws IOException {
    ModelInfo info = info(m);
    infos.add(info);
    log.printf(
        Locale.ROOT,
        "model %s: %s, %.1f M parameters, context %d (%s)%n",
        m.name(),
        info.architecture(),
        info.parameters() / 1e6,
        info.contextLength(),
        info.source());
    log.flush();
    for (EvalSuite.Task t : suite.tasks()) {
      long t0 = System.nanoTime();
      if (t.type() == EvalSuite.Type.LATENCY) {
        if (latency) {
          List<String> rows = Latency.measure(m, t);
          runs.add(
              new TaskRun(
                  m.name(),
                  t,
                  rows,
                  Map.of(),
                  List.of(),
                  (System.nanoTime() - t0) / 1e9,
                  "driver"));
          metrics.addAll(Latency.metrics(m.name(), t, rows, info));
        }
        continue;
      }
      Examples.Read r = data.get(t.name());
      if (r.tokenizerHash() != null && !r.tokenizerHash().equals(m.tokenizer().hash())) {
        throw new IllegalArgumentException(
            "task "
                + t.name()
                + ": its token shards were made with another tokenizer than "
                + m.name()
                + "'s, so their ids would mean other text to it: give the task a text or"
                + " JSONL file instead");
      }
      boolean spark = spec != null && this.spark != null && onSpark(suite, r.items().size());
      List<String> out = spark ? onSpark(spec, t, r.items()) : inDriver(m, m.name(), t, r.items());
      double s = (System.nanoTime() - t0) / 1e9;
      Map<String, Long> problems = new LinkedHashMap<>(r.counts());
      for (String line : out) {
        JsonNode n = TaskEval.JSON.readTree(line);
        if (n.has("skipped")) {
          problems.merge(n.get("skipped").asText(), 1L, Long::sum);
        } else if (n.has("truncated")) {
          problems.merge("prompt-truncated", 1L, Long::sum);
        }
      }
      TaskRun run =
          new TaskRun(m.name(), t, out, problems, r.problems(), s, spark ? "spark" : "driver");
      runs.add(run);
      List<Metric> ms = aggregate(run);
      metrics.addAll(ms);
      log.printf(
          Locale.ROOT,
          "  %s: %s in %.1f s (%.2f examples/s, %s)%s%n",
          t.name(),
          summary(ms),
          s,
          r.items().size() / Math.max(s, 1e-9),
          run.where(),
          problems.isEmpty() ? "" : "; " + problems);
      log.flush();
    }
  }

  private static String summary(List<Metric> ms) {
    StringBuilder b = new StringBuilder();
    for (Metric m : ms) {
      if (m.metric().endsWith("_precision") || m.metric().endsWith("_recall")) {
        continue;
      }
      if (b.length() > 0) {
        b.append(", ");
      }
      b.append(m.metric()).append(' ').append(String.format(Locale.ROOT, "%.4g", m.value()));
    }
    return b.toString();
  }

  static ModelInfo info(EvalModel m) {
    return new ModelInfo(
        m.name(),
        m.source(),
        dev.forja.training.gguf.GgufExport.architecture(m.config()),
        m.parameterCount(),
        m.diskBytes(),
        m.memoryBytes(),
        m.kvCacheBytes(),
        m.config().contextLength());
  }

  private List<String> inDriver(
      EvalModel m, String name, EvalSuite.Task t, List<Examples.Item> items) {
    List<String> out = new ArrayList<>(items.size());
    long t0 = System.nanoTime();
    long last = t0;
    for (Examples.Item item : items) {
      out.add(TaskEval.run(m, t, suite.overflow(), item));
      long now = System.nanoTime();
      if (now - last > 10_000_000_000L) {
        last = now;
        double rate = out.size() / ((now - t0) / 1e9);
        log.printf(
            Locale.ROOT,
            "  %s on %s: %,d/%,d examples, %.2f/s, ETA %.0f s%n",
            t.name(),
            name,
            out.size(),
            items.size(),
            rate,
            (items.size() - out.size()) / rate);
        log.flush();
      }
    }
    return out;
  }

  /** The examples spread over executors; records come back in example order. */
  private List<String> onSpark(EvalModel.Spec spec, EvalSuite.Task t, List<Examples.Item> items) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.get().sparkContext());
    int slices = Math.max(1, Math.min(items.size(), jsc.defaultParallelism() * 4));
    StorageConfig sc = storage.config();
    EvalSuite.Overflow overflow = suite.overflow();
    List<String> out =
        new ArrayList<>(
            jsc.parallelize(items, slices)
                .mapPartitions(
                    (Iterator<Examples.Item> it) -> {
                      EvalModel m = EvalModel.borrow(new Storage(sc), spec);
                      List<String> rows = new ArrayList<>();
                      try {
                        while (it.hasNext()) {
                          rows.add(TaskEval.run(m, t, overflow, it.next()));
                        }
                      } finally {
                        EvalModel.release(spec, m);
                      }
                      return rows.iterator();
                    })
                .collect());
    out.sort(
        java.util.Comparator.comparingInt(
            s -> {
              try {
                return TaskEval.JSON.readTree(s).get("index").asInt();
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            }));
    return out;
  }

  // ---- aggregation ----

  /** The task's metrics over its scored examples, with percentile bootstrap intervals (95%). */
  List<Metric> aggregate(TaskRun run) throws IOException {
    List<JsonNode> rows = new ArrayList<>();
    for (String s : run.examples()) {
      JsonNode n = TaskEval.JSON.readTree(s);
      if (!n.has("skipped")) {
        rows.add(n);
      }
    }
    EvalSuite.Task t = run.task();
    String type = t.type().key();
    List<Metric> out = new ArrayList<>();
    int n = rows.size();
    if (n == 0) {
      return out;
    }
    switch (t.type()) {
      case PERPLEXITY -> {
        double[] nll = rows.stream().mapToDouble(r -> r.get("nll").asDouble()).toArray();
        double[] tok = rows.stream().mapToDouble(r -> r.get("tokens").asDouble()).toArray();
        double[] bytes = rows.stream().mapToDouble(r -> r.get("bytes").asDouble()).toArray();
        out.add(metric(run, type, "perplexity", n, false, idx -> Math.exp(ratio(nll, tok, idx))));
        out.add(
            metric(
                run, type, "bits_per_byte", n, false, idx -> ratio(nll, bytes, idx) / Math.log(2)));
        out.add(metric(run, type, "nll_per_token", n, false, idx -> ratio(nll, tok, idx)));
      }
      case MULTIPLE_CHOICE -> {
        for (String k : List.of("acc", "acc_norm")) {
          double[] v = rows.stream().mapToDouble(r -> r.get("scores").get(k).asDouble()).toArray();
          out.add(metric(run, type, k, n, true, idx -> mean(v, idx)));
        }
      }
      case GENERATION -> {
        JsonNode first = rows.get(0);
        int nrefs = 0;
        for (JsonNode r : rows) {
          nrefs = Math.max(nrefs, r.get("references").size());
        }
        if (first.get("stats").has("bleu")) {
          List<Bleu.Stats> st =
              rows.stream().map(r -> TaskEval.bleuStats(r.get("stats").get("bleu"))).toList();
          int refs = nrefs;
          out.add(
              metric(run, type, "bleu", n, true, idx -> Bleu.corpus(pick(st, idx), refs).score()));
        }
        if (first.get("stats").has("chrf")) {
          List<long[]> st = new ArrayList<>();
          for (JsonNode r : rows) {
            JsonNode a = r.get("stats").get("chrf");
            long[] v = new long[a.size()];
            for (int i = 0; i < v.length; i++) {
              v[i] = a.get(i).asLong();
            }
            st.add(v);
          }
          out.add(metric(run, type, "chrf", n, true, idx -> Chrf.corpus(pick(st, idx))));
        }
        for (Iterator<String> it = first.get("scores").fieldNames(); it.hasNext(); ) {
          String k = it.next();
          if (k.equals("bleu") || k.equals("chrf")) {
            continue; // corpus scores above; sentence scores stay per example
          }
          double[] v = rows.stream().mapToDouble(r -> r.get("scores").get(k).asDouble()).toArray();
          out.add(metric(run, type, k, n, true, idx -> mean(v, idx)));
        }
        double[] len =
            rows.stream().mapToDouble(r -> r.get("generated_tokens").asDouble()).toArray();
        out.add(
            new Metric(
                run.model(),
                t.name(),
                type,
                "generated_tokens_mean",
                mean(len, null),
                null,
                null,
                n,
                false));
      }
      case LATENCY -> {}
    }
    return out;
  }

  private Metric metric(
      TaskRun run,
      String type,
      String name,
      int n,
      boolean higher,
      ToDoubleFunction<int[]> statistic) {
    double value = statistic.applyAsDouble(null);
    Double lo = null;
    Double hi = null;
    if (suite.bootstrap() > 0 && n > 1) {
      double[] samples = new double[suite.bootstrap()];
      SplittableRandom rng =
          new SplittableRandom(suite.seed() ^ (run.task().name() + "/" + name).hashCode());
      int[] idx = new int[n];
      for (int b = 0; b < samples.length; b++) {
        for (int i = 0; i < n; i++) {
          idx[i] = rng.nextInt(n);
        }
        samples[b] = statistic.applyAsDouble(idx);
      }
      Arrays.sort(samples);
      lo = samples[(int) Math.floor(0.025 * (samples.length - 1))];
      hi = samples[(int) Math.ceil(0.975 * (samples.length - 1))];
    }
    return new Metric(run.model(), run.task().name(), type, name, value, lo, hi, n, higher);
  }

  /** {@code sum(a) / sum(b)} over all rows (idx null) or a resample. */
  private static double ratio(double[] a, double[] b, int[] idx) {
    double x = 0;
    double y = 0;
    int n = idx == null ? a.length : idx.length;
    for (int i = 0; i < n; i++) {
      int k = idx == null ? i : idx[i];
      x += a[k];
      y += b[k];
    }
    return x / Math.max(y, 1e-300);
  }

  private static double mean(double[] v, int[] idx) {
    double s = 0;
    int n = idx == null ? v.length : idx.length;
    for (int i = 0; i < n; i++) {
      s += v[idx == null ? i : idx[i]];
    }
    return s / n;
  }

  private static <T> List<T> pick(List<T> all, int[] idx) {
    if (idx == null) {
      return all;
    }
    List<T> out = new ArrayList<>(idx.length);
    for (int i : idx) {
      out.add(all.get(i));
    }
    return out;
  }

  /** A record's fields for the per-example file: the model and task first. */
  static ObjectNode withContext(String model, String task, String row) throws IOException {
    ObjectNode o = TaskEval.JSON.createObjectNode();
    o.put("model", model);
    o.put("task", task);
    o.setAll((ObjectNode) TaskEval.JSON.readTree(row));
    return o;
  }
}
