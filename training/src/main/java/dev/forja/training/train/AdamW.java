package dev.forja.training.train;

import dev.forja.jvm.VectorApi;
import dev.forja.training.model.VectorKernels;
import dev.forja.training.runtime.Parallel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter), exactly PyTorch's {@code
 * torch.optim.AdamW} update: {@code p -= lr * wd * p}, then {@code p -= lr / (1 - b1^t) * m /
 * (sqrt(v) / sqrt(1 - b2^t) + eps)}. The moments live in named arrays ({@code exp_avg.NAME}, {@code
 * exp_avg_sq.NAME}, PyTorch's names) so that a checkpoint stores and restores them exactly.
 */
public final class AdamW implements Optimizer {
  public static final String EXP_AVG = "exp_avg.";
  public static final String EXP_AVG_SQ = "exp_avg_sq.";

  private final TrainConfig config;
  private final java.util.function.Predicate<String> decays;
  private final LinkedHashMap<String, INDArray> m = new LinkedHashMap<>();
  private final LinkedHashMap<String, INDArray> v = new LinkedHashMap<>();

  /** Decay as {@code train.no-decay}'s name fragments say. */
  public AdamW(TrainConfig config, Map<String, INDArray> parameters) {
    this(config, parameters, config::decays);
  }

  /** Decay for the parameters {@code decays} accepts (the model's description and the config's). */
  public AdamW(
      TrainConfig config,
      Map<String, INDArray> parameters,
      java.util.function.Predicate<String> decays) {
    this.config = config;
    this.decays = decays;
    parameters.forEach(
        (name, p) -> {
          m.put(name, Nd4j.zeros(p.dataType(), p.shape()));
          v.put(name, Nd4j.zeros(p.dataType(), p.shape()));
        });
  }

  @Override
  public void step(
      Map<String, INDArray> parameters, Map<String, INDArray> grads, long t, double lr) {
    if (VectorApi.AVAILABLE) { // once per JVM, where steps are taken (not on a distributed driver)
      VectorKernels.warmUp();
      AdamWKernel.warmUp();
    }
    double b1 = config.beta1();
    double b2 = config.beta2();
    double bc1 = 1 - Math.pow(b1, t);
    double bc2 = Math.sqrt(1 - Math.pow(b2, t));
    for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
      String name = e.getKey();
      INDArray p = e.getValue();
      INDArray g = grads.get(name);
      INDArray mm = m.get(name);
      INDArray vv = v.get(name);
      double decay = config.weightDecay() > 0 && decays.test(name) ? lr * config.weightDecay() : 0;
      if (fusable(p, g, mm, vv)) {
        fused(p, g, mm, vv, b1, b2, decay, bc2, lr / bc1);
        continue;
      }
      mm.muli(b1).addi(g.mul(1 - b1));
      vv.muli(b2).addi(g.mul(g).muli(1 - b2));
      if (decay > 0) {
        p.muli(1 - decay);
      }
      INDArray denom = Transforms.sqrt(vv, true).divi(bc2).addi(config.epsilon());
      p.subi(mm.div(denom).muli(lr / bc1));
    }
  }

  private static boolean fusable(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a.dataType() != DataType.FLOAT
          || a.isView()
          || a.offset() != 0
          || a.ordering() != 'c'
          || a.length() > Integer.MAX_VALUE) {
        return false;
      }
    }
    return true;
  }

  /**
   * The same update in one pass over memory, in fp32 and in the order of the array operations
   * above, split over {@link Parallel#THREADS} threads (each element on its own, so the result does
   * not depend on the split), vectorised where the Vector API is present ({@link AdamWKernel}): the
   * array operations allocate a temporary per operation.
   */
  private void fused(
      INDArray p,
      INDArray g,
      INDArray mm,
      INDArray vv,
      double b1,
      double b2,
      double decay,
      double bc2,
      double stepSize) {
    ByteBuffer pb = bytes(p);
    ByteBuffer gb = bytes(g);
    ByteBuffer mb = bytes(mm);
    ByteBuffer vb = bytes(vv);
    float fb1 = (float) b1;
    float fa1 = (float) (1 - b1);
    float fb2 = (float) b2;
    float fa2 = (float) (1 - b2);
    float keep = decay > 0 ? (float) (1 - decay) : 1f;
    float fbc2 = (float) bc2;
    float eps = (float) config.epsilon();
    float step = (float) stepSize;
    Parallel.forRange(
        (int) p.length(),
        (from, to) -> {
          if (VectorApi.AVAILABLE) {
            AdamWKernel.update(pb, gb, mb, vb, from, to, fb1, fa1, fb2, fa2, keep, fbc2, eps, step);
          } else {
            scalarUpdate(pb, gb, mb, vb, from, to, fb1, fa1, fb2, fa2, keep, fbc2, eps, step);
          }
        });
  }

  /** The fused update's scalar loop over {@code [from, to)} (the vector loop's tail, too). */
  static void scalarUpdate(
      ByteBuffer p,
      ByteBuffer g,
      ByteBuffer m,
      ByteBuffer v,
      int from,
      int to,
      float b1,
      float a1,
      float b2,
      float a2,
      float keep,
      float bc2,
      float eps,
      float step) {
    for (int i = from; i < to; i++) {
      float gi = g.getFloat(4 * i);
      float mi = m.getFloat(4 * i) * b1 + gi * a1;
      float vi = v.getFloat(4 * i) * b2 + gi * gi * a2;
      m.putFloat(4 * i, mi);
      v.putFloat(4 * i, vi);
      float pi = keep != 1f ? p.getFloat(4 * i) * keep : p.getFloat(4 * i);
      float denom = (float) Math.sqrt(vi) / bc2 + eps;
      p.putFloat(4 * i, pi - mi / denom * step);
    }
  }

  private static ByteBuffer bytes(INDArray a) {
    return a.data().asNio().order(ByteOrder.nativeOrder());
  }

  @Override
  public LinkedHashMap<String, INDArray> state() {
    LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
    m.forEach((k, a) -> out.put(EXP_AVG + k, a));
    v.forEach((k, a) -> out.put(EXP_AVG_SQ + k, a));
    return out;
  }

  /**
   * Scales the gradients so that their global L2 norm is at most {@code maxNorm} (PyTorch's {@code
   * clip_grad_norm_}); returns the norm before clipping.
   */
  public static double clipGlobalNorm(Map<String, INDArray> grads, double maxNorm) {
    boolean direct = VectorApi.AVAILABLE && fusable(grads.values().toArray(INDArray[]::new));
    double sq = 0;
    for (INDArray g : grads.values()) {
      if (direct) {
        sq += sumOfSquares(g);
      } else {
        double n = g.norm2Number().doubleValue();
        sq += n * n;
      }
    }
    double norm = Math.sqrt(sq);
    if (maxNorm > 0) {
      double coef = maxNorm / (norm + 1e-6);
      if (coef < 1) {
        for (INDArray g : grads.values()) {
          if (direct) {
            ByteBuffer b = bytes(g);
            float c = (float) coef;
            Parallel.forRange(
                (int) g.length(), (from, to) -> VectorKernels.scale(b, from, to - from, c));
          } else {
            g.muli(coef);
          }
        }
      }
    }
    return norm;
  }

  /**
   * Sum of squares of a whole fp32 array in Java (ND4J's norm per array costs more than the sum on
   * small arrays): per-thread partial sums in a fixed split, added in order.
   */
  private static double sumOfSquares(INDArray g) {
    ByteBuffer b = bytes(g);
    int len = (int) g.length();
    int chunks = Math.max(1, Math.min(Parallel.THREADS, len / 65536));
    double[] part = new double[chunks];
    Parallel.forRange(
        chunks,
        (from, to) -> {
          for (int c = from; c < to; c++) {
            int lo = (int) ((long) len * c / chunks);
            int hi = (int) ((long) len * (c + 1) / chunks);
            part[c] = VectorKernels.sumOfSquares(b, lo, hi - lo);
          }
        });
    double sum = 0;
    for (double x : part) {
      sum += x;
    }
    return sum;
  }
}
