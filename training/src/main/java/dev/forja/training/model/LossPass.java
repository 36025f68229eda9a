package dev.forja.training.model;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Computes a {@link GptModel}'s loss, and its gradients, for one micro-batch of {@code [batch,
 * length]} token ids and targets (row-major; targets of -1 add nothing). The loss is {@code scale}
 * times the summed token losses. Two implementations: {@link SameDiffPass} (the graph, the
 * reference) and {@link GptKernels} (hand-written CPU kernels over preallocated buffers).
 */
public interface LossPass {
  /**
   * The key of the LoRA dropout masks ({@link LoraDropout}) of the following {@link
   * #lossAndGradients} calls, which are training passes; {@link #loss} never drops anything.
   */
  void dropoutKey(long key);

  /** The scaled summed loss of the batch, without gradients. */
  default double loss(int[] ids, int[] targets, double scale) {
    return loss(ids, targets, null, scale);
  }

  /**
   * As above, with each token's position within its example ({@code [batch, length]}, 0 where an
   * example starts): a row then holds several examples, each attending only to itself. Null: each
   * row is one sequence.
   */
  double loss(int[] ids, int[] targets, int[] positions, double scale);

  /**
   * The scaled summed loss; its gradient with respect to each parameter is written into {@code
   * grads} (same names and shapes as {@link GptModel#parameters()}), or added to it when {@code
   * accumulate}.
   */
  default double lossAndGradients(
      int[] ids, int[] targets, double scale, Map<String, INDArray> grads, boolean accumulate) {
    return lossAndGradients(ids, targets, null, scale, grads, accumulate);
  }

  /** As above, with positions as {@link #loss(int[], int[], int[], double)} takes them. */
  double lossAndGradients(
      int[] ids,
      int[] targets,
      int[] positions,
      double scale,
      Map<String, INDArray> grads,
      boolean accumulate);

  /**
   * Whether a pass leaves native arrays that only a garbage collection frees (the graph does, a
   * step's worth; the kernels allocate nothing per step), so the caller should collect after each
   * step.
   */
  default boolean allocatesPerStep() {
    return true;
  }
}
