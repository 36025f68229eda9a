package dev.forja.training.runtime;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.nd4j.linalg.factory.Nd4j;

/** What ND4J runs on here: backend, BLAS, threads, native-memory caps. Loads the natives. */
public final class Nd4jInfo {
  private Nd4jInfo() {}

  /**
   * Ordered facts for {@code forja doctor}; a failure to load the natives is reported, not thrown.
   */
  public static Map<String, String> describe() {
    Map<String, String> out = new LinkedHashMap<>();
    try {
      out.put("backend", Nd4j.getBackend().getClass().getSimpleName());
      Properties env = Nd4j.getExecutioner().getEnvironmentInformation();
      out.put("blas", String.valueOf(env.getOrDefault("blas.vendor", "unknown")));
      out.put("cores", String.valueOf(env.getOrDefault("cores.available", "?")));
      out.put("omp threads", String.valueOf(env.getOrDefault("omp.threads", "?")));
      out.put("data type", Nd4j.dataType().toString());
      out.put("max native bytes", bytes(org.bytedeco.javacpp.Pointer.maxBytes()));
      out.put("max physical bytes", bytes(org.bytedeco.javacpp.Pointer.maxPhysicalBytes()));
      out.put(
          "matmul check",
          Nd4j.createFromArray(new float[][] {{1, 2}, {3, 4}})
              .mmul(Nd4j.createFromArray(new float[][] {{1}, {1}}))
              .toString()
              .replaceAll("\\s+", ""));
    } catch (Throwable t) { // natives missing or unloadable: report, doctor goes on
      out.put("error", "ND4J failed to load: " + t);
    }
    return out;
  }

  private static String bytes(long b) {
    return b <= 0
        ? "unlimited"
        : String.format(java.util.Locale.ROOT, "%.1f GiB", b / 1073741824.0);
  }
}
