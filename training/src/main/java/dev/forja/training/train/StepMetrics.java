package dev.forja.training.train;

/**
 * One optimizer step as measured.
 *
 * @param step the step just done (1-based)
 * @param loss mean loss per predicted token
 * @param learningRate the learning rate applied
 * @param gradNorm the global gradient norm before clipping
 * @param tokens tokens predicted in the step
 * @param seconds wall time of the step
 */
public record StepMetrics(
    long step, double loss, double learningRate, double gradNorm, long tokens, double seconds) {}
