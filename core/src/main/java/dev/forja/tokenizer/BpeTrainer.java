package dev.forja.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Learns byte-level BPE merges from pre-token counts. Incremental: pair counts are computed once
 * and then updated only in the words a merge changes (each pair keeps the list of words it occurs
 * in), and the next merge comes from a priority queue with lazy invalidation. Ties between pairs of
 * equal count go to the smaller (left id, right id), so the same counts always give the same
 * merges.
 *
 * <p>Ids: the 256 bytes in GPT-2's order, then one token per merge, then the special tokens.
 */
public final class BpeTrainer {

  /** What training did, for the stats file and the console. */
  public record Stats(
      int vocabSize,
      int merges,
      String stopReason,
      long distinctPreTokens,
      long preTokens,
      long bytes,
      long tokensAfter,
      double seconds) {
    /** Average bytes per token on the training pre-tokens. */
    public double bytesPerToken() {
      return tokensAfter == 0 ? 0 : (double) bytes / tokensAfter;
    }
  }

  /** The tokenizer and its stats. */
  public record Result(BpeTokenizer tokenizer, Stats stats) {}

  private final int vocabSize;
  private final long minFrequency;
  private final List<String> specials;
  private final PreTokenizer.Pattern pattern;

  public BpeTrainer(
      int vocabSize, long minFrequency, List<String> specials, PreTokenizer.Pattern pattern) {
    int needed = 256 + specials.size();
    if (vocabSize < needed) {
      throw new TokenizerException(
          "A vocabulary of "
              + vocabSize
              + " cannot hold the 256 byte tokens plus "
              + specials.size()
              + " special tokens: set tokenizer.vocab-size to at least "
              + needed);
    }
    if (specials.stream().distinct().count() != specials.size()) {
      throw new TokenizerException("Special tokens repeat: " + specials);
    }
    for (String s : specials) {
      if (s.isEmpty()) {
        throw new TokenizerException("A special token cannot be empty");
      }
    }
    this.vocabSize = vocabSize;
    this.minFrequency = Math.max(1, minFrequency);
    this.specials = List.copyOf(specials);
    this.pattern = pattern;
  }

