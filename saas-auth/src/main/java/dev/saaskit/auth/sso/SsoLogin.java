package dev.saaskit.auth.sso;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A completed SSO login: the connection and tenant it went through, the user as the IdP identifies them
 * ({@link #issuer()}, {@link #subject()}: the identity; the email is informational and only ever used to route),
 * the profile the ID token stated, and the role the connection gives new users. Immutable and thread-safe.
 *
 * @param connection the connection the login went through
 * @param issuer the ID token's {@code iss}, equal to the connection's issuer
 * @param subject the ID token's {@code sub}
 * @param email the ID token's {@code email}, if stated and usable as an address (no control character, at most
 *     320 characters)
 * @param emailVerified the ID token's {@code email_verified}; {@code false} when not stated
 * @param name the ID token's {@code name}, if stated
 * @param idTokenExpiresAt the ID token's {@code exp}
 * @param claims every claim of the ID token (unmodifiable), for custom provisioning (groups, ...)
 */
public record SsoLogin(SsoConnection connection, String issuer, String subject, Optional<String> email,
    boolean emailVerified, Optional<String> name, Instant idTokenExpiresAt, Map<String, Object> claims) {
  /** Checks and copies the values. */
  public SsoLogin {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(issuer, "issuer");
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(email, "email");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(idTokenExpiresAt, "idTokenExpiresAt");
    claims = Map.copyOf(claims);
  }

  /** The tenant of the connection. */
  public TenantId tenant() {
    return connection.tenant();
  }

  /** The role the connection gives users on their first login (just-in-time provisioning). */
  public String role() {
    return connection.defaultRole();
  }

  /** The issuer, subject, tenant and connection id (no token, no claims). */
  @Override
  public String toString() {
    return "SsoLogin[issuer=" + issuer + ", subject=" + subject + ", tenant=" + connection.tenant()
        + ", connection=" + connection.id() + "]";
  }
}
