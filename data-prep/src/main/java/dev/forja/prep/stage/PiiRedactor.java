package dev.forja.prep.stage;

import dev.forja.prep.Doc;
import dev.forja.prep.PrepConfig;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replaces personal data with typed placeholders and counts each type per document: secrets and API
 * keys ({@code <SECRET>}), e-mail addresses ({@code <EMAIL>}), payment cards that pass the Luhn
 * check ({@code <CREDIT_CARD>}), IPv4/IPv6 addresses ({@code <IP_ADDRESS>}) and phone numbers
 * ({@code <PHONE>}), in that order, so a looser pattern never eats a stricter match.
 */
public final class PiiRedactor implements DocStage {
  private final PrepConfig.Pii params;

  public PiiRedactor(PrepConfig.Pii params) {
    this.params = params;
  }

  @Override
  public String name() {
    return "pii";
  }

  @Override
  public Object params() {
    return params;
  }

  /**
   * Secret shapes, each behind the literals one of its matches must hold, looked for first (cheap):
   * as literal as the pattern allows, since a match of the prefix runs the regular expression over
   * the whole text ("gh" alone is in most English texts).
   */
  static final String[][] SECRET_PREFIXES = {
    {"AKIA", "ASIA"},
    {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
    {"xox"},
    {"AIza"},
    {"k_live_", "k_test_"},
    {"eyJ"},
    {"-----BEGIN"}
  };

  static final Pattern[] SECRETS = {
    Pattern.compile("\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b"),
    Pattern.compile("\\bgh[pousr]_[A-Za-z0-9]{36,}\\b|\\bgithub_pat_[A-Za-z0-9_]{22,}\\b"),
    Pattern.compile("\\bxox[abprs]-[A-Za-z0-9-]{10,}\\b"),
    Pattern.compile("\\bAIza[0-9A-Za-z_-]{35}\\b"),
    Pattern.compile("\\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}\\b"),
    Pattern.compile("\\beyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\b"),
    Pattern.compile("-----BEGIN [A-Z ]*PRIVATE KEY-----[\\s\\S]*?-----END [A-Z ]*PRIVATE KEY-----")
  };

  /** {@code api_key = VALUE}-style assignments: only the value is replaced. */
  static final Pattern SECRET_ASSIGNMENT =
      Pattern.compile(
          "(?i)\\b((?:api|access|secret|private)[_-]?key|secret|token|password|passwd)(\\s*[:=]\\s*[\"']?)([A-Za-z0-9_\\-/+=.]{11,}[A-Za-z0-9_\\-/+=])");

  static final Pattern EMAIL =
      Pattern.compile(
          "(?<![\\w.+-])[\\w.+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}\\b");
  static final Pattern CARD = Pattern.compile("(?<![\\d-])(?:\\d[ -]?){12,18}\\d(?![\\d-])");
  static final Pattern IPV4 =
      Pattern.compile(
          "(?<![\\d.])(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(?:\\.(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}(?!\\d|\\.\\d)");
  static final Pattern IPV6 =
      Pattern.compile("(?i)(?<![0-9a-f:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![0-9a-f:])");
  static final Pattern PHONE =
      Pattern.compile(
          "(?<![\\w+])(?:\\+\\d{1,3}[\\s.-]?)?(?:\\(\\d{1,4}\\)[\\s.-]?)?\\d{2,5}(?:[\\s.-]\\d{2,5}){1,4}(?![\\w])");
  private static final Pattern DATE =
      Pattern.compile("\\d{4}-\\d{2}-\\d{2}|\\d{1,2}[./-]\\d{1,2}[./-]\\d{2,4}");

  @Override
  public Processor open() {
    return doc -> {
      if (!doc.kept() || !params.enabled()) {
        return;
      }
      String text = doc.getText();
      // Cheap scans first: most documents hold no digits runs, no '@', no secret prefixes.
      if (params.types().contains("secret")) {
        for (int i = 0; i < SECRETS.length; i++) {
          for (String prefix : SECRET_PREFIXES[i]) {
            if (text.contains(prefix)) {
              text = replace(doc, "secret", text, SECRETS[i], m -> "<SECRET>");
              break;
            }
          }
        }
        if ((text.indexOf('=') >= 0 || text.indexOf(':') >= 0) && mayAssignSecret(text)) {
          text =
              replace(
                  doc,
                  "secret",
                  text,
                  SECRET_ASSIGNMENT,
                  m -> m.group(1) + m.group(2) + "<SECRET>");
        }
      }
      if (params.types().contains("email") && text.indexOf('@') >= 0) {
        text = replace(doc, "email", text, EMAIL, m -> "<EMAIL>");
      }
      int digits = countDigits(text);
      if (params.types().contains("credit-card") && digits >= 13) {
        text =
            replace(doc, "credit-card", text, CARD, m -> luhn(m.group()) ? "<CREDIT_CARD>" : null);
      }
      if (params.types().contains("ip")) {
        if (digits >= 4 && text.indexOf('.') >= 0) {
          text = replace(doc, "ip", text, IPV4, m -> "<IP_ADDRESS>");
        }
        int colon = text.indexOf(':');
        if (colon >= 0 && text.indexOf(':', colon + 1) >= 0) {
          text = replace(doc, "ip", text, IPV6, m -> validIpv6(m.group()) ? "<IP_ADDRESS>" : null);
        }
      }
      if (params.types().contains("phone") && digits >= 7) {
        text = replace(doc, "phone", text, PHONE, m -> phoneLike(m.group()) ? "<PHONE>" : null);
      }
      doc.setText(text);
    };
  }

  /** Replaces each match for which {@code with} gives non-null, counting replacements. */
  private static String replace(
      Doc doc,
      String type,
      String text,
      Pattern p,
      java.util.function.Function<Matcher, String> with) {
    Matcher m = p.matcher(text);
    if (!m.find()) {
      return text;
    }
    StringBuilder sb = new StringBuilder(text.length());
    int n = 0;
    do {
      String r = with.apply(m);
      if (r != null) {
        m.appendReplacement(sb, Matcher.quoteReplacement(r));
        n++;
      }
    } while (m.find());
    m.appendTail(sb);
    if (n > 0) {
      doc.getPii().merge(type, n, Integer::sum);
    }
    return sb.toString();
  }

  /** The words one of which every {@link #SECRET_ASSIGNMENT} match holds, in lower case. */
  static final String[] ASSIGNMENT_WORDS = {"key", "secret", "token", "passw"};

  /**
   * Whether {@code text} holds one of {@link #ASSIGNMENT_WORDS} in any case: the assignment pattern
   * runs only then (most texts with a colon name no secret).
   */
  static boolean mayAssignSecret(String text) {
    for (String w : ASSIGNMENT_WORDS) {
      char first = w.charAt(0);
      for (int i = 0; i + w.length() <= text.length(); i++) {
        char c = text.charAt(i);
        if ((c == first || Character.toLowerCase(c) == first)
            && text.regionMatches(true, i, w, 0, w.length())) {
          return true;
        }
      }
    }
    return false;
  }

  private static int countDigits(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= '0' && c <= '9') {
        n++;
      }
    }
    return n;
  }

  static boolean luhn(String s) {
    int sum = 0;
    int digits = 0;
    boolean dbl = false;
    for (int i = s.length() - 1; i >= 0; i--) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        continue;
      }
      int d = c - '0';
      if (dbl) {
        d *= 2;
        if (d > 9) {
          d -= 9;
        }
      }
      sum += d;
      dbl = !dbl;
      digits++;
    }
    return digits >= 13 && digits <= 19 && sum % 10 == 0;
  }

  static boolean validIpv6(String s) {
    if (s.chars().filter(c -> c == ':').count() < 2) {
      return false;
    }
    int dc = s.indexOf("::");
    if (dc >= 0 && s.indexOf("::", dc + 1) >= 0) {
      return false;
    }
    String[] groups = s.split(":", -1);
    int nonEmpty = 0;
    for (String g : groups) {
      if (g.length() > 4) {
        return false;
      }
      if (!g.isEmpty()) {
        nonEmpty++;
      }
    }
    return dc >= 0 ? nonEmpty <= 7 && nonEmpty >= 1 : groups.length == 8;
  }

  /** 7 to 15 digits, not a date, with a phone's shape: a +country, parentheses or separators. */
  static boolean phoneLike(String s) {
    int digits = 0;
    for (int i = 0; i < s.length(); i++) {
      if (Character.isDigit(s.charAt(i))) {
        digits++;
      }
    }
    if (digits < 7 || digits > 15 || DATE.matcher(s).matches()) {
      return false;
    }
    return s.startsWith("+") || s.contains("(") || s.matches(".*\\d[\\s.-]\\d.*");
  }
}
