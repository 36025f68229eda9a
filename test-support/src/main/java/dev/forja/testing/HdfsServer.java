package dev.forja.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * Runs a NameNode and a DataNode in one process until killed: the HDFS of {@code
 * submit-scripts/local-cluster}. Usage: {@code HdfsServer PORT DATA_DIR}. Writes {@code
 * DATA_DIR/ready} once it serves.
 */
public final class HdfsServer {
  private HdfsServer() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: HdfsServer PORT DATA_DIR");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    Path dir = Path.of(args[1]).toAbsolutePath();
    Files.createDirectories(dir);
    Files.deleteIfExists(dir.resolve("ready"));
    MiniDFSCluster cluster = MiniHdfs.start(dir.resolve("data"), port);
    Runtime.getRuntime().addShutdownHook(new Thread(cluster::shutdown));
    Files.writeString(dir.resolve("ready"), "hdfs://127.0.0.1:" + cluster.getNameNodePort() + "\n");
    System.out.println("HDFS serving at hdfs://127.0.0.1:" + cluster.getNameNodePort());
    Thread.currentThread().join();
  }
}
