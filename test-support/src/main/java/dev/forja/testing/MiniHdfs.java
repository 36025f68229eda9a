package dev.forja.testing;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.storage.StorageConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * A real HDFS (NameNode + DataNode) in this JVM: the shaded MiniDFSCluster, on loopback with free
 * ports, replication 1, data under {@code target/}. One per JVM, started on first use (10-20 s),
 * shut down when the JVM exits.
 */
public final class MiniHdfs {
  private static MiniDFSCluster cluster;

  private MiniHdfs() {}

  /** The file system URI, e.g. {@code hdfs://127.0.0.1:41234}. */
  public static synchronized URI uri() {
    if (cluster == null) {
      cluster = start(TestDirs.create("hdfs-"), 0);
      MiniDFSCluster c = cluster;
      Runtime.getRuntime().addShutdownHook(new Thread(c::shutdown));
    }
    return URI.create("hdfs://127.0.0.1:" + cluster.getNameNodePort());
  }

  /** Storage settings that reach it (HDFS needs none beyond the URI; replication 1). */
  public static StorageConfig storageConfig() {
    return StorageConfig.read(
        new ConfigReader(
            ConfigSource.empty().with("storage.hadoop.dfs.replication", "1", "MiniHdfs")));
  }

  /** Starts a cluster with its data under {@code baseDir}; port 0 picks a free one. */
  public static MiniDFSCluster start(Path baseDir, int nameNodePort) {
    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, baseDir.toAbsolutePath().toString());
    conf.set("dfs.replication", "1");
    conf.set("dfs.namenode.rpc-address", "127.0.0.1:" + nameNodePort);
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    conf.setBoolean("dfs.permissions.enabled", false);
    try {
      MiniDFSCluster.Builder b = new MiniDFSCluster.Builder(conf).numDataNodes(1).format(true);
      if (nameNodePort > 0) {
        b.nameNodePort(nameNodePort);
      }
      MiniDFSCluster c = b.build();
      c.waitActive();
      return c;
    } catch (IOException e) {
      throw new UncheckedIOException("MiniDFSCluster failed to start: " + e.getMessage(), e);
    }
  }
}
