package dev.forja.prep.stage;

import dev.forja.prep.PrepConfig;
import java.util.List;
import java.util.Set;
import org.apache.spark.broadcast.Broadcast;

/**
 * Drops (or flags) documents that share a word n-gram (13 by default, as GPT-3's decontamination)
 * with a user's evaluation set, so benchmark answers do not leak into training data. The evaluation
 * n-grams are broadcast once.
 */
public final class Decontaminator implements DocStage {
  private final PrepConfig.Decontaminate params;
  private final Broadcast<Set<String>> ngrams;

  public Decontaminator(PrepConfig.Decontaminate params, Broadcast<Set<String>> ngrams) {
    this.params = params;
    this.ngrams = ngrams;
  }

  @Override
  public String name() {
    return "decontaminate";
  }

  @Override
  public Object params() {
    return params;
  }

  /** The n-grams of {@code text} as folded, space-joined word sequences. */
  public static void ngrams(String text, int n, java.util.function.Consumer<String> out) {
    List<String> toks = dev.forja.prep.Words.tokens(text);
    for (int i = 0; i + n <= toks.size(); i++) {
      out.accept(String.join(" ", toks.subList(i, i + n)));
    }
  }

  @Override
  public Processor open() {
    Set<String> eval = ngrams.value();
    return doc -> {
      if (!doc.kept()) {
        return;
      }
      int[] hits = new int[1];
      ngrams(
          doc.getText(),
          params.ngram(),
          g -> {
            if (eval.contains(g)) {
              hits[0]++;
            }
          });
      if (hits[0] > 0) {
        doc.signal("decontaminate.overlapping-ngrams", hits[0]);
        if (params.action().equals("drop")) {
          doc.reject(
              "decontaminate.overlap",
              hits[0],
              "shares " + params.ngram() + "-grams with the evaluation set");
        }
      }
    };
  }
}
