package dev.forja.training.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlasKernelsTest {
  private static final String AVX2 =
      "fpu vme de pse tsc msr pae mce cx8 apic sep sse sse2 ssse3 fma sse4_1 sse4_2 avx avx2 bmi2";
  private static final String AVX512 =
      AVX2 + " avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16 avx512vbmi";

  private static String cpuinfo(String vendor, String family, String flags) {
    String core =
        "processor\t: %d\nvendor_id\t: %s\ncpu family\t: %s\nmodel\t\t: 2\nmodel name\t: X\nflags\t\t: %s\n\n";
    return String.format(core, 0, vendor, family, flags)
        + String.format(core, 1, vendor, family, flags);
  }

  @Test
  void amdCpusWithAvx512AreToldToChooseTheSkylakeXKernels() {
    String zen5 = cpuinfo("AuthenticAMD", "26", AVX512);
    assertThat(BlasKernels.advice(zen5, Map.of()))
        .hasValueSatisfying(
            a ->
                assertThat(a)
                    .contains("OPENBLAS_CORETYPE=SkylakeX")
                    .contains("spark.executorEnv.OPENBLAS_CORETYPE"));
  }

  @Test
  void nothingToSayWhereTheCoreIsChosenOrOpenBlasKnowsTheCpu() {
    assertThat(
            BlasKernels.advice(
                cpuinfo("AuthenticAMD", "26", AVX512), Map.of("OPENBLAS_CORETYPE", "Haswell")))
        .isEmpty();
    assertThat(BlasKernels.advice(cpuinfo("AuthenticAMD", "25", AVX2), Map.of())).isEmpty();
    assertThat(BlasKernels.advice(cpuinfo("AuthenticAMD", "23", AVX2), Map.of())).isEmpty();
    assertThat(BlasKernels.advice(cpuinfo("GenuineIntel", "6", AVX512), Map.of())).isEmpty();
    assertThat(BlasKernels.advice("", Map.of())).isEmpty();
  }

  @Test
  void theCoreChosenIsOneTheCpuCanRun() {
    assertThat(BlasKernels.choice(cpuinfo("AuthenticAMD", "26", AVX512))).hasValue("SkylakeX");
    assertThat(BlasKernels.choice(cpuinfo("AuthenticAMD", "25", AVX512))).hasValue("SkylakeX");
    // avx512f alone (no bw/dq/vl): SkylakeX kernels would hit illegal instructions
    assertThat(BlasKernels.choice(cpuinfo("AuthenticAMD", "26", AVX2 + " avx512f")))
        .hasValue("Haswell");
    assertThat(BlasKernels.choice(cpuinfo("AuthenticAMD", "26", "sse sse2 sse4_2"))).isEmpty();
    assertThat(BlasKernels.choice(cpuinfo("AuthenticAMD", "x", AVX2))).isEmpty();
  }

  /** submit-scripts/lib.sh sets OPENBLAS_CORETYPE before the JVM starts: it must choose alike. */
  @Test
  void theLaunchScriptsChooseTheSameCore(@TempDir Path tmp) throws Exception {
    Path lib = Path.of("..", "submit-scripts", "lib.sh").toAbsolutePath().normalize();
    assertThat(lib).exists();
    List<String> cpus =
        List.of(
            cpuinfo("AuthenticAMD", "26", AVX512),
            cpuinfo("AuthenticAMD", "25", AVX512),
            cpuinfo("AuthenticAMD", "26", AVX2 + " avx512f"),
            cpuinfo("AuthenticAMD", "26", "sse sse2"),
            cpuinfo("AuthenticAMD", "25", AVX2),
            cpuinfo("GenuineIntel", "6", AVX512));
    for (int i = 0; i < cpus.size(); i++) {
      Path info = tmp.resolve("cpuinfo-" + i);
      Files.writeString(info, cpus.get(i));
      ProcessBuilder pb =
          new ProcessBuilder(
              "bash",
              "-c",
              "source \"$1\"; forja_blas_core; printf %s \"${OPENBLAS_CORETYPE:-}\"",
              "test",
              lib.toString());
      pb.environment().remove("OPENBLAS_CORETYPE");
      pb.environment().put("FORJA_CPUINFO", info.toString());
      pb.redirectErrorStream(true);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor()).as(out).isZero();
      Optional<String> java = BlasKernels.choice(cpus.get(i));
      assertThat(out).as("cpu %d", i).isEqualTo(java.orElse(""));
    }
  }
}
