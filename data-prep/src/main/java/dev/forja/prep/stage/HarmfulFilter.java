package dev.forja.prep.stage;

import dev.forja.prep.PrepConfig;
import dev.forja.prep.Words;
import dev.forja.storage.Storage;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Harmful-content filtering: per-language blocklists that the user supplies ({@code LANG.txt}
 * files, and {@code all.txt} for every language, one term or phrase per line, {@code #} comments)
 * matched on whole words, case- and accent-insensitively after NFKC; and an optional {@link
 * DocumentScorer}. Forja ships no list.
 */
public final class HarmfulFilter implements DocStage {
  private final PrepConfig.Harmful params;
  private final Map<String, List<String>> lists;

  /** Loads the lists on the driver: a bad directory fails before any data is read. */
  public static HarmfulFilter create(PrepConfig.Harmful params, Storage storage)
      throws IOException {
    Map<String, List<String>> lists = new HashMap<>();
    if (!params.blocklistDir().isEmpty()) {
      URI dir = URI.create(params.blocklistDir());
      if (!storage.exists(dir)) {
        throw new IllegalArgumentException(
            "prep.harmful.blocklist-dir: "
                + dir
                + " does not exist (a directory of LANG.txt files)");
      }
      for (Storage.Entry e : storage.list(dir)) {
        String name = e.uri().getPath().substring(e.uri().getPath().lastIndexOf('/') + 1);
        if (!e.directory() && name.endsWith(".txt")) {
          List<String> terms = new ArrayList<>();
          for (String line : storage.readString(e.uri()).split("\n")) {
            String t = line.strip();
            if (!t.isEmpty() && !t.startsWith("#")) {
              terms.add(t);
            }
          }
          lists.put(name.substring(0, name.length() - 4), terms);
        }
      }
    }
    if (!params.scorerClass().isEmpty()) {
      newScorer(params.scorerClass()); // fail early on a wrong class name
    }
    return new HarmfulFilter(params, lists);
  }

  HarmfulFilter(PrepConfig.Harmful params, Map<String, List<String>> lists) {
    this.params = params;
    this.lists = lists;
  }

  @Override
  public String name() {
    return "harmful";
  }

  @Override
  public Object params() {
    return params;
  }

  @Override
  public Processor open() {
    Map<String, Set<String>> sets = new HashMap<>();
    int maxLen = 1;
    for (Map.Entry<String, List<String>> e : lists.entrySet()) {
      Set<String> s = new HashSet<>();
      for (String term : e.getValue()) {
        List<String> t = Words.tokens(term);
        if (!t.isEmpty()) {
          s.add(String.join(" ", t));
          maxLen = Math.max(maxLen, t.size());
        }
      }
      sets.put(e.getKey(), s);
    }
    int maxTerm = maxLen;
    DocumentScorer scorer = params.scorerClass().isEmpty() ? null : newScorer(params.scorerClass());
    return doc -> {
      if (!doc.kept()) {
        return;
      }
      Set<String> forLang = sets.getOrDefault(doc.getLang(), Set.of());
      Set<String> forAll = sets.getOrDefault("all", Set.of());
      if (!forLang.isEmpty() || !forAll.isEmpty()) {
        List<String> toks = Words.tokens(doc.getText());
        int hits = 0;
        for (int i = 0; i < toks.size(); i++) {
          StringBuilder g = new StringBuilder();
          for (int n = 1; n <= maxTerm && i + n <= toks.size(); n++) {
            if (n > 1) {
              g.append(' ');
            }
            g.append(toks.get(i + n - 1));
            String s = g.toString();
            if (forLang.contains(s) || forAll.contains(s)) {
              hits++;
              break;
            }
          }
        }
        double fraction = hits / (double) Math.max(1, toks.size());
        doc.signal("harmful.blocked-fraction", fraction);
        if (hits > 0 && fraction > params.maxBlockedFraction()) {
          doc.reject("harmful.blocklist", fraction, hits + " blocked term(s)");
          return;
        }
      }
      if (scorer != null) {
        double score = scorer.score(doc.getText(), doc.getLang());
        doc.signal("harmful.score", score);
        if (score > params.maxScore()) {
          doc.reject("harmful.score", score, params.scorerClass());
        }
      }
    };
  }

  static DocumentScorer newScorer(String className) {
    try {
      Class<?> c = Class.forName(className);
      if (!DocumentScorer.class.isAssignableFrom(c)) {
        throw new IllegalArgumentException(
            "prep.harmful.scorer-class: "
                + className
                + " does not implement "
                + DocumentScorer.class.getName());
      }
      return (DocumentScorer) c.getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalArgumentException(
          "prep.harmful.scorer-class: cannot create "
              + className
              + " ("
              + e
              + "); it needs a public no-argument constructor on the classpath",
          e);
    }
  }
}
