package dev.saaskit.auth.sso;

import dev.saaskit.core.SaasException;
import java.util.Objects;

/**
 * An SSO operation failed, with a typed {@link #reason()} for logs and metrics. Messages never contain a token, a
 * code, a state, a secret or key material; show users a generic "sign-in failed" rather than the message.
 */
public final class SsoException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** Why the operation failed. */
  public enum Reason {
    /** No such connection (or domain) in this tenant. */
    NOT_FOUND,
    /** The connection is disabled. */
    CONNECTION_DISABLED,
    /** The connection speaks another protocol than the one asked for. */
    WRONG_PROTOCOL,
    /** Not a valid domain name. */
    INVALID_DOMAIN,
    /** A public mail domain (gmail.com, ...) that no tenant can claim. */
    PUBLIC_MAIL_DOMAIN,
    /** The domain is already verified (by another tenant or connection). */
    DOMAIN_TAKEN,
    /** The TXT record was not found. */
    DOMAIN_NOT_VERIFIED,
    /** DNS could not be asked. */
    DNS_FAILURE,
    /** The IdP's discovery document could not be fetched, parsed, or names another issuer. */
    DISCOVERY_FAILED,
    /** The callback lacks a parameter, repeats one, or is not a callback. */
    MALFORMED_CALLBACK,
    /** The state is unknown, used already, expired or altered (replay, forgery, or another browser's login). */
    UNKNOWN_STATE,
    /** The IdP answered with an error ({@code error=access_denied}, ...). */
    PROVIDER_ERROR,
    /** The callback's {@code iss} is not the connection's issuer (RFC 9207 mix-up defence). */
    ISSUER_MISMATCH,
    /** The IdP promises an {@code iss} callback parameter and the callback has none. */
    MISSING_ISSUER,
    /** The code exchange at the token endpoint failed. */
    TOKEN_REQUEST_FAILED,
    /** The ID token is invalid; the cause is an {@link dev.saaskit.auth.InvalidTokenException} with the detail. */
    INVALID_ID_TOKEN,
    /** The ID token's {@code nonce} is not the one of this login. */
    NONCE_MISMATCH,
    /** The ID token's email is missing, unverified or not in a verified domain of the connection. */
    EMAIL_DOMAIN_NOT_ALLOWED
  }

  private final Reason reason;

  /**
   * An exception with a reason and a message (no secrets in it).
   *
   * @param reason why
   * @param message what happened
   */
  public SsoException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /**
   * An exception with a reason, a message and a cause.
   *
   * @param reason why
   * @param message what happened
   * @param cause the underlying failure
   */
  public SsoException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** Why the operation failed. */
  public Reason reason() {
    return reason;
  }
}