  /** Trains on pre-token counts (text of each pre-token and how often it occurs). */
  public Result train(Map<String, Long> preTokenCounts) {
    long t0 = System.nanoTime();
    // Sort the words so that the result does not depend on the map's iteration order.
    String[] keys = preTokenCounts.keySet().toArray(new String[0]);
    Arrays.sort(keys);
    int[] byteToId = new int[256];
    List<byte[]> tokens = new ArrayList<>();
    for (int i = 0; i < 256; i++) {
      byteToId[ByteUnicode.byteAt(i)] = i;
      tokens.add(new byte[] {(byte) ByteUnicode.byteAt(i)});
    }
    int[][] words = new int[keys.length][];
    long[] counts = new long[keys.length];
    long totalPre = 0;
    long totalBytes = 0;
    for (int w = 0; w < keys.length; w++) {
      byte[] b = keys[w].getBytes(StandardCharsets.UTF_8);
      int[] s = new int[b.length];
      for (int i = 0; i < b.length; i++) {
        s[i] = byteToId[b[i] & 0xFF];
      }
      words[w] = s;
      counts[w] = preTokenCounts.get(keys[w]);
      totalPre += counts[w];
      totalBytes += counts[w] * b.length;
    }

    Pairs pairs = new Pairs(Math.max(1024, keys.length * 4));
    for (int w = 0; w < words.length; w++) {
      int[] s = words[w];
      for (int i = 0; i + 1 < s.length; i++) {
        int p = pairs.index(s[i], s[i + 1]);
        pairs.count[p] += counts[w];
        pairs.addWord(p, w);
      }
    }
    PriorityQueue<long[]> heap =
        new PriorityQueue<>(
            Math.max(16, pairs.size),
            (x, y) -> {
              if (x[0] != y[0]) {
                return Long.compare(y[0], x[0]);
              }
              if (x[1] != y[1]) {
                return Long.compare(x[1], y[1]);
              }
              return Long.compare(x[2], y[2]);
            });
    for (int p = 0; p < pairs.size; p++) {
      if (pairs.count[p] > 0) {
        heap.add(new long[] {pairs.count[p], pairs.left[p], pairs.right[p]});
      }
    }

    List<int[]> merges = new ArrayList<>();
    int target = vocabSize - specials.size();
    String stop = "vocabulary full";
    int[] seenStep = new int[words.length];
    Arrays.fill(seenStep, -1);
    IntList out = new IntList();
    while (tokens.size() < target) {
      long[] top = heap.poll();
      if (top == null) {
        stop = "no pairs left (every pre-token is a single token)";
        break;
      }
      int a = (int) top[1];
      int b = (int) top[2];
      int p = pairs.find(a, b);
      if (pairs.count[p] != top[0]) {
        continue; // stale
      }
      if (top[0] < minFrequency) {
        stop = "next pair occurs fewer than tokenizer.min-frequency=" + minFrequency + " times";
        break;
      }
      int c = tokens.size();
      byte[] ab = Arrays.copyOf(tokens.get(a), tokens.get(a).length + tokens.get(b).length);
      System.arraycopy(tokens.get(b), 0, ab, tokens.get(a).length, tokens.get(b).length);
      tokens.add(ab);
      merges.add(new int[] {a, b});
      int step = merges.size();
      int[] ws = pairs.words(p);
      int nw = pairs.wordCount[p];
      pairs.touched.clear();
      for (int k = 0; k < nw; k++) {
        int w = ws[k];
        if (seenStep[w] == step) {
          continue;
        }
        seenStep[w] = step;
        int[] s = words[w];
        long n = counts[w];
        out.clear();
        boolean changed = false;
        for (int i = 0; i < s.length; ) {
          if (i + 1 < s.length && s[i] == a && s[i + 1] == b) {
            changed = true;
            if (out.size() > 0) {
              int left = out.get(out.size() - 1);
              pairs.add(left, a, -n, -1);
              pairs.add(left, c, n, w);
            }
            if (i + 2 < s.length) {
              pairs.add(b, s[i + 2], -n, -1);
              pairs.add(c, s[i + 2], n, w);
            }
            pairs.add(a, b, -n, -1);
            out.add(c);
            i += 2;
          } else {
            out.add(s[i]);
            i++;
          }
        }
        if (changed) {
          words[w] = out.toArray();
        }
      }
      for (int k = 0; k < pairs.touched.size(); k++) {
        int q = pairs.touched.get(k);
        pairs.inTouched[q] = false;
        if (pairs.count[q] > 0) {
          heap.add(new long[] {pairs.count[q], pairs.left[q], pairs.right[q]});
        }
      }
    }
    long after = 0;
    for (int w = 0; w < words.length; w++) {
      after += counts[w] * words[w].length;
    }
    Map<String, Integer> specialIds = new LinkedHashMap<>();
    for (String s : specials) {
      specialIds.put(s, tokens.size());
      tokens.add(s.getBytes(StandardCharsets.UTF_8));
    }
    BpeTokenizer t = new BpeTokenizer(pattern, tokens, merges, specialIds, false);
    Stats stats =
        new Stats(
            t.vocabSize(),
            merges.size(),
            stop,
            keys.length,
            totalPre,
            totalBytes,
            after,
            (System.nanoTime() - t0) / 1e9);
    return new Result(t, stats);
  }

  /** Pair table: counts, and the words each pair occurs in (may repeat; checked on use). */
  private static final class Pairs {
    final PairMap index;
    int size;
    long[] count;
    int[] left;
    int[] right;
    int[][] words;
    int[] wordCount;
    boolean[] inTouched;
    final IntList touched = new IntList();

    Pairs(int expected) {
      index = new PairMap(expected);
      count = new long[expected];
      left = new int[expected];
      right = new int[expected];
      words = new int[expected][];
      wordCount = new int[expected];
      inTouched = new boolean[expected];
    }

    int find(int a, int b) {
      return index.get(a, b, -1);
    }

    int index(int a, int b) {
      int p = index.get(a, b, -1);
      if (p >= 0) {
        return p;
      }
      if (size == count.length) {
        int cap = size * 2;
        count = Arrays.copyOf(count, cap);
        left = Arrays.copyOf(left, cap);
        right = Arrays.copyOf(right, cap);
        words = Arrays.copyOf(words, cap);
        wordCount = Arrays.copyOf(wordCount, cap);
        inTouched = Arrays.copyOf(inTouched, cap);
      }
      p = size++;
      index.put(a, b, p);
      left[p] = a;
      right[p] = b;
      return p;
    }

    void addWord(int p, int w) {
      int n = wordCount[p];
      int[] ws = words[p];
      if (n > 0 && ws[n - 1] == w) {
        return;
      }
      if (ws == null) {
        ws = words[p] = new int[2];
      } else if (n == ws.length) {
        ws = words[p] = Arrays.copyOf(ws, n * 2);
      }
      ws[n] = w;
      wordCount[p] = n + 1;
    }

    int[] words(int p) {
      return words[p] == null ? new int[0] : words[p];
    }

    /** Adds {@code delta} to the pair's count; records word {@code w} if {@code w >= 0}. */
    void add(int a, int b, long delta, int w) {
      int p = index(a, b);
      count[p] += delta;
      if (w >= 0) {
        addWord(p, w);
      }
      if (!inTouched[p]) {
        inTouched[p] = true;
        touched.add(p);
      }
    }
  }
}
