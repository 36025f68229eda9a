package dev.forja.prep.stage;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Adds a row of floats to running sums with the JDK's Vector API ({@code jdk.incubator.vector},
 * which Forja's JVM options add), for the language detector's dense parameter rows, which the loop
 * C2 compiles by itself does not vectorize. Callers touch this class only where the module is there
 * ({@code LanguageFilter.CompiledModel.VECTOR}; loading it without the module fails) and keep a
 * scalar loop as the fallback.
 */
final class RowSums {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  private RowSums() {}

  /** Floats per vector: rows padded to a multiple of this need no scalar tail. */
  static int lanes() {
    return S.length();
  }

  /** {@code sums[0, len) += row[from, from + len)}; {@code len} a multiple of {@link #lanes}. */
  static void add(float[] sums, float[] row, int from, int len) {
    for (int o = 0; o < len; o += S.length()) {
      FloatVector.fromArray(S, sums, o)
          .add(FloatVector.fromArray(S, row, from + o))
          .intoArray(sums, o);
    }
  }
}
