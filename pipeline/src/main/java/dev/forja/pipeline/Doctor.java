package dev.forja.pipeline;

import dev.forja.config.BuildInfo;
import dev.forja.storage.Storage;
import dev.forja.storage.StorageException;
import dev.forja.training.runtime.BlasKernels;
import dev.forja.training.runtime.Nd4jInfo;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * {@code forja doctor}: what this machine and configuration give Forja (versions, ND4J backend,
 * threads, native-memory caps, storage), with a warning for each setting known to hurt. Prints no
 * credential.
 */
public final class Doctor {
  /** Sections of facts, and warnings that say what to change. */
  public record Report(Map<String, Map<String, String>> sections, List<String> warnings) {}

  private Doctor() {}

  public static Report run(ForjaConfig config, List<URI> probes) {
    Map<String, Map<String, String>> sections = new LinkedHashMap<>();
    List<String> warnings = new ArrayList<>();

    Map<String, String> versions = new LinkedHashMap<>();
    versions.put("forja", BuildInfo.forjaVersion());
    versions.put(
        "java",
        System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")");
    versions.put("spark", sparkVersion());
    versions.put("scala", scala.util.Properties.versionNumberString());
    versions.put("hadoop", org.apache.hadoop.util.VersionInfo.getVersion());
    versions.put("dl4j/nd4j", BuildInfo.get("dl4j.version"));
    sections.put("Versions", versions);

    Map<String, String> jvm = new LinkedHashMap<>();
    Runtime rt = Runtime.getRuntime();
    jvm.put("cpus", Integer.toString(rt.availableProcessors()));
    jvm.put("max heap", gib(rt.maxMemory()));
    List<String> args = ManagementFactory.getRuntimeMXBean().getInputArguments();
    boolean opens = args.stream().anyMatch(a -> a.startsWith("--add-opens=java.base/sun.nio.ch"));
    jvm.put("spark module options", opens ? "present" : "missing");
    if (!opens) {
      warnings.add(
          "The JVM lacks Spark's --add-opens options: run through submit-scripts/forja or"
              + " spark-submit, or add them to JAVA_TOOL_OPTIONS (Kryo and closures fail otherwise).");
    }
    sections.put("JVM", jvm);

    Map<String, String> threads = new LinkedHashMap<>();
    String wait = System.getenv("OMP_WAIT_POLICY");
    String omp = System.getenv("OMP_NUM_THREADS");
    threads.put("OMP_WAIT_POLICY", wait == null ? "(unset)" : wait);
    threads.put("OMP_NUM_THREADS", omp == null ? "(unset: all cores)" : omp);
    if (!"PASSIVE".equalsIgnoreCase(wait)) {
      warnings.add(
          "OMP_WAIT_POLICY is not PASSIVE: ND4J threads spin and run 20-37x slower on shared"
              + " hosts. Export OMP_WAIT_POLICY=PASSIVE before starting the JVM.");
    }
    threads.put("OpenBLAS kernels", BlasKernels.describe());
    BlasKernels.advice().ifPresent(warnings::add);
    String maxBytes = System.getProperty("org.bytedeco.javacpp.maxbytes");
    String maxPhysical = System.getProperty("org.bytedeco.javacpp.maxphysicalbytes");
    threads.put("javacpp.maxbytes", maxBytes == null ? "(unset)" : maxBytes);
    threads.put("javacpp.maxphysicalbytes", maxPhysical == null ? "(unset)" : maxPhysical);
    if (maxBytes == null || maxPhysical == null) {
      warnings.add(
          "ND4J native memory is uncapped: set -Dorg.bytedeco.javacpp.maxbytes and"
              + " -Dorg.bytedeco.javacpp.maxphysicalbytes (native memory is freed only by GC).");
    }
    sections.put("Threads and native memory", threads);

    sections.put("ND4J", Nd4jInfo.describe());
    if (sections.get("ND4J").containsKey("error")) {
      warnings.add(sections.get("ND4J").get("error"));
    }

    Map<String, String> storage = new LinkedHashMap<>();
    Storage store = new Storage(config.storage());
    storage.put("file", "ok");
    storage.put(
        "hdfs",
        config.storage().defaultFs().startsWith("hdfs:")
            ? "default " + config.storage().defaultFs()
            : "ok for hdfs://HOST:PORT/ URIs (storage.default-fs unset)");
    storage.put("s3a", s3Status(store));
    storage.put("settings", config.storage().toString());
    for (URI probe : probes) {
      storage.put("probe " + probe, probe(store, probe));
    }
    sections.put("Storage", storage);
    sections.put(
        "Spark settings",
        Map.of(
            "master",
            config.spark().master().isEmpty()
                ? "(spark-submit's, else local[*])"
                : config.spark().master()));
    return new Report(sections, warnings);
  }

  private static String s3Status(Storage store) {
    try {
      store.requireUsable(URI.create("s3a://bucket/"));
      String endpoint = store.config().s3().endpoint();
      return "configured (" + (endpoint.isEmpty() ? "AWS" : endpoint) + ")";
    } catch (StorageException e) {
      return "not configured: " + e.getMessage().replace("Cannot use s3a://bucket/: ", "");
    }
  }

  private static String probe(Storage store, URI uri) {
    try {
      store.requireUsable(uri);
      long n = store.list(uri).size();
      return store.exists(uri) ? "reachable, " + n + " entries" : "reachable, does not exist yet";
    } catch (StorageException e) {
      return "unusable: " + e.getMessage();
    } catch (IOException | RuntimeException e) {
      return "unreachable: " + e.getClass().getSimpleName() + ": " + e.getMessage();
    }
  }

  private static String sparkVersion() {
    try (InputStream in =
        Doctor.class.getClassLoader().getResourceAsStream("spark-version-info.properties")) {
      if (in == null) {
        return "not on the classpath";
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  private static String gib(long b) {
    return String.format(Locale.ROOT, "%.1f GiB", b / 1073741824.0);
  }
}
