package dev.forja.tokenizer;

import java.util.Arrays;

/** An open-addressing map from a pair of ints to an int, for merge ranks and pair counts. */
final class PairMap {
  private static final long EMPTY = Long.MIN_VALUE;
  private long[] keys;
  private int[] values;
  private int size;
  private int mask;

  PairMap(int expected) {
    int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
    keys = new long[cap];
    values = new int[cap];
    Arrays.fill(keys, EMPTY);
    mask = cap - 1;
  }

  static long key(int a, int b) {
    return ((long) a << 32) | (b & 0xFFFFFFFFL);
  }

  private static int slot(long k, int mask) {
    long h = k * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 29)) & mask;
  }

  /** The value for {@code (a, b)}, or {@code missing}. */
  int get(int a, int b, int missing) {
    long k = key(a, b);
    int i = slot(k, mask);
    while (true) {
      long kk = keys[i];
      if (kk == k) {
        return values[i];
      }
      if (kk == EMPTY) {
        return missing;
      }
      i = (i + 1) & mask;
    }
  }

  /** Sets the value; returns false if the pair was already present (value replaced). */
  boolean put(int a, int b, int value) {
    if ((size + 1) * 2 > keys.length) {
      grow();
    }
    long k = key(a, b);
    int i = slot(k, mask);
    while (true) {
      long kk = keys[i];
      if (kk == k) {
        values[i] = value;
        return false;
      }
      if (kk == EMPTY) {
        keys[i] = k;
        values[i] = value;
        size++;
        return true;
      }
      i = (i + 1) & mask;
    }
  }

  int size() {
    return size;
  }

  private void grow() {
    long[] oldKeys = keys;
    int[] oldValues = values;
    keys = new long[oldKeys.length * 2];
    values = new int[oldKeys.length * 2];
    Arrays.fill(keys, EMPTY);
    mask = keys.length - 1;
    size = 0;
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] != EMPTY) {
        put((int) (oldKeys[i] >>> 32), (int) oldKeys[i], oldValues[i]);
      }
    }
  }
}
