package dev.forja.training.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

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
}
