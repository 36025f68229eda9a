package dev.forja.prep.stage;

import dev.forja.prep.PrepConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import opennlp.tools.langdetect.DefaultLanguageDetectorContextGenerator;
import opennlp.tools.langdetect.LanguageDetectorModel;
import opennlp.tools.ml.model.MaxentModel;
import opennlp.tools.util.normalizer.EmojiCharSequenceNormalizer;
import opennlp.tools.util.normalizer.NumberCharSequenceNormalizer;
import opennlp.tools.util.normalizer.ShrinkCharSequenceNormalizer;
import opennlp.tools.util.normalizer.TwitterCharSequenceNormalizer;
import opennlp.tools.util.normalizer.UrlCharSequenceNormalizer;

/**
 * Language identification with Apache OpenNLP's language detector and its 103-language model
 * ({@code opennlp-models-langdetect}, ISO 639-3 codes, reported here as ISO 639-1 where one
 * exists). Keeps documents whose best language is allowed with at least the minimum confidence.
 */
public final class LanguageFilter implements DocStage {
  private final PrepConfig.Language params;

  public LanguageFilter(PrepConfig.Language params) {
    this.params = params;
  }

  @Override
  public String name() {
    return "language";
  }

  @Override
  public Object params() {
    return params;
  }

  private static volatile LanguageDetectorModel model;

  /** The model, loaded once per JVM (about 10 MB). */
  static LanguageDetectorModel model() {
    if (model == null) {
      synchronized (LanguageFilter.class) {
        if (model == null) {
          try (InputStream in = LanguageFilter.class.getResourceAsStream("/langdetect-183.bin")) {
            if (in == null) {
              throw new IllegalStateException(
                  "langdetect-183.bin is not on the classpath (opennlp-models-langdetect)");
            }
            model = new LanguageDetectorModel(in);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      }
    }
    return model;
  }

  /** The best language of {@code text} (ISO 639-1 where one exists) and its confidence. */
  public record Guess(String lang, double confidence) {}

  /**
   * A detector for one thread. It feeds the model the same features as OpenNLP's own context
   * generator (the distinct lower-cased character 1- to 3-grams of the normalized text, with the
   * factory's normalizers in the factory's order) but collects them in a hash set instead of an
   * n-gram model, about 3x faster; the model and its probabilities are OpenNLP's.
   */
  public static java.util.function.Function<String, Guess> detector(int maxChars) {
    MaxentModel maxent = model().getMaxentModel();
    FastContext context = new FastContext();
    return text -> {
      CharSequence s = text.length() > maxChars ? text.subSequence(0, maxChars) : text;
      double[] p = maxent.eval(context.getContext(s));
      int best = 0;
      for (int i = 1; i < p.length; i++) {
        if (p[i] > p[best]) {
          best = i;
        }
      }
      return new Guess(iso1(maxent.getOutcome(best)), p[best]);
    };
  }

  /** OpenNLP's default language-detector features, gathered without its n-gram model. */
  static final class FastContext extends DefaultLanguageDetectorContextGenerator {
    FastContext() {
      super(
          1,
          3,
          EmojiCharSequenceNormalizer.getInstance(),
          UrlCharSequenceNormalizer.getInstance(),
          TwitterCharSequenceNormalizer.getInstance(),
          NumberCharSequenceNormalizer.getInstance(),
          ShrinkCharSequenceNormalizer.getInstance());
    }

    @Override
    public String[] getContext(CharSequence document) {
      String s = normalizer.normalize(document).toString().toLowerCase(java.util.Locale.ROOT);
      java.util.HashSet<String> grams = new java.util.HashSet<>(s.length() * 3);
      for (int i = 0; i < s.length(); i++) {
        for (int n = minLength; n <= maxLength && i + n <= s.length(); n++) {
          grams.add(s.substring(i, i + n));
        }
      }
      return grams.toArray(new String[0]);
    }
  }

  @Override
  public Processor open() {
    var detect = detector(params.maxChars());
    return doc -> {
      if (!doc.kept()) {
        return;
      }
      Guess g = detect.apply(doc.getText());
      doc.setLang(g.lang());
      doc.setLangScore(g.confidence());
      if (!params.enabled()) {
        return;
      }
      if (!params.allowed().isEmpty() && !params.allowed().contains(g.lang())) {
        doc.reject("language.not-allowed", g.confidence(), "language " + g.lang());
      } else if (g.confidence() < params.minConfidence()) {
        doc.reject("language.low-confidence", g.confidence(), "best guess " + g.lang());
      }
    };
  }

  private static final Map<String, String> ISO1 =
      Map.ofEntries(
          Map.entry("eng", "en"),
          Map.entry("spa", "es"),
          Map.entry("por", "pt"),
          Map.entry("fra", "fr"),
          Map.entry("deu", "de"),
          Map.entry("ita", "it"),
          Map.entry("nld", "nl"),
          Map.entry("cat", "ca"),
          Map.entry("glg", "gl"),
          Map.entry("ron", "ro"),
          Map.entry("pol", "pl"),
          Map.entry("rus", "ru"),
          Map.entry("ukr", "uk"),
          Map.entry("tur", "tr"),
          Map.entry("ara", "ar"),
          Map.entry("zho", "zh"),
          Map.entry("cmn", "zh"),
          Map.entry("jpn", "ja"),
          Map.entry("kor", "ko"),
          Map.entry("hin", "hi"),
          Map.entry("swe", "sv"),
          Map.entry("dan", "da"),
          Map.entry("nor", "no"),
          Map.entry("nob", "nb"),
          Map.entry("fin", "fi"),
          Map.entry("ces", "cs"),
          Map.entry("ell", "el"),
          Map.entry("heb", "he"),
          Map.entry("hun", "hu"),
          Map.entry("ind", "id"),
          Map.entry("vie", "vi"),
          Map.entry("eus", "eu"),
          Map.entry("lat", "la"));

  static String iso1(String iso3) {
    return ISO1.getOrDefault(iso3, iso3);
  }
}
