package dev.saaskit.cache.internal;

import dev.saaskit.cache.Invalidation;
import org.jspecify.annotations.Nullable;

/** The rules every cache name, encoded key and tag follows, so that it can travel in an {@link Invalidation}. */
public final class Texts {
  private Texts() {}

  /**
   * Checks that {@code text} is 1 to {@link Invalidation#MAX_TEXT_LENGTH} characters without NUL.
   *
   * @throws IllegalArgumentException naming {@code what} otherwise
   */
  public static String check(String what, @Nullable String text) {
    if (text == null) {
      throw new IllegalArgumentException(what + " must not be null");
    }
    if (text.isEmpty() || text.length() > Invalidation.MAX_TEXT_LENGTH) {
      throw new IllegalArgumentException(
          what + " must be 1 to " + Invalidation.MAX_TEXT_LENGTH + " characters but was " + text.length());
    }
    if (text.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(what + " must not contain NUL characters");
    }
    return text;
  }
}
