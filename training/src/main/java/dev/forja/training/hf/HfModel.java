package dev.forja.training.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.storage.CommitManifest;
import dev.forja.storage.Storage;
import dev.forja.tokenizer.BpeTokenizer;
import dev.forja.tokenizer.TokenizerException;
import dev.forja.tokenizer.TokenizerFiles;
import dev.forja.training.checkpoint.CheckpointStore;
import dev.forja.training.checkpoint.SafeTensors;
import dev.forja.training.model.GptModel;
import dev.forja.training.model.ModelConfig;
import dev.forja.training.model.ParameterSpec;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A Hugging Face model directory, read and written: {@code config.json}, the weights in {@code
 * model.safetensors} (or shards named by {@code model.safetensors.index.json}), {@code
 * tokenizer.json} with {@code tokenizer_config.json}, and {@code generation_config.json}. This is
 * what {@code transformers}' {@code from_pretrained}, vLLM and TGI load. Supported model types:
 * {@link #SUPPORTED}.
 */
public final class HfModel {
  public static final String CONFIG = "config.json";
  public static final String WEIGHTS = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";
  public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
  public static final String GENERATION_CONFIG = "generation_config.json";

  /** The manifest kind of a directory {@code forja model export --format hf} writes. */
  public static final String KIND = "hf-model";

  /** The {@code model_type}s Forja reads and writes. */
  public static final List<String> SUPPORTED =
      List.of("gpt2", "llama", "mistral", "qwen2", "qwen3");

  /** The Llama family's model types and the class transformers loads each with. */
  private static final Map<String, String> LLAMA_ARCHITECTURES =
      Map.of(
          "llama", "LlamaForCausalLM",
          "mistral", "MistralForCausalLM",
          "qwen2", "Qwen2ForCausalLM",
          "qwen3", "Qwen3ForCausalLM");

  /** Above this many bytes of weights, {@link #write} shards them (as transformers does). */
  public static final long DEFAULT_SHARD_BYTES = 2L << 30;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /**
   * Buffers some GPT-2 files carry beside the parameters (the causal mask), which are not weights.
   */
  private static final List<String> GPT2_BUFFERS = List.of(".attn.bias", ".attn.masked_bias");

  private HfModel() {}

  /** A model read from a directory: its architecture, weights (fp32) and tokenizer. */
  public record Read(
      ModelConfig model,
      LinkedHashMap<String, INDArray> weights,
      String tokenizerJson,
      BpeTokenizer tokenizer,
      Map<String, String> dtypes,
      Map<String, String> carried) {}

  // ---- config.json ----

  /** The Forja architecture a {@code config.json} describes; an error names what is unsupported. */
  public static ModelConfig modelConfig(JsonNode config, String where) {
    String type = config.path("model_type").asText("");
    if (!SUPPORTED.contains(type)) {
      throw new IllegalArgumentException(
          where
              + ": model_type '"
              + type
              + "' is not supported (supported: "
              + String.join(", ", SUPPORTED)
              + ")");
    }
    if (LLAMA_ARCHITECTURES.containsKey(type)) {
      return llamaConfig(config, type, where);
    }
    int d = required(config, "n_embd", where);
    int heads = required(config, "n_head", where);
    int inner = config.path("n_inner").isNumber() ? config.path("n_inner").asInt() : 4 * d;
    if (inner % d != 0) {
      throw new IllegalArgumentException(
          where + ": n_inner " + inner + " is not a multiple of n_embd " + d + " (not supported)");
    }
    String act = config.path("activation_function").asText("gelu_new");
    if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh")) {
      throw new IllegalArgumentException(
          where
              + ": activation_function '"
              + act
              + "' is not supported (Forja's GPT-2 uses the tanh GELU: gelu_new)");
    }
    if (!config.path("scale_attn_weights").asBoolean(true)
        || config.path("scale_attn_by_inverse_layer_idx").asBoolean(false)) {
      throw new IllegalArgumentException(
          where
              + ": attention scaling other than 1/sqrt(head size) is not supported"
              + " (scale_attn_weights, scale_attn_by_inverse_layer_idx)");
    }
    return new ModelConfig(
        required(config, "vocab_size", where),
        required(config, "n_positions", where),
        required(config, "n_layer", where),
        d,
        heads,
        inner / d,
        true,
        config.path("tie_word_embeddings").asBoolean(true),
        config.path("layer_norm_epsilon").asDouble(1e-5),
        config.path("initializer_range").asDouble(0.02),
        ModelConfig.Objective.CAUSAL);
  }

  /**
   * Llama, Mistral, Qwen2 and Qwen3, with RoPE as transformers 5 writes it or as older files do.
   */
  private static ModelConfig llamaConfig(JsonNode config, String type, String where) {
    int d = required(config, "hidden_size", where);
    int heads = required(config, "num_attention_heads", where);
    int kv =
        config.path("num_key_value_heads").canConvertToInt()
            ? config.path("num_key_value_heads").asInt()
            : heads;
    int headDim =
        config.path("head_dim").canConvertToInt() ? config.path("head_dim").asInt() : d / heads;
    int context = required(config, "max_position_embeddings", where);
    String act = config.path("hidden_act").asText("silu");
    if (!act.equals("silu")) {
      throw new IllegalArgumentException(
          where + ": hidden_act '" + act + "' is not supported (the Llama family uses silu)");
    }
    if (config.path("mlp_bias").asBoolean(false)
        || (type.equals("llama") && config.path("attention_bias").asBoolean(false))) {
      throw new IllegalArgumentException(
          where
              + ": biases on the output or MLP projections are not supported (mlp_bias,"
              + " attention_bias of llama)");
    }
    JsonNode window = config.path("sliding_window");
    boolean sliding =
        type.equals("mistral")
            ? window.canConvertToInt() && window.asInt() < context
            : config.path("use_sliding_window").asBoolean(false);
    if (sliding) {
      throw new IllegalArgumentException(
          where
              + ": sliding-window attention ("
              + window
              + " of "
              + context
              + " positions) is not supported: Forja runs full attention");
    }
    JsonNode rope = config.path("rope_parameters");
    JsonNode legacy = config.path("rope_scaling");
    JsonNode scaling = rope.isObject() ? rope : legacy;
    double theta =
        rope.path("rope_theta").isNumber()
            ? rope.path("rope_theta").asDouble()
            : config.path("rope_theta").asDouble(10000.0);
    String kind = scaling.path("rope_type").asText(scaling.path("type").asText("default"));
    if (kind.equals("default")) {
      kind = "none";
    }
    if (!ModelConfig.Llama.SCALINGS.contains(kind)) {
      throw new IllegalArgumentException(
          where + ": rope scaling '" + kind + "' is not supported (supported: linear, llama3)");
    }
    ModelConfig.Llama l =
        new ModelConfig.Llama(
            type,
            kv,
            headDim,
            required(config, "intermediate_size", where),
            theta,
            kind,
            scaling.path("factor").asDouble(1.0),
            scaling.path("low_freq_factor").asDouble(1.0),
            scaling.path("high_freq_factor").asDouble(4.0),
            scaling.path("original_max_position_embeddings").asInt(context),
            type.equals("qwen2"),
            type.equals("qwen3"));
    return new ModelConfig(
        required(config, "vocab_size", where),
        context,
        required(config, "num_hidden_layers", where),
        d,
        heads,
        1,
        false,
        config
            .path("tie_word_embeddings")
            .asBoolean(!type.equals("llama") && !type.equals("mistral")),
        config.path("rms_norm_eps").asDouble(1e-6),
        config.path("initializer_range").asDouble(0.02),
        ModelConfig.Objective.CAUSAL,
        l);
  }

  private static int required(JsonNode config, String key, String where) {
    JsonNode v = config.path(key);
    if (!v.canConvertToInt()) {
      throw new IllegalArgumentException(where + ": " + key + " is missing or not an integer");
    }
    return v.asInt();
  }

  /** {@code config.json} for {@code c}, with the tokenizer's special ids where it has them. */
  public static ObjectNode configJson(ModelConfig c, Integer bos, Integer eos, String dtype) {
    if (c.objective() != ModelConfig.Objective.CAUSAL) {
      throw new IllegalArgumentException(
          "this checkpoint was trained with model.objective=masked (bidirectional attention);"
              + " a Hugging Face causal LM (GPT2LMHeadModel) would not compute what it learned");
    }
    if (c.llamaFamily()) {
      return llamaConfigJson(c, bos, eos, dtype);
    }
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add("GPT2LMHeadModel");
    n.put("model_type", "gpt2");
    n.put("vocab_size", c.vocabSize());
    n.put("n_positions", c.contextLength());
    n.put("n_embd", c.dModel());
    n.put("n_layer", c.layers());
    n.put("n_head", c.heads());
    n.put("n_inner", c.mlpWidth());
    n.put("activation_function", "gelu_new");
    n.put("layer_norm_epsilon", c.normEpsilon());
    n.put("initializer_range", c.initStd());
    n.put("tie_word_embeddings", c.tiedEmbeddings());
    n.put("scale_attn_weights", true);
    n.put("resid_pdrop", 0.0);
    n.put("embd_pdrop", 0.0);
    n.put("attn_pdrop", 0.0);
    return withTokensAndDtype(n, bos, eos, dtype);
  }

  private static ObjectNode withTokensAndDtype(
      ObjectNode n, Integer bos, Integer eos, String dtype) {
    if (bos != null) {
      n.put("bos_token_id", bos);
    }
    if (eos != null) {
      n.put("eos_token_id", eos);
    }
    n.put("dtype", dtype);
    n.put("use_cache", true);
    return n;
  }

  private static ObjectNode llamaConfigJson(ModelConfig c, Integer bos, Integer eos, String dtype) {
    ModelConfig.Llama l = c.llama();
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add(LLAMA_ARCHITECTURES.get(l.modelType()));
    n.put("model_type", l.modelType());
    n.put("vocab_size", c.vocabSize());
    n.put("max_position_embeddings", c.contextLength());
    n.put("hidden_size", c.dModel());
    n.put("intermediate_size", l.mlpHidden());
    n.put("num_hidden_layers", c.layers());
    n.put("num_attention_heads", c.heads());
    n.put("num_key_value_heads", l.kvHeads());
    n.put("head_dim", l.headDim());
    n.put("hidden_act", "silu");
    n.put("rms_norm_eps", c.normEpsilon());
    n.put("initializer_range", c.initStd());
    n.put("tie_word_embeddings", c.tiedEmbeddings());
    n.put("rope_theta", l.ropeTheta());
    if (l.ropeScaling().equals("none")) {
      n.putNull("rope_scaling");
    } else {
      ObjectNode r = n.putObject("rope_scaling");
      r.put("rope_type", l.ropeScaling());
      r.put("factor", l.ropeFactor());
      if (l.ropeScaling().equals("llama3")) {
        r.put("low_freq_factor", l.lowFreqFactor());
        r.put("high_freq_factor", l.highFreqFactor());
        r.put("original_max_position_embeddings", l.originalContext());
      }
    }
    if (!l.modelType().equals("qwen2")) {
      n.put("attention_bias", false);
    }
    if (l.modelType().equals("mistral")) {
      n.putNull("sliding_window");
    }
    return withTokensAndDtype(n, bos, eos, dtype);
  }

  // ---- reading ----

  /**
   * Reads the model at {@code dir}. Every check that needs only headers (the model type, missing,
   * unexpected or misshapen tensors, a missing shard, a bad safetensors header) runs before any
   * weight is read.
   */
  public static Read read(Storage storage, URI dir) throws IOException {
    URI configUri = Storage.resolve(dir, CONFIG);
    if (!storage.exists(configUri)) {
      throw new IllegalArgumentException(
          dir + " has no " + CONFIG + ": not a Hugging Face model directory");
    }
    JsonNode config = JSON.readTree(storage.readString(configUri));
    ModelConfig mc = modelConfig(config, configUri.toString());

    BpeTokenizer tokenizer;
    String tokenizerJson;
    URI tj = Storage.resolve(dir, TokenizerFiles.TOKENIZER_JSON);
    try {
      if (storage.exists(tj)) {
        tokenizerJson = storage.readString(tj);
        tokenizer = TokenizerFiles.fromTokenizerJson(tokenizerJson, tj.toString());
      } else {
        tokenizer = TokenizerFiles.load(storage, dir);
        tokenizerJson = TokenizerFiles.toTokenizerJson(tokenizer);
      }
    } catch (TokenizerException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    if (tokenizer.vocabSize() > mc.vocabSize()) {
      throw new IllegalArgumentException(
          dir
              + ": the tokenizer has "
              + tokenizer.vocabSize()
              + " tokens but config.json's vocab_size is "
              + mc.vocabSize());
    }

    // headers first: names and shapes against what config.json implies
    Map<URI, List<SafeTensors.Entry>> files = headers(storage, dir);
    Map<String, ParameterSpec> expected = ParameterSpec.byName(mc);
    Map<String, String> hfToForja = new LinkedHashMap<>();
    Map<String, String> dtypes = new TreeMap<>();
    for (Map.Entry<URI, List<SafeTensors.Entry>> f : files.entrySet()) {
      for (SafeTensors.Entry e : f.getValue()) {
        String name = mc.llamaFamily() ? e.name() : forjaName(e.name());
        if (GPT2_BUFFERS.stream().anyMatch(name::endsWith)
            || name.endsWith("rotary_emb.inv_freq")
            || (mc.tiedEmbeddings() && name.equals(GptModel.LM_HEAD))) {
          continue; // not a parameter, or the tied head's copy of the embedding
        }
        ParameterSpec p = expected.get(name);
        if (p == null) {
          throw new IllegalArgumentException(
              f.getKey()
                  + ": unexpected tensor "
                  + e.name()
                  + " (not part of a "
                  + config.path("model_type").asText()
                  + " model as "
                  + CONFIG
                  + " describes it)");
        }
        if (!Arrays.equals(p.shape(), e.shape())) {
          throw new IllegalArgumentException(
              f.getKey()
                  + ": tensor "
                  + e.name()
                  + " has shape "
                  + Arrays.toString(e.shape())
                  + "; "
                  + CONFIG
                  + " implies "
                  + Arrays.toString(p.shape()));
        }
        hfToForja.put(e.name(), name);
        dtypes.merge(e.dtype().id, "1", (a, b) -> Integer.toString(Integer.parseInt(a) + 1));
      }
    }
    for (String name : expected.keySet()) {
      if (!hfToForja.containsValue(name)) {
        throw new IllegalArgumentException(dir + ": missing tensor " + name);
      }
    }

    LinkedHashMap<String, INDArray> weights = new LinkedHashMap<>();
    for (URI f : files.keySet()) {
      try (InputStream in = storage.open(f)) {
        SafeTensors.read(in, storage.size(f), f.toString())
            .tensors()
            .forEach(
                (hf, a) -> {
                  String name = hfToForja.get(hf);
                  if (name != null) {
                    weights.put(name, a);
                  }
                });
      }
    }
    LinkedHashMap<String, INDArray> ordered = new LinkedHashMap<>();
    for (String name : expected.keySet()) {
      ordered.put(name, weights.get(name));
    }
    return new Read(
        mc, ordered, tokenizerJson, tokenizer, dtypes, CheckpointStore.readCarried(storage, dir));
  }

  /** GPT-2's original files name parameters without the {@code transformer.} prefix. */
  private static String forjaName(String hf) {
    if (hf.startsWith("transformer.") || hf.startsWith("lm_head.") || hf.startsWith("model.")) {
      return hf;
    }
    return "transformer." + hf;
  }

  /** Each weight file of {@code dir} with its checked header, in the index's order. */
  private static Map<URI, List<SafeTensors.Entry>> headers(Storage storage, URI dir)
      throws IOException {
    List<URI> files = new ArrayList<>();
    URI index = Storage.resolve(dir, INDEX);
    if (storage.exists(index)) {
      JsonNode map = JSON.readTree(storage.readString(index)).path("weight_map");
      if (!map.isObject() || map.isEmpty()) {
        throw new IllegalArgumentException(index + " has no weight_map");
      }
      for (JsonNode shard : (Iterable<JsonNode>) map::elements) {
        URI f = Storage.resolve(dir, shard.asText());
        if (!files.contains(f)) {
          if (!storage.exists(f)) {
            throw new IllegalArgumentException(
                index + " names the shard " + shard.asText() + ", which is missing");
          }
          files.add(f);
        }
      }
    } else {
      URI single = Storage.resolve(dir, WEIGHTS);
      if (!storage.exists(single)) {
        throw new IllegalArgumentException(
            dir
                + " has neither "
                + WEIGHTS
                + " nor "
                + INDEX
                + " (Forja reads safetensors weights, not pytorch_model.bin)");
      }
      files.add(single);
    }
    Map<URI, List<SafeTensors.Entry>> out = new LinkedHashMap<>();
    for (URI f : files) {
      try (DataInputStream in = new DataInputStream(storage.open(f))) {
        out.put(f, SafeTensors.readHeader(in, storage.size(f), f.toString()).entries());
      } catch (IOException e) {
        throw new IllegalArgumentException(e.getMessage(), e);
      }
    }
    return out;
  }

  /**
   * {@code forja model import}: reads the model at {@code from} and writes it as a Forja checkpoint
   * directory at {@code output} (step 0, no optimizer state), which {@code forja generate} runs and
   * {@code forja train --init-from} trains further.
   */
  public static Read importTo(Storage storage, URI from, URI output) throws IOException {
    Read r = read(storage, from);
    writeCheckpoint(storage, r, output);
    return r;
  }

  /** Writes a model read from another format as a Forja checkpoint directory (step 0). */
  public static void writeCheckpoint(Storage storage, Read r, URI output) throws IOException {
    CheckpointStore.writeTo(
        storage,
        output,
        new CheckpointStore.Snapshot(
            dev.forja.training.train.TrainState.start(0),
            r.weights(),
            new LinkedHashMap<>(),
            r.model(),
            dev.forja.training.train.TrainConfig.defaults(),
            r.tokenizerJson(),
            r.carried()));
  }

  // ---- writing ----

  /**
   * Writes {@code ck} as a Hugging Face model directory at {@code dir}, weights stored as {@code
   * dtype} and sharded above {@code shardBytes}, committed by a manifest written last.
   */
  /**
   * A model's special tokens and chat template, from the {@code tokenizer_config.json} it carries
   * (an imported model's), else the end-of-text token its tokenizer knows.
   *
   * @param bos the beginning-of-sequence token, or null
   * @param eos the end-of-sequence token, or null
   * @param chatTemplate the Jinja chat template, or null
   */
  public record Specials(Integer bos, Integer eos, String chatTemplate) {
    public static Specials of(BpeTokenizer tok, Map<String, String> carried) throws IOException {
      String text = carried.get(TOKENIZER_CONFIG);
      JsonNode tc = text == null ? JSON.createObjectNode() : JSON.readTree(text);
      Integer eos = special(tok, tc.path("eos_token"));
      if (eos == null) {
        eos = eosId(tok);
      }
      String template =
          tc.path("chat_template").isTextual() ? tc.get("chat_template").asText() : null;
      return new Specials(special(tok, tc.path("bos_token")), eos, template);
    }

    /** A special token named in tokenizer_config.json (a string, or an object with content). */
    private static Integer special(BpeTokenizer tok, JsonNode n) {
      String text = n.isTextual() ? n.asText() : n.path("content").asText(null);
      return text == null ? null : tok.specials().get(text);
    }
  }

  /** The end-of-text token of a tokenizer without a {@code tokenizer_config.json}, or null. */
  public static Integer eosId(BpeTokenizer tok) {
    for (String t : List.of("<|endoftext|>", "<|end_of_text|>", "</s>", "<|im_end|>")) {
      Integer id = tok.specials().get(t);
      if (id != null) {
        return id;
      }
    }
    return null;
  }

  public static void write(
      Storage storage,
      CheckpointStore.Loaded ck,
      URI dir,
      SafeTensors.Dtype dtype,
      long shardBytes,
      Map<String, String> lineage)
      throws IOException {
    ModelConfig c = ck.model();
    BpeTokenizer tok = TokenizerFiles.fromTokenizerJson(ck.tokenizerJson(), ck.dir() + "");
    Integer eos = eosId(tok);
    String eosText = null;
    for (var e : tok.specials().entrySet()) {
      if (eos != null && e.getValue().equals(eos)) {
        eosText = e.getKey();
      }
    }
    ObjectNode config = configJson(c, eos, eos, torchDtype(dtype));
    storage.writeString(Storage.resolve(dir, CONFIG), JSON.writeValueAsString(config), true);

    LinkedHashMap<String, INDArray> tensors = new LinkedHashMap<>();
    for (ParameterSpec p : ParameterSpec.of(c)) {
      INDArray a = ck.weights().get(p.name());
      if (a == null) {
        throw new IllegalArgumentException(ck.dir() + ": the checkpoint lacks " + p.name());
      }
      tensors.put(p.name(), a);
    }
    if (!c.llamaFamily()
        && !c.bias()) { // GPT2LMHeadModel always has biases: zeros compute the same
      for (ParameterSpec p : ParameterSpec.of(withBias(c))) {
        tensors.computeIfAbsent(
            p.name(), n -> Nd4j.zeros(ck.weights().get(GptModel.WTE).dataType(), p.shape()));
      }
    }
    writeWeights(storage, dir, tensors, dtype, shardBytes);

    storage.writeString(
        Storage.resolve(dir, TokenizerFiles.TOKENIZER_JSON), ck.tokenizerJson(), true);
    ObjectNode tc = JSON.createObjectNode();
    tc.put("tokenizer_class", "PreTrainedTokenizerFast");
    tc.put("model_max_length", c.contextLength());
    tc.put("clean_up_tokenization_spaces", false);
    if (eosText != null) {
      tc.put("bos_token", eosText);
      tc.put("eos_token", eosText);
    }
    if (tok.specials().containsKey("<|pad|>")) {
      tc.put("pad_token", "<|pad|>");
    }
    storage.writeString(
        Storage.resolve(dir, TOKENIZER_CONFIG),
        ck.carried().getOrDefault(TOKENIZER_CONFIG, JSON.writeValueAsString(tc)),
        true);
    ObjectNode gen = JSON.createObjectNode();
    if (eos != null) {
      gen.put("bos_token_id", eos);
      gen.put("eos_token_id", eos);
    }
    storage.writeString(
        Storage.resolve(dir, GENERATION_CONFIG),
        ck.carried().getOrDefault(GENERATION_CONFIG, JSON.writeValueAsString(gen)),
        true);

    Map<String, String> contents = new LinkedHashMap<>();
    contents.put(CONFIG, "the architecture, as transformers reads it");
    contents.put(
        WEIGHTS + " (or shards with " + INDEX + ")",
        "the weights in " + dtype.id + ", Hugging Face names");
    contents.put(TokenizerFiles.TOKENIZER_JSON + ", " + TOKENIZER_CONFIG, "the tokenizer");
    contents.put(GENERATION_CONFIG, "special token ids for generation");
    storage.writeString(
        Storage.resolve(dir, CommitManifest.README),
        CommitManifest.readme(
            "A Hugging Face model directory written by forja model export: load it with"
                + " AutoModelForCausalLM.from_pretrained and AutoTokenizer.from_pretrained.",
            contents),
        true);
    Map<String, String> props = new LinkedHashMap<>(lineage);
    props.put("checkpoint", ck.dir().toString());
    props.put("step", Long.toString(ck.state().step()));
    props.put("dtype", dtype.id);
    CommitManifest.commit(storage, dir, KIND, props);
  }

  private static ModelConfig withBias(ModelConfig c) {
    return new ModelConfig(
        c.vocabSize(),
        c.contextLength(),
        c.layers(),
        c.dModel(),
        c.heads(),
        c.mlpRatio(),
        true,
        c.tiedEmbeddings(),
        c.normEpsilon(),
        c.initStd(),
        c.objective());
  }

  private static String torchDtype(SafeTensors.Dtype d) {
    return switch (d) {
      case F16 -> "float16";
      case BF16 -> "bfloat16";
      case F64 -> "float64";
      default -> "float32";
    };
  }

  /** One file, or shards of at most {@code shardBytes} each with their index. */
  private static void writeWeights(
      Storage storage,
      URI dir,
      LinkedHashMap<String, INDArray> tensors,
      SafeTensors.Dtype dtype,
      long shardBytes)
      throws IOException {
    Map<String, String> meta = Map.of("format", "pt");
    List<LinkedHashMap<String, INDArray>> shards = new ArrayList<>();
    LinkedHashMap<String, INDArray> current = new LinkedHashMap<>();
    long bytes = 0;
    long total = 0;
    for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
      long b = e.getValue().length() * dtype.width;
      if (!current.isEmpty() && bytes + b > shardBytes) {
        shards.add(current);
        current = new LinkedHashMap<>();
        bytes = 0;
      }
      current.put(e.getKey(), e.getValue());
      bytes += b;
      total += b;
    }
    shards.add(current);
    if (shards.size() == 1) {
      try (OutputStream raw = storage.create(Storage.resolve(dir, WEIGHTS), true);
          OutputStream out = new java.io.BufferedOutputStream(raw, 1 << 20)) {
        SafeTensors.write(out, tensors, meta, dtype);
      }
      return;
    }
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", total);
    ObjectNode map = index.putObject("weight_map");
    for (int i = 0; i < shards.size(); i++) {
      String name =
          String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, shards.size());
      try (OutputStream raw = storage.create(Storage.resolve(dir, name), true);
          OutputStream out = new java.io.BufferedOutputStream(raw, 1 << 20)) {
        SafeTensors.write(out, shards.get(i), meta, dtype);
      }
      for (String t : shards.get(i).keySet()) {
        map.put(t, name);
      }
    }
    storage.writeString(Storage.resolve(dir, INDEX), JSON.writeValueAsString(index), true);
  }
}
