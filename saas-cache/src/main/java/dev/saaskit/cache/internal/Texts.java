package dev.saaskit.cache.internal;

import dev.saaskit.cache.Invalidation;
import org.jspecify.annotations.Nullable;

/**
 * The rules every cache name, encoded key and tag follows (1 to 1024 characters, no NUL, no unpaired surrogate),
 * so that it can travel in an {@link Invalidation} and reach PostgreSQL unchanged.
 */
public final class Texts {
  private Texts() {}

  /**
   * Checks that {@code text} is 1 to {@link Invalidation#MAX_TEXT_LENGTH} characters without NUL or unpaired
   * surrogate.
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
    if (hasLoneSurrogate(text)) {
      throw new IllegalArgumentException(what + " must be valid Unicode but holds an unpaired surrogate");
    }
    return text;
  }

  /**
   * Whether {@code text} holds a surrogate that is not part of a pair. Such a string has no UTF-8 form: the JDBC
   * driver sends {@code ?} in its place, so a key "k" + U+D800 would travel on the PostgreSQL bus as
   * {@code "k?"}, and the other nodes would drop {@code "k?"} and keep the stale "k" + U+D800.
   */
  public static boolean hasLoneSurrogate(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
          i++;
          continue;
        }
        return true;
      }
      if (Character.isLowSurrogate(c)) {
        return true;
      }
    }
    return false;
  }
}
