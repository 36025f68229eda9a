package dev.forja.training.model;

/**
 * Rotary position embeddings as Hugging Face computes them: inverse frequencies {@code 1 /
 * theta^(2i / head_dim)}, scaled by {@code rope_scaling} ({@code linear}: divided by the factor;
 * {@code llama3}: long wavelengths divided by the factor, short ones kept, the band between
 * interpolated), and the angles {@code position x frequency} repeated over both halves of a head.
 */
public final class Rope {
  private Rope() {}

  /** The inverse frequencies, {@code head_dim / 2} of them, after scaling. */
  public static double[] inverseFrequencies(ModelConfig.Llama l) {
    int half = l.headDim() / 2;
    double[] inv = new double[half];
    for (int i = 0; i < half; i++) {
      // Hugging Face computes these in fp32: so does Forja, to give the same angles
      float exponent = (float) (2 * i) / l.headDim();
      inv[i] = (float) (1.0 / Math.pow(l.ropeTheta(), exponent));
    }
    switch (l.ropeScaling()) {
      case "linear" -> {
        for (int i = 0; i < half; i++) {
          inv[i] = (float) (inv[i] / l.ropeFactor());
        }
      }
      case "llama3" -> {
        double lowWavelen = l.originalContext() / l.lowFreqFactor();
        double highWavelen = l.originalContext() / l.highFreqFactor();
        for (int i = 0; i < half; i++) {
          double wavelen = 2 * Math.PI / inv[i];
          double scaled = wavelen > lowWavelen ? inv[i] / l.ropeFactor() : inv[i];
          if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
            double smooth =
                (l.originalContext() / wavelen - l.lowFreqFactor())
                    / (l.highFreqFactor() - l.lowFreqFactor());
            scaled = (1 - smooth) * scaled / l.ropeFactor() + smooth * scaled;
          }
          inv[i] = (float) scaled;
        }
      }
      default -> {}
    }
    return inv;
  }

  /** {@code [cos, sin]}, each {@code positions x head_dim} row-major. */
  public static double[][] cosSin(ModelConfig.Llama l, int positions) {
    double[] inv = inverseFrequencies(l);
    int hd = l.headDim();
    double[] cos = new double[positions * hd];
    double[] sin = new double[positions * hd];
    for (int t = 0; t < positions; t++) {
      double[][] row = cosSin(inv, hd, t);
      System.arraycopy(row[0], 0, cos, t * hd, hd);
      System.arraycopy(row[1], 0, sin, t * hd, hd);
    }
    return new double[][] {cos, sin};
  }

  /** {@code [cos, sin]} of one position, {@code head_dim} each: the angles in fp32, as HF. */
  public static double[][] cosSin(double[] inverseFrequencies, int headDim, int position) {
    double[] cos = new double[headDim];
    double[] sin = new double[headDim];
    for (int i = 0; i < headDim; i++) {
      float angle = (float) position * (float) inverseFrequencies[i % (headDim / 2)];
      cos[i] = Math.cos(angle);
      sin[i] = Math.sin(angle);
    }
    return new double[][] {cos, sin};
  }
}
