package dev.forja.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads and writes the files other tools use for byte-level BPE: Hugging Face's {@code
 * tokenizer.json} (model type BPE with a ByteLevel pre-tokenizer) and GPT-2's pair {@code
 * vocab.json} + {@code merges.txt}. In a {@code vocab.json}, tokens written {@code <|...|>} are
 * special tokens (GPT-2's {@code <|endoftext|>}), as are any named by the caller.
 */
public final class TokenizerFiles {
  public static final String TOKENIZER_JSON = "tokenizer.json";
  public static final String VOCAB_JSON = "vocab.json";
  public static final String MERGES_TXT = "merges.txt";
  private static final ObjectMapper JSON = new ObjectMapper();

  private TokenizerFiles() {}

  /**
   * Loads a tokenizer from a {@code tokenizer.json} file, or a directory holding {@code
   * tokenizer.json} or {@code vocab.json} + {@code merges.txt}.
   */
  public static BpeTokenizer load(Storage storage, URI uri) throws IOException {
    String path = uri.getPath() == null ? "" : uri.getPath();
    if (path.endsWith(".json") && !path.endsWith(VOCAB_JSON)) {
      return fromTokenizerJson(storage.readString(uri), uri.toString());
    }
    URI tj = Storage.resolve(uri, TOKENIZER_JSON);
    if (storage.exists(tj)) {
      return fromTokenizerJson(storage.readString(tj), tj.toString());
    }
    URI vj = Storage.resolve(uri, VOCAB_JSON);
    URI mt = Storage.resolve(uri, MERGES_TXT);
    if (storage.exists(vj) && storage.exists(mt)) {
      return fromVocabAndMerges(
          storage.readString(vj), storage.readString(mt), List.of(), PreTokenizer.Pattern.GPT2);
    }
    throw new TokenizerException(
        "No tokenizer at "
            + uri
            + ": expected a tokenizer.json file, or a directory with tokenizer.json or vocab.json +"
            + " merges.txt (forja tokenizer train writes one)");
  }

  /** Writes {@code tokenizer.json}, {@code vocab.json} and {@code merges.txt} into {@code dir}. */
  public static void save(Storage storage, URI dir, BpeTokenizer t) throws IOException {
    storage.writeString(Storage.resolve(dir, TOKENIZER_JSON), toTokenizerJson(t), true);
    storage.writeString(Storage.resolve(dir, VOCAB_JSON), toVocabJson(t), true);
    storage.writeString(Storage.resolve(dir, MERGES_TXT), toMergesTxt(t), true);
  }

  // ---- GPT-2 pair ----

  public static BpeTokenizer fromVocabAndMerges(
      String vocabJson, String mergesTxt, List<String> extraSpecials, PreTokenizer.Pattern p) {
    JsonNode vocab = parse(vocabJson, VOCAB_JSON);
    if (!vocab.isObject()) {
      throw new TokenizerException("vocab.json must be a JSON object of token to id");
    }
    Map<String, Integer> byText = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
      var e = it.next();
      if (!e.getValue().canConvertToInt()) {
        throw new TokenizerException(
            "vocab.json: the id of '" + e.getKey() + "' is not an integer: " + e.getValue());
      }
      byText.put(e.getKey(), e.getValue().intValue());
    }
    Map<String, Integer> specials = new LinkedHashMap<>();
    for (var e : byText.entrySet()) {
      String k = e.getKey();
      if ((k.startsWith("<|") && k.endsWith("|>") && k.length() > 4) || extraSpecials.contains(k)) {
        specials.put(k, e.getValue());
      }
    }
    for (String s : extraSpecials) {
      if (!specials.containsKey(s)) {
        throw new TokenizerException("Special token '" + s + "' is not in vocab.json");
      }
    }
    List<byte[]> tokens = tokensById(byText, specials, VOCAB_JSON);
    List<int[]> merges = new ArrayList<>();
    String[] lines = mergesTxt.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line =
          lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
      if (line.isEmpty() || (i == 0 && line.startsWith("#version"))) {
        continue;
      }
      String[] parts = line.split(" ", -1);
      if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
        throw new TokenizerException(
            "merges.txt line "
                + (i + 1)
                + ": expected two symbols separated by a space: '"
                + line
                + "'");
      }
      merges.add(mergeIds(byText, parts[0], parts[1], "merges.txt line " + (i + 1)));
    }
    return new BpeTokenizer(p, tokens, merges, specials, false);
  }

  private static int[] mergeIds(Map<String, Integer> byText, String a, String b, String where) {
    Integer ia = byText.get(a);
    Integer ib = byText.get(b);
    if (ia == null || ib == null) {
      throw new TokenizerException(
          where + ": symbol '" + (ia == null ? a : b) + "' is not in the vocabulary");
    }
    return new int[] {ia, ib};
  }

  private static List<byte[]> tokensById(
      Map<String, Integer> byText, Map<String, Integer> specials, String file) {
    TreeMap<Integer, String> byId = new TreeMap<>();
    for (var e : byText.entrySet()) {
      String prev = byId.put(e.getValue(), e.getKey());
      if (prev != null) {
        throw new TokenizerException(
            file + ": tokens '" + prev + "' and '" + e.getKey() + "' share id " + e.getValue());
      }
    }
    if (!byId.isEmpty() && (byId.firstKey() != 0 || byId.lastKey() != byId.size() - 1)) {
      int expect = 0;
      for (int id : byId.keySet()) {
        if (id != expect) {
          throw new TokenizerException(
              file + ": no token has id " + expect + "; ids must be 0..N-1");
        }
        expect++;
      }
    }
    List<byte[]> tokens = new ArrayList<>(byId.size());
    for (var e : byId.entrySet()) {
      String text = e.getValue();
      byte[] bytes =
          specials.containsKey(text)
              ? text.getBytes(StandardCharsets.UTF_8)
              : ByteUnicode.decode(text);
      if (bytes == null) {
        throw new TokenizerException(
            file
                + ": token '"
                + text
                + "' (id "
                + e.getKey()
                + ") is not in byte-level form; is this a byte-level BPE vocabulary?");
      }
      tokens.add(bytes);
    }
    return tokens;
  }

  public static String toVocabJson(BpeTokenizer t) {
    ObjectNode vocab = JSON.createObjectNode();
    for (int id = 0; id < t.vocabSize(); id++) {
      vocab.put(t.tokenText(id), id);
    }
    return write(vocab);
  }

  public static String toMergesTxt(BpeTokenizer t) {
    StringBuilder sb = new StringBuilder("#version: 0.2\n");
    for (BpeTokenizer.Merge m : t.merges()) {
      sb.append(t.tokenText(m.left())).append(' ').append(t.tokenText(m.right())).append('\n');
    }
    return sb.toString();
  }

  // ---- tiktoken ----

  /**
   * A tokenizer from tiktoken's rank file ({@code .tiktoken}: one {@code base64-token rank} per
   * line, rank = id). tiktoken merges the adjacent pair whose joined bytes have the lowest rank; as
   * in Hugging Face's converter, every split of a token into two lower-ranked tokens becomes a
   * merge ranked by the token, which gives the same ids. Ids between the last rank and the special
   * tokens are filled with placeholder specials so that ids stay dense.
   */
  public static BpeTokenizer fromTiktoken(
      String ranks, PreTokenizer.Pattern pattern, Map<String, Integer> specials) {
    List<byte[]> tokens = new ArrayList<>();
    String[] lines = ranks.split("\n");
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].trim();
      if (line.isEmpty()) {
        continue;
      }
      String[] parts = line.split(" ");
      int rank;
      try {
        rank = Integer.parseInt(parts[1]);
      } catch (RuntimeException e) {
        throw new TokenizerException(
            "tiktoken line " + (i + 1) + ": expected 'base64 rank': " + line);
      }
      if (rank != tokens.size()) {
        throw new TokenizerException(
            "tiktoken line " + (i + 1) + ": rank " + rank + ", expected " + tokens.size());
      }
      tokens.add(java.util.Base64.getDecoder().decode(parts[0]));
    }
    Map<String, Integer> byBytes = new java.util.HashMap<>(tokens.size() * 2);
    for (int id = 0; id < tokens.size(); id++) {
      byBytes.put(ByteUnicode.encode(tokens.get(id)), id);
    }
    List<int[]> merges = new ArrayList<>();
    for (int id = 0; id < tokens.size(); id++) {
      String t = ByteUnicode.encode(tokens.get(id));
      List<int[]> local = new ArrayList<>();
      for (int k = 1; k < t.length(); k++) {
        Integer l = byBytes.get(t.substring(0, k));
        Integer r = byBytes.get(t.substring(k));
        if (l != null && r != null && l < id && r < id) {
          local.add(new int[] {l, r});
        }
      }
      local.sort(
          (a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
      merges.addAll(local);
    }
    int ranked = tokens.size();
    int size = ranked;
    for (var e : specials.entrySet()) {
      if (e.getValue() < ranked) {
        throw new TokenizerException(
            "Special token '"
                + e.getKey()
                + "' has id "
                + e.getValue()
                + ", which a ranked token holds");
      }
      size = Math.max(size, e.getValue() + 1);
    }
    Map<Integer, String> specialById = new java.util.HashMap<>();
    specials.forEach((k, v) -> specialById.put(v, k));
    Map<String, Integer> all = new LinkedHashMap<>();
    for (int id = ranked; id < size; id++) {
      String sp = specialById.getOrDefault(id, "<|unused_" + id + "|>");
      tokens.add(sp.getBytes(StandardCharsets.UTF_8));
      all.put(sp, id);
    }
    return new BpeTokenizer(pattern, tokens, merges, all, false);
  }

  // ---- Hugging Face tokenizer.json ----

  public static BpeTokenizer fromTokenizerJson(String json, String where) {
    JsonNode root = parse(json, where);
    JsonNode model = root.path("model");
    String type = model.path("type").asText("");
    if (type.isEmpty() && model.has("vocab") && model.has("merges")) {
      type = "BPE";
    }
    if (!type.equals("BPE")) {
      throw new TokenizerException(
          where
              + " holds a "
              + (type.isEmpty() ? "model without a type" : type + " model")
              + "; Forja reads BPE tokenizers (model.type BPE): byte-level, as GPT-2, Llama 3 and"
              + " Qwen use, and SentencePiece-style with byte fallback, as Llama 2 and Mistral use");
    }
    BpeTokenizer.SentencePiece sp = sentencePieceOf(root, where);
    JsonNode norm = root.path("normalizer");
    boolean nfc = norm.path("type").asText("").equals("NFC");
    if (sp != null) {
      norm = com.fasterxml.jackson.databind.node.NullNode.getInstance(); // read as SentencePiece
    }
    if (!norm.isMissingNode() && !norm.isNull() && !nfc) {
      throw new TokenizerException(
          where
              + " has a normalizer ("
              + norm.path("type").asText("?")
              + "); Forja supports byte-level BPE without normalization or with NFC");
    }
    PreTokenizer.Pattern pattern = sp != null ? null : patternOf(root.path("pre_tokenizer"), where);
    JsonNode vocab = model.path("vocab");
    if (!vocab.isObject()) {
      throw new TokenizerException(where + ": model.vocab must be an object of token to id");
    }
    Map<String, Integer> byText = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
      var e = it.next();
      byText.put(e.getKey(), e.getValue().asInt());
    }
    Map<String, Integer> specials = new LinkedHashMap<>();
    for (JsonNode added : root.path("added_tokens")) {
      String content = added.path("content").asText();
      int id = added.path("id").asInt();
      Integer existing = byText.get(content);
      if (existing != null && existing != id) {
        throw new TokenizerException(
            where
                + ": added token '"
                + content
                + "' has id "
                + id
                + " but the vocabulary says "
                + existing);
      }
      byText.put(content, id);
      specials.put(content, id);
    }
    List<byte[]> tokens = sp != null ? null : tokensById(byText, specials, where);
    List<int[]> merges = new ArrayList<>();
    int i = 0;
    for (JsonNode m : model.path("merges")) {
      i++;
      String a;
      String b;
      if (m.isArray() && m.size() == 2) {
        a = m.get(0).asText();
        b = m.get(1).asText();
      } else {
        String[] parts = m.asText().split(" ", -1);
        if (parts.length != 2) {
          throw new TokenizerException(
              where + ": model.merges entry " + i + " is not two symbols: " + m);
        }
        a = parts[0];
        b = parts[1];
      }
      merges.add(mergeIds(byText, a, b, where + ": model.merges entry " + i));
    }
    if (sp != null) {
      if (model.path("ignore_merges").asBoolean(false)) {
        throw new TokenizerException(
            where + ": ignore_merges with a SentencePiece-style tokenizer is not supported");
      }
      return BpeTokenizer.sentencePiece(piecesById(byText, where), merges, specials, sp);
    }
    return new BpeTokenizer(
        pattern, tokens, merges, specials, model.path("ignore_merges").asBoolean(false), nfc);
  }

  /**
   * The SentencePiece options of a SentencePiece-style BPE {@code tokenizer.json} (Llama 2's:
   * normalizer {@code Sequence[Prepend(▁), Replace(' ', ▁)]} and no pre-tokenizer; Mistral's and
   * TinyLlama's newer files: a {@code Metaspace} pre-tokenizer), or null for a byte-level one.
   */
  private static BpeTokenizer.SentencePiece sentencePieceOf(JsonNode root, String where) {
    JsonNode model = root.path("model");
    JsonNode norm = root.path("normalizer");
    JsonNode pre = root.path("pre_tokenizer");
    boolean byteFallback = model.path("byte_fallback").asBoolean(false);
    String unk = model.path("unk_token").isTextual() ? model.path("unk_token").asText() : null;
    boolean fuseUnk = model.path("fuse_unk").asBoolean(false);
    String meta = String.valueOf(BpeTokenizer.SentencePiece.META);
    if (norm.path("type").asText("").equals("Sequence")) {
      JsonNode list = norm.path("normalizers");
      boolean prepend = false;
      boolean replace = false;
      for (JsonNode n : list) {
        String t = n.path("type").asText("");
        if (t.equals("Prepend") && n.path("prepend").asText().equals(meta)) {
          prepend = true;
        } else if (t.equals("Replace")
            && n.path("pattern").path("String").asText().equals(" ")
            && n.path("content").asText().equals(meta)) {
          replace = true;
        } else {
          throw new TokenizerException(
              where
                  + ": unsupported normalizer "
                  + n
                  + " in a SentencePiece-style tokenizer; expected Prepend(▁) and Replace(' ', ▁)");
        }
      }
      if (!replace || !(pre.isMissingNode() || pre.isNull())) {
        throw new TokenizerException(
            where
                + ": unsupported normalizer "
                + norm
                + " with pre_tokenizer "
                + pre
                + "; Forja reads byte-level BPE or SentencePiece-style BPE (Llama 2, Mistral)");
      }
      return new BpeTokenizer.SentencePiece(
          prepend
              ? BpeTokenizer.SentencePiece.Prepend.NORMALIZER
              : BpeTokenizer.SentencePiece.Prepend.NEVER,
          false,
          byteFallback,
          unk,
          fuseUnk);
    }
    if (pre.path("type").asText("").equals("Metaspace")) {
      if (!pre.path("replacement").asText(meta).equals(meta)) {
        throw new TokenizerException(
            where + ": Metaspace replacement " + pre.path("replacement") + " is not supported (▁)");
      }
      if (!(norm.isMissingNode() || norm.isNull())) {
        throw new TokenizerException(
            where + ": a normalizer (" + norm + ") before Metaspace is not supported");
      }
      String scheme =
          pre.has("prepend_scheme")
              ? pre.path("prepend_scheme").asText()
              : pre.path("add_prefix_space").asBoolean(true) ? "always" : "never";
      BpeTokenizer.SentencePiece.Prepend prepend =
          switch (scheme) {
            case "always" -> BpeTokenizer.SentencePiece.Prepend.ALWAYS;
            case "first" -> BpeTokenizer.SentencePiece.Prepend.FIRST;
            case "never" -> BpeTokenizer.SentencePiece.Prepend.NEVER;
            default ->
                throw new TokenizerException(
                    where
                        + ": Metaspace prepend_scheme '"
                        + scheme
                        + "' is not one of always, first, never");
          };
      return new BpeTokenizer.SentencePiece(
          prepend, pre.path("split").asBoolean(true), byteFallback, unk, fuseUnk);
    }
    if (byteFallback) {
      throw new TokenizerException(
          where
              + ": byte_fallback without a SentencePiece-style normalizer or Metaspace"
              + " pre-tokenizer is not supported");
    }
    return null;
  }

  /** Each id's text, checked to be the ids 0..n-1 once each. */
  private static List<String> piecesById(Map<String, Integer> byText, String where) {
    String[] byId = new String[byText.size()];
    for (var e : byText.entrySet()) {
      int id = e.getValue();
      if (id < 0 || id >= byId.length) {
        throw new TokenizerException(
            where
                + ": token '"
                + e.getKey()
                + "' has id "
                + id
                + "; ids must run from 0 to "
                + (byId.length - 1));
      }
      if (byId[id] != null) {
        throw new TokenizerException(
            where + ": tokens '" + byId[id] + "' and '" + e.getKey() + "' share id " + id);
      }
      byId[id] = e.getKey();
    }
    return java.util.Arrays.asList(byId);
  }

  private static PreTokenizer.Pattern patternOf(JsonNode pre, String where) {
    String type = pre.path("type").asText("");
    if (type.equals("ByteLevel") && pre.path("use_regex").asBoolean(true)) {
      if (pre.path("add_prefix_space").asBoolean(false)) {
        throw new TokenizerException(
            where + ": pre_tokenizer.add_prefix_space=true is not supported");
      }
      return PreTokenizer.Pattern.GPT2;
    }
    if (type.equals("Sequence")) {
      JsonNode list = pre.path("pretokenizers");
      if (list.size() == 2
          && list.get(0).path("type").asText().equals("Split")
          && list.get(1).path("type").asText().equals("ByteLevel")
          && !list.get(1).path("use_regex").asBoolean(true)) {
        return PreTokenizer.Pattern.of(list.get(0).path("pattern").path("Regex").asText());
      }
    }
    throw new TokenizerException(
        where
            + ": unsupported pre_tokenizer "
            + pre
            + "; expected ByteLevel (GPT-2) or Sequence[Split(regex), ByteLevel] (cl100k/Llama 3)");
  }

  public static String toTokenizerJson(BpeTokenizer t) {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (var e : t.specials().entrySet()) {
      ObjectNode a = added.addObject();
      a.put("id", e.getValue());
      a.put("content", e.getKey());
      a.put("single_word", false);
      a.put("lstrip", false);
      a.put("rstrip", false);
      a.put("normalized", false);
      a.put("special", true);
    }
    if (t.sentencePiece() != null) {
      return sentencePieceJson(t, root);
    }
    if (t.nfc()) {
      root.putObject("normalizer").put("type", "NFC");
    } else {
      root.putNull("normalizer");
    }
    ObjectNode byteLevel = JSON.createObjectNode();
    byteLevel.put("type", "ByteLevel");
    byteLevel.put("add_prefix_space", false);
    byteLevel.put("trim_offsets", true);
    if (t.pattern() == PreTokenizer.Pattern.GPT2) {
      byteLevel.put("use_regex", true);
      root.set("pre_tokenizer", byteLevel);
    } else {
      byteLevel.put("use_regex", false);
      ObjectNode seq = root.putObject("pre_tokenizer");
      seq.put("type", "Sequence");
      ArrayNode list = seq.putArray("pretokenizers");
      ObjectNode split = list.addObject();
      split.put("type", "Split");
      split.putObject("pattern").put("Regex", t.pattern().regex);
      split.put("behavior", "Isolated");
      split.put("invert", false);
      list.add(byteLevel);
    }
    ObjectNode post = root.putObject("post_processor");
    post.put("type", "ByteLevel");
    post.put("add_prefix_space", false);
    post.put("trim_offsets", false);
    post.put("use_regex", true);
    ObjectNode dec = root.putObject("decoder");
    dec.put("type", "ByteLevel");
    dec.put("add_prefix_space", false);
    dec.put("trim_offsets", true);
    dec.put("use_regex", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", t.ignoreMerges());
    ObjectNode vocab = model.putObject("vocab");
    for (int id = 0; id < t.vocabSize(); id++) {
      vocab.put(t.tokenText(id), id);
    }
    ArrayNode merges = model.putArray("merges");
    for (BpeTokenizer.Merge m : t.merges()) {
      ArrayNode pair = merges.addArray();
      pair.add(t.tokenText(m.left()));
      pair.add(t.tokenText(m.right()));
    }
    return write(root);
  }

  /**
   * The rest of a SentencePiece-style {@code tokenizer.json}: Llama 2's normalizer form, or a
   * Metaspace pre-tokenizer, as it was read; its decoder and byte fallback.
   */
  private static String sentencePieceJson(BpeTokenizer t, ObjectNode root) {
    BpeTokenizer.SentencePiece sp = t.sentencePiece();
    String meta = String.valueOf(BpeTokenizer.SentencePiece.META);
    ObjectNode dec = JSON.createObjectNode();
    dec.put("type", "Sequence");
    ArrayNode decoders = dec.putArray("decoders");
    ObjectNode replace = decoders.addObject();
    replace.put("type", "Replace");
    replace.putObject("pattern").put("String", meta);
    replace.put("content", " ");
    decoders.addObject().put("type", "ByteFallback");
    decoders.addObject().put("type", "Fuse");
    if (sp.prepend() == BpeTokenizer.SentencePiece.Prepend.NORMALIZER
        || sp.prepend() == BpeTokenizer.SentencePiece.Prepend.NEVER) {
      ObjectNode norm = root.putObject("normalizer");
      norm.put("type", "Sequence");
      ArrayNode list = norm.putArray("normalizers");
      if (sp.prepend() == BpeTokenizer.SentencePiece.Prepend.NORMALIZER) {
        list.addObject().put("type", "Prepend").put("prepend", meta);
      }
      ObjectNode r = list.addObject();
      r.put("type", "Replace");
      r.putObject("pattern").put("String", " ");
      r.put("content", meta);
      root.putNull("pre_tokenizer");
    } else {
      root.putNull("normalizer");
      ObjectNode pre = root.putObject("pre_tokenizer");
      pre.put("type", "Metaspace");
      pre.put("replacement", meta);
      pre.put("prepend_scheme", sp.prepend().name().toLowerCase(java.util.Locale.ROOT));
      pre.put("split", sp.split());
    }
    if (sp.prepend() != BpeTokenizer.SentencePiece.Prepend.NEVER) {
      ObjectNode strip = decoders.addObject();
      strip.put("type", "Strip");
      strip.put("content", " ");
      strip.put("start", 1);
      strip.put("stop", 0);
    }
    root.putNull("post_processor");
    root.set("decoder", dec);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    if (sp.unk() == null) {
      model.putNull("unk_token");
    } else {
      model.put("unk_token", sp.unk());
    }
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", sp.fuseUnk());
    model.put("byte_fallback", sp.byteFallback());
    model.put("ignore_merges", false);
    ObjectNode vocab = model.putObject("vocab");
    for (int id = 0; id < t.vocabSize(); id++) {
      vocab.put(t.tokenText(id), id);
    }
    ArrayNode merges = model.putArray("merges");
    for (BpeTokenizer.Merge m : t.merges()) {
      ArrayNode pair = merges.addArray();
      pair.add(t.tokenText(m.left()));
      pair.add(t.tokenText(m.right()));
    }
    return write(root);
  }

  private static JsonNode parse(String json, String where) {
    try {
      return JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new TokenizerException(
          where + " is not valid JSON: " + e.getOriginalMessage() + " at " + e.getLocation(), e);
    }
  }

  private static String write(JsonNode node) {
    try {
      return JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(node) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
