package dev.saaskit.core.internal;

import org.jspecify.annotations.Nullable;

/**
 * Makes a value safe to put into a log line. Subjects, issuers, key ids, exception messages and IdP answers come from
 * whoever sent the request: written as they are, a {@code "\n"} in one starts a forged log line, and an escape
 * sequence or a bidirectional override rewrites what an operator's terminal shows. Every such value goes through
 * {@link #of(Object)} before it reaches a logger.
 */
public final class LogText {
  /** Longer values are cut (a log line is not a place for a 1 MB claim). */
  static final int MAX_LENGTH = 1000;

  private LogText() {}

  /**
   * {@code value}'s text with backslashes doubled and every control character (C0, DEL, C1), bidirectional
   * embedding, override, isolate or mark, line or paragraph separator and unpaired surrogate written as a Java
   * escape ({@code \n}, {@code \r}, {@code \t}, {@code \u202E}), cut after {@value #MAX_LENGTH} characters;
   * {@code "null"} for null.
   */
  public static String of(@Nullable Object value) {
    String s = String.valueOf(value);
    int end = Math.min(s.length(), MAX_LENGTH);
    if (end < s.length() && Character.isHighSurrogate(s.charAt(end - 1))) {
      end--;   // do not cut a pair in two
    }
    StringBuilder out = null;
    for (int i = 0; i < end; i++) {
      char c = s.charAt(i);
      boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
      if (pair) {
        if (out != null) {
          out.append(c).append(s.charAt(i + 1));
        }
        i++;
        continue;
      }
      if (c != '\\' && !unsafe(c)) {
        if (out != null) {
          out.append(c);
        }
        continue;
      }
      if (out == null) {
        out = new StringBuilder(end + 16).append(s, 0, i);
      }
      switch (c) {
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> out.append(String.format("\\u%04X", (int) c));
      }
    }
    if (end < s.length()) {
      return (out == null ? s.substring(0, end) : out) + "...(" + (s.length() - end) + " more characters)";
    }
    return out == null ? s : out.toString();
  }

  private static boolean unsafe(char c) {
    return Character.isISOControl(c) || Character.isSurrogate(c)   // a surrogate here is unpaired
        || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)
        || c == 0x200E || c == 0x200F || c == 0x061C || c == 0x2028 || c == 0x2029;
  }
}
