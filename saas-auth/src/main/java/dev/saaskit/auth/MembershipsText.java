package dev.saaskit.auth;

import org.jspecify.annotations.Nullable;

/** Checks of the texts that memberships and invitations store; package-private. */
final class MembershipsText {
  /** Longest issuer accepted, in characters (the {@code users.issuer} column allows it). */
  static final int MAX_ISSUER = 512;
  /** Longest subject accepted, in characters (OpenID Connect caps {@code sub} at 255 ASCII characters). */
  static final int MAX_SUBJECT = 255;
  /** Longest role name accepted. */
  static final int MAX_ROLE = 100;
  /** Longest email accepted. */
  static final int MAX_EMAIL = 320;

  private MembershipsText() {}

  static String requireIssuer(@Nullable String issuer) {
    return require("issuer", issuer, MAX_ISSUER);
  }

  static String requireSubject(@Nullable String subject) {
    return require("subject", subject, MAX_SUBJECT);
  }

  static String requireRole(@Nullable String role) {
    return require("role", role, MAX_ROLE);
  }

  static @Nullable String optionalEmail(@Nullable String email) {
    return email == null ? null : require("email", email, MAX_EMAIL);
  }

  static String require(String what, @Nullable String value, int max) {
    if (value == null) {
      throw new NullPointerException(what);
    }
    if (value.isEmpty() || value.length() > max) {
      throw new IllegalArgumentException(what + " must be 1 to " + max + " characters but was " + value.length());
    }
    for (int i = 0; i < value.length(); i++) {
      if (Character.isISOControl(value.charAt(i))) {
        throw new IllegalArgumentException(what + " must not contain control characters (found one at index " + i
            + ")");
      }
    }
    return value;
  }
}
