package dev.saaskit.jobs.internal;

import org.jspecify.annotations.Nullable;

/**
 * What PostgreSQL cannot store of a JSON text that Jackson accepts: jsonb rejects the escape
 * {@code \}{@code u0000} and an escaped surrogate that is not part of an escaped pair, and the JDBC driver turns an
 * unpaired surrogate character into {@code ?} on its way to the server (so a payload or key would be stored changed,
 * with no error). Not API.
 */
public final class JsonTexts {
  private JsonTexts() {}

  /**
   * Why {@code json} (a JSON text, as a codec writes it) cannot be stored as it is in a jsonb column, or null when
   * it can. Backslashes appear only inside JSON strings, so escapes are found without tracking the strings.
   */
  public static @Nullable String unstorable(String json) {
    int n = json.length();
    for (int i = 0; i < n; i++) {
      char c = json.charAt(i);
      if (c == '\\' && i + 1 < n) {
        if (json.charAt(i + 1) != 'u') {
          i++; // an escaped character: a following "u0000" is plain text
          continue;
        }
        int unit = escapedUnit(json, i);
        if (unit == 0) {
          return "it holds a NUL character (\\u0000), which PostgreSQL jsonb rejects";
        }
        if (Character.isHighSurrogate((char) unit)) {
          int low = escapedUnit(json, i + 6);
          if (low < 0 || !Character.isLowSurrogate((char) low)) {
            return "it holds an unpaired surrogate (\\u" + Integer.toHexString(unit) + "), which PostgreSQL jsonb"
                + " rejects";
          }
          i += 11;
          continue;
        }
        if (Character.isLowSurrogate((char) unit)) {
          return "it holds an unpaired surrogate (\\u" + Integer.toHexString(unit) + "), which PostgreSQL jsonb"
              + " rejects";
        }
        i += unit < 0 ? 1 : 5;
        continue;
      }
      String raw = rawProblem(json, i);
      if (raw != null) {
        return raw;
      }
      if (Character.isHighSurrogate(c)) {
        i++; // rawProblem checked that its low surrogate follows
      }
    }
    return null;
  }

  /**
   * Why the plain text {@code text} (a key, a name) cannot reach PostgreSQL unchanged, or null when it can: a NUL
   * (which text rejects) or an unpaired surrogate (which the driver sends as {@code ?}).
   */
  public static @Nullable String unstorableText(String text) {
    for (int i = 0; i < text.length(); i++) {
      String problem = rawProblem(text, i);
      if (problem != null) {
        return problem;
      }
      if (Character.isHighSurrogate(text.charAt(i))) {
        i++;
      }
    }
    return null;
  }

  private static @Nullable String rawProblem(String text, int i) {
    char c = text.charAt(i);
    if (c == '\0') {
      return "it holds a NUL character, which PostgreSQL text rejects";
    }
    if (Character.isHighSurrogate(c)) {
      if (i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        return null;
      }
      return "it holds an unpaired surrogate character, which has no UTF-8 form (it would be stored as '?')";
    }
    if (Character.isLowSurrogate(c)) {
      return "it holds an unpaired surrogate character, which has no UTF-8 form (it would be stored as '?')";
    }
    return null;
  }

  /** The code unit of the escape {@code \}{@code uXXXX} at {@code at}, or -1 if there is none there. */
  private static int escapedUnit(String json, int at) {
    if (at + 6 > json.length() || json.charAt(at) != '\\' || json.charAt(at + 1) != 'u') {
      return -1;
    }
    int unit = 0;
    for (int k = at + 2; k < at + 6; k++) {
      int digit = Character.digit(json.charAt(k), 16);
      if (digit < 0) {
        return -1;
      }
      unit = unit * 16 + digit;
    }
    return unit;
  }
}
