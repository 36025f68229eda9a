package dev.forja.prep.stage;

import dev.forja.prep.PrepConfig;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.nodes.Node;
import org.jsoup.nodes.TextNode;
import org.jsoup.select.NodeTraversor;
import org.jsoup.select.NodeVisitor;

/**
 * Cleaning: HTML to text (jsoup; paragraph structure kept; script, style, navigation and other
 * boilerplate elements dropped), Unicode normalization, control characters, whitespace, and
 * boilerplate lines. A document left empty is rejected ({@code clean.empty}).
 */
public final class Cleaner implements DocStage {
  private final PrepConfig.Clean params;

  public Cleaner(PrepConfig.Clean params) {
    this.params = params;
    for (String p : params.boilerplatePatterns()) {
      Pattern.compile(p); // fail on the driver, before any data is read
    }
  }

  @Override
  public String name() {
    return "clean";
  }

  @Override
  public Object params() {
    return params;
  }

  private static final Pattern MARKUP =
      Pattern.compile("(?i)<(html|body|div|p|br|script|style|span|a|li|ul|table|h[1-6])[\\s>/]");
  private static final String DROP_SELECTOR =
      "script, style, noscript, nav, header, footer, aside, form, iframe, svg, template, button,"
          + " [class~=(?i)(nav|menu|footer|header|sidebar|cookie|banner|advert|share|social)],"
          + " [id~=(?i)(nav|menu|footer|header|sidebar|cookie|banner|advert|share|social)]";

  @Override
  public Processor open() {
    Boilerplate lines = Boilerplate.of(params.boilerplatePatterns());
    return doc -> {
      if (!doc.kept()) {
        return;
      }
      String text = doc.getText();
      if (params.html() && ("html".equals(doc.getFormat()) || looksLikeMarkup(text))) {
        text = htmlToText(text);
        doc.signal("clean.html", 1);
      }
      if (!params.unicode().equals("none")) {
        Normalizer.Form form =
            params.unicode().equals("nfkc") ? Normalizer.Form.NFKC : Normalizer.Form.NFC;
        if (!Normalizer.isNormalized(text, form)) {
          text = Normalizer.normalize(text, form);
        }
      }
      if (params.controlChars()) {
        text = stripControl(text);
      }
      if (params.whitespace()) {
        text = normalizeWhitespace(text);
      }
      if (params.boilerplateLines() && !params.boilerplatePatterns().isEmpty()) {
        int[] removed = new int[1];
        text = removeBoilerplate(text, lines, params.boilerplateMaxLineChars(), removed);
        if (removed[0] > 0) {
          doc.signal("clean.boilerplate-lines", removed[0]);
        }
      }
      doc.setText(text);
      if (text.isBlank()) {
        doc.reject("clean.empty", 0, "nothing left after cleaning");
      }
    };
  }

  static boolean looksLikeMarkup(String text) {
    if (text.indexOf('<') < 0) { // every match starts with one: most texts need no search
      return false;
    }
    java.util.regex.Matcher m = MARKUP.matcher(text);
    int n = 0;
    while (m.find()) {
      if (++n >= 2) {
        return true;
      }
    }
    return false;
  }

  /** HTML to text with block elements as paragraphs (blank lines) and {@code <br>} as newlines. */
  static String htmlToText(String html) {
    Document d = Jsoup.parse(html);
    d.select(DROP_SELECTOR).remove();
    StringBuilder sb = new StringBuilder();
    NodeTraversor.traverse(
        new NodeVisitor() {
          @Override
          public void head(Node node, int depth) {
            if (node instanceof TextNode t) {
              sb.append(t.text());
            } else if (node instanceof Element e) {
              if (e.nameIs("br")) {
                sb.append('\n');
              } else if (e.isBlock()) {
                paragraph(sb);
              }
              if (e.nameIs("li")) {
                sb.append("- ");
              }
            }
          }

          @Override
          public void tail(Node node, int depth) {
            if (node instanceof Element e && e.isBlock() && !e.nameIs("br")) {
              paragraph(sb);
            }
          }
        },
        d.body() == null ? d : d.body());
    return sb.toString().strip();
  }

  private static void paragraph(StringBuilder sb) {
    int n = sb.length();
    if (n == 0 || (n >= 2 && sb.charAt(n - 1) == '\n' && sb.charAt(n - 2) == '\n')) {
      return;
    }
    sb.append(sb.charAt(n - 1) == '\n' ? "\n" : "\n\n");
  }

