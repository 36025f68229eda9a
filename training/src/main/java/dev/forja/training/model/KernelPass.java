package dev.forja.training.model;

import dev.forja.jvm.VectorApi;
import dev.forja.training.runtime.Parallel;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.openblas.global.openblas;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What the hand-written CPU passes share: the model's description and its parameters used in place,
 * the gradient arrays wrapped for each call, OpenBLAS kept single-threaded while a pass runs, the
 * token-id checks, and the embedding's gradient. Subclasses write the forward and backward pass of
 * the blocks they implement.
 */
abstract class KernelPass implements LossPass {
  protected final Architecture arch;
  protected final Map<String, Buf> params = new LinkedHashMap<>();
  private final java.util.List<String> trainable;
  protected final int batch;
  protected final int len;
  protected final int n;
  protected final int d;
  protected final int vocab;
  private final OutputHead head;
  private final Buf ones; // [n] of 1, for column sums
  private final Buf loraT; // [n, rank]: an adapter's inner activation
  private final Buf loraDt; // [n, rank]: the gradient there
  private final Buf loraX; // [n, widest in]: a dropped-out adapter input, then its gradient
  private final Map<String, Integer> loraIndex = new java.util.HashMap<>(); // by lora_A's name
  private long dropoutKey;
  private boolean training;
  // train.lora.base-dtype=bf16: frozen weights held in bfloat16, upcast per product into one buffer
  private final Map<String, INDArray> half = new java.util.HashMap<>();
  private final Buf halfScratch;
  private String halfScratchHolds;

  KernelPass(GptModel model) {
    if (model.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException(
          "the CPU kernels compute in fp32 only, the model is " + model.dataType());
    }
    ModelConfig c = model.config();
    arch = model.architecture();
    batch = model.batch();
    len = model.length();
    n = batch * len;
    d = c.dModel();
    vocab = c.vocabSize();
    long widest = 0;
    for (Map.Entry<String, INDArray> e : model.weights().entrySet()) {
      if (e.getValue().dataType() == DataType.BFLOAT16) {
        half.put(e.getKey(), e.getValue());
        widest = Math.max(widest, e.getValue().length());
      } else {
        params.put(e.getKey(), new Buf(e.getValue()));
      }
    }
    halfScratch = widest == 0 ? null : Buf.alloc(widest);
    trainable = model.parameterNames();
    int rank = 0;
    int dropIn = 0;
    java.util.List<Architecture.Linear> linears = arch.linears();
    for (int i = 0; i < linears.size(); i++) {
      Architecture.Linear l = linears.get(i);
      if (l.lora() != null) {
        rank = Math.max(rank, l.lora().rank());
        loraIndex.put(l.lora().a().name(), i);
        if (l.lora().dropout() > 0) {
          dropIn = Math.max(dropIn, l.in());
        }
      }
    }
    loraT = rank == 0 ? null : Buf.alloc((long) n * rank);
    loraDt = rank == 0 ? null : Buf.alloc((long) n * rank);
    loraX = dropIn == 0 ? null : Buf.alloc((long) n * dropIn);
    head = new OutputHead(n, d, vocab);
    ones = Buf.alloc(n);
    for (int i = 0; i < n; i++) {
      ones.f.put(i, 1f);
    }
  }

  /**
   * Each token's position within its example for the current pass, or null (each row is one
   * sequence, positions {@code t % len}): set before {@link #forward}, read by the subclasses.
   */
  protected int[] positions;

  /** The position of token {@code r} (row-major over the batch). */
  protected final int position(int r) {
    return positions == null ? r % len : positions[r];
  }

  /** The scaled summed loss; with {@code g} (training), what the backward pass needs kept. */
  protected abstract double forward(int[] ids, int[] targets, double scale, Map<String, Buf> g);

  /** The gradients into {@code g}, after {@link #forward} with {@code g}. */
  protected abstract void backward(int[] ids, Map<String, Buf> g);

