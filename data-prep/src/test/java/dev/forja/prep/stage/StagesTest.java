package dev.forja.prep.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.forja.config.ConfigException;
import dev.forja.config.ConfigReader;
import dev.forja.config.ConfigSource;
import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

class StagesTest {
  static PrepConfig cfg(String... overrides) {
    ConfigReader r = new ConfigReader(ConfigSource.load(List.of(), List.of(overrides)));
    PrepConfig c = PrepConfig.read(r);
    r.finish();
    return c;
  }

  static Doc doc(String text) {
    Doc d = new Doc();
    d.setId("t");
    d.setText(text);
    d.setFormat("text");
    return d;
  }

  static Doc run(DocStage stage, Doc d) {
    stage.open().process(d);
    return d;
  }

  static final String EN = dev.forja.prep.StagesText.EN;

  @Test
  void htmlBecomesParagraphsWithoutScriptsOrNavigation() {
    Doc d =
        doc(
            "<html><head><style>p{}</style></head><body><nav><a href=/>Home</a> | About</nav>"
                + "<h1>Title</h1><p>First   paragraph &amp; more.</p><script>var x = 1;</script>"
                + "<div class=\"cookie-banner\">We use cookies</div><p>Second<br>line.</p>"
                + "<footer>All rights reserved</footer></body></html>");
    d.setFormat("html");
    run(new Cleaner(cfg().clean()), d);
    assertThat(d.getText()).isEqualTo("Title\n\nFirst paragraph & more.\n\nSecond\nline.");
  }

  @Test
  void unicodeControlCharsWhitespaceAndBoilerplateLines() {
    Doc d =
        doc(
            "Cafe\u0301\u0007 au\u00A0lait\t\t here\r\n\r\n\r\n\nSubscribe to our newsletter\nAll rights reserved.\nreal line");
    run(new Cleaner(cfg().clean()), d);
    assertThat(d.getText()).isEqualTo("Café au lait here\n\nreal line");
    assertThat(d.signals()).containsEntry("clean.boilerplate-lines", 2.0);
    Doc nfkc = run(new Cleaner(cfg("prep.clean.unicode=nfkc").clean()), doc("ﬁne ①"));
    assertThat(nfkc.getText()).isEqualTo("fine 1");
    Doc empty = run(new Cleaner(cfg().clean()), doc(" \u0000 \n\t"));
    assertThat(empty.getStatus()).isEqualTo(Doc.REJECTED);
    assertThat(empty.getReason()).isEqualTo("clean.empty");
  }

  @Test
  @Tag("vector-twins")
  void languageIdentificationTellsEnglishSpanishAndPortugueseApart() {
    LanguageFilter f = new LanguageFilter(cfg("prep.language.allowed=en,es").language());
    Doc en = run(f, doc(EN));
    Doc es =
        run(
            f,
            doc(
                "El ayuntamiento reparó el puente viejo durante el verano. Los vecinos del pueblo lo cruzaban cada mañana para llegar al mercado cerca de la costa. La biblioteca abrió una sala nueva para los estudiantes."));
    Doc pt =
        run(
            f,
            doc(
                "A câmara municipal reparou a ponte velha durante o verão. Os moradores da aldeia atravessavam-na todas as manhãs para chegar ao mercado perto da costa. A biblioteca abriu uma sala nova para os estudantes."));
    Doc noise = run(f, doc("#$% &&& *** !!! ### @@@"));
    assertThat(en.getLang()).isEqualTo("en");
    assertThat(es.getLang()).isEqualTo("es");
    assertThat(pt.getLang()).isEqualTo("pt");
    assertThat(en.kept()).isTrue();
    assertThat(es.kept()).isTrue();
    assertThat(pt.getReason()).isEqualTo("language.not-allowed");
    assertThat(pt.getDetail()).isEqualTo("language pt");
    assertThat(noise.getStatus()).isEqualTo(Doc.REJECTED);
    assertThat(en.getLangScore()).isGreaterThan(0.25);
  }

