package dev.saaskit.auth.sso;

import dev.saaskit.auth.internal.sso.Urls;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The OpenID Connect settings of a connection: the IdP's issuer (its discovery document is fetched from
 * {@code <issuer>/.well-known/openid-configuration}), and the client id and secret the IdP gave this application.
 *
 * <p>The client secret is a secret: {@link #toString()} leaves it out, and saaskit never logs it or puts it in an
 * exception message. It is stored in the {@code sso_connections} table (see docs/auth-sso.md on protecting it).
 * Immutable and thread-safe.
 */
public final class OidcSettings {
  private final String issuer;
  private final String clientId;
  private final String clientSecret;

  private OidcSettings(String issuer, String clientId, String clientSecret) {
    this.issuer = issuer;
    this.clientId = clientId;
    this.clientSecret = clientSecret;
  }

  /**
   * Settings for one OIDC client registration.
   *
   * @param issuer the issuer identifier exactly as the IdP states it in its discovery document and ID tokens: an
   *     {@code https} URL without query or fragment ({@code http} only for a loopback host, as in tests)
   * @param clientId the client id, non-blank
   * @param clientSecret the client secret (used with {@code client_secret_basic}), non-blank
   * @throws IllegalArgumentException naming the bad value
   */
  public static OidcSettings of(String issuer, String clientId, String clientSecret) {
    Urls.requireIssuer("issuer", Objects.requireNonNull(issuer, "issuer"));
    if (Objects.requireNonNull(clientId, "clientId").isBlank() || clientId.length() > 1000) {
      throw new IllegalArgumentException("clientId must be non-blank and at most 1000 characters but was '"
          + clientId + "'");
    }
    if (Objects.requireNonNull(clientSecret, "clientSecret").isBlank()) {
      throw new IllegalArgumentException("clientSecret must be non-blank");
    }
    return new OidcSettings(issuer, clientId, clientSecret);
  }

  /** The issuer identifier. */
  public String issuer() {
    return issuer;
  }

  /** The client id: the audience of the ID tokens. */
  public String clientId() {
    return clientId;
  }

  /** The client secret. Handle with care: never log it. */
  public String clientSecret() {
    return clientSecret;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof OidcSettings other && issuer.equals(other.issuer) && clientId.equals(other.clientId)
        && java.security.MessageDigest.isEqual(clientSecret.getBytes(java.nio.charset.StandardCharsets.UTF_8),
            other.clientSecret.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  @Override
  public int hashCode() {
    return Objects.hash(issuer, clientId);
  }

  /** The issuer and client id; the secret is shown as {@code ***}. */
  @Override
  public String toString() {
    return "OidcSettings[issuer=" + issuer + ", clientId=" + clientId + ", clientSecret=***]";
  }
}
