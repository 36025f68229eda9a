package dev.forja.training.model;

import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The loss and gradients of a {@link GptModel} computed by its SameDiff graph. */
final class SameDiffPass implements LossPass {
  private final GptModel model;
  private final List<String> names;
  private long dropoutKey;

  SameDiffPass(GptModel model) {
    this.model = model;
    this.names = model.parameterNames();
  }

  @Override
  public void dropoutKey(long key) {
    dropoutKey = key;
  }

  @Override
  public double loss(int[] ids, int[] targets, int[] positions, double scale) {
    Map<String, INDArray> feed = model.feed(ids, targets, positions, scale);
    return model.sameDiff().output(feed, GptModel.LOSS).get(GptModel.LOSS).getDouble(0);
  }

  @Override
  public double lossAndGradients(
      int[] ids,
      int[] targets,
      int[] positions,
      double scale,
      Map<String, INDArray> grads,
      boolean accumulate) {
    model.prepareGradients();
    Map<String, INDArray> feed = model.feed(ids, targets, positions, scale, dropoutKey);
    OutAndGrad og =
        model.sameDiff().calculateGradientsAndOutputs(feed, List.of(GptModel.LOSS), names);
    for (String n : names) {
      INDArray g = og.getGradients().get(n);
      if (accumulate) {
        grads.get(n).addi(g);
      } else {
        grads.get(n).assign(g);
      }
    }
    return og.getOutputs().get(GptModel.LOSS).getDouble(0);
  }
}
