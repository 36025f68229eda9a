package dev.forja.prep.io;

import dev.forja.storage.Storage;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * Expands the {@code --input} arguments (files, directories, globs; optionally {@code FORMAT=URI})
 * into the files to read, on the driver. Hidden and marker files ({@code _*}, {@code .*}) are
 * skipped. A path that matches nothing stops the job: it is almost always a typo.
 */
public final class InputLister {
  private InputLister() {}

  public static List<InputFile> list(Storage storage, List<String> inputs) throws IOException {
    List<InputFile> out = new ArrayList<>();
    for (String input : inputs) {
      InputFormat forced = null;
      String uriText = input;
      int eq = input.indexOf('=');
      if (eq > 0
          && !input.substring(0, eq).contains("/")
          && !input.substring(0, eq).contains(":")) {
        forced = InputFormat.parse(input.substring(0, eq));
        uriText = input.substring(eq + 1);
      }
      Path pattern = new Path(uriText);
      URI uri = pattern.toUri();
      storage.requireUsable(uri);
      FileSystem fs = storage.fileSystem(uri);
      FileStatus[] matches = fs.globStatus(pattern);
      if (matches == null || matches.length == 0) {
        throw new IllegalArgumentException(
            "Cannot read input " + uriText + ": no such file or directory");
      }
      int before = out.size();
      for (FileStatus m : matches) {
        if (m.isDirectory()) {
          RemoteIterator<LocatedFileStatus> it = fs.listFiles(m.getPath(), true);
          while (it.hasNext()) {
            LocatedFileStatus f = it.next();
            if (!hidden(f.getPath(), m.getPath())) {
              out.add(file(f, forced));
            }
          }
        } else {
          out.add(file(m, forced));
        }
      }
      if (out.size() == before) {
        throw new IllegalArgumentException("Cannot read input " + uriText + ": it holds no files");
      }
    }
    out.sort(java.util.Comparator.comparing(InputFile::uri));
    return out;
  }

  private static InputFile file(FileStatus f, InputFormat forced) {
    String name = f.getPath().getName();
    InputFormat format = forced != null ? forced : InputFormat.detect(name);
    return new InputFile(
        f.getPath().toUri().toString(), f.getLen(), format == null ? InputFormat.TEXT : format);
  }

  /** True for files under {@code root} whose name (or a parent's, below root) starts with _ or . */
  private static boolean hidden(Path p, Path root) {
    String rootText = root.toUri().getPath();
    for (Path q = p; q != null && !q.toUri().getPath().equals(rootText); q = q.getParent()) {
      String n = q.getName();
      if (n.startsWith("_") || n.startsWith(".")) {
        return true;
      }
    }
    return false;
  }
}
