package dev.forja.bench;

import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import dev.forja.prep.dedup.Deduplicator;
import dev.forja.prep.io.FileDocReader;
import dev.forja.prep.io.InputFile;
import dev.forja.prep.io.InputFormat;
import dev.forja.prep.stage.DocStage;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * Times each per-document step of {@code forja prep} on one thread, without Spark: reading, every
 * stage in pipeline order, and the per-document halves of dedup (exact key, MinHash signature),
 * each document through all of them in turn as in the job. Reports microseconds per document and
 * MiB/s of raw input for each, so a regression in one stage shows up by name.
 */
public final class StageBenchmark {
  private StageBenchmark() {}

  /** One step's cost. */
  public record Step(String name, double microsPerDoc, double mibPerSecond) {}

  /** What was timed. */
  public record Result(long docs, long bytes, List<Step> steps) {}

  public static Result run(
      List<DocStage> stages, PrepConfig cfg, InputFile file, int maxDocs, int rounds)
      throws IOException {
    Configuration conf = new Configuration();
    Map<String, Double> nanos = new LinkedHashMap<>();
    List<Doc> docs = new ArrayList<>();
    long bytes = 0;
    for (int round = 0; round < rounds; round++) {
      // read as often as the stages run: timed once, reading would be timed cold (interpreted)
      docs.clear();
      bytes = 0;
      long t0 = System.nanoTime();
      FileDocReader reader = new FileDocReader(file, cfg.reader(), conf);
      while (reader.hasNext() && docs.size() < maxDocs) {
        Doc d = reader.next();
        bytes += d.getRawBytes();
        docs.add(d);
      }
      record(nanos, "read", System.nanoTime() - t0, round, rounds);
    }
    List<String> texts = new ArrayList<>();
    for (Doc d : docs) {
      texts.add(d.getText());
    }
    Deduplicator.Features features = new Deduplicator(cfg.dedup()).features();
    for (int round = 0; round < rounds; round++) {
      // fresh copies of the documents, so every round sees the same input
      List<Doc> work = new ArrayList<>(docs.size());
      for (int i = 0; i < docs.size(); i++) {
        Doc d = new Doc();
        d.setId(docs.get(i).getId());
        d.setText(texts.get(i));
        work.add(d);
      }
      // document after document through every step, as the prep job runs them: each step finds
      // the caches as the steps before it left them (timed alone, a stage's tables stay cached)
      List<DocStage.Processor> ps = new ArrayList<>();
      for (DocStage s : stages) {
        ps.add(s.open());
      }
      long[] spent = new long[ps.size() + 1];
      long sink = 0;
      for (Doc d : work) {
        for (int i = 0; i < ps.size(); i++) {
          long t = System.nanoTime();
          ps.get(i).process(d);
          spent[i] += System.nanoTime() - t;
        }
        long t = System.nanoTime();
        features.add(d); // a kept document's exact key and MinHash signature, as the job adds them
        if (d.getSignature() != null) {
          sink += d.getSignature()[0];
        }
        spent[ps.size()] += System.nanoTime() - t;
      }
      for (int i = 0; i < ps.size(); i++) {
        record(nanos, stages.get(i).name(), spent[i], round, rounds);
      }
      record(nanos, "dedup-keys", spent[ps.size()], round, rounds);
      if (sink == 42) {
        System.out.print("");
      }
    }
    List<Step> steps = new ArrayList<>();
    long n = docs.size();
    for (var e : nanos.entrySet()) {
      double secs = e.getValue() / 1e9;
      steps.add(new Step(e.getKey(), e.getValue() / 1e3 / n, bytes / 1048576.0 / secs));
    }
    return new Result(n, bytes, steps);
  }

  /** Keeps the last half of the rounds (the first ones warm the JIT up). */
  private static void record(
      Map<String, Double> nanos, String name, long t, int round, int rounds) {
    int warm = rounds / 2;
    if (round >= warm) {
      nanos.merge(name, t / (double) (rounds - warm), Double::sum);
    }
  }

  public static InputFile input(Storage storage, String uri) throws IOException {
    var f = dev.forja.prep.io.InputLister.list(storage, List.of(uri)).get(0);
    return new InputFile(f.uri(), f.size(), f.format() == null ? InputFormat.JSONL : f.format());
  }
}
