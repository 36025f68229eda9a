package dev.forja.training.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.training.checkpoint.SafeTensors;
import dev.forja.training.model.Architecture;
import dev.forja.training.model.LoraSettings;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.model.ParameterSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * LoRA adapters in PEFT's format, both ways: {@code adapter_config.json} (a {@code LoraConfig}) and
 * {@code adapter_model.safetensors}, whose keys are PEFT's ({@code
 * base_model.model.<module>.lora_A.weight}, {@code lora_B}; whole saved modules under their own
 * names). What {@code PeftModel.from_pretrained} loads on the transformers model of the base, and
 * what it writes, Forja reads. Merging ({@link #merge}) folds an adapter into its base's weights:
 * {@code W += scale B A}, transposed for GPT-2's {@code Conv1D} (PEFT's {@code fan_in_fan_out}).
 */
public final class PeftAdapter {
  public static final String CONFIG = "adapter_config.json";
  public static final String WEIGHTS = "adapter_model.safetensors";
  public static final String KIND = "peft-adapter";

  /** PEFT's prefix of every saved key: the {@code PeftModel}'s path to the base's modules. */
  public static final String PREFIX = "base_model.model.";

  /** The safetensors metadata key with the SHA-256 of the base's weights ({@link #baseHash}). */
  public static final String BASE_HASH = "forja.base_sha256";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private PeftAdapter() {}

  /**
   * An adapter: its settings (targets by full module name), its tensors by Forja's names (the
   * description's: {@code model.layers.0.self_attn.q_proj.lora_A.weight}, saved modules' own
   * parameters), the base it was trained on, and the base weights' hash where it was recorded.
   */
  public record Adapter(
      LoraSettings settings,
      LinkedHashMap<String, INDArray> weights,
      String baseModel,
      String baseHash) {

    /** {@code base} with this adapter: the description both engines and a merge read. */
    public Architecture on(ModelConfig base) {
      return Architecture.of(base).withLora(settings);
    }
  }

  /**
   * Writes the trainable parameters of {@code arch} (its adapters and saved modules, taken from
   * {@code weights}) as a PEFT adapter directory at {@code dir}, committed by a manifest written
   * last.
   */
  public static void write(
      Storage storage,
      URI dir,
      Architecture arch,
      LoraSettings settings,
      Map<String, INDArray> weights,
      String baseModel,
      String baseHash)
      throws IOException {
    if (!arch.hasLora()) {
      throw new IllegalArgumentException("the model has no LoRA adapters to write");
    }
    Set<String> targets = new LinkedHashSet<>();
    boolean conv1d = false;
    for (Architecture.Linear l : arch.linears()) {
      if (l.lora() != null) {
        String t = settings.target(l.module());
        // all-linear is written as the layers it chose, as PEFT itself saves it
        targets.add(t.equals(LoraSettings.ALL_LINEAR) ? shortName(l.module()) : t);
        conv1d |= l.layout() == Architecture.Layout.IN_OUT;
      }
    }
    ObjectNode c = JSON.createObjectNode();
    c.put("peft_type", "LORA");
    c.put("task_type", "CAUSAL_LM");
    c.put("base_model_name_or_path", baseModel);
    c.putNull("revision");
    c.put("r", settings.rank());
    c.put("lora_alpha", settings.alpha());
    c.put("lora_dropout", settings.dropout());
    ArrayNode tm = c.putArray("target_modules");
    targets.stream().sorted().forEach(tm::add);
    c.put("use_rslora", settings.rslora());
    c.put("fan_in_fan_out", conv1d);
    c.put("bias", "none");
    if (settings.modulesToSave().isEmpty()) {
      c.putNull("modules_to_save");
    } else {
      ArrayNode ms = c.putArray("modules_to_save");
      settings.modulesToSave().forEach(ms::add);
    }
    c.put("init_lora_weights", true);
    c.putNull("layers_to_transform");
    c.putNull("layers_pattern");
    c.putObject("rank_pattern");
    c.putObject("alpha_pattern");
    c.put("use_dora", false);
    c.put("inference_mode", true);
    storage.writeString(Storage.resolve(dir, CONFIG), JSON.writeValueAsString(c), true);

    LinkedHashMap<String, INDArray> tensors = new LinkedHashMap<>();
    for (ParameterSpec p : arch.parameters()) {
      if (p.trainable()) {
        INDArray a = weights.get(p.name());
        if (a == null) {
          throw new IllegalArgumentException("no weights for the adapter's " + p.name());
        }
        tensors.put(PREFIX + p.name(), a);
      }
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "pt");
    if (baseHash != null) {
      meta.put(BASE_HASH, baseHash);
    }
    try (OutputStream raw = storage.create(Storage.resolve(dir, WEIGHTS), true);
        OutputStream out = new java.io.BufferedOutputStream(raw, 1 << 20)) {
      SafeTensors.write(out, tensors, meta, SafeTensors.Dtype.F32);
    }
    Map<String, String> contents = new LinkedHashMap<>();
    contents.put(CONFIG, "the LoRA configuration, as PEFT reads it");
    contents.put(WEIGHTS, "the adapter's weights (and saved modules), PEFT's names, fp32");
    storage.writeString(
        Storage.resolve(dir, CommitManifest.README),
        CommitManifest.readme(
            "A LoRA adapter written by Forja: load it with PeftModel.from_pretrained(base, dir) on"
                + " the transformers model of "
                + baseModel
                + ", or merge it with forja model merge.",
            contents),
        true);
    Map<String, String> props = new LinkedHashMap<>();
    props.put("base", baseModel);
    if (baseHash != null) {
      props.put("base-sha256", baseHash);
    }
    CommitManifest.commit(storage, dir, KIND, props);
  }

  /**
   * Reads the PEFT adapter at {@code dir} for a base of {@code base}'s architecture: each tensor
   * must be one the adapter's configuration puts on that base, in its shape. Errors name the file,
   * the tensor and both shapes.
   */
  public static Adapter read(Storage storage, URI dir, ModelConfig base) throws IOException {
    URI configUri = Storage.resolve(dir, CONFIG);
    if (!storage.exists(configUri)) {
      throw new IllegalArgumentException(
          dir + " is not a PEFT adapter directory (no " + CONFIG + ")");
    }
    JsonNode c = JSON.readTree(storage.readString(configUri));
    String where = dir + "/" + CONFIG;
    String type = c.path("peft_type").asText("");
    if (!type.equals("LORA")) {
      throw new IllegalArgumentException(
          where + ": peft_type is '" + type + "'; Forja reads LoRA adapters (LORA) only");
    }
    if (c.path("use_dora").asBoolean(false)) {
      throw new IllegalArgumentException(where + ": DoRA adapters (use_dora) are not supported");
    }
    for (String f : List.of("rank_pattern", "alpha_pattern")) {
      if (c.path(f).isObject() && c.path(f).size() > 0) {
        throw new IllegalArgumentException(
            where + ": per-module ranks or alphas (" + f + ") are not supported");
      }
    }
    if (!c.path("bias").asText("none").equals("none")) {
      throw new IllegalArgumentException(
          where + ": bias '" + c.path("bias").asText() + "' is not supported (only none)");
    }
    LinkedHashMap<String, INDArray> raw;
    String hash;
    URI weightsUri = Storage.resolve(dir, WEIGHTS);
    if (!storage.exists(weightsUri)) {
      throw new IllegalArgumentException(dir + " has no " + WEIGHTS);
    }
    try (InputStream in = storage.open(weightsUri)) {
      SafeTensors.Contents contents =
          SafeTensors.read(in, storage.size(weightsUri), dir + "/" + WEIGHTS);
      raw = contents.tensors();
      hash = contents.metadata().get(BASE_HASH);
    }
    // the adapted modules are those with an A: full names, so each targets exactly itself
    List<String> modules = new ArrayList<>();
    LinkedHashMap<String, INDArray> weights = new LinkedHashMap<>();
    for (Map.Entry<String, INDArray> e : raw.entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(PREFIX)) {
        throw new IllegalArgumentException(
            dir + "/" + WEIGHTS + ": tensor " + name + " lacks PEFT's prefix " + PREFIX);
      }
      name = name.substring(PREFIX.length());
      if (name.endsWith(".lora_A.weight")) {
        modules.add(name.substring(0, name.length() - ".lora_A.weight".length()));
      }
      INDArray a = e.getValue();
      weights.put(name, a.dataType() == DataType.FLOAT ? a : a.castTo(DataType.FLOAT));
    }
    if (modules.isEmpty()) {
      throw new IllegalArgumentException(
          dir + "/" + WEIGHTS + ": no lora_A tensors: not a LoRA adapter");
    }
    List<String> saved = new ArrayList<>();
    if (c.path("modules_to_save").isArray()) {
      c.path("modules_to_save").forEach(m -> saved.add(m.asText()));
    }
    LoraSettings settings =
        new LoraSettings(
            c.path("r").asInt(0),
            c.path("lora_alpha").asDouble(0),
            c.path("lora_dropout").asDouble(0),
            modules,
            c.path("use_rslora").asBoolean(false),
            saved);
    Architecture arch;
    try {
      arch = Architecture.of(base).withLora(settings);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          dir + ": the adapter does not fit the base model: " + e.getMessage(), e);
    }
    Map<String, ParameterSpec> expected = new LinkedHashMap<>();
    for (ParameterSpec p : arch.parameters()) {
      if (p.trainable()) {
        expected.put(p.name(), p);
      }
    }
    for (Map.Entry<String, INDArray> e : weights.entrySet()) {
      ParameterSpec p = expected.get(e.getKey());
      if (p == null) {
        throw new IllegalArgumentException(
            dir
                + "/"
                + WEIGHTS
                + ": unexpected tensor "
                + PREFIX
                + e.getKey()
                + " (the base has no such adapted or saved module)");
      }
      if (!Arrays.equals(p.shape(), e.getValue().shape())) {
        throw new IllegalArgumentException(
            dir
                + "/"
                + WEIGHTS
                + ": "
                + PREFIX
                + e.getKey()
                + " has shape "
                + Arrays.toString(e.getValue().shape())
                + ", the base needs "
                + Arrays.toString(p.shape()));
      }
    }
    for (String name : expected.keySet()) {
      if (!weights.containsKey(name)) {
        throw new IllegalArgumentException(
            dir + "/" + WEIGHTS + ": missing tensor " + PREFIX + name);
      }
    }
    return new Adapter(settings, weights, c.path("base_model_name_or_path").asText(""), hash);
  }

  /**
   * {@code base}'s weights with {@code adapter} folded in: {@code W += scale B A} for each adapted
   * linear layer ({@code (B A)^T} for an {@code [in, out]} weight), saved modules replaced. New
   * arrays; {@code base} is left as it was.
   */
  public static LinkedHashMap<String, INDArray> merge(
      ModelConfig model, Map<String, INDArray> base, Adapter adapter) {
    Architecture arch = adapter.on(model);
    LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
    for (ParameterSpec p : Architecture.of(model).parameters()) {
      INDArray w = adapter.weights().get(p.name());
      if (w == null) {
        w = base.get(p.name());
      }
      if (w == null) {
        throw new IllegalArgumentException("the base model lacks " + p.name());
      }
      out.put(p.name(), w.castTo(DataType.FLOAT).dup('c'));
    }
    for (Architecture.Linear l : arch.linears()) {
      Architecture.Lora lo = l.lora();
      if (lo == null) {
        continue;
      }
      INDArray delta =
          adapter.weights().get(lo.b().name()).mmul(adapter.weights().get(lo.a().name()));
      delta.muli(lo.scale()); // [out, in]
      INDArray w = out.get(l.weight().name());
      w.addi(l.layout() == Architecture.Layout.IN_OUT ? delta.transpose() : delta);
    }
    return out;
  }

  /**
   * The SHA-256 of a model's weights: each parameter of {@code model}'s description in order, its
   * name, shape and fp32 values (little-endian). What an adapter records of its base, and checks
   * against the model it is applied to.
   */
  public static String baseHash(ModelConfig model, Map<String, INDArray> weights) {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    for (ParameterSpec p : Architecture.of(model).parameters()) {
      INDArray a = weights.get(p.name());
      if (a == null) {
        throw new IllegalArgumentException("the base model lacks " + p.name());
      }
      md.update(
          (p.name() + Arrays.toString(a.shape()))
              .getBytes(java.nio.charset.StandardCharsets.UTF_8));
      INDArray f =
          a.dataType() == DataType.FLOAT && a.ordering() == 'c' && !a.isView()
              ? a
              : a.castTo(DataType.FLOAT).dup('c');
      java.nio.FloatBuffer fb = f.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
      fb.limit((int) f.length());
      while (fb.hasRemaining()) {
        buf.clear();
        while (buf.remaining() >= 4 && fb.hasRemaining()) {
          buf.putFloat(fb.get());
        }
        buf.flip();
        md.update(buf);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /**
   * Refuses an adapter recorded for another base: {@code actual} is the hash of the weights it is
   * applied to.
   */
  public static void checkBase(Adapter adapter, String actual, String where) {
    if (adapter.baseHash() != null && !adapter.baseHash().equals(actual)) {
      throw new IllegalArgumentException(
          where
              + ": the adapter was trained on a base whose weights hash to "
              + adapter.baseHash()
              + " ("
              + adapter.baseModel()
              + "), the model given hashes to "
              + actual
              + ": apply it to the model it was trained on");
    }
  }

  private static String shortName(String module) {
    return module.substring(module.lastIndexOf('.') + 1);
  }
}