  @Test
  @Tag("vector-twins")
  void fastLanguageDetectorGivesOpenNlpsProbabilities() {
    var me = new opennlp.tools.langdetect.LanguageDetectorME(LanguageFilter.model());
    var fast = LanguageFilter.detector(100_000);
    List<String> texts =
        List.of(
            EN,
            "El ayuntamiento reparó el puente viejo durante el verano, jajaja!! Visita https://example.org/a?b=1 o escribe a ana.perez@example.com",
            "A câmara municipal reparou a ponte velha em 2024 (1.234 pessoas) :-) #obras @prefeitura RT: muito bom hahaha",
            "Ünïcödé ΣΊΣΥΦΟΣ İstanbul straße \uD83D\uDE00\uD83C\uDDEA\uD83C\uDDF8 emoji and   spaces\t\tand tabs xD ;) Xp",
            "aaaargh nooooo BBBBB   wait...   ok",
            "",
            "   ",
            "x",
            "#$% &&& *** !!! ### @@@",
            "Привет, как дела? Это тест на русском языке с цифрами 12345.",
            "Wait... what?!!! Noooo way,   AaA bbB \u00e9\u00e9\u00c9 \u00e9\u00e9\u00e9 line\n\n\nbreaks\r\n\r\nand a\u0085\u0085\u0085 x-ray -- well-known");
    var shrink = opennlp.tools.util.normalizer.ShrinkCharSequenceNormalizer.getInstance();
    // the scalar loop that runs where the Vector API is missing gives the very same sums
    var scalar =
        LanguageFilter.detector(
            new LanguageFilter.CompiledModel(LanguageFilter.model().getMaxentModel(), false),
            100_000);
    for (String t : texts) {
      assertThat(LanguageFilter.shrink(t).trim()).isEqualTo(shrink.normalize(t).toString());
      var expected = me.predictLanguages(t)[0];
      var got = fast.apply(t);
      assertThat(got.lang()).as(t).isEqualTo(LanguageFilter.iso1(expected.getLang()));
      // float parameters summed in float: within 5e-7 of OpenNLP's doubles on 20,000 documents
      assertThat(got.confidence()).as(t).isCloseTo(expected.getConfidence(), within(1e-6));
      assertThat(scalar.apply(t)).as(t).isEqualTo(got);
    }
  }

  @Test
  void urlAndMailReplacementEqualsOpenNlpsRegularExpressions() {
    var urls = opennlp.tools.util.normalizer.UrlCharSequenceNormalizer.getInstance();
    String[] atoms = {
      "a",
      "Z",
      "7",
      "-",
      "+",
      "_",
      ".",
      "..",
      "@",
      "@@",
      " ",
      "é",
      "#",
      "/",
      "?",
      "=",
      "~",
      ";",
      "http://",
      "https://",
      "http:/",
      "x.y",
      "mail",
      "\uD83D\uDE00",
      "\uD83D",
      "\n"
    };
    java.util.Random r = new java.util.Random(5);
    for (int n = 0; n < 200_000; n++) {
      String t = randomText(r, atoms, 1 + n % 16);
      assertThat(LanguageFilter.urlsAndMails(t)).as(t).isEqualTo(urls.normalize(t).toString());
    }
    for (String t :
        List.of(
            "write to ana.silva+news@example.com.br today",
            "a@bc_d@ef",
            "x a.b@cd.e y http://q.com z",
            "@home, me@x, me@xy, me@.xy, me@-x, _@--",
            "no address here")) {
      assertThat(LanguageFilter.urlsAndMails(t)).as(t).isEqualTo(urls.normalize(t).toString());
    }
  }

