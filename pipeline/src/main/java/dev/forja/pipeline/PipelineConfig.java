package dev.forja.pipeline;

import dev.forja.config.ConfigReader;
import dev.forja.config.Suggest;
import java.io.Serializable;
import java.util.List;

/**
 * {@code forja run}: which stages run, where their outputs and the model registry live, and the
 * promotion gate.
 *
 * @param work {@code pipeline.work}: stage outputs, each under a directory named by the stage and
 *     the fingerprint of its inputs and configuration
 * @param registry {@code pipeline.registry}: {@code champion.json}, candidates, history, the lock
 * @param stages {@code pipeline.stages}: the stages, in {@link #ORDER}'s order
 * @param input {@code pipeline.input}: raw corpus URIs for prep (none with the generate stage)
 * @param sftInput {@code pipeline.sft-input}: instruction data for sft-data (none with the
 *     instructions stage)
 * @param evalSuite {@code pipeline.eval-suite}: the evaluation suite; {@code ${stage}} in it is
 *     that stage's output
 * @param continueFromChampion {@code pipeline.continue-from-champion}: train starts from the
 *     champion's weights where there is one
 * @param dedupAgainstChampion {@code pipeline.dedup-against-champion}: prep keeps only documents
 *     the prep outputs of the champion and its predecessors do not hold (exact and near duplicates)
 * @param workers {@code pipeline.train-workers}: Spark workers for train (0: in the driver)
 * @param leaseSeconds {@code pipeline.lock-lease-seconds}: how long the registry lock holds without
 *     renewal
 * @param stageRetries {@code pipeline.stage-retries}: times a failed stage is run again (an outage
 *     of the store, a lost executor) before the run fails
 * @param retryWaitSeconds {@code pipeline.stage-retry-wait-seconds}: the wait before a retry
 * @param trainOverrides {@code pipeline.train-overrides}: {@code key=value} for the train stage
 *     only
 * @param finetuneOverrides {@code pipeline.finetune-overrides}: {@code key=value} for the finetune
 *     stage only
 * @param gate {@code promote.gate}: rules a candidate must pass against the champion
 */
public record PipelineConfig(
    String work,
    String registry,
    List<String> stages,
    List<String> input,
    String sftInput,
    String evalSuite,
    boolean continueFromChampion,
    boolean dedupAgainstChampion,
    int workers,
    long leaseSeconds,
    int stageRetries,
    long retryWaitSeconds,
    List<String> trainOverrides,
    List<String> finetuneOverrides,
    List<String> gate)
    implements Serializable {

  /** Every stage, in the order they run. */
  public static final List<String> ORDER =
      List.of(
          "generate",
          "prep",
          "tokenizer",
          "tokenize",
          "train",
          "instructions",
          "sft-data",
          "finetune",
          "eval",
          "export",
          "promote");

  public static PipelineConfig read(ConfigReader r) {
    String work =
        r.string(
            "pipeline.work",
            "",
            "forja run: where stage outputs go, each under STAGE-FINGERPRINT (reused when a"
                + " committed one exists).");
    String registry =
        r.string(
            "pipeline.registry",
            "",
            "forja run: the model registry (champion.json, candidates/, history/, the lock).");
    List<String> stages =
        r.list(
            "pipeline.stages",
            List.of("prep", "tokenizer", "tokenize", "train", "eval", "export", "promote"),
            "forja run: the stages to run, of " + String.join(", ", ORDER) + ".");
    for (String s : stages) {
      String near = Suggest.nearest(s, ORDER);
      r.require(
          ORDER.contains(s),
          "pipeline.stages",
          "'"
              + s
              + "' is not a stage; valid: "
              + String.join(", ", ORDER)
              + (near != null ? " (did you mean '" + near + "'?)" : ""));
    }
    List<String> input =
        r.list("pipeline.input", List.of(), "forja run: raw corpus URIs for the prep stage.");
    String sftInput =
        r.string("pipeline.sft-input", "", "forja run: instruction data for the sft-data stage.");
    String suite =
        r.string(
            "pipeline.eval-suite",
            "",
            "forja run: the evaluation suite of the eval stage (${tokenize}, ${instructions}, ...:"
                + " that stage's output).");
    boolean cont =
        r.bool(
            "pipeline.continue-from-champion",
            false,
            "forja run: the train stage starts from the champion's weights where there is one.");
    boolean dedupChampion =
        r.bool(
            "pipeline.dedup-against-champion",
            false,
            "forja run: prep deduplicates the new input against the prep outputs of the champion"
                + " and every champion before it (prep --dedup-against), so a new window adds only"
                + " new documents.");
    int workers =
        r.intIn("pipeline.train-workers", 0, 0, 1 << 16, "forja run: Spark workers of train.");
    long lease =
        r.longIn(
            "pipeline.lock-lease-seconds",
            3600,
            10,
            Long.MAX_VALUE / 2000,
            "forja run: the registry lock's lease; a lock older than this (its run killed) is"
                + " taken over.");
    int retries =
        r.intIn(
            "pipeline.stage-retries",
            2,
            0,
            100,
            "forja run: times a failed stage runs again (a store outage, a lost executor) before"
                + " the run fails; its half-written output is replaced. A stage that refuses its"
                + " settings or input is not run again.");
    long retryWait =
        r.longIn(
            "pipeline.stage-retry-wait-seconds",
            30,
            0,
            86_400,
            "forja run: seconds to wait before running a failed stage again.");
    List<String> trainOverrides =
        r.list(
            "pipeline.train-overrides",
            List.of(),
            "forja run: key=value settings for the train stage only (e.g. train.steps=300).");
    List<String> finetuneOverrides =
        r.list(
            "pipeline.finetune-overrides",
            List.of(),
            "forja run: key=value settings for the finetune stage only (e.g. train.lr=0.01).");
    for (String o : trainOverrides) {
      r.require(o.contains("="), "pipeline.train-overrides", "'" + o + "' is not key=value");
    }
    for (String o : finetuneOverrides) {
      r.require(o.contains("="), "pipeline.finetune-overrides", "'" + o + "' is not key=value");
    }
    List<String> gate =
        r.list(
            "promote.gate",
            List.of(),
            "Rules a candidate must pass against the champion, each 'TASK/METRIC"
                + " lower|higher|not-lower|not-higher MARGIN[%]' (e.g. 'held-out/perplexity"
                + " lower 1%', 'answers/bleu not-lower 0.2'); none: any candidate is promoted.");
    for (String g : gate) {
      String problem = GateRule.problem(g);
      r.require(problem == null, "promote.gate", problem == null ? "" : problem);
    }
    return new PipelineConfig(
        work,
        registry,
        List.copyOf(stages),
        List.copyOf(input),
        sftInput,
        suite,
        cont,
        dedupChampion,
        workers,
        lease,
        retries,
        retryWait,
        List.copyOf(trainOverrides),
        List.copyOf(finetuneOverrides),
        List.copyOf(gate));
  }
}
