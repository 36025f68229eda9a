package dev.forja.training.distributed;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * How a round's starting weights reach the workers and their trained weights come back to the
 * driver: {@link TcpExchange} (the driver serves and receives them on a port of its own) or {@link
 * SparkExchange} (a Spark broadcast out, the tasks' results back). Either way a round is one
 * ordinary Spark stage, and a retried task fetches the same starting point again.
 */
public interface Exchange extends AutoCloseable {

  /**
   * Offers round {@code round}'s starting point, which the driver leaves untouched until {@link
   * #collect}; {@code moments} is null when the optimizer state is not averaged.
   */
  Handle publish(long round, Map<String, INDArray> parameters, Map<String, INDArray> moments);

  /**
   * What each worker trained, in worker order, once the round's stage has finished: {@code results}
   * are the tasks' results (one per worker, from the attempt that succeeded).
   */
  List<Returned> collect(Handle handle, List<WorkerResult> results);

  @Override
  void close();

  /** A worker's parameters and (when averaged) moments after its round. */
  record Returned(Tensors parameters, Tensors moments) {}

  /** The task's side of one round: serializable, it travels in the task's closure. */
  interface Handle extends Serializable {
    /** Copies the round's starting point into the worker's arrays ({@code moments} may be null). */
    void fetch(int worker, Map<String, INDArray> parameters, Map<String, INDArray> moments);

    /**
     * Hands the worker's trained arrays back ({@code moments} may be null); what it returns goes in
     * the task's result.
     */
    Delivered deliver(
        int worker, int attempt, Map<String, INDArray> parameters, Map<String, INDArray> moments);

    /** Bytes each worker fetches. */
    long bytesOut();
  }

  /**
   * What a task returns for its arrays: the arrays themselves ({@link SparkExchange}), or only
   * their size when they went another way.
   */
  record Delivered(Tensors parameters, Tensors moments, long bytes) implements Serializable {}
}
