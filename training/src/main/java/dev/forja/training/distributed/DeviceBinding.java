package dev.forja.training.distributed;

import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Binds the task's thread to the accelerator Spark assigned it ({@code spark.task.resource.gpu
 * .amount} with a discovery script): on ND4J's CUDA backend the thread's device becomes the address
 * Spark gave the task; on the CPU backend nothing is bound and the assignment is only reported.
 */
public final class DeviceBinding {
  public static final String GPU = "gpu";

  private DeviceBinding() {}

  /** Binds and describes the device: {@code cpu}, {@code gpu:ADDRESS}, or why it is not used. */
  public static String bind(TaskContext task) {
    if (task == null) {
      return "cpu";
    }
    Map<String, ResourceInformation> resources = task.resourcesJMap();
    ResourceInformation gpu = resources.get(GPU);
    if (gpu == null || gpu.addresses().length == 0) {
      return "cpu";
    }
    String address = gpu.addresses()[0];
    if (!cudaBackend()) {
      return "gpu:" + address + " (assigned; ND4J CPU backend, not used)";
    }
    int id;
    try {
      id = Integer.parseInt(address.trim());
    } catch (NumberFormatException e) {
      throw new IllegalStateException(
          "Spark assigned GPU address '"
              + address
              + "', which is not a CUDA device number: the discovery script must print numeric"
              + " addresses (submit-scripts/gpu-discovery)");
    }
    Nd4j.getAffinityManager().unsafeSetDevice(id);
    return "gpu:" + id;
  }

  static boolean cudaBackend() {
    return Nd4j.getBackend()
        .getClass()
        .getName()
        .toLowerCase(java.util.Locale.ROOT)
        .contains("cuda");
  }
}
