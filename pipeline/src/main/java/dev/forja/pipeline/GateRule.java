package dev.forja.pipeline;

import java.util.List;
import java.util.Locale;

/**
 * One promotion rule: {@code TASK/METRIC DIRECTION MARGIN[%]}. {@code lower}/{@code higher}: the
 * candidate must beat the champion by at least the margin; {@code not-lower}/{@code not-higher}: it
 * may fall behind by at most the margin. A margin with {@code %} is relative to the champion's
 * value.
 */
public record GateRule(
    String task, String metric, String direction, double margin, boolean percent) {
  public static final List<String> DIRECTIONS =
      List.of("lower", "higher", "not-lower", "not-higher");

  /** Why {@code text} is not a rule, or null. */
  static String problem(String text) {
    try {
      parse(text);
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  public static GateRule parse(String text) {
    String[] p = text.trim().split("\\s+");
    String form =
        "'"
            + text
            + "' is not a rule: write 'TASK/METRIC lower|higher|not-lower|not-higher MARGIN[%]',"
            + " e.g. 'held-out/perplexity lower 1%'";
    if (p.length != 3 || !p[0].contains("/") || !DIRECTIONS.contains(p[1])) {
      throw new IllegalArgumentException(form);
    }
    boolean percent = p[2].endsWith("%");
    double margin;
    try {
      margin = Double.parseDouble(percent ? p[2].substring(0, p[2].length() - 1) : p[2]);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(form);
    }
    if (margin < 0) {
      throw new IllegalArgumentException("'" + text + "': the margin must not be negative");
    }
    int slash = p[0].lastIndexOf('/');
    return new GateRule(p[0].substring(0, slash), p[0].substring(slash + 1), p[1], margin, percent);
  }

  /** Whether {@code candidate} passes against {@code champion}. */
  public boolean passes(double candidate, double champion) {
    double m = percent ? Math.abs(champion) * margin / 100 : margin;
    return switch (direction) {
      case "lower" -> candidate <= champion - m;
      case "higher" -> candidate >= champion + m;
      case "not-lower" -> candidate >= champion - m;
      default -> candidate <= champion + m;
    };
  }

  /** The rule and the two values, for the decision record. */
  public String describe(double candidate, double champion) {
    return String.format(
        Locale.ROOT,
        "%s/%s %s %s%s: candidate %.6g, champion %.6g",
        task,
        metric,
        direction,
        margin,
        percent ? "%" : "",
        candidate,
        champion);
  }
}
