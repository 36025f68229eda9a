package dev.forja.training.distributed;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Weights out as a Spark broadcast, back in the tasks' results: nothing but Spark's own channels
 * (for clusters where executors can reach no other driver port), at several times {@link
 * TcpExchange}'s cost per round: the broadcast is copied into blocks, fetched piecewise and stored
 * twice by each executor, and results are serialized whole into the task's status message.
 */
public final class SparkExchange implements Exchange {
  private final JavaSparkContext jsc;
  private Broadcast<Payload> current;

  public SparkExchange(JavaSparkContext jsc) {
    this.jsc = jsc;
  }

  /** The broadcast: parameters and (optionally) optimizer moments. */
  public record Payload(Tensors parameters, Tensors moments) implements java.io.Serializable {
    long bytes() {
      return parameters.bytes() + (moments == null ? 0 : moments.bytes());
    }
  }

  @Override
  public Handle publish(
      long round, Map<String, INDArray> parameters, Map<String, INDArray> moments) {
    Payload p = new Payload(Tensors.of(parameters), moments == null ? null : Tensors.of(moments));
    current = jsc.broadcast(p);
    return new SparkHandle(current, p.bytes());
  }

  @Override
  public List<Returned> collect(Handle handle, List<WorkerResult> results) {
    List<Returned> out = new ArrayList<>();
    for (WorkerResult r : results) {
      out.add(new Returned(r.delivered().parameters(), r.delivered().moments()));
    }
    current.destroy();
    current = null;
    return out;
  }

  @Override
  public void close() {
    if (current != null) {
      current.destroy();
      current = null;
    }
  }

  private record SparkHandle(Broadcast<Payload> weights, long bytesOut) implements Handle {
    @Override
    public void fetch(int worker, Map<String, INDArray> parameters, Map<String, INDArray> moments) {
      Payload p = weights.value();
      p.parameters().assignTo(parameters, "worker " + worker + " parameters");
      if (moments != null) {
        p.moments().assignTo(moments, "worker " + worker + " moments");
      }
    }

    @Override
    public Delivered deliver(
        int worker, int attempt, Map<String, INDArray> parameters, Map<String, INDArray> moments) {
      Tensors p = Tensors.of(parameters);
      Tensors m = moments == null ? null : Tensors.of(moments);
      return new Delivered(p, m, p.bytes() + (m == null ? 0 : m.bytes()));
    }
  }
}
