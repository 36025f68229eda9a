package dev.forja.prep.corpus;

import dev.forja.config.ConfigReader;
import java.io.Serializable;
import java.util.List;

/**
 * The embedded default corpus that {@code forja corpus generate} writes: synthetic articles in
 * several languages with learnable structure, plus planted duplicates, personal data and junk for
 * the later stages to find.
 *
 * @param sizeMb {@code corpus.size-mb}: approximate raw size in MiB; default 8.
 * @param seed {@code corpus.seed}: the same seed and size give byte-identical files; default 42.
 * @param shards {@code corpus.shards}: output files; default 0 = one per 32 MiB, at least 2.
 * @param languages {@code corpus.languages}: from en, es, pt; default all three.
 * @param exactDuplicateRate {@code corpus.exact-duplicate-rate}: share of documents that copy an
 *     earlier article verbatim; default 0.04.
 * @param nearDuplicateRate {@code corpus.near-duplicate-rate}: share that copy an earlier article
 *     with 0.5-3% of words changed; default 0.04.
 * @param piiRate {@code corpus.pii-rate}: share of articles carrying e-mails, phone numbers or IP
 *     addresses; default 0.10.
 * @param junkRate {@code corpus.junk-rate}: share of junk documents (markup, boilerplate, very
 *     short, very repetitive, symbol noise); default 0.10.
 */
public record CorpusConfig(
    int sizeMb,
    long seed,
    int shards,
    List<String> languages,
    double exactDuplicateRate,
    double nearDuplicateRate,
    double piiRate,
    double junkRate)
    implements Serializable {

  public static final List<String> SUPPORTED_LANGUAGES = List.of("en", "es", "pt");

  public CorpusConfig {
    languages = List.copyOf(languages);
    if (sizeMb < 1) {
      throw new IllegalArgumentException("corpus.size-mb must be at least 1, got " + sizeMb);
    }
    if (exactDuplicateRate + nearDuplicateRate + junkRate > 0.9) {
      throw new IllegalArgumentException(
          "corpus.exact-duplicate-rate + near-duplicate-rate + junk-rate must leave room for"
              + " articles (at most 0.9 together)");
    }
  }

  /** The number of output files: {@link #shards} or one per 32 MiB, at least 2. */
  public int effectiveShards() {
    return shards > 0 ? shards : Math.max(2, (sizeMb + 31) / 32);
  }

  public CorpusConfig withSizeMb(int mb) {
    return new CorpusConfig(
        mb, seed, shards, languages, exactDuplicateRate, nearDuplicateRate, piiRate, junkRate);
  }

  public CorpusConfig withSeed(long s) {
    return new CorpusConfig(
        sizeMb, s, shards, languages, exactDuplicateRate, nearDuplicateRate, piiRate, junkRate);
  }

  public static CorpusConfig read(ConfigReader r) {
    int sizeMb = r.intIn("corpus.size-mb", 8, 1, 1_000_000, "Approximate raw size in MiB.");
    long seed = r.longIn("corpus.seed", 42, Long.MIN_VALUE, Long.MAX_VALUE, "Generator seed.");
    int shards = r.intIn("corpus.shards", 0, 0, 100_000, "Output files; 0 = one per 32 MiB.");
    List<String> languages =
        r.list("corpus.languages", SUPPORTED_LANGUAGES, "Languages of the articles.");
    for (String l : languages) {
      r.require(
          SUPPORTED_LANGUAGES.contains(l),
          "corpus.languages",
          "'" + l + "' is not supported; use some of " + SUPPORTED_LANGUAGES);
    }
    r.require(!languages.isEmpty(), "corpus.languages", "name at least one language");
    double exact = r.doubleIn("corpus.exact-duplicate-rate", 0.04, 0, 0.5, "Verbatim copies.");
    double near = r.doubleIn("corpus.near-duplicate-rate", 0.04, 0, 0.5, "Edited copies.");
    double pii = r.doubleIn("corpus.pii-rate", 0.10, 0, 1, "Articles with personal data.");
    double junk = r.doubleIn("corpus.junk-rate", 0.10, 0, 0.5, "Junk documents.");
    r.require(
        exact + near + junk <= 0.9,
        "corpus.junk-rate",
        "exact-duplicate-rate + near-duplicate-rate + junk-rate must be at most 0.9");
    if (!languages.isEmpty()
        && SUPPORTED_LANGUAGES.containsAll(languages)
        && exact + near + junk <= 0.9) {
      return new CorpusConfig(sizeMb, seed, shards, languages, exact, near, pii, junk);
    }
    return new CorpusConfig(sizeMb, seed, shards, SUPPORTED_LANGUAGES, 0.04, 0.04, 0.1, 0.1);
  }
}
