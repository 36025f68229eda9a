package dev.forja.tokenizer;

import java.util.Arrays;

/** A growable list of ints. */
public final class IntList {
  private int[] a;
  private int size;

  public IntList() {
    this(16);
  }

  public IntList(int capacity) {
    a = new int[Math.max(1, capacity)];
  }

  public void add(int v) {
    if (size == a.length) {
      a = Arrays.copyOf(a, a.length * 2);
    }
    a[size++] = v;
  }

  public void addAll(int[] v) {
    addAll(v, v.length);
  }

  public void addAll(int[] v, int n) {
    if (size + n > a.length) {
      a = Arrays.copyOf(a, Math.max(a.length * 2, size + n));
    }
    System.arraycopy(v, 0, a, size, n);
    size += n;
  }

  public int get(int i) {
    return a[i];
  }

  public int size() {
    return size;
  }

  public void clear() {
    size = 0;
  }

  /** The backing array, valid up to {@link #size()}; changes as the list grows. */
  public int[] array() {
    return a;
  }

  public int[] toArray() {
    return Arrays.copyOf(a, size);
  }
}