  @Override
  public boolean allocatesPerStep() {
    return false;
  }

  @Override
  public void dropoutKey(long key) {
    dropoutKey = key;
  }

  @Override
  public double loss(int[] ids, int[] targets, int[] pos, double scale) {
    setPositions(pos);
    training = false;
    halfScratchHolds = null; // the weights may have been assigned since
    Blas.singleThreadedBlas();
    try {
      return forward(ids, targets, scale, null);
    } finally {
      Blas.restoreBlas();
    }
  }

  @Override
  public double lossAndGradients(
      int[] ids,
      int[] targets,
      int[] pos,
      double scale,
      Map<String, INDArray> grads,
      boolean accumulate) {
    setPositions(pos);
    Map<String, Buf> g = new LinkedHashMap<>();
    for (String name : trainable) {
      INDArray a = grads.get(name);
      if (a == null) {
        throw new IllegalArgumentException("no gradient array for " + name);
      }
      Buf b = new Buf(a);
      if (!accumulate) {
        b.zero();
      }
      g.put(name, b);
    }
    training = true;
    halfScratchHolds = null;
    Blas.singleThreadedBlas();
    try {
      double loss = forward(ids, targets, scale, g);
      backward(ids, g);
      return loss;
    } finally {
      Blas.restoreBlas();
    }
  }

  private void setPositions(int[] pos) {
    if (pos != null) {
      if (pos.length != n) {
        throw new IllegalArgumentException(pos.length + " positions for " + n + " tokens");
      }
      for (int r = 0; r < n; r++) {
        int t = r % len;
        if (pos[r] < 0 || pos[r] > t || (t > 0 && pos[r] != 0 && pos[r] != pos[r - 1] + 1)) {
          throw new IllegalArgumentException(
              "positions must count up from 0 within each example; token " + r + " has " + pos[r]);
        }
      }
    }
    positions = pos;
    positionsChanged(pos);
  }

  /** Tells the subclass's attention where examples start ({@code pos} null: one per row). */
  protected abstract void positionsChanged(int[] pos);

  /**
   * The loss of the final norm's output {@code in [n, d]} through the output head; when training
   * ({@code g} given), {@code dIn} receives d loss / d in and the head's gradient is accumulated.
   */
  protected double headLoss(Buf in, int[] targets, double scale, Map<String, Buf> g, Buf dIn) {
    String name = arch.head().weight().name();
    return head.loss(
        in,
        params.get(name),
        targets,
        scale,
        g == null ? null : dIn,
        g == null ? null : g.get(name));
  }

  /**
   * {@code acc += column sums} of {@code n} rows of {@code m} floats, row stride {@code ld},
   * starting at {@code offset} of {@code a}: a BLAS matrix-vector product with ones, the columns
   * split over the threads.
   */
  protected void columnSums(Buf a, long offset, int m, int ld, Buf acc) {
    if (acc == null) {
      return; // a frozen parameter
    }
    Parallel.forRange(
        m,
        (from, to) ->
            openblas.cblas_sgemv(
                Blas.ROW_MAJOR,
                Blas.TR,
                n,
                to - from,
                1f,
                a.at(offset + from),
                ld,
                ones.at(0),
                1,
                1f,
                acc.at(from),
                1));
  }

