package dev.forja.prep.io;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Reads '\n'-terminated lines as bytes with a length limit: a longer line is skipped to its end
 * without being held in memory (reported with its length), so one 100 MB line cannot exhaust the
 * heap. Tracks the byte offset of each line.
 */
final class LineReader {
  private final InputStream in;
  private final long maxBytes;
  private final byte[] buf = new byte[1 << 16];
  private int pos;
  private int limit;
  private long consumed; // bytes consumed from the stream before buf[pos]

  byte[] line = new byte[1024];
  int length;
  long offset;
  long skippedLength; // > 0 when the line was too long: its full length
  boolean sawNul;

  /** Offset of the first NUL byte within the first 8 KiB of the stream, or -1. */
  long binaryAt = -1;

  /** Whether anything at all was read from the stream. */
  boolean anyBytes() {
    return consumed + limit > 0;
  }

  LineReader(InputStream in, long maxBytes) {
    this.in = in;
    this.maxBytes = maxBytes;
  }

  /** Reads the next line into {@link #line}; false at end of stream. */
  boolean next() throws IOException {
    length = 0;
    skippedLength = 0;
    sawNul = false;
    offset = consumed + pos;
    long total = 0;
    boolean any = false;
    while (true) {
      if (pos >= limit) {
        consumed += limit;
        pos = 0;
        limit = in.read(buf, 0, buf.length);
        if (consumed < 8192 && limit > 0) {
          for (int i = 0; i < limit && consumed + i < 8192 && binaryAt < 0; i++) {
            if (buf[i] == 0) {
              binaryAt = consumed + i;
            }
          }
        }
        if (limit <= 0) {
          limit = 0;
          if (!any) {
            return false;
          }
          finish(total);
          return true;
        }
      }
      any = true;
      int start = pos;
      while (pos < limit && buf[pos] != '\n') {
        if (buf[pos] == 0) {
          sawNul = true;
        }
        pos++;
      }
      int n = pos - start;
      total += n;
      if (total <= maxBytes) {
        append(start, n);
      }
      if (pos < limit) { // found '\n'
        pos++;
        finish(total);
        return true;
      }
    }
  }

  private void finish(long total) {
    if (total > maxBytes) {
      skippedLength = total;
      length = 0;
    } else if (length > 0 && line[length - 1] == '\r') {
      length--;
    }
  }

  private void append(int start, int n) {
    if (length + n > line.length) {
      line = Arrays.copyOf(line, Math.max(line.length * 2, length + n));
    }
    System.arraycopy(buf, start, line, length, n);
    length += n;
  }
}
