package dev.forja.training.train;

import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Updates parameters in place from their gradients. The state (moments) lives in named arrays so
 * that checkpoints store it and distributed training can average it.
 */
public interface Optimizer {
  /** Applies step {@code t} (1-based) with learning rate {@code lr}, in place. */
  void step(Map<String, INDArray> parameters, Map<String, INDArray> grads, long t, double lr);

  /** The state as named arrays (live, so that assigning into them restores it); may be empty. */
  LinkedHashMap<String, INDArray> state();

  /** Restores the state written by {@link #state()}; every array must be present. */
  default void load(Map<String, INDArray> saved) {
    for (Map.Entry<String, INDArray> e : state().entrySet()) {
      INDArray src = saved.get(e.getKey());
      if (src == null) {
        throw new IllegalStateException("optimizer state lacks " + e.getKey());
      }
      if (!java.util.Arrays.equals(src.shape(), e.getValue().shape())) {
        throw new IllegalStateException(
            "optimizer state "
                + e.getKey()
                + " has shape "
                + java.util.Arrays.toString(src.shape())
                + ", the model needs "
                + java.util.Arrays.toString(e.getValue().shape()));
      }
      e.getValue().assign(src);
    }
  }

  /**
   * The optimizer {@code train.optimizer} names, for these parameters of a {@code model}: weight
   * decay applies where the model's {@link dev.forja.training.model.Architecture} declares it and
   * {@code train.no-decay} does not exempt the name.
   */
  static Optimizer create(
      TrainConfig config,
      Map<String, INDArray> parameters,
      dev.forja.training.model.ModelConfig model) {
    return create(config, parameters, dev.forja.training.model.Architecture.of(model));
  }

  /** As above for a description (a LoRA model's adapters decay as PEFT's trainer decays them). */
  static Optimizer create(
      TrainConfig config,
      Map<String, INDArray> parameters,
      dev.forja.training.model.Architecture arch) {
    java.util.Set<String> declared = new java.util.HashSet<>();
    for (dev.forja.training.model.ParameterSpec p : arch.parameters()) {
      if (p.decays()) {
        declared.add(p.name());
      }
    }
    java.util.function.Predicate<String> decays =
        name -> declared.contains(name) && config.decays(name);
    return switch (config.optimizer()) {
      case TrainConfig.SGD -> new Sgd(config, decays);
      default -> new AdamW(config, parameters, decays);
    };
  }

  /**
   * Plain stochastic gradient descent, {@code p -= lr * (g + wd * p)} (PyTorch's {@code
   * torch.optim.SGD} without momentum); no state. For baselines and for testing parameter
   * averaging, where it makes N workers on micro-batch b equal one worker on N x b.
   */
  final class Sgd implements Optimizer {
    private final TrainConfig config;
    private final java.util.function.Predicate<String> decays;

    public Sgd(TrainConfig config, java.util.function.Predicate<String> decays) {
      this.config = config;
      this.decays = decays;
    }

    @Override
    public void step(
        Map<String, INDArray> parameters, Map<String, INDArray> grads, long t, double lr) {
      for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
        INDArray p = e.getValue();
        if (config.weightDecay() > 0 && decays.test(e.getKey())) {
          p.muli(1 - lr * config.weightDecay());
        }
        p.subi(grads.get(e.getKey()).mul(lr));
      }
    }

    @Override
    public LinkedHashMap<String, INDArray> state() {
      return new LinkedHashMap<>();
    }
  }
}
