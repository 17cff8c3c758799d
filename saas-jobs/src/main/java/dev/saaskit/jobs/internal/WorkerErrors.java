package dev.saaskit.jobs.internal;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.jspecify.annotations.Nullable;

/** Error and message texts as stored in the job row: bounded, and free of NUL (which PostgreSQL text rejects). */
final class WorkerErrors {
  /** Bound of {@code last_error}, in characters. */
  static final int MAX_ERROR_CHARS = 8192;
  /** Bound of {@code progress_message}, in characters. */
  static final int MAX_MESSAGE_CHARS = 1024;

  private static final String TRUNCATED = "\n... (truncated)";

  private WorkerErrors() {}

  /** The exception's class, message and stack trace (with causes), cut to {@link #MAX_ERROR_CHARS}. */
  static String describe(Throwable error) {
    return describe(null, error);
  }

  /** Like {@link #describe(Throwable)}, after a first line of our own. */
  static String describe(@Nullable String headline, @Nullable Throwable error) {
    StringWriter text = new StringWriter();
    if (headline != null) {
      text.append(headline).append('\n');
    }
    if (error != null) {
      StringWriter trace = new StringWriter();
      try (PrintWriter out = new PrintWriter(trace)) {
        error.printStackTrace(out);
        text.append(trace.toString());
      } catch (RuntimeException | Error unprintable) {
        // the exception's own getMessage() or toString() threw (a message built from a cyclic object overflows the
        // stack): the failure must still be recorded, or the job would stay leased by this worker for ever
        text.append(error.getClass().getName()).append(" (its message or stack trace could not be printed: ")
            .append(unprintable.getClass().getName()).append(")\n");
        for (StackTraceElement frame : error.getStackTrace()) {
          text.append("\tat ").append(String.valueOf(frame)).append('\n');
        }
      }
    }
    return clean(text.toString(), MAX_ERROR_CHARS);
  }

  /** {@code text} without NUL characters, cut to {@code max} characters with a visible mark. */
  static String clean(String text, int max) {
    String s = text.indexOf('\0') >= 0 ? text.replace('\0', '?') : text;
    if (s.length() <= max) {
      return s;
    }
    int keep = max - TRUNCATED.length();
    if (Character.isHighSurrogate(s.charAt(keep - 1))) {
      keep--;
    }
    return s.substring(0, keep) + TRUNCATED;
  }
}
