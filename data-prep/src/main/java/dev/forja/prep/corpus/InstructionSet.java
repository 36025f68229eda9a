package dev.forja.prep.corpus;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A generated instruction set for fine-tuning demonstrations and tests: name the language of a
 * sentence. Prompts are the first words of articles of the embedded corpus, from generator shards
 * far beyond any corpus the project writes, so no prompt is in the pretraining data; the train and
 * held-out sets come from different shards.
 */
public final class InstructionSet {
  /** The answer for each language of the corpus. */
  public static final Map<String, String> LANGUAGE_NAMES =
      Map.of("en", "english", "es", "spanish", "pt", "portuguese");

  private static final int TRAIN_SHARD = 90_000;
  private static final int HELD_OUT_SHARD = 90_001;
  private static final int WORDS = 6;

  /** One example: the prompt to continue and the exact answer. */
  public record Example(String prompt, String completion) {}

  /** The choices of the multiple-choice form, in this order. */
  public static final List<String> CHOICES = List.of("english", "spanish", "portuguese");

  private InstructionSet() {}

  /** {@code e} as a multiple-choice item: {@code context}, {@code choices}, {@code answer}. */
  public static java.util.Map<String, Object> multipleChoice(Example e) {
    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("context", e.prompt());
    m.put("choices", CHOICES);
    m.put("answer", CHOICES.indexOf(e.completion().strip()));
    return m;
  }

  /** {@code n} examples of the train set, or of the held-out set. */
  public static List<Example> languageOfSentence(int n, boolean heldOut) {
    CorpusGenerator g =
        new CorpusGenerator(
            new CorpusConfig(1, 1, 1, CorpusConfig.SUPPORTED_LANGUAGES, 0, 0, 0, 0));
    int shard = heldOut ? HELD_OUT_SHARD : TRAIN_SHARD;
    List<Example> out = new ArrayList<>(n);
    for (int i = 0; out.size() < n; i++) {
      CorpusGenerator.Document d = g.document(shard, i);
      String[] words = d.text().split("\\s+");
      if (!d.kind().equals("article")
          || !LANGUAGE_NAMES.containsKey(d.lang())
          || words.length < WORDS) {
        continue;
      }
      String sentence = String.join(" ", Arrays.copyOf(words, WORDS));
      // the answer's space goes with it, as in ordinary text (" english" is one word's tokens)
      out.add(new Example("Language of: " + sentence + " =>", " " + LANGUAGE_NAMES.get(d.lang())));
    }
    return out;
  }
}
