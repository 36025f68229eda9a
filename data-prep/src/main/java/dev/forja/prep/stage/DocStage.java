package dev.forja.prep.stage;

import dev.forja.prep.Doc;
import java.io.Serializable;

/**
 * A per-document step of {@code forja prep}, like a Spark ML {@code Transformer}: typed parameters
 * fixed (and validated) at construction, heavy objects (models, parsers, regexes) built by {@link
 * #open()} once per partition on the executor. Consecutive stages run fused in one pass over a
 * partition. A stage skips documents already rejected or quarantined.
 */
public interface DocStage extends Serializable {
  /** The stage name used in rejection reasons and the saved pipeline. */
  String name();

  /** The parameters, saved next to the output so the run can be repeated. */
  Object params();

  Processor open();

  /** Processes documents of one partition. */
  @FunctionalInterface
  interface Processor {
    void process(Doc doc);
  }
}
