package dev.forja.training.model;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An independent GPT forward pass in plain Java doubles (no ND4J ops), from the same named weights:
 * the reference that the SameDiff graph's loss and gradients are held to.
 */
final class ReferenceGpt {
  private final ModelConfig c;
  private final Map<String, double[][]> w = new java.util.HashMap<>();

  ReferenceGpt(ModelConfig c, Map<String, INDArray> weights) {
    this.c = c;
    weights.forEach((k, v) -> w.put(k, matrix(v)));
  }

  static double[][] matrix(INDArray a) {
    if (a.rank() == 1) {
      return new double[][] {a.toDoubleVector()};
    }
    return a.toDoubleMatrix();
  }

  /** Sets one weight element (for finite differences). */
  void set(String name, int row, int col, double value) {
    w.get(name)[row][col] = value;
  }

  double get(String name, int row, int col) {
    return w.get(name)[row][col];
  }

  /** Mean cross-entropy over targets that are not -1; ids and targets are [batch][length]. */
  double loss(int[][] ids, int[][] targets) {
    double sum = 0;
    int n = 0;
    for (int b = 0; b < ids.length; b++) {
      double[][] logits = forward(ids[b]);
      for (int t = 0; t < ids[b].length; t++) {
        if (targets[b][t] < 0) {
          continue;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (double v : logits[t]) {
          max = Math.max(max, v);
        }
        double z = 0;
        for (double v : logits[t]) {
          z += Math.exp(v - max);
        }
        sum += -(logits[t][targets[b][t]] - max - Math.log(z));
        n++;
      }
    }
    return sum / n;
  }

  /** Logits [length][vocab] for one sequence. */
  double[][] forward(int[] ids) {
    int len = ids.length;
    int d = c.dModel();
    double[][] x = new double[len][d];
    for (int t = 0; t < len; t++) {
      for (int i = 0; i < d; i++) {
        x[t][i] = w.get(GptModel.WTE)[ids[t]][i] + w.get(GptModel.WPE)[t][i];
      }
    }
    for (int l = 0; l < c.layers(); l++) {
      double[][] a = norm(x, GptModel.layer(l, "ln_1.weight"), GptModel.layer(l, "ln_1.bias"));
      double[][] qkv = linear(a, GptModel.layer(l, "attn.c_attn"));
      double[][] att = attention(qkv, len);
      add(x, linear(att, GptModel.layer(l, "attn.c_proj")));
      double[][] m = norm(x, GptModel.layer(l, "ln_2.weight"), GptModel.layer(l, "ln_2.bias"));
      double[][] up = linear(m, GptModel.layer(l, "mlp.c_fc"));
      for (double[] row : up) {
        for (int i = 0; i < row.length; i++) {
          double v = row[i];
          row[i] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
        }
      }
      add(x, linear(up, GptModel.layer(l, "mlp.c_proj")));
    }
    double[][] xf = norm(x, GptModel.LN_F_WEIGHT, GptModel.LN_F_BIAS);
    double[][] head = c.tiedEmbeddings() ? w.get(GptModel.WTE) : w.get(GptModel.LM_HEAD);
    double[][] logits = new double[len][head.length];
    for (int t = 0; t < len; t++) {
      for (int v = 0; v < head.length; v++) {
        double s = 0;
        for (int i = 0; i < d; i++) {
          s += xf[t][i] * head[v][i];
        }
        logits[t][v] = s;
      }
    }
    return logits;
  }

  private double[][] attention(double[][] qkv, int len) {
    int d = c.dModel();
    int hs = c.headSize();
    double[][] out = new double[len][d];
    for (int h = 0; h < c.heads(); h++) {
      for (int t = 0; t < len; t++) {
        double[] p = new double[len];
        double max = Double.NEGATIVE_INFINITY;
        int last = c.objective() == ModelConfig.Objective.CAUSAL ? t : len - 1;
        for (int s = 0; s <= last; s++) {
          double dot = 0;
          for (int i = 0; i < hs; i++) {
            dot += qkv[t][h * hs + i] * qkv[s][d + h * hs + i];
          }
          p[s] = dot / Math.sqrt(hs);
          max = Math.max(max, p[s]);
        }
        double z = 0;
        for (int s = 0; s <= last; s++) {
          p[s] = Math.exp(p[s] - max);
          z += p[s];
        }
        for (int s = 0; s <= last; s++) {
          for (int i = 0; i < hs; i++) {
            out[t][h * hs + i] += p[s] / z * qkv[s][2 * d + h * hs + i];
          }
        }
      }
    }
    return out;
  }

  private double[][] linear(double[][] x, String prefix) {
    double[][] wt = w.get(prefix + ".weight");
    double[] b = w.containsKey(prefix + ".bias") ? w.get(prefix + ".bias")[0] : null;
    double[][] y = new double[x.length][wt[0].length];
    for (int t = 0; t < x.length; t++) {
      for (int o = 0; o < wt[0].length; o++) {
        double s = b == null ? 0 : b[o];
        for (int i = 0; i < wt.length; i++) {
          s += x[t][i] * wt[i][o];
        }
        y[t][o] = s;
      }
    }
    return y;
  }

  private double[][] norm(double[][] x, String weight, String bias) {
    double[] g = w.get(weight)[0];
    double[] b = w.containsKey(bias) ? w.get(bias)[0] : null;
    double[][] y = new double[x.length][x[0].length];
    for (int t = 0; t < x.length; t++) {
      double mean = 0;
      for (double v : x[t]) {
        mean += v;
      }
      mean /= x[t].length;
      double var = 0;
      for (double v : x[t]) {
        var += (v - mean) * (v - mean);
      }
      var /= x[t].length;
      for (int i = 0; i < x[t].length; i++) {
        y[t][i] =
            (x[t][i] - mean) / Math.sqrt(var + c.normEpsilon()) * g[i] + (b == null ? 0 : b[i]);
      }
    }
    return y;
  }

  private static void add(double[][] x, double[][] y) {
    for (int t = 0; t < x.length; t++) {
      for (int i = 0; i < x[t].length; i++) {
        x[t][i] += y[t][i];
      }
    }
  }
}