  /**
   * {@code lin}'s LoRA update, if it has one: {@code out[:, col:col+out] += scale (in A^T) B^T} for
   * {@code in [n, lin.in]} at column {@code inCol} of rows {@code ldIn} wide, {@code out} rows
   * {@code ldOut} wide.
   */
  protected void loraForward(
      Architecture.Linear lin, Buf in, int inCol, int ldIn, Buf out, int outCol, int ldOut) {
    Architecture.Lora lo = lin.lora();
    if (lo == null) {
      return;
    }
    int r = lo.rank();
    if (dropping(lo)) { // t = dropout(in) A^T
      dropIn(lin, in, inCol, ldIn);
      Blas.pgemm(
          Blas.NO, Blas.TR, n, r, lin.in(), 1f, loraX, 0, lin.in(), w(lo.a()), 0, lin.in(), 0f,
          loraT, 0, r);
    } else {
      Blas.pgemm(
          Blas.NO, Blas.TR, n, r, lin.in(), 1f, in, inCol, ldIn, w(lo.a()), 0, lin.in(), 0f, loraT,
          0, r);
    }
    Blas.pgemm(
        Blas.NO,
        Blas.TR,
        n,
        lin.out(),
        r,
        (float) lo.scale(),
        loraT,
        0,
        r,
        w(lo.b()),
        0,
        r,
        1f,
        out,
        outCol,
        ldOut);
  }

  /**
   * {@link #loraForward}'s backward, given {@code dout} (the gradient at the layer's output, at
   * column {@code doutCol} of rows {@code ldDout} wide): the adapter's gradients accumulated, and
   * its share of the input's gradient added to {@code din} (which holds the base weight's share).
   */
  protected void loraBackward(
      Architecture.Linear lin,
      Buf in,
      int inCol,
      int ldIn,
      Buf dout,
      int doutCol,
      int ldDout,
      Buf din,
      int dinCol,
      int ldDin,
      Map<String, Buf> g) {
    Architecture.Lora lo = lin.lora();
    if (lo == null) {
      return;
    }
    int r = lo.rank();
    float s = (float) lo.scale();
    Buf a = w(lo.a());
    boolean drop = dropping(lo);
    // the adapter's input: in, or its dropped-out copy
    Buf x = in;
    int xCol = inCol;
    int ldX = ldIn;
    long mk = 0;
    if (drop) {
      mk = dropIn(lin, in, inCol, ldIn);
      x = loraX;
      xCol = 0;
      ldX = lin.in();
    }
    // t = x A^T again (cheap: rank columns), then dB += s dout^T t, dt = s dout B
    Blas.pgemm(Blas.NO, Blas.TR, n, r, lin.in(), 1f, x, xCol, ldX, a, 0, lin.in(), 0f, loraT, 0, r);
    Buf db = grad(g, lo.b());
    if (db != null) {
      Blas.pgemm(
          Blas.TR, Blas.NO, lin.out(), r, n, s, dout, doutCol, ldDout, loraT, 0, r, 1f, db, 0, r);
    }
    Blas.pgemm(
        Blas.NO, Blas.NO, n, r, lin.out(), s, dout, doutCol, ldDout, w(lo.b()), 0, r, 0f, loraDt, 0,
        r);
    Buf da = grad(g, lo.a());
    if (da != null) {
      Blas.pgemm(
          Blas.TR, Blas.NO, r, lin.in(), n, 1f, loraDt, 0, r, x, xCol, ldX, 1f, da, 0, lin.in());
    }
    if (!drop) {
      Blas.pgemm(
          Blas.NO, Blas.NO, n, lin.in(), r, 1f, loraDt, 0, r, a, 0, lin.in(), 1f, din, dinCol,
          ldDin);
      return;
    }
    // dx = dt A, through the same mask, added to din
    Blas.pgemm(
        Blas.NO, Blas.NO, n, lin.in(), r, 1f, loraDt, 0, r, a, 0, lin.in(), 0f, loraX, 0, lin.in());
    masked(mk, lo.dropout(), lin.in(), loraX, 0, lin.in(), din, dinCol, ldDin, true);
  }

  /** Whether this pass drops {@code lo}'s input (training, with {@code lora_dropout > 0}). */
  private boolean dropping(Architecture.Lora lo) {
    return training && lo.dropout() > 0;
  }

  /**
   * Writes {@code lin}'s adapter input with the pass's dropout mask applied into {@code loraX}
   * ({@code [n, lin.in]}); returns the mask's module key.
   */
  private long dropIn(Architecture.Linear lin, Buf in, int inCol, int ldIn) {
    long key = LoraDropout.moduleKey(dropoutKey, loraIndex.get(lin.lora().a().name()));
    masked(key, lin.lora().dropout(), lin.in(), in, inCol, ldIn, loraX, 0, lin.in(), false);
    return key;
  }