  @Test
  void handWrittenNormalizersEqualOpenNlpsOnRandomTrickyTexts() {
    var emoji = opennlp.tools.util.normalizer.EmojiCharSequenceNormalizer.getInstance();
    var shrink = opennlp.tools.util.normalizer.ShrinkCharSequenceNormalizer.getInstance();
    var me = new opennlp.tools.langdetect.LanguageDetectorME(LanguageFilter.model());
    var fast = LanguageFilter.detector(100_000);
    String[] atoms = {
      "a",
      "A",
      "b",
      "e",
      "é",
      "É",
      "İ",
      "Σ",
      "ς",
      "ß",
      "-",
      "--",
      " ",
      "  ",
      "\t",
      "\n",
      "\r\n",
      "\u0085",
      "\u2028",
      "\u00a0",
      "aaa",
      "AaA",
      "ééé",
      "!!!",
      "x-ray",
      "\uD83D\uDE00",
      "\uD83C\uDDEA",
      "\uD83D",
      "\uDE00",
      "\uDFFF",
      "\uD83B",
      "\uE000",
      "\uFFFF",
      "\uDBFF\uDC00",
      "\uDBFF\uDC01",
      "\uD801\uDC00",
      "7",
      "word ",
      "palavra ",
      "Ωmega"
    };
    java.util.Random r = new java.util.Random(11);
    int openNlpFailed = 0;
    for (int n = 0; n < 20_000; n++) {
      String t = randomText(r, atoms, 14);
      assertThat(LanguageFilter.emoji(t)).as(t).isEqualTo(emoji.normalize(t).toString());
      if (n % 2 == 0) {
        t = emoji.normalize(t).toString(); // as in the pipeline, for half of them
      }
      String shrunk;
      try {
        shrunk = shrink.normalize(t).toString();
      } catch (StringIndexOutOfBoundsException e) {
        // the JDK's case-insensitive back reference fails on some supplementary characters
        // (e.g. "b\uD801\uDC00\uD801\uDC00"), so OpenNLP's own detector throws on them;
        // Forja's does not
        openNlpFailed++;
        assertThat(fast.apply(t).lang()).isNotNull();
        continue;
      }
      assertThat(LanguageFilter.shrink(t).trim()).as(t).isEqualTo(shrunk);
      StringBuilder lower = new StringBuilder();
      t.codePoints().forEach(cp -> lower.appendCodePoint(Character.toLowerCase(cp)));
      assertThat(LanguageFilter.lower(t)).as(t).isEqualTo(lower.toString());
      if (n % 50 == 0) {
        var expected = me.predictLanguages(t)[0];
        var got = fast.apply(t);
        assertThat(got.lang()).as(t).isEqualTo(LanguageFilter.iso1(expected.getLang()));
        assertThat(got.confidence()).as(t).isCloseTo(expected.getConfidence(), within(1e-6));
      }
    }
    assertThat(openNlpFailed).isLessThan(1_000);
  }

  @Test
  void ngramSetKnowsEachDocumentsNgramsOnlyAcrossManyDocuments() {
    var set = new LanguageFilter.NgramSet();
    java.util.Random r = new java.util.Random(9);
    for (int doc = 0; doc < 20_000; doc++) { // past the 8,191 documents its stamps number
      int n = doc % 97 == 0 ? 5_000 : r.nextInt(300);
      set.reset(n);
      java.util.Set<Long> expected = new java.util.HashSet<>();
      for (int i = 0; i < n; i++) {
        long packed = ((long) (1 + r.nextInt(3)) << 48) | r.nextInt(doc % 2 == 0 ? 50 : 1 << 20);
        assertThat(set.add(packed)).isEqualTo(expected.add(packed));
      }
    }
  }

  /** One to {@code most} atoms picked at random, joined. */
  private static String randomText(java.util.Random r, String[] atoms, int most) {
    StringBuilder sb = new StringBuilder();
    for (int k = r.nextInt(most); k >= 0; k--) {
      sb.append(atoms[r.nextInt(atoms.length)]);
    }
    return sb.toString();
  }

  @Test
  void inPlaceNormalizationEqualsTheNormalizersChainWhereverItApplies() {
    String[] atoms = {
      "a",
      "A",
      "é",
      "É",
      "İ",
      "ß",
      "Σ",
      "-",
      "--",
      "0",
      "42",
      "1-2",
      " ",
      "  ",
      "\t",
      "\n",
      "\r\n",
      "\u0085",
      "\u00a0",
      "\u0001",
      "aaa",
      "AaA",
      "11",
      "rt",
      "RT",
      " ",
      ":",
      ";",
      "x",
      ")",
      "o",
      "ha",
      "jaja",
      "h",
      "http",
      "@",
      "#",
      "\u2014",
      "\u2019",
      "\u00ff\u00ff\u00ff",
      "\uD83D\uDE00",
      "word ",
      "Привет "
    };
    java.util.Random r = new java.util.Random(5);
    int fast = 0;
    for (int n = 0; n < 50_000; n++) {
      String t = randomText(r, atoms, 16);
      char[] a = t.toCharArray();
      int len = LanguageFilter.normalizeLower(a, a.length);
      if (len >= 0) {
        fast++;
        assertThat(new String(a, 0, len))
            .as(t)
            .isEqualTo(LanguageFilter.lower(LanguageFilter.normalize(t)));
      }
    }
    assertThat(fast).isGreaterThan(10_000); // the in-place path is the common one
    char[] prose = "El año 2024 fue bien-conocido:  muuuy\n\nbueno ".toCharArray();
    int len = LanguageFilter.normalizeLower(prose, prose.length);
    assertThat(new String(prose, 0, len)).isEqualTo("el año fue bien conocido: muuy bueno");
  }

