package dev.saaskit.auth;

import dev.saaskit.core.SaasException;
import java.util.Objects;

/**
 * A credential was refused. {@link #reason()} says why, for logs and metrics; neither the reason nor the message
 * should be echoed to the client (answer a plain 401), and neither contains the token.
 */
public final class InvalidTokenException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** Why a credential was refused. */
  public enum Reason {
    /** Not a well-formed token: not three base64url parts, bad JSON, oversized or too deeply nested. */
    MALFORMED,
    /** {@code alg: none}: never accepted. */
    UNSIGNED,
    /** The {@code iss} is missing or is not a registered issuer (no network call was made). */
    UNKNOWN_ISSUER,
    /** The header's {@code alg} is not one the issuer is pinned to. */
    DISALLOWED_ALGORITHM,
    /** No key of the issuer has the token's {@code kid} (after the rate-limited refetch, if any). */
    UNKNOWN_KEY,
    /** The signature does not verify (bad, empty, or made with another key). */
    BAD_SIGNATURE,
    /** A critical header ({@code crit}) this verifier does not understand. */
    UNSUPPORTED_CRITICAL_HEADER,
    /** {@code exp} is missing. */
    MISSING_EXPIRY,
    /** {@code exp} is in the past (beyond the clock skew). */
    EXPIRED,
    /** {@code nbf} or {@code iat} is in the future (beyond the clock skew). */
    NOT_YET_VALID,
    /** The audience ({@code aud}) or authorized party ({@code azp}) is not the one required. */
    WRONG_AUDIENCE,
    /** The token names a tenant the issuer may not speak for, or none where one is required. */
    TENANT_NOT_ALLOWED,
    /** A claim the mapping needs is missing or of the wrong type. */
    BAD_CLAIM,
    /** The issuer's keys could not be fetched and none are cached. */
    KEYS_UNAVAILABLE,
    /** An API key that is unknown, revoked, expired or whose secret does not match. */
    BAD_API_KEY,
    /** The credential was revoked (an older permission version, a revoked key). */
    REVOKED
  }

  private final Reason reason;

  /** A refusal for {@code reason}, with a message for logs. */
  public InvalidTokenException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** A refusal for {@code reason}, with a message for logs and the failure behind it. */
  public InvalidTokenException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** Why the credential was refused. */
  public Reason reason() {
    return reason;
  }
}
