package dev.forja.training.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

class DecodeScratchTest {
  @Test
  void time() {
    ModelConfig c =
        new ModelConfig(
            16384,
            256,
            8,
            512,
            8,
            4,
            false,
            true,
            1e-6,
            0.02,
            ModelConfig.Objective.CAUSAL,
            new ModelConfig.Llama("llama", 2, 64, 1376, 10000, "none", 1, 1, 4, 4, false, false));
    GptModel m = GptModel.build(c, 1, 8, DataType.FLOAT, 1);
    LlamaDecoder dec = new LlamaDecoder(c, m.parameters());
    long t0 = System.nanoTime();
    dec.next(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 0);
    StringBuilder sb = new StringBuilder("PREFILL " + (System.nanoTime() - t0) / 1000000 + " ms;");
    for (int t = 16; t < 80; t++) {
      long t1 = System.nanoTime();
      dec.next(5, t);
      sb.append(' ').append((System.nanoTime() - t1) / 100000 / 10.0);
    }
    System.out.println(sb);
  }
}
