package dev.forja.cli;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Stages what a YARN application of Forja needs on the cluster's file system once, so that jobs do
 * not upload it: Spark's and Hadoop's jars ({@code spark.yarn.jars}) and Forja's runtime jar (the
 * application jar). A file already staged with the same size (and, for the runtime jar, the same
 * SHA-256) is left alone; a new one is written beside its name and renamed into place. Run by
 * {@code submit-scripts/forja-submit} on the submitting machine, with {@code HADOOP_CONF_DIR} on
 * the classpath.
 *
 * <p>Usage: {@code YarnStaging DIR RUNTIME_JAR CLASSPATH}; prints {@code spark.yarn.jars=URI} and
 * {@code app.jar=URI} for the script, and a summary on standard error.
 */
public final class YarnStaging {
  static final String SPARK_JARS = "spark-jars";
  static final String RUNTIME_JAR = "forja-runtime.jar";

  private YarnStaging() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: YarnStaging DIR RUNTIME_JAR CLASSPATH");
      System.exit(2);
    }
    Configuration conf = new Configuration();
    Path dir = new Path(args[0]);
    FileSystem fs = dir.getFileSystem(conf);
    dir = fs.makeQualified(dir);
    long t0 = System.nanoTime();
    long[] moved = {0, 0}; // files, bytes
    int files = 0;
    Path jars = new Path(dir, SPARK_JARS);
    for (String entry : args[2].split(File.pathSeparator)) {
      File f = new File(entry);
      if (f.isFile() && f.getName().endsWith(".jar")) {
        stage(fs, f, new Path(jars, f.getName()), null, moved);
        files++;
      }
    }
    File runtime = new File(args[1]);
    Path app = new Path(dir, RUNTIME_JAR);
    stage(fs, runtime, app, sha256(runtime), moved);
    files++;
    System.err.printf(
        Locale.ROOT,
        "forja-submit: %d files staged at %s (%d uploaded, %.1f MiB, in %.1f s)%n",
        files,
        dir,
        moved[0],
        moved[1] / 1048576.0,
        (System.nanoTime() - t0) / 1e9);
    System.out.println("spark.yarn.jars=" + jars + "/*.jar");
    System.out.println("app.jar=" + app);
  }

  /** Copies {@code local} to {@code target} unless the same file is there already. */
  private static void stage(FileSystem fs, File local, Path target, String sha, long[] moved)
      throws IOException {
    Path shaFile = new Path(target.getParent(), target.getName() + ".sha256");
    if (fs.exists(target)) {
      FileStatus st = fs.getFileStatus(target);
      boolean same = st.getLen() == local.length();
      if (same && sha != null) {
        same = fs.exists(shaFile) && readString(fs, shaFile).equals(sha);
      }
      if (same) {
        return;
      }
    }
    Path tmp =
        new Path(target.getParent(), "." + target.getName() + ".staging-" + System.nanoTime());
    fs.mkdirs(target.getParent());
    fs.copyFromLocalFile(false, true, new Path(local.toURI()), tmp);
    fs.delete(target, false);
    if (!fs.rename(tmp, target)) {
      throw new IOException("cannot move " + tmp + " to " + target);
    }
    if (sha != null) {
      try (FSDataOutputStream out = fs.create(shaFile, true)) {
        out.write(sha.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
    }
    moved[0]++;
    moved[1] += local.length();
  }

  private static String readString(FileSystem fs, Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  private static String sha256(File f) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(f.toPath())) {
      byte[] buf = new byte[1 << 20];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
