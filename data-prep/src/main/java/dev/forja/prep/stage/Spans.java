package dev.forja.prep.stage;

import java.util.Arrays;

/**
 * Ranges {@code [start, end)} of a text (lines, paragraphs, words) found without building a string
 * per range, with the boundaries that {@code String.split} and {@code Pattern.split} would give;
 * and a reusable counter of 64-bit keys. One instance per thread, reused document after document.
 */
final class Spans {
  int count;
  int[] start = new int[64];
  int[] end = new int[64];

  void clear() {
    count = 0;
  }

  void add(int s, int e) {
    if (count == start.length) {
      start = Arrays.copyOf(start, count * 2);
      end = Arrays.copyOf(end, count * 2);
    }
    start[count] = s;
    end[count] = e;
    count++;
  }

  int length(int i) {
    return end[i] - start[i];
  }

  /**
   * The pieces of {@code text[from, to)} between newlines, as {@code split} gives them: with {@code
   * minRun} 1 and {@code runs} false each '\n' separates ({@code String.split("\n")}); with {@code
   * runs} true a run of at least {@code minRun} newlines is one separator ({@code \n+} or {@code
   * \n{2,}}). A leading empty piece is kept, trailing empty ones are dropped unless {@code
   * keepTrailing} ({@code split("\n", -1)}); without any separator the whole range is one piece.
   */
  Spans splitLines(String text, int from, int to, boolean runs, int minRun, boolean keepTrailing) {
    clear();
    int pieceStart = from;
    boolean found = false;
    int i = from;
    while (i < to) {
      if (text.charAt(i) != '\n') {
        i++;
        continue;
      }
      int j = i + 1;
      if (runs) {
        while (j < to && text.charAt(j) == '\n') {
          j++;
        }
        if (j - i < minRun) {
          i = j;
          continue;
        }
      }
      add(pieceStart, i);
      found = true;
      pieceStart = j;
      i = j;
    }
    if (!found) {
      add(from, to);
      return this;
    }
    add(pieceStart, to);
    if (!keepTrailing) {
      while (count > 0 && length(count - 1) == 0) {
        count--;
      }
    }
    return this;
  }

  /**
   * The words of {@code text[from, to)}: maximal runs of characters other than ASCII whitespace,
   * which is what {@code Pattern.compile("\\s+").split} gives on a stripped range.
   */
  Spans words(String text, int from, int to) {
    clear();
    int i = from;
    while (i < to) {
      while (i < to && isAsciiSpace(text.charAt(i))) {
        i++;
      }
      if (i >= to) {
        break;
      }
      int s = i;
      while (i < to && !isAsciiSpace(text.charAt(i))) {
        i++;
      }
      add(s, i);
    }
    return this;
  }

  /** {@code \s} without UNICODE_CHARACTER_CLASS. */
  static boolean isAsciiSpace(char c) {
    return c <= ' ' && (ASCII_SPACES >>> c & 1) != 0; // one compare for most chars
  }

  /** Bits 9 to 13 and 32: tab, line feed, vertical tab, form feed, carriage return, space. */
  private static final long ASCII_SPACES = 0x1_0000_3E00L;

  /** The first index of {@code text[from, to)} that {@code String.strip()} keeps. */
  static int stripStart(String text, int from, int to) {
    while (from < to && Character.isWhitespace(text.charAt(from))) {
      from++;
    }
    return from;
  }

  /** The end of {@code text[from, to)} after {@code String.strip()}. */
  static int stripEnd(String text, int from, int to) {
    while (to > from && Character.isWhitespace(text.charAt(to - 1))) {
      to--;
    }
    return to;
  }

  /** Whether {@code text[from, to)} contains {@code needle}; never looks past {@code to}. */
  static boolean contains(String text, String needle, int from, int to) {
    char first = needle.charAt(0);
    for (int at = text.indexOf(first, from);
        at >= 0 && at + needle.length() <= to;
        at = text.indexOf(first, at + 1)) {
      if (text.startsWith(needle, at)) {
        return true;
      }
    }
    return false;
  }

  /** A 64-bit hash of the characters of {@code text[from, to)} and their number. */
  static long hash(String text, int from, int to) {
    long h = 0xcbf29ce484222325L;
    for (int i = from; i < to; i++) {
      h = (h ^ text.charAt(i)) * 0x100000001b3L;
    }
    h ^= (long) (to - from) << 40;
    h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
    h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
    return h ^ (h >>> 31);
  }

  /**
   * A set and counter of 64-bit keys in open addressing; {@link #reset} empties it in constant time
   * (entries of an older generation count as empty), so one instance serves every document.
   */
  static final class Counter {
    private long[] keys = new long[256];
    private int[] counts = new int[256];
    private int[] gen = new int[256];
    private int mask = 255;
    private int current = 1;
    private int size;

    /** Empties the counter, with room for {@code expected} keys without rehashing. */
    void reset(int expected) {
      size = 0;
      int cap = Integer.highestOneBit(Math.max(16, expected * 2 + 1)) << 1;
      if (cap > keys.length) {
        keys = new long[cap];
        counts = new int[cap];
        gen = new int[cap];
        mask = cap - 1;
        current = 1;
        return;
      }
      if (++current == Integer.MAX_VALUE) {
        Arrays.fill(gen, 0);
        current = 1;
      }
    }

    /** Adds one to the key's count and returns the new count. */
    int increment(long key) {
      int i = slot(key);
      while (gen[i] == current) {
        if (keys[i] == key) {
          return ++counts[i];
        }
        i = (i + 1) & mask;
      }
      if ((size + 1) * 2 > keys.length) {
        grow();
        i = slot(key);
        while (gen[i] == current) {
          i = (i + 1) & mask;
        }
      }
      gen[i] = current;
      keys[i] = key;
      counts[i] = 1;
      size++;
      return 1;
    }

    /** Adds the key; true when it was not there. */
    boolean add(long key) {
      return increment(key) == 1;
    }

    private int slot(long key) {
      return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask;
    }

    private void grow() {
      long[] k = keys;
      int[] c = counts;
      int[] g = gen;
      int old = current;
      keys = new long[k.length * 2];
      counts = new int[k.length * 2];
      gen = new int[k.length * 2];
      mask = keys.length - 1;
      current = 1;
      for (int i = 0; i < k.length; i++) {
        if (g[i] == old) {
          int j = slot(k[i]);
          while (gen[j] == current) {
            j = (j + 1) & mask;
          }
          gen[j] = current;
          keys[j] = k[i];
          counts[j] = c[i];
        }
      }
    }
  }
}