  @Test
  void boilerplateLinesAreFoundOnlyWhereTheirLiteralTextIs() {
    assertThat(
            Cleaner.literalPrefixes(List.of("\\bcookies?\\b", "terms of (use|service)|click here")))
        .containsExactly("cookie", "terms of ", "click here");
    assertThat(Cleaner.literalPrefixes(List.of("a|[bc]d"))).isNull();
    assertThat(Cleaner.literalPrefixes(List.of("(?x) a b"))).isNull();
    // the prefilter never hides a line the patterns match: same lines dropped with and without it
    List<String> patterns = PrepConfig.DEFAULT_BOILERPLATE;
    var pattern =
        java.util.regex.Pattern.compile(
            String.join("|", patterns.stream().map(p -> "(?:" + p + ")").toList()),
            java.util.regex.Pattern.CASE_INSENSITIVE | java.util.regex.Pattern.UNICODE_CASE);
    var fast = Cleaner.Boilerplate.of(patterns); // each pattern behind its own literal texts
    var joined = new Cleaner.Boilerplate(pattern.matcher(""), Cleaner.literalPrefixes(patterns));
    var slow = new Cleaner.Boilerplate(pattern.matcher(""), null);
    String[] atoms = {
      "ALL RIGHTS RESERVED",
      "Cookies",
      "COOKIE",
      "cooKIE",
      "SUSCRÍBETE",
      "suscribete",
      "Política",
      "POLÍTICA de privacidad",
      "Terms Of Service",
      "Share on Twitter",
      "Clique Aqui",
      "HAZ CLIC AQUÍ",
      "Enable JavaScript",
      "javascript is disabled",
      "Kelvin \u212a",
      "\u0130",
      "ſubscribe",
      "word",
      " ",
      "\n",
      "\n\n",
      "policy",
      "terms",
      "of",
      "share on",
      "compartir en facebook"
    };
    var random = new java.util.Random(7);
    for (int t = 0; t < 3000; t++) {
      StringBuilder sb = new StringBuilder();
      for (int k = random.nextInt(30); k >= 0; k--) {
        sb.append(atoms[random.nextInt(atoms.length)]).append(random.nextBoolean() ? " " : "");
      }
      String text = sb.toString();
      int[] a = new int[1];
      int[] b = new int[1];
      assertThat(Cleaner.removeBoilerplate(text, fast, 200, a))
          .as(text)
          .isEqualTo(Cleaner.removeBoilerplate(text, slow, 200, b));
      assertThat(a[0]).isEqualTo(b[0]);
      assertThat(Cleaner.removeBoilerplate(text, joined, 200, a))
          .as(text)
          .isEqualTo(Cleaner.removeBoilerplate(text, slow, 200, b));
    }
  }

