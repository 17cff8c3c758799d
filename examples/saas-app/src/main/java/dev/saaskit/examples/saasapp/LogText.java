package dev.saaskit.examples.saasapp;

import org.jspecify.annotations.Nullable;

/**
 * Makes a value safe to put into a log line: request paths, exception messages and anything else a client chose.
 * Written as they are, a {@code "\n"} in one starts a forged log line and an escape sequence or a bidirectional
 * override rewrites what an operator's terminal shows. The app's own copy of saaskit's internal helper
 * ({@code dev.saaskit.core.internal.LogText}): an example app, copied as a template, uses no library internals.
 * Every value the app logs that it did not write itself goes through it.
 */
final class LogText {
  /** Longer values are cut. */
  static final int MAX_LENGTH = 1000;

  private LogText() {}

  /**
   * {@code value}'s text with backslashes doubled and every control character (C0, DEL, C1), bidirectional
   * embedding, override, isolate or mark, line or paragraph separator and unpaired surrogate written as a Java
   * escape ({@code \n}, {@code \u202E}), cut after {@value #MAX_LENGTH} characters; {@code "null"} for null.
   */
  static String of(@Nullable Object value) {
    String s = String.valueOf(value);
    int end = Math.min(s.length(), MAX_LENGTH);
    if (end < s.length() && Character.isHighSurrogate(s.charAt(end - 1))) {
      end--;   // do not cut a pair in two
    }
    StringBuilder out = new StringBuilder(end + 16);
    for (int i = 0; i < end; i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        out.append(c).append(s.charAt(++i));
      } else if (c == '\\') {
        out.append("\\\\");
      } else if (c == '\n') {
        out.append("\\n");
      } else if (c == '\r') {
        out.append("\\r");
      } else if (c == '\t') {
        out.append("\\t");
      } else if (Character.isISOControl(c) || Character.isSurrogate(c) || (c >= 0x202A && c <= 0x202E)
          || (c >= 0x2066 && c <= 0x2069) || c == 0x200E || c == 0x200F || c == 0x061C || c == 0x2028
          || c == 0x2029) {
        out.append(String.format("\\u%04X", (int) c));
      } else {
        out.append(c);
      }
    }
    return end < s.length() ? out + "...(" + (s.length() - end) + " more characters)" : out.toString();
  }
}
