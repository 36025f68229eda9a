package dev.forja.storage;

import java.io.IOException;
import java.net.URI;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.LocalFileSystem;

/**
 * Hadoop's local file system without its {@code .crc} side files: every {@code file:} output of
 * Forja (Spark's writes included, through {@code fs.file.impl}) is only the files a person expects
 * to find. Integrity is in the commit manifests, which hold every file's SHA-256. Still a {@link
 * LocalFileSystem}, so Hadoop code that asks for the local file system (S3A's disk buffers) gets
 * one.
 */
public class NoChecksumLocalFileSystem extends LocalFileSystem {
  @Override
  public void initialize(URI name, Configuration conf) throws IOException {
    super.initialize(name, conf);
    setWriteChecksum(false);
    setVerifyChecksum(false);
  }
}