  @Test
  void ngramRepetitionEqualsGophersDefinitionOnWordStrings() {
    String[] vocab = {"the", "cat", "sat", "on", "a", "mat", "é", "Über", "x", "...", "cat,"};
    java.util.Random r = new java.util.Random(3);
    QualityFilter.Scratch sc = new QualityFilter.Scratch();
    for (int t = 0; t < 3_000; t++) {
      StringBuilder sb = new StringBuilder(r.nextBoolean() ? "  " : "");
      for (int k = r.nextInt(60); k >= 0; k--) {
        sb.append(vocab[r.nextInt(r.nextInt(vocab.length) + 1)])
            .append(r.nextInt(9) == 0 ? "\n" : " ");
      }
      String text = sb.toString();
      Spans spans = QualityFilter.words(text, new Spans());
      int n = QualityFilter.wordHashes(text, spans, sc);
      double[] got = QualityFilter.ngramCharFractions(n, text.length(), sc);
      List<String> words = List.of(text.strip().split("\\s+"));
      assertThat(n).isEqualTo(words.get(0).isEmpty() ? 0 : words.size());
      for (int g = 2; g <= 10; g++) {
        // the reference: n-grams as strings joined by spaces
        long chars = 0;
        if (g <= 4) {
          Map<String, Integer> counts = new java.util.HashMap<>();
          int best = 0;
          String top = null;
          for (int i = 0; i + g <= n; i++) {
            String gram = String.join(" ", words.subList(i, i + g));
            int c = counts.merge(gram, 1, Integer::sum);
            if (c > best) {
              best = c;
              top = gram;
            }
          }
          chars = best > 1 ? (long) top.length() * best : 0;
        } else {
          java.util.Set<String> seen = new java.util.HashSet<>();
          for (int i = 0; i + g <= n; ) {
            String gram = String.join(" ", words.subList(i, i + g));
            if (!seen.add(gram)) {
              chars += gram.length();
              i += g;
            } else {
              i++;
            }
          }
        }
        assertThat(got[g - 2])
            .as(g + "-grams of " + text)
            .isEqualTo(chars / (double) text.length());
      }
    }
  }

  @Test
  void stopWordsMatchTheirLowerCaseFormsOnly() {
    List<String> words =
        List.of(
            "the",
            "THE",
            "The",
            "tHe",
            "de",
            "DE",
            "para",
            "with",
            "WITH",
            "a",
            "y",
            "x",
            "",
            "thé",
            "theory",
            "\u0130n",
            "in",
            "\u212Aa",
            "o",
            "Os",
            "doS",
            "\u0000",
            "the\u0000");
    for (String lang : QualityFilter.STOP_WORDS.keySet()) {
      for (String w : words) {
        // the sets hold lower-case words; a text's word is lower-cased as the Locale.ROOT string
        boolean expected =
            QualityFilter.STOP_WORDS.get(lang).contains(w.toLowerCase(java.util.Locale.ROOT));
        assertThat(
                QualityFilter.isStopWord(
                    QualityFilter.PACKED_STOP_WORDS.get(lang), "<" + w + ">", 1, w.length() + 1))
            .as(lang + " " + w)
            .isEqualTo(expected);
      }
    }
    assertThat(QualityFilter.STOP_WORDS.get("en")).contains("the", "with");
  }

  @Test
  void whitespaceAndCaseFoldingAgreeWithCharactersDefinitionsForEveryChar() {
    for (int c = 0; c <= Character.MAX_VALUE; c++) {
      String one = String.valueOf((char) c);
      assertThat(Cleaner.fold(one).charAt(0))
          .as("U+%04X", c)
          .isEqualTo(Character.toLowerCase(Character.toUpperCase((char) c)));
      boolean space =
          c != '\n' && (Character.isSpaceChar((char) c) || Character.isWhitespace((char) c));
      // a space char between two letters becomes one ' '; any other char stays
      assertThat(Cleaner.normalizeWhitespace("a" + one + "b"))
          .as("U+%04X", c)
          .isEqualTo(c == '\n' ? "a\nb" : space ? "a b" : "a" + one + "b");
    }
    assertThat(Cleaner.normalizeWhitespace("  a \t\u00a0 b \n \n\n\n c\u2003\n\u001c"))
        .isEqualTo("a b\n\nc");
  }

  @Test
  void aTextIsLeftAsItIsExactlyWhenNormalizingWouldNotChangeIt() {
    String[] atoms = {
      "a", "é", "b", " ", "  ", "\n", "\n\n", "\n\n\n", "\t", "\u00a0", "\u2003", "\r"
    };
    java.util.Random r = new java.util.Random(5);
    for (int t = 0; t < 50_000; t++) {
      StringBuilder sb = new StringBuilder();
      for (int k = r.nextInt(8); k >= 0; k--) {
        sb.append(atoms[r.nextInt(atoms.length)]);
      }
      String text = sb.toString();
      String normal = Cleaner.normalizeWhitespace(text);
      assertThat(Cleaner.whitespaceNormal(text)).as(text).isEqualTo(normal.equals(text));
      assertThat(Cleaner.normalizeWhitespace(normal)).isSameAs(normal); // normalizing is idempotent
    }
  }

