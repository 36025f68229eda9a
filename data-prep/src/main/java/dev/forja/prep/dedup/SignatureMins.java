package dev.forja.prep.dedup;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * MinHash's inner loop with the JDK's Vector API ({@code jdk.incubator.vector}, which Forja's JVM
 * options add): for a block of hash functions held in one vector, the minimum of {@code a x + b}
 * over every shingle, so each value of the signature stays in a register while the shingles stream
 * past (C2 compiled the loop the other way round, reading and writing the signature once per
 * shingle). {@link MinHasher} touches this class only where the module is there ({@link
 * MinHasher#VECTOR}; loading it without the module fails) and keeps a scalar loop as the fallback;
 * both give the same ints.
 */
final class SignatureMins {
  private static final VectorSpecies<Integer> S = IntVector.SPECIES_PREFERRED;

  private SignatureMins() {}

  /** Ints per vector: {@link #mins}' arrays are padded to a multiple of this. */
  static int lanes() {
    return S.length();
  }

  /**
   * {@code out[i] = min over j < count of mul[i] * xs[j] + add[i]} (int arithmetic, signed min;
   * {@link Integer#MAX_VALUE} with no shingle) for every {@code i < mul.length}, a multiple of
   * {@link #lanes}.
   */
  static void mins(int[] mul, int[] add, int[] xs, int count, int[] out) {
    for (int b = 0; b < mul.length; b += S.length()) {
      IntVector m = IntVector.fromArray(S, mul, b);
      IntVector a = IntVector.fromArray(S, add, b);
      IntVector s = IntVector.broadcast(S, Integer.MAX_VALUE);
      for (int j = 0; j < count; j++) {
        s = s.min(m.mul(xs[j]).add(a));
      }
      s.intoArray(out, b);
    }
  }
}
