package dev.forja.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A byte-level BPE tokenizer of the GPT-2 family: text is split into pre-tokens by {@link
 * PreTokenizer}, each pre-token's UTF-8 bytes start as one token per byte, and merges are applied
 * lowest rank first (leftmost first among equal ranks), which gives GPT-2's and tiktoken's ids.
 * Special tokens are whole tokens that {@link #encodeWithSpecials} recognises in text and BPE never
 * produces or splits.
 *
 * <p>Immutable and safe to share between threads; each thread keeps its own cache of recent
 * pre-tokens.
 */
public final class BpeTokenizer {
  /** A merge: the tokens {@code left} and {@code right} become {@code result}. */
  public record Merge(int left, int right, int result) {}

  private final PreTokenizer preTokenizer;
  private final byte[][] tokens;
  private final boolean[] isSpecial;
  private final Map<String, Integer> specials;
  private final List<Merge> merges;
  private final PairMap rankOf;
  private final int[] mergeResult;
  private final int[] byteId = new int[256];
  private final boolean ignoreMerges;
  private final boolean nfc;
  private final Map<String, Integer> wholeTokens;
  private final SentencePiece sp; // null: byte-level
  private final Map<String, Integer> pieceId; // SentencePiece: each non-special piece's id
  private final int unkId;
  private final String[] pieces; // SentencePiece: each token's text by id
  private final String hash;
  private final ThreadLocal<Workspace> workspace = ThreadLocal.withInitial(Workspace::new);

  /**
   * How a SentencePiece-style BPE tokenizer (Llama 2, Mistral v0.1, TinyLlama) turns text into
   * words: spaces become {@code ▁} (U+2581), a {@code ▁} is prepended, and the words are split into
   * characters (not bytes) before merging; a character outside the vocabulary becomes its UTF-8
   * bytes as {@code <0xXX>} tokens ({@code byteFallback}) or the unknown token.
   *
   * @param prepend when the leading {@code ▁} is added
   * @param split whether the text is cut into words before each {@code ▁} (Metaspace's {@code
   *     split}); otherwise the whole text is one word
   * @param byteFallback Hugging Face BPE's {@code byte_fallback}
   * @param unk the unknown token's text, or null
   * @param fuseUnk whether consecutive unknown characters become one unknown token
   */
  public record SentencePiece(
      Prepend prepend, boolean split, boolean byteFallback, String unk, boolean fuseUnk) {
    /** The word separator SentencePiece writes for a space. */
    public static final char META = '\u2581';

    /** When the leading {@code ▁} is added to a span of text (between special tokens). */
    public enum Prepend {
      /** Hugging Face's {@code Prepend} normalizer (Llama 2's tokenizer.json): to every span. */
      NORMALIZER,
      /** Metaspace {@code always}: to every span that does not start with a space. */
      ALWAYS,
      /** Metaspace {@code first}: as always, to the span at the start of the text only. */
      FIRST,
      /** Metaspace {@code never}. */
      NEVER
    }
  }

  /**
   * A SentencePiece-style BPE tokenizer.
   *
   * @param pieces each token's text by id, with {@code ▁} for a space and {@code <0xXX>} for a byte
   *     (for special tokens, their text)
   * @param merges pairs of token ids in rank order; each result must be the token of the joined
   *     text
   */
  public static BpeTokenizer sentencePiece(
      List<String> pieces,
      List<int[]> merges,
      Map<String, Integer> specials,
      SentencePiece options) {
    return new BpeTokenizer(null, pieces, merges, specials, false, false, options);
  }

  /**
   * @param tokens the bytes of each token, by id (for special tokens, their UTF-8 text)
   * @param merges pairs of token ids in rank order; each result must be the token of the joined
   *     bytes
   * @param specials special token text to id, in the order they were declared
   * @param ignoreMerges Hugging Face's {@code ignore_merges}: a pre-token that is itself a token is
   *     not merged (Llama 3)
   */
  public BpeTokenizer(
      PreTokenizer.Pattern pattern,
      List<byte[]> tokens,
      List<int[]> merges,
      Map<String, Integer> specials,
      boolean ignoreMerges) {
    this(pattern, tokens, merges, specials, ignoreMerges, false);
  }

  /**
   * As above; {@code nfc}: text is normalized to Unicode NFC before it is split (Hugging Face's
   * {@code NFC} normalizer, as Qwen's tokenizers declare).
   */
  public BpeTokenizer(
      PreTokenizer.Pattern pattern,
      List<byte[]> tokens,
      List<int[]> merges,
      Map<String, Integer> specials,
      boolean ignoreMerges,
      boolean nfc) {
    this(pattern, tokens, merges, specials, ignoreMerges, nfc, null);
  }

  /** Byte-level when {@code sp} is null ({@code tokens} are bytes), else SentencePiece (text). */
  private BpeTokenizer(
      PreTokenizer.Pattern pattern,
      List<?> tokens,
      List<int[]> merges,
      Map<String, Integer> specials,
      boolean ignoreMerges,
      boolean nfc,
      SentencePiece sp) {
    this.nfc = nfc;
    this.sp = sp;
    this.preTokenizer = sp == null ? PreTokenizer.of(pattern) : null;
    this.tokens = new byte[tokens.size()][];
    for (int id = 0; id < this.tokens.length; id++) {
      Object t = tokens.get(id);
      this.tokens[id] = t instanceof String text ? null : (byte[]) t;
    }
    this.specials = Collections.unmodifiableMap(new LinkedHashMap<>(specials));
    this.isSpecial = new boolean[this.tokens.length];
    this.ignoreMerges = ignoreMerges;
    for (var e : specials.entrySet()) {
      int id = e.getValue();
      if (id < 0 || id >= this.tokens.length) {
        throw new TokenizerException(
            "Special token '" + e.getKey() + "' has id " + id + ", outside the vocabulary");
      }
      isSpecial[id] = true;
    }
    if (sp != null) {
      this.pieces = tokens.toArray(new String[0]);
      this.pieceId = new HashMap<>(this.tokens.length * 2);
      for (int id = 0; id < this.tokens.length; id++) {
        String text = (String) tokens.get(id);
        if (text == null) {
          throw new TokenizerException("The vocabulary has no token with id " + id);
        }
        this.tokens[id] = isSpecial[id] ? text.getBytes(UTF8) : pieceBytes(text, sp);
        if (!isSpecial[id] && pieceId.putIfAbsent(text, id) != null) {
          throw new TokenizerException(
              "Tokens " + pieceId.get(text) + " and " + id + " are both '" + text + "'");
        }
      }
      Arrays.fill(byteId, -1);
      for (int b = 0; b < 256; b++) {
        Integer id = pieceId.get(String.format("<0x%02X>", b));
        byteId[b] = id == null ? -1 : id;
      }
      Integer unk =
          sp.unk() == null ? null : pieceId.getOrDefault(sp.unk(), specials.get(sp.unk()));
      if (sp.unk() != null && unk == null) {
        throw new TokenizerException(
            "The unknown token '" + sp.unk() + "' is not in the vocabulary");
      }
      this.unkId = unk == null ? -1 : unk;
      this.rankOf = new PairMap(merges.size());
      this.mergeResult = new int[merges.size()];
      List<Merge> ms = new ArrayList<>(merges.size());
      for (int rank = 0; rank < merges.size(); rank++) {
        int[] m = merges.get(rank);
        if (m[0] < 0 || m[1] < 0 || m[0] >= this.tokens.length || m[1] >= this.tokens.length) {
          throw new TokenizerException("Merge " + (rank + 1) + " refers to an unknown token id");
        }
        String joined = (String) tokens.get(m[0]) + tokens.get(m[1]);
        Integer result = pieceId.get(joined);
        if (result == null) {
          throw new TokenizerException(
              "Merge "
                  + (rank + 1)
                  + " ('"
                  + tokens.get(m[0])
                  + "' + '"
                  + tokens.get(m[1])
                  + "') makes '"
                  + joined
                  + "', which is not in the vocabulary");
        }
        if (!rankOf.put(m[0], m[1], rank)) {
          throw new TokenizerException("Merge " + (rank + 1) + " repeats an earlier merge");
        }
        mergeResult[rank] = result;
        ms.add(new Merge(m[0], m[1], result));
      }
      this.merges = Collections.unmodifiableList(ms);
      this.wholeTokens = null;
      this.hash = computeHash();
      return;
    }
    this.pieceId = null;
    this.pieces = null;
    this.unkId = -1;
    Map<String, Integer> byBytes = new HashMap<>(this.tokens.length * 2);
    for (int id = 0; id < this.tokens.length; id++) {
      if (this.tokens[id] == null) {
        throw new TokenizerException("The vocabulary has no token with id " + id);
      }
      if (!isSpecial[id]) {
        Integer prev = byBytes.putIfAbsent(ByteUnicode.encode(this.tokens[id]), id);
        if (prev != null) {
          throw new TokenizerException(
              "Tokens "
                  + prev
                  + " and "
                  + id
                  + " have the same bytes '"
                  + ByteUnicode.encode(this.tokens[id])
                  + "'");
        }
      }
    }
    Arrays.fill(byteId, -1);
    for (int b = 0; b < 256; b++) {
      Integer id = byBytes.get(ByteUnicode.encode(new byte[] {(byte) b}));
      if (id == null) {
        throw new TokenizerException(
            String.format(
                "The vocabulary lacks the single-byte token for byte 0x%02X ('%s'): a byte-level"
                    + " BPE vocabulary must hold all 256 bytes",
                b, ByteUnicode.encode(new byte[] {(byte) b})));
      }
      byteId[b] = id;
    }
    this.rankOf = new PairMap(merges.size());
    this.mergeResult = new int[merges.size()];
    List<Merge> ms = new ArrayList<>(merges.size());
    for (int rank = 0; rank < merges.size(); rank++) {
      int[] m = merges.get(rank);
      int a = m[0];
      int b = m[1];
      if (a < 0 || b < 0 || a >= this.tokens.length || b >= this.tokens.length) {
        throw new TokenizerException("Merge " + (rank + 1) + " refers to an unknown token id");
      }
      byte[] joined = concat(this.tokens[a], this.tokens[b]);
      Integer result = byBytes.get(ByteUnicode.encode(joined));
      if (result == null) {
        throw new TokenizerException(
            "Merge "
                + (rank + 1)
                + " ('"
                + ByteUnicode.encode(this.tokens[a])
                + "' + '"
                + ByteUnicode.encode(this.tokens[b])
                + "') makes '"
                + ByteUnicode.encode(joined)
                + "', which is not in the vocabulary");
      }
      if (rankOf.put(a, b, rank)) {
        mergeResult[rank] = result;
        ms.add(new Merge(a, b, result));
      } else {
        throw new TokenizerException("Merge " + (rank + 1) + " repeats an earlier merge");
      }
    }
    this.merges = Collections.unmodifiableList(ms);
    this.wholeTokens = ignoreMerges ? byBytes : null;
    this.hash = computeHash();
  }

  /**
   * What a piece decodes to: {@code <0xXX>} its byte (with byte fallback), else its text with
   * spaces.
   */
  private static byte[] pieceBytes(String piece, SentencePiece sp) {
    if (sp.byteFallback()
        && piece.length() == 6
        && piece.startsWith("<0x")
        && piece.endsWith(">")
        && piece.substring(3, 5).matches("[0-9A-F]{2}")) {
      return new byte[] {(byte) Integer.parseInt(piece.substring(3, 5), 16)};
    }
    return piece.replace(SentencePiece.META, ' ').getBytes(UTF8);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  // ---- accessors ----

  /** The pre-tokenizer's pattern of a byte-level tokenizer; null for a SentencePiece one. */
  public PreTokenizer.Pattern pattern() {
    return preTokenizer == null ? null : preTokenizer.pattern();
  }

  /** The SentencePiece options, or null for a byte-level tokenizer. */
  public SentencePiece sentencePiece() {
    return sp;
  }

  /** The text of token {@code id} as the vocabulary spells it (byte-level or SentencePiece). */
  public String tokenText(int id) {
    if (sp == null || isSpecial[id]) {
      return isSpecial[id] ? new String(tokens[id], UTF8) : ByteUnicode.encode(tokens[id]);
    }
    return pieces[id];
  }

  public int vocabSize() {
    return tokens.length;
  }

  public byte[] tokenBytes(int id) {
    return tokens[id].clone();
  }

  public boolean isSpecial(int id) {
    return isSpecial[id];
  }

  /** Special token text to id, in declaration order. */
  public Map<String, Integer> specials() {
    return specials;
  }

  /** The id of a special token. */
  public int specialId(String text) {
    Integer id = specials.get(text);
    if (id == null) {
      throw new TokenizerException(
          "'" + text + "' is not a special token of this tokenizer; it has " + specials.keySet());
    }
    return id;
  }

  public List<Merge> merges() {
    return merges;
  }

  public boolean ignoreMerges() {
    return ignoreMerges;
  }

  /** Whether text is normalized to NFC before it is split. */
  public boolean nfc() {
    return nfc;
  }

  /**
   * SHA-256 of what decides the ids (pattern, token bytes, specials, merges), whichever file format
   * the tokenizer was read from. Shard manifests record it.
   */
  public String hash() {
    return hash;
  }

  private String computeHash() {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(
          ("forja-bpe/1\n"
                  + (sp == null ? pattern().regex : "sentencepiece " + sp)
                  + "\n"
                  + ignoreMerges
                  + "\n")
              .getBytes(UTF8));
      if (nfc) { // only then, so that the hashes of tokenizers without a normalizer stay as they
        // were
        md.update("nfc\n".getBytes(UTF8));
      }
      HexFormat hex = HexFormat.of();
      for (int id = 0; id < tokens.length; id++) {
        md.update(
            (id + (isSpecial[id] ? " S " : " T ") + hex.formatHex(tokens[id]) + "\n")
                .getBytes(UTF8));
      }
      for (Merge m : merges) {
        md.update((m.left + " " + m.right + "\n").getBytes(UTF8));
      }
      return hex.formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static final java.nio.charset.Charset UTF8 = StandardCharsets.UTF_8;

  // ---- encoding ----

  /** The ids of {@code text}, treating special-token text as ordinary text. */
  public int[] encode(String text) {
    IntList out = new IntList(Math.max(16, text.length() / 3));
    encodeInto(text, 0, text.length(), out);
    return out.toArray();
  }

  /** The ids of {@code text}, where each special token's text becomes its id. */
  public int[] encodeWithSpecials(String text) {
    IntList out = new IntList(Math.max(16, text.length() / 3));
    int i = 0;
    while (i < text.length()) {
      int best = -1;
      String bestText = null;
      for (String s : specials.keySet()) {
        int at = text.indexOf(s, i);
        if (at >= 0 && (best < 0 || at < best || (at == best && s.length() > bestText.length()))) {
          best = at;
          bestText = s;
        }
      }
      if (best < 0) {
        encodeInto(text, i, text.length(), out);
        break;
      }
      encodeInto(text, i, best, out);
      out.add(specials.get(bestText));
      i = best + bestText.length();
    }
    return out.toArray();
  }

  /** Appends the ids of {@code text[from, to)} (special-token text as ordinary text). */
  public void encodeInto(String text, int from, int to, IntList out) {
    if (sp != null) {
      encodeSentencePiece(text, from, to, out);
      return;
    }
    if (nfc) {
      String part = text.substring(from, to);
      if (!java.text.Normalizer.isNormalized(part, java.text.Normalizer.Form.NFC)) {
        text = java.text.Normalizer.normalize(part, java.text.Normalizer.Form.NFC);
        from = 0;
        to = text.length();
      }
    }
    String input = text;
    Workspace ws = workspace.get();
    preTokenizer.split(input, from, to, (s, e) -> encodePiece(ws, input, s, e, out));
  }

  /**
   * SentencePiece: spaces to {@code ▁}, the leading {@code ▁} as {@link SentencePiece#prepend}
   * says, the words (or the whole span) split into characters and merged.
   */
  private void encodeSentencePiece(String text, int from, int to, IntList out) {
    if (from >= to) {
      return;
    }
    String span = text.substring(from, to).replace(' ', SentencePiece.META);
    boolean startsWithMeta = span.charAt(0) == SentencePiece.META;
    boolean prepend =
        switch (sp.prepend()) {
          case NORMALIZER -> true;
          case ALWAYS -> !startsWithMeta;
          case FIRST -> from == 0 && !startsWithMeta;
          case NEVER -> false;
        };
    if (prepend) {
      span = SentencePiece.META + span;
    }
    Workspace ws = workspace.get();
    if (!sp.split()) {
      encodeWord(ws, span, out);
      return;
    }
    int start = 0;
    for (int i = 1; i <= span.length(); i++) {
      if (i == span.length() || span.charAt(i) == SentencePiece.META) {
        encodeWord(ws, span.substring(start, i), out);
        start = i;
      }
    }
  }

  /** One SentencePiece word: its characters as tokens (or bytes, or unknown), then merged. */
  private void encodeWord(Workspace ws, String word, IntList out) {
    boolean cacheable = word.length() <= Workspace.MAX_CACHED_CHARS;
    if (cacheable) {
      int[] hit = ws.cache.get(word);
      if (hit != null) {
        out.addAll(hit);
        return;
      }
    }
    int[] ids = ws.symbols(word.length() * 4);
    int n = 0;
    boolean lastUnknown = false;
    for (int i = 0; i < word.length(); ) {
      int cp = word.codePointAt(i);
      int len = Character.charCount(cp);
      Integer id = pieceId.get(word.substring(i, i + len));
      i += len;
      if (id != null && !isSpecial[id]) {
        ids[n++] = id;
        lastUnknown = false;
        continue;
      }
      if (sp.byteFallback()) {
        byte[] utf8 = new String(Character.toChars(cp)).getBytes(UTF8);
        boolean all = true;
        for (byte b : utf8) {
          all &= byteId[b & 0xFF] >= 0;
        }
        if (all) {
          for (byte b : utf8) {
            ids[n++] = byteId[b & 0xFF];
          }
          lastUnknown = false;
          continue;
        }
      }
      if (unkId < 0) {
        throw new TokenizerException(
            "Character U+"
                + String.format("%04X", cp)
                + " is not in the vocabulary, which has neither byte fallback nor an unknown token");
      }
      if (!(sp.fuseUnk() && lastUnknown)) {
        ids[n++] = unkId;
      }
      lastUnknown = true;
    }
    int len = n <= 48 ? mergeSmall(ids, n) : mergeLarge(ws, ids, n);
    if (cacheable) {
      if (ws.cache.size() >= Workspace.MAX_CACHE_ENTRIES) {
        ws.cache.clear();
      }
      ws.cache.put(word, Arrays.copyOf(ids, len));
    }
    out.addAll(ids, len);
  }

  private void encodePiece(Workspace ws, String text, int s, int e, IntList out) {
    boolean cacheable = e - s <= Workspace.MAX_CACHED_CHARS;
    String key = null;
    if (cacheable) {
      key = text.substring(s, e);
      int[] hit = ws.cache.get(key);
      if (hit != null) {
        out.addAll(hit);
        return;
      }
    }
    int n = ws.utf8(text, s, e);
    int[] ids = ws.ids;
    for (int i = 0; i < n; i++) {
      ids[i] = byteId[ws.bytes[i] & 0xFF];
    }
    int len;
    if (n == 1) {
      len = 1;
    } else if (ignoreMerges && (len = whole(ws.bytes, n, ids)) == 1) {
      // the pre-token is itself a token
    } else if (n <= 48) {
      len = mergeSmall(ids, n);
    } else {
      len = mergeLarge(ws, ids, n);
    }
    if (cacheable) {
      if (ws.cache.size() >= Workspace.MAX_CACHE_ENTRIES) {
        ws.cache.clear();
      }
      ws.cache.put(key, Arrays.copyOf(ids, len));
    }
    out.addAll(ids, len);
  }

  private int whole(byte[] bytes, int n, int[] ids) {
    Integer id = wholeTokens.get(ByteUnicode.encode(Arrays.copyOf(bytes, n)));
    if (id != null) {
      ids[0] = id;
      return 1;
    }
    return n;
  }

  /** Quadratic merging, fastest for the short pre-tokens of ordinary text. */
  private int mergeSmall(int[] ids, int n) {
    while (n > 1) {
      int bestRank = Integer.MAX_VALUE;
      int bestPos = -1;
      for (int i = 0; i < n - 1; i++) {
        int r = rankOf.get(ids[i], ids[i + 1], Integer.MAX_VALUE);
        if (r < bestRank) {
          bestRank = r;
          bestPos = i;
        }
      }
      if (bestPos < 0) {
        break;
      }
      ids[bestPos] = mergeResult[bestRank];
      System.arraycopy(ids, bestPos + 2, ids, bestPos + 1, n - bestPos - 2);
      n--;
    }
    return n;
  }

  /**
   * Merging with a linked list and a heap of (rank, position), O(n log n): for long pre-tokens such
   * as whitespace runs or long words.
   */
  private int mergeLarge(Workspace ws, int[] ids, int n) {
    ws.ensureLinks(n);
    int[] next = ws.next;
    int[] prev = ws.prev;
    LongHeap heap = ws.heap;
    heap.clear();
    for (int i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    for (int i = 0; i + 1 < n; i++) {
      int r = rankOf.get(ids[i], ids[i + 1], -1);
      if (r >= 0) {
        heap.push(((long) r << 32) | i);
      }
    }
    while (!heap.isEmpty()) {
      long top = heap.pop();
      int rank = (int) (top >>> 32);
      int pos = (int) top;
      int nx = next[pos];
      if (ids[pos] < 0 || nx < 0 || rankOf.get(ids[pos], ids[nx], -1) != rank) {
        continue; // stale entry
      }
      ids[pos] = mergeResult[rank];
      ids[nx] = -1;
      int after = next[nx];
      next[pos] = after;
      if (after >= 0) {
        prev[after] = pos;
        int r = rankOf.get(ids[pos], ids[after], -1);
        if (r >= 0) {
          heap.push(((long) r << 32) | pos);
        }
      }
      int before = prev[pos];
      if (before >= 0) {
        int r = rankOf.get(ids[before], ids[pos], -1);
        if (r >= 0) {
          heap.push(((long) r << 32) | before);
        }
      }
    }
    int len = 0;
    for (int i = 0; i >= 0; i = next[i]) {
      ids[len++] = ids[i];
    }
    return len;
  }

  // ---- decoding ----

  /** The bytes of a sequence of ids. */
  public byte[] decodeBytes(int[] ids) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
    for (int id : ids) {
      if (id < 0 || id >= tokens.length) {
        throw new TokenizerException(
            "Token id " + id + " is outside the vocabulary (0.." + (tokens.length - 1) + ")");
      }
      out.writeBytes(tokens[id]);
    }
    return out.toByteArray();
  }

  /**
   * The text of a sequence of ids (invalid UTF-8, possible mid-sequence, becomes U+FFFD); for a
   * SentencePiece tokenizer, without the space its leading {@code ▁} stands for.
   */
  public String decode(int[] ids) {
    String text = new String(decodeBytes(ids), UTF8);
    if (sp != null && sp.prepend() != SentencePiece.Prepend.NEVER && text.startsWith(" ")) {
      return text.substring(1);
    }
    return text;
  }

  // ---- per-thread buffers ----

  private static final class Workspace {
    static final int MAX_CACHED_CHARS = 32;
    static final int MAX_CACHE_ENTRIES = 1 << 16;
    final HashMap<String, int[]> cache = new HashMap<>(MAX_CACHE_ENTRIES * 2);
    byte[] bytes = new byte[256];
    int[] ids = new int[256];
    int[] next = new int[0];
    int[] prev = new int[0];
    final LongHeap heap = new LongHeap();

    /** UTF-8 of {@code text[s, e)} into {@link #bytes} (ids grown to match); returns the length. */
    int utf8(String text, int s, int e) {
      int max = (e - s) * 3;
      if (bytes.length < max) {
        bytes = new byte[max];
        ids = new int[max];
      }
      int n = 0;
      for (int i = s; i < e; i++) {
        char c = text.charAt(i);
        if (c < 0x80) {
          bytes[n++] = (byte) c;
        } else if (c < 0x800) {
          bytes[n++] = (byte) (0xC0 | (c >> 6));
          bytes[n++] = (byte) (0x80 | (c & 0x3F));
        } else if (Character.isHighSurrogate(c)
            && i + 1 < e
            && Character.isLowSurrogate(text.charAt(i + 1))) {
          int cp = Character.toCodePoint(c, text.charAt(++i));
          bytes[n++] = (byte) (0xF0 | (cp >> 18));
          bytes[n++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
          bytes[n++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
          bytes[n++] = (byte) (0x80 | (cp & 0x3F));
        } else if (Character.isSurrogate(c)) {
          bytes[n++] = '?'; // a lone surrogate is not text; Java's encoder writes '?' too
        } else {
          bytes[n++] = (byte) (0xE0 | (c >> 12));
          bytes[n++] = (byte) (0x80 | ((c >> 6) & 0x3F));
          bytes[n++] = (byte) (0x80 | (c & 0x3F));
        }
      }
      return n;
    }

    /** {@link #ids} with room for {@code n} symbols. */
    int[] symbols(int n) {
      if (ids.length < n) {
        ids = new int[n];
        bytes = new byte[n];
      }
      return ids;
    }

    void ensureLinks(int n) {
      if (next.length < n) {
        next = new int[n];
        prev = new int[n];
      }
    }
  }

  /** A binary min-heap of longs. */
  static final class LongHeap {
    private long[] a = new long[64];
    private int size;

    void clear() {
      size = 0;
    }

    boolean isEmpty() {
      return size == 0;
    }

    void push(long v) {
      if (size == a.length) {
        a = Arrays.copyOf(a, size * 2);
      }
      int i = size++;
      while (i > 0) {
        int p = (i - 1) >>> 1;
        if (a[p] <= v) {
          break;
        }
        a[i] = a[p];
        i = p;
      }
      a[i] = v;
    }

    long pop() {
      long top = a[0];
      long last = a[--size];
      int i = 0;
      while (true) {
        int l = 2 * i + 1;
        if (l >= size) {
          break;
        }
        int c = l + 1 < size && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= last) {
          break;
        }
        a[i] = a[c];
        i = c;
      }
      if (size > 0) {
        a[i] = last;
      }
      return top;
    }
  }
}