  static String stripControl(String s) {
    StringBuilder sb = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean drop =
          (c < 0x20 && c != '\n' && c != '\t')
              || (c >= 0x7f && c <= 0x9f)
              || c == '\uFEFF'
              || c == '\u200B';
      if (c == '\r') {
        drop = true;
        if (i + 1 >= s.length() || s.charAt(i + 1) != '\n') {
          if (sb == null) {
            sb = new StringBuilder(s.length()).append(s, 0, i);
          }
          sb.append('\n');
          continue;
        }
      }
      if (drop) {
        if (sb == null) {
          sb = new StringBuilder(s.length()).append(s, 0, i);
        }
      } else if (sb != null) {
        sb.append(c);
      }
    }
    return sb == null ? s : sb.toString();
  }

  /** Spaces of every kind to ' ', runs collapsed, lines trimmed, at most one blank line. */
  static String normalizeWhitespace(String s) {
    if (whitespaceNormal(s)) {
      return s; // most texts, the second time round: one read, no copy
    }
    int n = s.length();
    char[] out = new char[n]; // every char written stands for at least one read
    int m = 0;
    int newlines = 0;
    boolean space = false;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c == '\n') {
        newlines++;
        space = false;
        continue;
      }
      if (c < 128
          ? c <= ' ' && (ASCII_SPACES >>> c & 1) != 0
          : Character.isSpaceChar(c) || Character.isWhitespace(c)) {
        space = true;
        continue;
      }
      if (newlines > 0) {
        if (m > 0) {
          out[m++] = '\n';
          if (newlines > 1) {
            out[m++] = '\n';
          }
        }
        newlines = 0;
      } else if (space && m > 0) {
        out[m++] = ' ';
      }
      space = false;
      out[m++] = c;
    }
    return new String(out, 0, m);
  }

  /**
   * Whether {@link #normalizeWhitespace} would return {@code s} unchanged: no whitespace but single
   * spaces between words and one or two newlines between lines, none at either end.
   */
  static boolean whitespaceNormal(String s) {
    int n = s.length();
    char prev = '\n'; // as if after a newline: a leading space or newline is not normal
    int newlines = 0;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c == '\n') {
        if (prev == ' ' || i == 0 || ++newlines > 2) {
          return false;
        }
      } else if (c == ' ') {
        if (prev == ' ' || prev == '\n') {
          return false;
        }
        newlines = 0;
      } else if (c < 128
          ? c <= ' ' && (ASCII_SPACES >>> c & 1) != 0
          : Character.isSpaceChar(c) || Character.isWhitespace(c)) {
        return false;
      } else {
        newlines = 0;
      }
      prev = c;
    }
    return n == 0 || (prev != ' ' && prev != '\n');
  }

  /**
   * The ASCII chars {@code Character.isSpaceChar} or {@code isWhitespace} accepts, as bits: tab to
   * carriage return (9-13), the information separators (28-31) and space (32).
   */
  private static final long ASCII_SPACES = 0x1_F000_3E00L;

  /**
   * Finds boilerplate in a line: each pattern's matcher, run only on lines that contain (ignoring
   * case as the matcher does) one of the literal texts every match of that pattern starts with; a
   * pattern without such texts runs on every line. A line is boilerplate when some pattern finds a
   * match in it, as the patterns joined by {@code |} would.
   */
  static final class Boilerplate {
    private final java.util.regex.Matcher[] matchers;
    private final String[][] folded; // per matcher, its folded literal texts; null: always run
    private final String[] inputs; // the text each matcher was last reset to

    /** One matcher, run where one of {@code prefixes} is (null: on every line). */
    Boilerplate(java.util.regex.Matcher matcher, List<String> prefixes) {
      this(
          new java.util.regex.Matcher[] {matcher},
          new String[][] {prefixes == null ? null : folded(prefixes)});
    }

    private Boilerplate(java.util.regex.Matcher[] matchers, String[][] folded) {
      this.matchers = matchers;
      this.folded = folded;
      this.inputs = new String[matchers.length];
    }

    /** The patterns (case-insensitive), each with its own matcher and literal texts. */
    static Boilerplate of(List<String> patterns) {
      java.util.regex.Matcher[] ms = new java.util.regex.Matcher[patterns.size()];
      String[][] fs = new String[patterns.size()][];
      for (int k = 0; k < ms.length; k++) {
        ms[k] =
            Pattern.compile(patterns.get(k), Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE)
                .matcher("");
        List<String> prefixes = literalPrefixes(List.of(patterns.get(k)));
        fs[k] = prefixes == null ? null : folded(prefixes);
      }
      return new Boilerplate(ms, fs);
    }

    private static String[] folded(List<String> prefixes) {
      return prefixes.stream().map(Cleaner::fold).toArray(String[]::new);
    }

    boolean matches(String text, String foldedText, int start, int end) {
      for (int k = 0; k < matchers.length; k++) {
        if (folded[k] != null) {
          boolean candidate = false;
          for (int p = 0; p < folded[k].length && !candidate; p++) {
            candidate = Spans.contains(foldedText, folded[k][p], start, end);
          }
          if (!candidate) {
            continue;
          }
        }
        if (inputs[k] != text) { // region() resets the matcher's state, not its input
          matchers[k].reset(text);
          inputs[k] = text;
        }
        if (matchers[k].region(start, end).find()) {
          return true;
        }
      }
      return false;
    }
  }

  /**
   * Case folding as {@code Pattern.CASE_INSENSITIVE | UNICODE_CASE} compares characters: the lower
   * case of the upper case, char by char (so indices stay aligned with the text).
   */
  static String fold(String s) {
    char[] out = new char[s.length()];
    for (int i = 0; i < out.length; i++) {
      char c = s.charAt(i);
      out[i] =
          c < 128
              ? (char) dev.forja.prep.Words.lowerCase(c)
              : Character.toLowerCase(Character.toUpperCase(c));
    }
    return new String(out);
  }

  /**
   * The literal text each top-level alternative of each pattern starts with (after leading {@code
   * \\b}; a character followed by {@code ?}, {@code *} or {@code {} is left out), or null when some
   * alternative starts with anything else or a pattern has inline flags: then no line may be
   * skipped.
   */
  static List<String> literalPrefixes(List<String> patterns) {
    List<String> out = new ArrayList<>();
    for (String pattern : patterns) {
      if (pattern.contains("(?")) {
        return null;
      }
      for (String alt : topLevelAlternatives(pattern)) {
        String lit = leadingLiteral(alt);
        if (lit.isEmpty()) {
          return null;
        }
        out.add(lit);
      }
    }
    return out;
  }

  private static List<String> topLevelAlternatives(String p) {
    List<String> out = new ArrayList<>();
    int depth = 0;
    boolean inClass = false;
    int start = 0;
    for (int i = 0; i < p.length(); i++) {
      char c = p.charAt(i);
      if (c == '\\') {
        i++;
      } else if (inClass) {
        inClass = c != ']';
      } else if (c == '[') {
        inClass = true;
      } else if (c == '(') {
        depth++;
      } else if (c == ')') {
        depth--;
      } else if (c == '|' && depth == 0) {
        out.add(p.substring(start, i));
        start = i + 1;
      }
    }
    out.add(p.substring(start));
    return out;
  }

  private static String leadingLiteral(String alt) {
    int i = 0;
    while (alt.startsWith("\\b", i)) {
      i += 2;
    }
    StringBuilder lit = new StringBuilder();
    for (; i < alt.length(); i++) {
      char c = alt.charAt(i);
      if ("\\[](){}.*+?^$|".indexOf(c) >= 0) {
        if ((c == '?' || c == '*' || c == '{') && lit.length() > 0) {
          lit.setLength(lit.length() - 1);
        }
        break;
      }
      lit.append(c);
    }
    return lit.toString();
  }

  /** Drops short lines that match; long lines (paragraphs) are never matched, which is cheap. */
  static String removeBoilerplate(
      String text, Boilerplate boilerplate, int maxChars, int[] removed) {
    String folded = null;
    List<String> keep = null;
    int start = 0;
    int lineNo = 0;
    while (start <= text.length()) {
      int end = text.indexOf('\n', start);
      if (end < 0) {
        end = text.length();
      }
      int len = end - start;
      boolean drop = false;
      if (len > 0 && len <= maxChars) {
        if (folded == null) {
          folded = fold(text);
        }
        drop = boilerplate.matches(text, folded, start, end);
      }
      if (drop && keep == null) {
        keep = new ArrayList<>();
        int s = 0;
        for (int i = 0; i < lineNo; i++) {
          int e = text.indexOf('\n', s);
          keep.add(text.substring(s, e));
          s = e + 1;
        }
      }
      if (drop) {
        removed[0]++;
      } else if (keep != null) {
        keep.add(text.substring(start, end));
      }
      lineNo++;
      start = end + 1;
    }
    return keep == null ? text : normalizeWhitespace(String.join("\n", keep)).strip();
  }
}
