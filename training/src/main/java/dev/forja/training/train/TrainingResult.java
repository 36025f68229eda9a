package dev.forja.training.train;

import java.util.List;

/**
 * What a run did, for callers and tests.
 *
 * @param state where the run ended
 * @param stopReason why the loop ended ({@code completed}, {@code early-stop}, {@code diverged},
 *     {@code stop-after})
 * @param losses the training loss of each advance this invocation ran (each step; each round when
 *     distributed)
 * @param lastEval the last evaluation, or null
 * @param resumedFrom the step resumed from (0 for a fresh run)
 * @param tokensPerSecond mean throughput of this invocation's steps
 * @param peakNativeBytes the highest native (off-heap) memory ND4J used
 */
public record TrainingResult(
    TrainState state,
    String stopReason,
    List<Double> losses,
    EvalResult lastEval,
    long resumedFrom,
    double tokensPerSecond,
    long peakNativeBytes) {}
