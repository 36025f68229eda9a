package dev.forja.training.distributed;

import dev.forja.storage.StorageConfig;
import dev.forja.training.hf.LoraCheckpoints;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.train.TrainConfig;
import java.io.Serializable;
import java.net.URI;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * What every round's tasks share: where the data is and how to build the worker's model. The
 * executor JVM caches the built graph under {@link #cacheKey()} across rounds.
 *
 * @param data the token shards
 * @param storage how executors reach them
 * @param model the architecture
 * @param train the optimisation (micro-batch per worker, schedule in global steps)
 * @param length tokens per sequence
 * @param maskId the mask token for the masked objective (-1 otherwise)
 * @param dtype FLOAT; DOUBLE in exactness tests
 * @param distributed workers, averaging period, whether moments travel
 * @param runId distinguishes runs that share an executor JVM
 * @param loraBase a LoRA run's frozen base, which each executor loads once from its URI (and checks
 *     against its hash) and keeps across rounds; null when every parameter trains
 */
public record WorkerSpec(
    URI data,
    StorageConfig storage,
    ModelConfig model,
    TrainConfig train,
    int length,
    int maskId,
    DataType dtype,
    DistributedConfig distributed,
    String runId,
    LoraCheckpoints.Base loraBase)
    implements Serializable {

  /** Graphs built for one spec serve every later round of it in the same executor JVM. */
  public String cacheKey() {
    return runId
        + "|"
        + data
        + "|"
        + model
        + "|"
        + train.microBatch()
        + "|"
        + length
        + "|"
        + dtype
        + "|"
        + loraBase;
  }
}
