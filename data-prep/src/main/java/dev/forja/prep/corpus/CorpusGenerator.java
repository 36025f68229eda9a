package dev.forja.prep.corpus;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Generates the embedded default corpus, deterministically: every document is a pure function of
 * (seed, shard, index), so shards can be generated in parallel on executors and the same config
 * always gives the same bytes.
 *
 * <p>Each line of a shard is a JSON object: {@code id}, {@code url}, {@code text}, and {@code meta}
 * with what was planted: {@code lang}, {@code kind} (article, exact-duplicate, near-duplicate,
 * junk-markup, junk-boilerplate, junk-short, junk-repetitive, junk-symbols), {@code of} (the id a
 * duplicate copies), {@code edit-fraction} (near duplicates), {@code pii} (personal-data items
 * planted) and {@code boilerplate} (boilerplate lines appended). Later stages must find these
 * without reading {@code meta}; tests use it as ground truth.
 */
public final class CorpusGenerator {
  public static final List<String> KINDS =
      List.of(
          "article",
          "exact-duplicate",
          "near-duplicate",
          "junk-markup",
          "junk-boilerplate",
          "junk-short",
          "junk-repetitive",
          "junk-symbols");

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] FIRST = {
    "maria", "joao", "ana", "carlos", "lucia", "pedro", "emma", "james", "sofia", "miguel"
  };
  private static final String[] LAST = {
    "silva", "garcia", "santos", "lopez", "smith", "costa", "martin", "pereira", "brown", "ruiz"
  };
  private static final String[] DOMAINS = {
    "example.com", "example.org", "mail.example.net", "correo.example.es", "empresa.example.com.br"
  };

  /** One generated document. */
  public record Document(
      String id,
      String url,
      String text,
      String lang,
      String kind,
      String of,
      double editFraction,
      int pii,
      int boilerplate) {

    public String toJsonLine() {
      Map<String, Object> meta = new LinkedHashMap<>();
      meta.put("lang", lang);
      meta.put("kind", kind);
      if (of != null) {
        meta.put("of", of);
      }
      if (editFraction > 0) {
        meta.put("edit-fraction", Math.round(editFraction * 1e4) / 1e4);
      }
      meta.put("pii", pii);
      meta.put("boilerplate", boilerplate);
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", id);
      m.put("url", url);
      m.put("text", text);
      m.put("meta", meta);
      try {
        return JSON.writeValueAsString(m);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /** What one shard holds. */
  public record ShardStats(int shard, long documents, long bytes, Map<String, Long> kinds)
      implements java.io.Serializable {}

  private final CorpusConfig config;

  public CorpusGenerator(CorpusConfig config) {
    this.config = config;
  }

  /** The file name of a shard: {@code docs-00003.jsonl}. */
  public static String shardFileName(int shard) {
    return String.format(Locale.ROOT, "docs-%05d.jsonl", shard);
  }

  /** The byte budget of one shard. */
  long shardBudget() {
    return ((long) config.sizeMb() << 20) / config.effectiveShards();
  }

  /** Writes one shard as JSON lines until its share of the size is reached. */
  public ShardStats writeShard(int shard, Writer out) throws IOException {
    long budget = shardBudget();
    long bytes = 0;
    long docs = 0;
    Map<String, Long> kinds = new TreeMap<>();
    for (int i = 0; bytes < budget; i++) {
      Document d = document(shard, i);
      String line = d.toJsonLine() + "\n";
      out.write(line);
      bytes += line.getBytes(StandardCharsets.UTF_8).length;
      docs++;
      kinds.merge(d.kind(), 1L, Long::sum);
    }
    return new ShardStats(shard, docs, bytes, kinds);
  }

  /** Document {@code index} of {@code shard}. */
  public Document document(int shard, int index) {
    SplittableRandom rnd = random(shard, index);
    String kind = kindOf(rnd.nextDouble());
    String id = id(shard, index);
    if (kind.equals("exact-duplicate") || kind.equals("near-duplicate")) {
      int source = earlierArticle(shard, index, rnd);
      if (source < 0) {
        kind = "article";
      } else {
        Document original = article(shard, source);
        if (kind.equals("exact-duplicate")) {
          return new Document(
              id,
              url(original.lang(), shard, index),
              original.text(),
              original.lang(),
              kind,
              original.id(),
              0,
              original.pii(),
              original.boilerplate());
        }
        // 0.5-3% of words changed: word 5-gram Jaccard of about 0.75-0.97 with the original
        double fraction = 0.005 + 0.025 * rnd.nextDouble();
        String edited = edit(original.text(), fraction, Lexicon.of(original.lang()), rnd);
        return new Document(
            id,
            url(original.lang(), shard, index),
            edited,
            original.lang(),
            kind,
            original.id(),
            fraction,
            original.pii(),
            original.boilerplate());
      }
    }
    if (kind.startsWith("junk")) {
      return junk(shard, index, kind, rnd);
    }
    return article(shard, index);
  }

  private String kindOf(double u) {
    double exact = config.exactDuplicateRate();
    double near = exact + config.nearDuplicateRate();
    double junk = near + config.junkRate();
    if (u < exact) {
      return "exact-duplicate";
    }
    if (u < near) {
      return "near-duplicate";
    }
    if (u < junk) {
      int k = (int) ((u - near) / config.junkRate() * 5);
      return KINDS.get(3 + Math.min(k, 4));
    }
    return "article";
  }

  /** An earlier index of the same shard that is an article, or -1. */
  private int earlierArticle(int shard, int index, SplittableRandom rnd) {
    if (index == 0) {
      return -1;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
      int m = rnd.nextInt(index);
      if (kindOf(random(shard, m).nextDouble()).equals("article")) {
        return m;
      }
    }
    return -1;
  }

  /** Document {@code index} of {@code shard} as an article, whatever its drawn kind. */
  private Document article(int shard, int index) {
    SplittableRandom rnd = random(shard, index);
    rnd.nextDouble(); // the kind
    String lang = config.languages().get(rnd.nextInt(config.languages().size()));
    Lexicon lx = Lexicon.of(lang);
    int topic = rnd.nextInt(5);
    StringBuilder text = new StringBuilder();
    text.append(pick(lx.titles(), rnd)).append(' ').append(noun(lx, topic, rnd)).append("\n\n");
    int paragraphs = 2 + rnd.nextInt(5);
    List<StringBuilder> paras = new ArrayList<>();
    for (int p = 0; p < paragraphs; p++) {
      StringBuilder para = new StringBuilder();
      int sentences = 2 + rnd.nextInt(5);
      for (int s = 0; s < sentences; s++) {
        if (s > 0) {
          para.append(' ');
        }
        para.append(sentence(lx, topic, rnd));
      }
      paras.add(para);
    }
    int pii = 0;
    if (rnd.nextDouble() < config.piiRate()) {
      StringBuilder para = paras.get(rnd.nextInt(paras.size()));
      para.append(' ').append(contact(lang, rnd));
      pii = 2;
      if (rnd.nextDouble() < 0.3) {
        para.append(' ').append("IP 203.0.113.").append(1 + rnd.nextInt(254)).append('.');
        pii++;
      }
    }
    for (int p = 0; p < paras.size(); p++) {
      if (p > 0) {
        text.append("\n\n");
      }
      text.append(paras.get(p));
    }
    int boilerplate = 0;
    if (rnd.nextDouble() < 0.3) {
      boilerplate = 1 + rnd.nextInt(3);
      for (int b = 0; b < boilerplate; b++) {
        text.append('\n').append(pick(lx.boilerplate(), rnd));
      }
    }
    return new Document(
        id(shard, index),
        url(lang, shard, index),
        text.toString(),
        lang,
        "article",
        null,
        0,
        pii,
        boilerplate);
  }

  private Document junk(int shard, int index, String kind, SplittableRandom rnd) {
    String lang = config.languages().get(rnd.nextInt(config.languages().size()));
    Lexicon lx = Lexicon.of(lang);
    String text;
    switch (kind) {
      case "junk-markup" -> {
        StringBuilder sb = new StringBuilder("<div class=\"nav\"><a href=\"/\">Home</a> | ");
        sb.append("<a href=\"/about\">About</a></div>\n<script>var tracker = {id: ")
            .append(rnd.nextInt(100000))
            .append("};</script>\n<p>")
            .append(sentence(lx, 0, rnd))
            .append("</p>\n<style>.ad{display:none}</style>");
        text = sb.toString();
      }
      case "junk-boilerplate" -> {
        StringBuilder sb = new StringBuilder();
        int lines = 4 + rnd.nextInt(6);
        for (int l = 0; l < lines; l++) {
          sb.append(l > 0 ? "\n" : "").append(pick(lx.boilerplate(), rnd));
        }
        text = sb.toString();
      }
      case "junk-short" -> text = pick(lx.shortNotes(), rnd);
      case "junk-repetitive" -> {
        String line = sentence(lx, rnd.nextInt(5), rnd);
        int times = 20 + rnd.nextInt(40);
        StringBuilder sb = new StringBuilder();
        for (int t = 0; t < times; t++) {
          sb.append(t > 0 ? "\n" : "").append(line);
        }
        text = sb.toString();
      }
      default -> {
        String symbols = "#$%&*+=<>@^~|";
        StringBuilder sb = new StringBuilder();
        int n = 80 + rnd.nextInt(200);
        for (int c = 0; c < n; c++) {
          sb.append(rnd.nextInt(6) == 0 ? ' ' : symbols.charAt(rnd.nextInt(symbols.length())));
        }
        text = sb.toString();
      }
    }
    return new Document(id(shard, index), url(lang, shard, index), text, lang, kind, null, 0, 0, 0);
  }

  private static String sentence(Lexicon lx, int topic, SplittableRandom rnd) {
    double u = rnd.nextDouble();
    String s;
    if (u < 0.6) {
      s =
          noun(lx, topic, rnd)
              + " "
              + pick(lx.verbs(), rnd)
              + " "
              + noun(lx, topic, rnd)
              + " "
              + pick(lx.places(), rnd);
    } else if (u < 0.8) {
      s =
          pick(lx.openers(), rnd)
              + " "
              + noun(lx, topic, rnd)
              + " "
              + pick(lx.verbs(), rnd)
              + " "
              + noun(lx, topic, rnd);
    } else {
      s =
          noun(lx, topic, rnd)
              + " "
              + lx.is()
              + " "
              + pick(lx.adjectives(), rnd)
              + " "
              + lx.and()
              + " "
              + pick(lx.adjectives(), rnd);
    }
    return Character.toUpperCase(s.charAt(0)) + s.substring(1) + ".";
  }

  /** Nouns cluster by topic: 70% from the topic's ten, the rest from all. */
  private static String noun(Lexicon lx, int topic, SplittableRandom rnd) {
    List<String> nouns = lx.nouns();
    if (rnd.nextDouble() < 0.7) {
      return nouns.get((topic * 6 + rnd.nextInt(10)) % nouns.size());
    }
    return pick(nouns, rnd);
  }

  private static String contact(String lang, SplittableRandom rnd) {
    String first = FIRST[rnd.nextInt(FIRST.length)];
    String last = LAST[rnd.nextInt(LAST.length)];
    String email =
        first
            + "."
            + last
            + (rnd.nextInt(3) == 0 ? Integer.toString(rnd.nextInt(100)) : "")
            + "@"
            + DOMAINS[rnd.nextInt(DOMAINS.length)];
    String name = Character.toUpperCase(first.charAt(0)) + first.substring(1);
    return switch (lang) {
      case "es" ->
          String.format(
              Locale.ROOT,
              "Contacte con %s en %s o al +34 6%02d %03d %03d.",
              name,
              email,
              rnd.nextInt(100),
              rnd.nextInt(1000),
              rnd.nextInt(1000));
      case "pt" ->
          String.format(
              Locale.ROOT,
              "Contacte %s em %s ou pelo +55 11 9%04d-%04d.",
              name,
              email,
              rnd.nextInt(10000),
              rnd.nextInt(10000));
      default ->
          String.format(
              Locale.ROOT,
              "Contact %s at %s or call (555) %03d-%04d.",
              name,
              email,
              rnd.nextInt(1000),
              rnd.nextInt(10000));
    };
  }

  private static String edit(String text, double fraction, Lexicon lx, SplittableRandom rnd) {
    String[] words = text.split(" ", -1);
    int changes = Math.max(1, (int) Math.round(words.length * fraction));
    for (int c = 0; c < changes; c++) {
      int w = rnd.nextInt(words.length);
      words[w] = rnd.nextBoolean() ? pick(lx.verbs(), rnd) : pick(lx.adjectives(), rnd);
    }
    return String.join(" ", words);
  }

  private static String pick(List<String> xs, SplittableRandom rnd) {
    return xs.get(rnd.nextInt(xs.size()));
  }

  private static String id(int shard, int index) {
    return String.format(Locale.ROOT, "doc-%05d-%07d", shard, index);
  }

  private static String url(String lang, int shard, int index) {
    return "https://www.example.org/" + lang + "/" + shard + "/" + index;
  }

  private SplittableRandom random(int shard, int index) {
    long h = config.seed() * 0x9E3779B97F4A7C15L;
    h ^= (shard + 1L) * 0xC2B2AE3D27D4EB4FL;
    h ^= (index + 1L) * 0x165667B19E3779F9L;
    return new SplittableRandom(h);
  }
}
