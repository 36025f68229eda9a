package dev.forja.training.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forja.storage.Storage;
import dev.forja.training.checkpoint.CheckpointStore;
import java.io.IOException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The checkpoints of a LoRA run hold the adapter (and its optimizer state), not the base: these
 * turn one into what the tools that run a whole model need, the base read from the URI the
 * checkpoint records and checked against its hash; and read an adapter from either a LoRA
 * checkpoint or a PEFT directory.
 */
public final class LoraCheckpoints {
  private static final ObjectMapper JSON = new ObjectMapper();

  private LoraCheckpoints() {}

  /** Whether {@code ck} is a LoRA run's checkpoint. */
  public static boolean isLora(CheckpointStore.Loaded ck) {
    return ck.carried().containsKey(CheckpointStore.LORA_BASE);
  }

  /**
   * The frozen base a LoRA run records in its checkpoints ({@link CheckpointStore#LORA_BASE}): its
   * URI and the SHA-256 of its weights ({@link PeftAdapter#baseHash}).
   */
  public record Base(String uri, String sha256) implements java.io.Serializable {
    /** The record among a checkpoint's carried files, or null for a full-training checkpoint. */
    public static Base of(Map<String, String> carried) throws IOException {
      String text = carried.get(CheckpointStore.LORA_BASE);
      if (text == null) {
        return null;
      }
      JsonNode n = JSON.readTree(text);
      return new Base(n.path("uri").asText(), n.path("sha256").asText());
    }

    public String json() {
      return JSON.createObjectNode().put("uri", uri).put("sha256", sha256).toString();
    }
  }

  /** A LoRA checkpoint's adapter. */
  public static PeftAdapter.Adapter adapter(CheckpointStore.Loaded ck) throws IOException {
    Base base = Base.of(ck.carried());
    return new PeftAdapter.Adapter(
        ck.train().lora().settings(), ck.weights(), base.uri(), base.sha256());
  }

  /**
   * The adapter at {@code uri}: a PEFT directory ({@code adapter_config.json}), or a LoRA run's
   * checkpoint or run directory, for a base of {@code base}'s architecture.
   */
  public static PeftAdapter.Adapter readAdapter(
      Storage storage, URI uri, CheckpointStore.Loaded base, String option) throws IOException {
    if (storage.exists(Storage.resolve(uri, PeftAdapter.CONFIG))) {
      return PeftAdapter.read(storage, uri, base.model());
    }
    CheckpointStore.Loaded ck = CheckpointStore.loadAny(storage, uri, option);
    if (!isLora(ck)) {
      throw new IllegalArgumentException(
          option
              + " "
              + uri
              + " is neither a PEFT adapter directory (adapter_config.json) nor a LoRA run's"
              + " checkpoint");
    }
    return adapter(ck);
  }

  /**
   * Reads a LoRA run's frozen base from {@code uri} (a checkpoint or a run directory), refusing it
   * when its weights no longer hash to {@code sha256}, the hash the run's adapter was trained on;
   * {@code user} names who reads it, for the error.
   */
  public static CheckpointStore.Loaded loadBase(
      Storage storage, String uri, String sha256, String user) throws IOException {
    CheckpointStore.Loaded base =
        CheckpointStore.loadAny(storage, URI.create(uri), "the LoRA base");
    String hash = PeftAdapter.baseHash(base.model(), base.weights());
    if (!hash.equals(sha256)) {
      throw new IllegalArgumentException(
          "the LoRA base "
              + uri
              + " has changed since "
              + user
              + " started: its weights hash to "
              + hash
              + ", the adapter was trained on "
              + sha256);
    }
    return base;
  }

  /**
   * Copies a LoRA base's weights into a model's arrays ({@code GptModel.weights()}): every array
   * but the adapters', which start as PEFT starts them or come from a checkpoint.
   */
  public static void assignBase(
      Map<String, INDArray> model, Map<String, INDArray> base, String baseUri) {
    model.forEach(
        (name, w) -> {
          if (name.contains(".lora_")) {
            return;
          }
          INDArray src = base.get(name);
          if (src == null) {
            throw new IllegalArgumentException("the LoRA base " + baseUri + " lacks " + name);
          }
          w.assign(src);
        });
  }

  /**
   * {@code base}'s weights with {@code adapter} merged, after checking that the adapter was trained
   * on these weights (where it recorded their hash).
   */
  public static LinkedHashMap<String, INDArray> applyTo(
      CheckpointStore.Loaded base, PeftAdapter.Adapter adapter, String where) {
    PeftAdapter.checkBase(adapter, PeftAdapter.baseHash(base.model(), base.weights()), where);
    return PeftAdapter.merge(base.model(), base.weights(), adapter);
  }

  /**
   * {@code ck} as a whole model: itself, or for a LoRA checkpoint its base with the adapter merged
   * (the step, configuration and tokenizer stay the checkpoint's).
   */
  public static CheckpointStore.Loaded materialize(Storage storage, CheckpointStore.Loaded ck)
      throws IOException {
    if (!isLora(ck)) {
      return ck;
    }
    PeftAdapter.Adapter adapter = adapter(ck);
    CheckpointStore.Loaded base =
        CheckpointStore.loadAny(
            storage, URI.create(adapter.baseModel()), "the LoRA base of " + ck.dir());
    LinkedHashMap<String, INDArray> merged = applyTo(base, adapter, ck.dir() + "");
    Map<String, String> carried = new LinkedHashMap<>(ck.carried());
    carried.remove(CheckpointStore.LORA_BASE);
    return ck.with(merged, carried);
  }
}