  /**
   * {@code n} rows of {@code cols} elements of {@code src} times the dropout mask of {@code key}
   * (element {@code (i, j)} is the mask's {@code i * cols + j}), written into {@code dst}, or added
   * to it where the mask keeps the element.
   */
  private void masked(
      long key,
      double p,
      int cols,
      Buf src,
      int srcCol,
      int ldSrc,
      Buf dst,
      int dstCol,
      int ldDst,
      boolean add) {
    java.nio.FloatBuffer s = src.f;
    java.nio.FloatBuffer d = dst.f;
    Parallel.forRange(
        n,
        (from, to) -> {
          for (int i = from; i < to; i++) {
            long row = (long) i * cols;
            int si = i * ldSrc + srcCol;
            int di = i * ldDst + dstCol;
            for (int j = 0; j < cols; j++) {
              float m = LoraDropout.factor(key, row + j, p);
              if (!add) {
                d.put(di + j, m * s.get(si + j));
              } else if (m != 0f) {
                d.put(di + j, d.get(di + j) + m * s.get(si + j));
              }
            }
          }
        });
  }

  /** Refuses a batch of the wrong shape or with an id outside the vocabulary. */
  protected void checkIds(int[] ids, int[] targets) {
    if (ids.length != n || targets.length != n) {
      throw new IllegalArgumentException(
          "expected " + n + " ids and targets ([" + batch + ", " + len + "]), got " + ids.length);
    }
    for (int id : ids) {
      if (id < 0 || id >= vocab) {
        throw new IllegalArgumentException(
            "token id " + id + " is outside the vocabulary (size " + vocab + ")");
      }
    }
  }

  /**
   * The embedding's gradient: each row of {@code dres} added to its token's row of {@code dtok}
   * (and its position's row of {@code dpos}, where positions are learned). Column blocks: each
   * thread owns whole columns and takes the rows in order (no races, a fixed order).
   */
  protected void embeddingBackward(int[] ids, Buf dres, Buf dtok, Buf dpos) {
    if (dtok == null && dpos == null) {
      return; // frozen
    }
    Parallel.forRange(
        d,
        (from, to) -> {
          for (int r = 0; r < n; r++) {
            int o = r * d;
            int e = ids[r] * d;
            int p = position(r) * d;
            if (VectorApi.AVAILABLE) {
              if (dtok != null) {
                VectorKernels.add(dtok.b, e + from, dres.b, o + from, to - from);
              }
              if (dpos != null) {
                VectorKernels.add(dpos.b, p + from, dres.b, o + from, to - from);
              }
              continue;
            }
            for (int j = from; j < to; j++) {
              float v = dres.f.get(o + j);
              if (dtok != null) {
                dtok.f.put(e + j, dtok.f.get(e + j) + v);
              }
              if (dpos != null) {
                dpos.f.put(p + j, dpos.f.get(p + j) + v);
              }
            }
          }
        });
  }

  /**
   * A parameter's memory; null for an absent one (a bias the model does not have). A weight held in
   * bfloat16 comes upcast into a buffer that the next such weight reuses: use it for one product
   * before asking for another.
   */
  protected Buf w(ParameterSpec p) {
    if (p == null) {
      return null;
    }
    Buf b = params.get(p.name());
    if (b != null) {
      return b;
    }
    INDArray h = half.get(p.name());
    if (h == null) {
      return null;
    }
    if (!p.name().equals(halfScratchHolds)) {
      Buf.upcastBf16(h, halfScratch);
      halfScratchHolds = p.name();
    }
    return halfScratch;
  }

  protected static Buf grad(Map<String, Buf> g, ParameterSpec p) {
    return p == null ? null : g.get(p.name());
  }
}
