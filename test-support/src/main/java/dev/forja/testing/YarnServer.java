package dev.forja.testing;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;

/**
 * Runs a YARN ResourceManager and NodeManagers in one process until killed: the YARN of {@code
 * submit-scripts/local-cluster start --yarn}. Usage: {@code YarnServer RM_PORT HDFS_URI NODES
 * NODE_MEMORY_MB NODE_VCORES STATE_DIR}. The ResourceManager listens on {@code RM_PORT} (RPC),
 * {@code +1} (scheduler), {@code +2} (resource tracker), {@code +3} (admin) and {@code +8} (web UI)
 * on 127.0.0.1. NodeManagers enforce each container's physical memory (YARN kills a container that
 * exceeds its request, as production clusters do) and aggregate container logs to HDFS on
 * completion ({@code yarn logs -applicationId}). Writes {@code STATE_DIR/yarn-site.xml} and {@code
 * STATE_DIR/ready} once every NodeManager has registered.
 */
public final class YarnServer {
  private YarnServer() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 6) {
      System.err.println("usage: YarnServer RM_PORT HDFS_URI NODES NODE_MEMORY_MB NODE_VCORES DIR");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    String hdfs = args[1];
    int nodes = Integer.parseInt(args[2]);
    int memory = Integer.parseInt(args[3]);
    int vcores = Integer.parseInt(args[4]);
    Path dir = Path.of(args[5]).toAbsolutePath();
    Files.createDirectories(dir);
    Files.deleteIfExists(dir.resolve("ready"));

    YarnConfiguration conf = new YarnConfiguration();
    conf.set("fs.defaultFS", hdfs);
    conf.setBoolean(YarnConfiguration.YARN_MINICLUSTER_FIXED_PORTS, true);
    conf.setBoolean(YarnConfiguration.YARN_MINICLUSTER_USE_RPC, true);
    String host = "127.0.0.1:";
    conf.set(YarnConfiguration.RM_HOSTNAME, "127.0.0.1");
    conf.set(YarnConfiguration.RM_ADDRESS, host + port);
    conf.set(YarnConfiguration.RM_SCHEDULER_ADDRESS, host + (port + 1));
    conf.set(YarnConfiguration.RM_RESOURCE_TRACKER_ADDRESS, host + (port + 2));
    conf.set(YarnConfiguration.RM_ADMIN_ADDRESS, host + (port + 3));
    conf.set(YarnConfiguration.RM_WEBAPP_ADDRESS, host + (port + 8));
    conf.set(YarnConfiguration.NM_ADDRESS, "127.0.0.1:0");
    conf.set(YarnConfiguration.NM_LOCALIZER_ADDRESS, "127.0.0.1:0");
    conf.set(YarnConfiguration.NM_WEBAPP_ADDRESS, "127.0.0.1:0");
    conf.setInt(YarnConfiguration.NM_PMEM_MB, memory);
    conf.setInt(YarnConfiguration.NM_VCORES, vcores);
    conf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
    conf.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_MB, memory);
    conf.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_VCORES, vcores);
    // physical memory enforced, as on production clusters; virtual memory not (a JVM reserves far
    // more address space than it uses)
    conf.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, true);
    conf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
    conf.setLong("yarn.nodemanager.container-monitor.interval-ms", 1000);
    conf.setBoolean(YarnConfiguration.NM_DISK_HEALTH_CHECK_ENABLE, false);
    conf.setFloat(
        YarnConfiguration.NM_MAX_PER_DISK_UTILIZATION_PERCENTAGE, 99.9f); // a full test disk
    // the executors' environment: JAVA_HOME and what Forja's ND4J settings read
    conf.set(
        YarnConfiguration.NM_ENV_WHITELIST,
        "JAVA_HOME,HADOOP_CONF_DIR,OPENBLAS_CORETYPE,OMP_WAIT_POLICY,PATH,LANG,TZ");
    conf.setBoolean(YarnConfiguration.LOG_AGGREGATION_ENABLED, true);
    conf.set(YarnConfiguration.NM_REMOTE_APP_LOG_DIR, hdfs + "/tmp/logs");
    conf.setLong(YarnConfiguration.NM_LOG_RETAIN_SECONDS, 3600);
    conf.set("yarn.resourcemanager.scheduler.class", FIFO);
    conf.setInt(YarnConfiguration.RM_AM_MAX_ATTEMPTS, 2);

    MiniYARNCluster cluster = new MiniYARNCluster("forja", nodes, 1, 1);
    cluster.init(conf);
    cluster.start();
    Runtime.getRuntime().addShutdownHook(new Thread(cluster::stop));
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (cluster.getResourceManager().getRMContext().getRMNodes().size() < nodes) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("NodeManagers did not register within 120 s");
      }
      Thread.sleep(200);
    }
    writeSite(cluster.getConfig(), dir.resolve("yarn-site.xml"));
    Files.writeString(dir.resolve("ready"), "127.0.0.1:" + port + "\n");
    System.out.println(
        "YARN ResourceManager at 127.0.0.1:" + port + " with " + nodes + " NodeManagers");
    Thread.currentThread().join();
  }

  private static final String FIFO =
      "org.apache.hadoop.yarn.server.resourcemanager.scheduler.fifo.FifoScheduler";

  /** The client-side settings: where the ResourceManager is and how logs are kept. */
  private static void writeSite(Configuration running, Path file) throws Exception {
    Configuration site = new Configuration(false);
    for (String key :
        new String[] {
          YarnConfiguration.RM_HOSTNAME,
          YarnConfiguration.RM_ADDRESS,
          YarnConfiguration.RM_SCHEDULER_ADDRESS,
          YarnConfiguration.RM_RESOURCE_TRACKER_ADDRESS,
          YarnConfiguration.RM_ADMIN_ADDRESS,
          YarnConfiguration.RM_WEBAPP_ADDRESS,
          YarnConfiguration.LOG_AGGREGATION_ENABLED,
          YarnConfiguration.NM_REMOTE_APP_LOG_DIR,
          YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_MB,
          YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB
        }) {
      site.set(key, running.get(key));
    }
    try (OutputStream out = Files.newOutputStream(file)) {
      site.writeXml(out);
    }
  }
}
