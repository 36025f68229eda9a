package dev.forja.prep.dedup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import dev.forja.testing.TestSpark;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class DeduplicatorTest {
  static PrepConfig.Dedup params(String... overrides) {
    return PrepConfig.read(new ConfigReader(ConfigSource.load(List.of(), List.of(overrides))))
        .dedup();
  }

  static Doc doc(String id, String text) {
    Doc d = new Doc();
    d.setId(id);
    d.setText(text);
    return d;
  }

  static String words(int from, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = from; i < from + n; i++) {
      sb.append("word").append(i * 7919 % 100_003).append(' ');
    }
    return sb.toString().strip();
  }

  @Test
  void exactAndNearDuplicatesKeepTheSmallestIdAndSayWhom() {
    String a = words(0, 200);
    String near = a.replace("word7919 ", "changed ").replace("word15838 ", "edited ");
    List<Doc> docs =
        List.of(
            doc("c", a),
            doc("a", a.toUpperCase()),
            doc("b", "  " + a.replace(" ", "\n") + " "),
            doc("d", near),
            doc("e", words(1000, 200)),
            doc("q", "x"));
    docs.get(5).setStatus(Doc.QUARANTINED);
    Deduplicator dedup = new Deduplicator(params());
    var frame = Deduplicator.frame(TestSpark.local(), dedup, docs, 3);
    Deduplicator.Result r = dedup.run(frame, null, null);
    Map<String, Doc> out =
        Deduplicator.apply(frame, r)
            .as(org.apache.spark.sql.Encoders.bean(Doc.class))
            .collectAsList()
            .stream()
            .collect(Collectors.toMap(Doc::getId, d -> d));
    assertThat(out.get("a").kept()).isTrue();
    assertThat(out.get("b").getReason()).isEqualTo("dedup.exact");
    assertThat(out.get("b").getDetail()).isEqualTo("duplicate of a");
    assertThat(out.get("c").getReason()).isEqualTo("dedup.exact");
    assertThat(out.get("d").getReason()).isEqualTo("dedup.near");
    assertThat(out.get("d").getDetail()).isEqualTo("duplicate of a");
    assertThat(out.get("d").getValue()).isBetween(0.8, 1.0);
    assertThat(out.get("e").kept()).isTrue();
    assertThat(out.get("q").getStatus()).isEqualTo(Doc.QUARANTINED); // untouched
  }

  @Test
  void nearMarksOnTheDriverEqualSparksWithAnEarlierCorpus() {
    // clusters of near duplicates (chains of small edits), ids whose UTF-16 and UTF-8 orders differ
    // (U+E000 sorts before a surrogate pair in UTF-16, after it in UTF-8, as Spark compares), some
    // ids shared by two documents, and an earlier corpus holding some of the originals
    String[] prefixes = {"a", "Z", "é", "\uE000", "\uD83D\uDE00", "m"};
    java.util.Random r = new java.util.Random(17);
    List<Doc> docs = new java.util.ArrayList<>();
    List<org.apache.spark.sql.Row> earlier = new java.util.ArrayList<>();
    Deduplicator signer = new Deduplicator(params());
    for (int c = 0; c < 40; c++) {
      String text = words(c * 1000, 200);
      int size = 1 + r.nextInt(5);
      for (int k = 0; k < size; k++) {
        String id = prefixes[r.nextInt(prefixes.length)] + (r.nextInt(4) == 0 ? c : c * 10 + k);
        docs.add(doc(id, text));
        text = text.replace("word" + ((c * 1000 + 3 + k * 7) * 7919 % 100_003), "edit" + k);
      }
      if (c % 3 == 0) {
        Doc old = doc("old-" + prefixes[c % prefixes.length] + c, words(c * 1000, 200));
        signer.features().add(old);
        earlier.add(org.apache.spark.sql.RowFactory.create(old.getId(), old.getSignature()));
      }
    }
    // Java's String order would pick the emoji's id; Spark's (UTF-8 bytes) picks U+E000's
    docs.add(doc("\uD83D\uDE00k", words(90_000, 200)));
    docs.add(doc("\uE000k", words(90_000, 200).replace("word", "Word")));
    var spark = TestSpark.local();
    var earlierSigs =
        spark.createDataFrame(
            earlier,
            new org.apache.spark.sql.types.StructType()
                .add("id", org.apache.spark.sql.types.DataTypes.StringType)
                .add("signature", org.apache.spark.sql.types.DataTypes.BinaryType));
    var near = params("prep.dedup.exact=false");
    List<String> got = new java.util.ArrayList<>();
    for (long driverEdges : new long[] {Components.DRIVER_EDGES, 0}) {
      Deduplicator dedup = new Deduplicator(near, driverEdges);
      var frame = Deduplicator.frame(spark, dedup, docs, 3);
      Deduplicator.Result res = dedup.run(frame, null, earlierSigs);
      // the driver's union-find runs no iterations; Spark's label propagation at least one
      assertThat(res.iterations() > 0).isEqualTo(driverEdges == 0);
      got.add(
          res.marks().orderBy("node").collectAsList().stream()
              .map(Object::toString)
              .collect(Collectors.joining("\n")));
      res.release();
    }
    assertThat(got.get(0))
        .contains("dedup.near-earlier", "dedup.near,", "dedup.near,\uE000k,")
        .isEqualTo(got.get(1));
  }

  @Test
  void vectorSignaturesEqualTheScalarLoopsAndTheDefinition() {
    assertThat(MinHasher.VECTOR).as("the Vector API module is in the test JVM").isTrue();
    java.util.SplittableRandom r = new java.util.SplittableRandom(3);
    // 100 values (not a multiple of any vector's lanes), 16, and 7
    for (String[] p :
        List.of(
            new String[] {},
            new String[] {"prep.dedup.bands=4", "prep.dedup.rows=4"},
            new String[] {"prep.dedup.bands=7", "prep.dedup.rows=1", "prep.dedup.shingle=char"})) {
      PrepConfig.Dedup params = params(p);
      MinHasher vector = new MinHasher(params, true);
      MinHasher scalar = new MinHasher(params, false);
      List<String> texts = new java.util.ArrayList<>(List.of("", "one", "two words", words(0, 3)));
      for (int t = 0; t < 300; t++) {
        texts.add(words(r.nextInt(1000), r.nextInt(400)));
      }
      for (String text : texts) {
        int[] v = vector.signature(text);
        assertThat(v).as(text).isEqualTo(scalar.signature(text)).hasSize(params.numHashes());
      }
      // a text with no words has no word shingle: every value stays at the maximum
      if (params.shingle().equals("word")) {
        assertThat(vector.signature(" ... ")).containsOnly(Integer.MAX_VALUE);
      }
    }
  }

  @Test
  void exactKeysAreTheHashOfTheNormalizedTextsUtf8() {
    var keys = new Deduplicator.ExactKeys(Deduplicator.sha256());
    java.util.SplittableRandom r = new java.util.SplittableRandom(11);
    char[] atoms = {
      'a', 'Z', 'é', 'É', 'ß', 'İ', 'Σ', '中', ' ', '\t', '\n', '\u2003', '\u00a0', '\u0085',
      '\uD83D', '\uDE00', '\uDBFF', '\uDC00', '?', '\u0000'
    };
    List<String> texts =
        new java.util.ArrayList<>(List.of("", " ", "\uD83D", "a \uD83D", "\uDE00 b"));
    for (int t = 0; t < 20_000; t++) {
      StringBuilder sb = new StringBuilder();
      for (int k = r.nextInt(12); k > 0; k--) {
        sb.append(atoms[r.nextInt(atoms.length)]);
      }
      texts.add(sb.toString());
    }
    for (String t : texts) {
      assertThat(keys.key(t)).as(t).isEqualTo(referenceExactKey(t));
    }
    assertThat(keys.key("  Hello\n\tWORLD ")).isEqualTo(referenceExactKey("hello world"));
  }

  /**
   * The exact key as defined: SHA-256 of the normalized text's String.getBytes(UTF_8), 16 bytes.
   */
  private static String referenceExactKey(String text) {
    StringBuilder sb = new StringBuilder();
    boolean space = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isWhitespace(c)) {
        space = sb.length() > 0;
      } else {
        if (space) {
          sb.append(' ');
          space = false;
        }
        sb.append(Character.toLowerCase(c));
      }
    }
    byte[] d =
        Deduplicator.sha256()
            .digest(sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return java.util.HexFormat.of().formatHex(d, 0, 16);
  }

  @Test
  void wordHashesTreatEveryCharAsCharactersTablesSay() {
    for (int c = 0; c <= Character.MAX_VALUE; c++) {
      String t = "Ab" + (char) c + "c " + (char) c + "D'x" + (char) c;
      assertThat(MinHasher.wordHashes(t)).as("U+%04X", c).isEqualTo(referenceWordHashes(t));
    }
  }

  /** Words as the Character tables define them (letters, digits; marks and apostrophes inside). */
  private static long[] referenceWordHashes(String text) {
    java.util.List<Long> out = new java.util.ArrayList<>();
    long h = 0;
    boolean in = false;
    for (int i = 0; i <= text.length(); i++) {
      char c = i < text.length() ? text.charAt(i) : ' ';
      boolean word =
          Character.isLetterOrDigit(c)
              || (in
                  && (Character.getType(c) == Character.NON_SPACING_MARK
                      || c == '\''
                      || c == '\u2019'));
      if (word) {
        if (!in) {
          h = 0xcbf29ce484222325L;
          in = true;
        }
        h = (h ^ Character.toLowerCase(c)) * 0x100000001b3L;
      } else if (in) {
        out.add(MinHasher.mix(h));
        in = false;
      }
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }
}
