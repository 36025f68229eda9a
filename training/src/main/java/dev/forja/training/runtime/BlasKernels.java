package dev.forja.training.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Whether OpenBLAS runs the matrix kernels this CPU is best at. OpenBLAS picks its kernels (its
 * "core") from the CPU when it loads, and ND4J's OpenBLAS 0.3.19 predates AMD's Zen 5 (CPU family
 * 0x1A): it falls back to its generic SSE kernels ("Barcelona"), and takes Zen 4 for an AVX2 Zen.
 * The generic kernels run sgemm at about a third of the Haswell (AVX2) kernels' rate (figures in
 * docs/benchmarks.md and docs/stack.md). The kernels are chosen by the {@code OPENBLAS_CORETYPE}
 * environment variable before the JVM starts: {@code submit-scripts/forja} sets it as {@link
 * #choice} does where it is unset, and this class says what to set where nothing did (Spark
 * executors, a plain {@code java} launch). A value already in the environment is always left alone.
 */
public final class BlasKernels {
  /** The AVX-512 subsets OpenBLAS's SkylakeX kernels use. */
  private static final Set<String> SKYLAKEX_FLAGS =
      Set.of("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl");

  /** The AVX2 kernels' instructions. */
  private static final Set<String> HASWELL_FLAGS = Set.of("avx2", "fma");

  /** AMD's CPU family 0x1A (Zen 5), the first OpenBLAS 0.3.19 does not recognise. */
  private static final int ZEN5_FAMILY = 0x1A;

  private BlasKernels() {}

  /** The advice for this machine and process, if any (reads /proc/cpuinfo where it exists). */
  public static Optional<String> advice() {
    String cpuinfo;
    try {
      cpuinfo = Files.readString(Path.of("/proc/cpuinfo"));
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // not Linux, or unreadable: nothing to say
    }
    return advice(cpuinfo, System.getenv());
  }

  /**
   * The advice for a CPU described as /proc/cpuinfo does and a process environment: empty when
   * {@code OPENBLAS_CORETYPE} is set or OpenBLAS's own choice is right for this CPU.
   */
  static Optional<String> advice(String cpuinfo, Map<String, String> env) {
    String set = env.get("OPENBLAS_CORETYPE");
    if (set != null && !set.isBlank()) {
      return Optional.empty();
    }
    return choice(cpuinfo)
        .map(
            core ->
                "OpenBLAS 0.3.19 (ND4J's) does not recognise this AMD CPU and runs slower kernels"
                    + " than it can (generic SSE ones on Zen 5: a third of the AVX2 rate). Export"
                    + " OPENBLAS_CORETYPE="
                    + core
                    + " before the JVM starts (submit-scripts/forja does; on a cluster whose nodes"
                    + " have such CPUs add --conf spark.executorEnv.OPENBLAS_CORETYPE="
                    + core
                    + ")");
  }

  /** The value of {@code OPENBLAS_CORETYPE} in force, or how the kernels were chosen. */
  public static String describe() {
    String set = System.getenv("OPENBLAS_CORETYPE");
    return set == null || set.isBlank()
        ? "chosen by OpenBLAS (OPENBLAS_CORETYPE unset)"
        : set + " (OPENBLAS_CORETYPE)";
  }

  /**
   * The OpenBLAS core to choose for a CPU OpenBLAS 0.3.19 misjudges: SkylakeX for an AMD CPU with
   * the AVX-512 subsets those kernels use (Zen 4, Zen 5), Haswell for a Zen 5 without them; empty
   * for any other CPU (Intel's, and AMD's up to Zen 3, are recognised by OpenBLAS itself).
   */
  static Optional<String> choice(String cpuinfo) {
    if (!"AuthenticAMD".equals(field(cpuinfo, "vendor_id"))) {
      return Optional.empty();
    }
    Set<String> flags = Set.of(field(cpuinfo, "flags").split("\\s+"));
    if (flags.containsAll(SKYLAKEX_FLAGS)) {
      return Optional.of("SkylakeX");
    }
    int family;
    try {
      family = Integer.parseInt(field(cpuinfo, "cpu family"));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    return family >= ZEN5_FAMILY && flags.containsAll(HASWELL_FLAGS)
        ? Optional.of("Haswell")
        : Optional.empty();
  }

  /** The first value of a "name : value" line, or "". */
  private static String field(String cpuinfo, String name) {
    for (String line : cpuinfo.split("\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
        return line.substring(colon + 1).trim();
      }
    }
    return "";
  }
}