  @Test
  void qualityRulesRejectWithRuleAndMeasuredValue() {
    QualityFilter q = new QualityFilter(cfg().quality());
    Doc good = doc(EN);
    good.setLang("en");
    run(q, good);
    assertThat(good.kept()).as(good.getReason() + " " + good.getDetail()).isTrue();
    assertThat(good.signals())
        .containsKeys(
            "gopher.min-doc-words",
            "repetition.top-2gram-char-fraction",
            "fineweb.line-punct-ratio");

    Doc shortDoc = run(q, doc("Too short to be a document."));
    assertThat(shortDoc.getReason()).isEqualTo("gopher.min-doc-words");
    assertThat(shortDoc.getValue()).isEqualTo(6);

    Doc repeated = run(q, doc((EN.substring(0, 86) + "\n").repeat(12)));
    assertThat(repeated.getReason()).isEqualTo("repetition.dup-line-fraction");
    assertThat(repeated.getValue()).isCloseTo(11 / 12.0, org.assertj.core.data.Offset.offset(1e-9));

    Doc symbols =
        run(
            q,
            doc(
                EN
                    + " #one #two #three #four #five #six #seven #eight #nine #ten #eleven #twelve"));
    assertThat(symbols.getReason()).isEqualTo("gopher.max-symbol-word-ratio");

    Doc lorem = run(q, doc(EN + " Lorem ipsum dolor sit amet."));
    assertThat(lorem.getReason()).isEqualTo("c4.lorem-ipsum");
    Doc code = run(q, doc(EN + " function f() { return 1; }"));
    assertThat(code.getReason()).isEqualTo("c4.curly-bracket");

    // C4's line rules rewrite the text: lines without terminal punctuation go
    Doc titled = doc("A Title Without A Period\n" + EN + "\nShare this javascript widget now.");
    run(q, titled);
    assertThat(titled.kept()).isTrue();
    assertThat(titled.getText()).isEqualTo(EN);
    assertThat(titled.signals()).containsEntry("c4.lines-dropped", 2.0);

    // a disabled rule is measured but does not reject
    Doc lenient =
        run(
            new QualityFilter(
                cfg("prep.quality.disabled-rules=gopher.min-doc-words,c4.min-sentences").quality()),
            doc("Too short to be a document, yet kept here. Really."));
    assertThat(lenient.getReason()).isNotEqualTo("gopher.min-doc-words");
  }

  @Test
  void droppedLinePhrasesAreFoundInLinesTakenInOrderAsInEachLineAlone() {
    String[] atoms = {
      "a",
      "j",
      " ",
      "  ",
      "\n",
      "\n\n",
      ".",
      "javascript",
      "javascrip",
      "java\nscript",
      "terms ",
      "of ",
      "use",
      "terms of use",
      "privacy policy",
      "cookie",
      " policy",
      "uses cookies",
      "use of cookies",
      "cookies",
      "t",
      "p",
      "c",
      "u"
    };
    java.util.Random r = new java.util.Random(3);
    int withPhrase = 0;
    for (int n = 0; n < 20_000; n++) {
      String lower = randomText(r, atoms, 40);
      int[] at = new int[QualityFilter.DROPPED_LINE_PHRASES.length];
      java.util.Arrays.fill(at, QualityFilter.UNKNOWN);
      int start = 0;
      while (start <= lower.length()) {
        int end = lower.indexOf('\n', start);
        end = end < 0 ? lower.length() : end;
        if (r.nextInt(3) > 0) { // lines skipped (blank, or rejected by an earlier rule) too
          boolean expected =
              QualityFilter.containsAny(lower, start, end, QualityFilter.DROPPED_LINE_PHRASES);
          withPhrase += expected ? 1 : 0;
          assertThat(QualityFilter.containsAny(lower, start, end, at))
              .as("%s [%d, %d)", lower, start, end)
              .isEqualTo(expected);
        }
        start = end + 1;
      }
    }
    assertThat(withPhrase).isGreaterThan(1000);
  }

  @Test
  void unknownQualityRuleIsAConfigErrorWithSuggestion() {
    assertThatThrownBy(() -> cfg("prep.quality.disabled-rules=gopher.min-doc-word"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(
            "'gopher.min-doc-word' is not a quality rule (did you mean 'gopher.min-doc-words'?)");
  }

  /**
   * One token of every secret shape, each kind of GitHub token included: the literal prefixes
   * looked for before each pattern runs must let every one through.
   */
  @Test
  void everySecretShapeIsRedactedBehindItsPrefix() {
    String a36 = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5";
    List<String> secrets =
        List.of(
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAIOSFODNN7EXAMPLE",
            "ghp_" + a36,
            "gho_" + a36,
            "ghu_" + a36,
            "ghs_" + a36,
            "ghr_" + a36,
            "github_pat_11ABCDEFG0123456789_abcdefghij",
            "xoxb-1234567890-abcdefghij",
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "rk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----");
    for (String secret : secrets) {
      Doc d =
          run(
              new PiiRedactor(cfg().pii()),
              doc("Though the night was right, see " + secret + " here."));
      assertThat(d.getText())
          .as(secret)
          .isEqualTo("Though the night was right, see <SECRET> here.");
      assertThat(d.getPii()).as(secret).isEqualTo(Map.of("secret", 1));
    }
  }

  /**
   * The word check in front of the assignment pattern passes every text the pattern matches: random
   * texts of assignment words in mixed case, separators and values.
   */
  @Test
  void secretAssignmentsAreLookedForInEveryTextThatHoldsOne() {
    String[] parts = {
      "API_KEY",
      "access-key",
      "SecretKey",
      "secret",
      "TOKEN",
      "PassWord",
      "passwd",
      "kEy",
      "tok",
      "pass",
      "word",
      ":",
      "=",
      " = ",
      ": '",
      "\"",
      " ",
      "abcdEFGH1234ijkl5678",
      "x1",
      "\u212Aey"
    };
    java.util.Random rnd = new java.util.Random(3);
    int matched = 0;
    for (int t = 0; t < 20_000; t++) {
      String text = randomText(rnd, parts, 6);
      if (PiiRedactor.SECRET_ASSIGNMENT.matcher(text).find()) {
        matched++;
        assertThat(PiiRedactor.mayAssignSecret(text)).as(text).isTrue();
      }
    }
    assertThat(matched).isGreaterThan(300);
    assertThat(PiiRedactor.mayAssignSecret("Dated 2024-01-15: twelve people came.")).isFalse();
  }

  @Test
  void personalDataIsReplacedByTypedPlaceholdersAndCounted() {
    Doc d =
        doc(
            "Write to ana.silva@example.com or +34 612 345 678, card 4111 1111 1111 1111 "
                + "(not 4111 1111 1111 1112), from 203.0.113.7. or 2001:db8::8a2e:370:7334, "
                + "key AKIAIOSFODNN7EXAMPLE and api_key=abcdEFGH1234ijkl5678. Dated 2024-01-15, 12 people.");
    run(new PiiRedactor(cfg().pii()), d);
    assertThat(d.getText())
        .isEqualTo(
            "Write to <EMAIL> or <PHONE>, card <CREDIT_CARD> "
                + "(not 4111 1111 1111 1112), from <IP_ADDRESS>. or <IP_ADDRESS>, "
                + "key <SECRET> and api_key=<SECRET>. Dated 2024-01-15, 12 people.");
    assertThat(d.getPii())
        .isEqualTo(Map.of("email", 1, "phone", 1, "credit-card", 1, "ip", 2, "secret", 2));
    Doc only =
        run(new PiiRedactor(cfg("prep.pii.types=email").pii()), doc("a@b.co +34 612 345 678"));
    assertThat(only.getText()).isEqualTo("<EMAIL> +34 612 345 678");
  }

  @Test
  void blocklistsMatchWholeWordsAcrossCaseAccentsAndPhrases() {
    HarmfulFilter f =
        new HarmfulFilter(
            cfg("prep.harmful.max-blocked-fraction=0").harmful(),
            Map.of("es", List.of("palabrota", "frase prohibida"), "all", List.of("zork")));
    Doc es = doc("Una PALABRÓTA aquí.");
    es.setLang("es");
    assertThat(run(f, es).getReason()).isEqualTo("harmful.blocklist");
    Doc phrase = doc("Esta es una Frase   Prohibida.");
    phrase.setLang("es");
    assertThat(run(f, phrase).getStatus()).isEqualTo(Doc.REJECTED);
    Doc inside = doc("palabrotas zorkish");
    inside.setLang("es");
    assertThat(run(f, inside).kept()).isTrue();
    Doc other = doc("palabrota in english text");
    other.setLang("en");
    assertThat(run(f, other).kept()).isTrue();
    Doc all = doc("a zork appears");
    all.setLang("pt");
    assertThat(run(f, all).getReason()).isEqualTo("harmful.blocklist");

    HarmfulFilter lenient = new HarmfulFilter(cfg().harmful(), Map.of("en", List.of("zork")));
    Doc rare = doc("zork " + EN + " " + EN + " " + EN); // 1 blocked word in about 300
    rare.setLang("en");
    assertThat(run(lenient, rare).kept()).isTrue();
    assertThat(rare.signals().get("harmful.blocked-fraction")).isBetween(0.001, 0.005);
  }

  @Test
  void signalsAreStoredByPositionAndReadBackByName() {
    // what the stages measure on a kept document: every name a known position, none in the map
    Doc d = doc(EN + "\n\n" + dev.forja.prep.StagesText.EN2);
    for (DocStage s :
        List.of(
            new Cleaner(cfg().clean()),
            new LanguageFilter(cfg().language()),
            new QualityFilter(cfg().quality()),
            new HarmfulFilter(cfg().harmful(), Map.of("en", List.of("zork"))))) {
      run(s, d);
    }
    assertThat(d.kept()).as("%s %s", d.getReason(), d.getDetail()).isTrue();
    assertThat(d.getExtraSignals()).isNull();
    assertThat(Doc.SIGNAL_NAMES).containsAll(d.signals().keySet());
    assertThat(d.signals())
        .hasSizeGreaterThan(20)
        .containsKeys("gopher.min-doc-words", "repetition.dup-10gram-char-fraction")
        .containsEntry("harmful.blocked-fraction", 0.0);
    assertThat(Long.bitCount(d.getSignalMask())).isEqualTo(d.signals().size());
    // a name no stage of Forja records (a plug-in's) still comes back, after the known ones
    d.signal("my-scorer.value", -1.5);
    d.signal("gopher.min-doc-words", 7);
    assertThat(d.getExtraSignals()).containsExactly(Map.entry("my-scorer.value", -1.5));
    assertThat(d.signals()).containsEntry("gopher.min-doc-words", 7.0);
    assertThat(d.signals().keySet()).last().isEqualTo("my-scorer.value");
  }

  /** A scorer for the plug-in test: scores the share of exclamation marks. */
  public static final class ShoutScorer implements DocumentScorer {
    @Override
    public double score(String text, String lang) {
      return text.chars().filter(c -> c == '!').count() / (double) text.length();
    }
  }

  @Test
  void aPluggedScorerRejectsAboveItsThreshold() {
    HarmfulFilter f =
        new HarmfulFilter(
            cfg(
                    "prep.harmful.scorer-class=" + ShoutScorer.class.getName(),
                    "prep.harmful.max-score=0.2")
                .harmful(),
            Map.of());
    assertThat(run(f, doc("calm text.")).kept()).isTrue();
    Doc loud = run(f, doc("no!!!!"));
    assertThat(loud.getReason()).isEqualTo("harmful.score");
    assertThat(loud.getValue()).isCloseTo(4 / 6.0, org.assertj.core.data.Offset.offset(1e-9));
    assertThatThrownBy(() -> HarmfulFilter.newScorer("no.such.Scorer"))
        .hasMessageContaining("prep.harmful.scorer-class: cannot create no.such.Scorer");
  }
}
