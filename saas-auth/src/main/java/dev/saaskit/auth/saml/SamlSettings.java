package dev.saaskit.auth.saml;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The configuration of one SAML 2.0 service provider talking to one IdP (in a multi-tenant app: one per tenant
 * connection). Immutable and thread-safe; built by {@link #builder()}, whose setters check their argument at once.
 *
 * <p>Required: {@linkplain Builder#spEntityId SP entity id}, {@linkplain Builder#acsUrl assertion consumer service
 * URL}, {@linkplain Builder#idpEntityId IdP entity id}, {@linkplain Builder#idpSsoUrl IdP SSO URL} and at least one
 * {@linkplain Builder#idpCertificatePem IdP signing certificate}. The rest have defaults.
 */
public final class SamlSettings {
  /** The longest {@link #idpEntityId()} accepted: 512 characters, the longest issuer {@code Memberships} stores. */
  public static final int MAX_IDP_ENTITY_ID = 512;
  /** Default {@link #clockSkew()}: 60 seconds. */
  public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(60);
  /** The largest {@link #clockSkew()} accepted: 5 minutes. */
  public static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);
  /** Default {@link #requestLifetime()}: 10 minutes. */
  public static final Duration DEFAULT_REQUEST_LIFETIME = Duration.ofMinutes(10);
  /** The largest {@link #requestLifetime()} accepted: 1 hour. */
  public static final Duration MAX_REQUEST_LIFETIME = Duration.ofHours(1);
  /** The most IdP signing certificates at once (the current one and the next, during a rotation): 2. */
  public static final int MAX_IDP_CERTIFICATES = 2;
  /** Default {@link #emailAttributes()}: the common names of an email attribute (plain, OID, Microsoft claim). */
  public static final List<String> DEFAULT_EMAIL_ATTRIBUTES = List.of("email", "urn:oid:0.9.2342.19200300.100.1.3",
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress");

  private final String spEntityId;
  private final URI acsUrl;
  private final @Nullable PrivateKey spSigningKey;
  private final @Nullable X509Certificate spCertificate;
  private final String idpEntityId;
  private final URI idpSsoUrl;
  private final List<X509Certificate> idpCertificates;
  private final Duration clockSkew;
  private final boolean requireSignedAssertions;
  private final Duration requestLifetime;
  private final @Nullable String nameIdFormat;
  private final List<String> emailAttributes;

  private SamlSettings(Builder b) {
    this.spEntityId = require(b.spEntityId, "spEntityId");
    this.acsUrl = require(b.acsUrl, "acsUrl");
    this.spSigningKey = b.spSigningKey;
    this.spCertificate = b.spCertificate;
    this.idpEntityId = require(b.idpEntityId, "idpEntityId");
    this.idpSsoUrl = require(b.idpSsoUrl, "idpSsoUrl");
    if (b.idpCertificates.isEmpty()) {
      throw new IllegalStateException("idpCertificatePem is required: at least one IdP signing certificate");
    }
    this.idpCertificates = List.copyOf(b.idpCertificates);
    this.clockSkew = b.clockSkew;
    this.requireSignedAssertions = b.requireSignedAssertions;
    this.requestLifetime = b.requestLifetime;
    this.nameIdFormat = b.nameIdFormat;
    this.emailAttributes = List.copyOf(b.emailAttributes);
  }

  private static <T> T require(@Nullable T value, String name) {
    if (value == null) {
      throw new IllegalStateException(name + " is required but was not set");
    }
    return value;
  }

  /**
   * A builder holding the SAML settings an administrator stored for a tenant's connection ({@link
   * dev.saaskit.auth.sso.SsoConnections}): SP entity id, ACS URL, IdP entity id, SSO URL and signing certificate.
   * Build one {@link SamlServiceProvider} per connection.
   *
   * @throws IllegalArgumentException if the connection is not a SAML connection, or a URL in it is not absolute
   */
  public static Builder forConnection(dev.saaskit.auth.sso.SsoConnection connection) {
    java.util.Objects.requireNonNull(connection, "connection");
    dev.saaskit.auth.sso.SamlConnectionSettings saml = connection.saml().orElseThrow(
        () -> new IllegalArgumentException("connection " + connection.id() + " is not a SAML connection"));
    return builder().spEntityId(saml.spEntityId()).acsUrl(URI.create(saml.acsUrl()))
        .idpEntityId(saml.idpEntityId()).idpSsoUrl(URI.create(saml.ssoUrl()))
        .idpCertificatePem(saml.idpSigningCertificatePem());
  }

  /** A builder with every default and no required value set. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding these settings, for a variant (a rotated certificate, another skew). */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.spEntityId = spEntityId;
    b.acsUrl = acsUrl;
    b.spSigningKey = spSigningKey;
    b.spCertificate = spCertificate;
    b.idpEntityId = idpEntityId;
    b.idpSsoUrl = idpSsoUrl;
    b.idpCertificates.addAll(idpCertificates);
    b.clockSkew = clockSkew;
    b.requireSignedAssertions = requireSignedAssertions;
    b.requestLifetime = requestLifetime;
    b.nameIdFormat = nameIdFormat;
    b.emailAttributes = new ArrayList<>(emailAttributes);
    return b;
  }

  /** This SP's entity id (the Issuer of its requests, the audience it requires). */
  public String spEntityId() {
    return spEntityId;
  }

  /** The assertion consumer service URL (HTTP-POST binding): the required Destination and Recipient. */
  public URI acsUrl() {
    return acsUrl;
  }

  /** The key that signs AuthnRequests, if they are signed. */
  public Optional<PrivateKey> spSigningKey() {
    return Optional.ofNullable(spSigningKey);
  }

  /** The certificate of {@link #spSigningKey()}, published in the metadata, if requests are signed. */
  public Optional<X509Certificate> spCertificate() {
    return Optional.ofNullable(spCertificate);
  }

  /** The IdP's entity id: the Issuer every Response and assertion must carry. */
  public String idpEntityId() {
    return idpEntityId;
  }

  /** The IdP's single sign-on URL (HTTP-Redirect binding). */
  public URI idpSsoUrl() {
    return idpSsoUrl;
  }

  /** The IdP's signing certificates (one, or two during a rotation); the only keys signatures are checked with. */
  public List<X509Certificate> idpCertificates() {
    return idpCertificates;
  }

  /** Tolerance for the IdP's clock in every time check; default {@link #DEFAULT_CLOCK_SKEW}. */
  public Duration clockSkew() {
    return clockSkew;
  }

  /** Whether the assertion itself must be signed (a signed Response alone is not enough); default true. */
  public boolean requireSignedAssertions() {
    return requireSignedAssertions;
  }

  /** How long a request from {@code begin} may be answered; default {@link #DEFAULT_REQUEST_LIFETIME}. */
  public Duration requestLifetime() {
    return requestLifetime;
  }

  /** The NameID format requested in the AuthnRequest's NameIDPolicy; default none (the IdP chooses). */
  public Optional<String> nameIdFormat() {
    return Optional.ofNullable(nameIdFormat);
  }

  /** Attribute names read, in order, for {@link SamlLogin#email()}; default {@link #DEFAULT_EMAIL_ATTRIBUTES}. */
  public List<String> emailAttributes() {
    return emailAttributes;
  }

  @Override
  public String toString() {
    return "SamlSettings[sp=" + spEntityId + ", acs=" + acsUrl + ", idp=" + idpEntityId + ", sso=" + idpSsoUrl
        + ", idpCertificates=" + idpCertificates.size() + ", signedRequests=" + (spSigningKey != null)
        + ", clockSkew=" + clockSkew + ", requireSignedAssertions=" + requireSignedAssertions + "]";
  }

  /** Builds {@link SamlSettings}; each setter checks its argument at once. Not thread-safe. */
  public static final class Builder {
    private @Nullable String spEntityId;
    private @Nullable URI acsUrl;
    private @Nullable PrivateKey spSigningKey;
    private @Nullable X509Certificate spCertificate;
    private @Nullable String idpEntityId;
    private @Nullable URI idpSsoUrl;
    private final List<X509Certificate> idpCertificates = new ArrayList<>();
    private Duration clockSkew = DEFAULT_CLOCK_SKEW;
    private boolean requireSignedAssertions = true;
    private Duration requestLifetime = DEFAULT_REQUEST_LIFETIME;
    private @Nullable String nameIdFormat;
    private List<String> emailAttributes = new ArrayList<>(DEFAULT_EMAIL_ATTRIBUTES);

    private Builder() {}

    /** This SP's entity id, usually a URL; required, not blank, at most 1024 characters. */
    public Builder spEntityId(String spEntityId) {
      this.spEntityId = entityId("spEntityId", spEntityId);
      return this;
    }

    /** The assertion consumer service URL, an absolute http(s) URL; required. */
    public Builder acsUrl(URI acsUrl) {
      this.acsUrl = httpUrl("acsUrl", acsUrl);
      return this;
    }

    /**
     * Signs AuthnRequests (RSA-SHA256 over the redirect query) with {@code key} and publishes {@code certificatePem}
     * in the metadata; default: requests are not signed. The key must be an RSA private key.
     */
    public Builder spSigningKey(PrivateKey key, String certificatePem) {
      Objects.requireNonNull(key, "key");
      if (!"RSA".equals(key.getAlgorithm())) {
        throw new IllegalArgumentException("spSigningKey must be an RSA key but was " + key.getAlgorithm());
      }
      this.spCertificate = parseCertificate("spSigningKey certificate", certificatePem);
      this.spSigningKey = key;
      return this;
    }

    /** Requests are not signed (the default). */
    public Builder noSpSigningKey() {
      this.spSigningKey = null;
      this.spCertificate = null;
      return this;
    }

    /**
     * The IdP's entity id; required, not blank, at most {@value SamlSettings#MAX_IDP_ENTITY_ID} characters and
     * without control characters: it is the issuer of every user this IdP logs in ({@link SamlLogin#userKey()}), and
     * {@code Memberships} stores issuers of at most that length, so a longer one could never be provisioned.
     */
    public Builder idpEntityId(String idpEntityId) {
      String id = entityId("idpEntityId", idpEntityId);
      if (id.length() > MAX_IDP_ENTITY_ID || id.chars().anyMatch(Character::isISOControl)) {
        throw new IllegalArgumentException("idpEntityId must be at most " + MAX_IDP_ENTITY_ID + " characters (a"
            + " user's issuer) without control characters but was " + id.length() + " characters long");
      }
      this.idpEntityId = id;
      return this;
    }

    /** The IdP's single sign-on URL (HTTP-Redirect binding), an absolute http(s) URL; required. */
    public Builder idpSsoUrl(URI idpSsoUrl) {
      this.idpSsoUrl = httpUrl("idpSsoUrl", idpSsoUrl);
      return this;
    }

    /**
     * Adds an IdP signing certificate: PEM ({@code -----BEGIN CERTIFICATE-----}) or the bare Base64 found in IdP
     * metadata. At least one is required, at most {@value SamlSettings#MAX_IDP_CERTIFICATES} (the current and the
     * next during a rotation). Signatures are checked with these only, never with a certificate in the message.
     */
    public Builder idpCertificatePem(String pem) {
      if (idpCertificates.size() >= MAX_IDP_CERTIFICATES) {
        throw new IllegalArgumentException("at most " + MAX_IDP_CERTIFICATES
            + " IdP certificates may be configured but this would be " + (idpCertificates.size() + 1));
      }
      idpCertificates.add(parseCertificate("idpCertificatePem", pem));
      return this;
    }

    /** Removes every IdP certificate (to replace them in a {@link SamlSettings#toBuilder()} copy). */
    public Builder clearIdpCertificates() {
      idpCertificates.clear();
      return this;
    }

    /** Tolerance for the IdP's clock; default 60 s, between 0 and 5 minutes. */
    public Builder clockSkew(Duration clockSkew) {
      Objects.requireNonNull(clockSkew, "clockSkew");
      if (clockSkew.isNegative() || clockSkew.compareTo(MAX_CLOCK_SKEW) > 0) {
        throw new IllegalArgumentException("clockSkew must be between PT0S and " + MAX_CLOCK_SKEW + " but was "
            + clockSkew);
      }
      this.clockSkew = clockSkew;
      return this;
    }

    /**
     * Whether the assertion itself must be signed; default true. With false, a Response whose signature covers the
     * assertion (a signed Response) is enough; one signature is always required.
     */
    public Builder requireSignedAssertions(boolean requireSignedAssertions) {
      this.requireSignedAssertions = requireSignedAssertions;
      return this;
    }

    /** How long a request from {@code begin} may be answered; default 10 minutes, between 1 minute and 1 hour. */
    public Builder requestLifetime(Duration requestLifetime) {
      Objects.requireNonNull(requestLifetime, "requestLifetime");
      if (requestLifetime.compareTo(Duration.ofMinutes(1)) < 0 || requestLifetime.compareTo(MAX_REQUEST_LIFETIME) > 0) {
        throw new IllegalArgumentException("requestLifetime must be between PT1M and " + MAX_REQUEST_LIFETIME
            + " but was " + requestLifetime);
      }
      this.requestLifetime = requestLifetime;
      return this;
    }

    /**
     * The NameID format to request (for example {@code urn:oasis:names:tc:SAML:2.0:nameid-format:persistent});
     * {@code null} (the default) lets the IdP choose.
     */
    public Builder nameIdFormat(@Nullable String nameIdFormat) {
      if (nameIdFormat != null && (nameIdFormat.isBlank() || !nameIdFormat.startsWith("urn:"))) {
        throw new IllegalArgumentException("nameIdFormat must be a URN but was '" + nameIdFormat + "'");
      }
      this.nameIdFormat = nameIdFormat;
      return this;
    }

    /** Attribute names read, in order, for {@link SamlLogin#email()}; default {@link #DEFAULT_EMAIL_ATTRIBUTES}. */
    public Builder emailAttributes(List<String> names) {
      List<String> copy = List.copyOf(Objects.requireNonNull(names, "names"));
      for (String n : copy) {
        if (n.isBlank()) {
          throw new IllegalArgumentException("emailAttributes must not contain a blank name but was " + copy);
        }
      }
      this.emailAttributes = new ArrayList<>(copy);
      return this;
    }

    /**
     * The settings.
     *
     * @throws IllegalStateException if a required value is missing
     */
    public SamlSettings build() {
      return new SamlSettings(this);
    }

    private static String entityId(String what, String value) {
      Objects.requireNonNull(value, what);
      if (value.isBlank() || value.length() > 1024 || !value.strip().equals(value)) {
        throw new IllegalArgumentException(what + " must be a non-blank id of at most 1024 characters without "
            + "surrounding spaces but was '" + value + "'");
      }
      return value;
    }

    private static URI httpUrl(String what, URI url) {
      Objects.requireNonNull(url, what);
      String scheme = url.getScheme();
      if (!url.isAbsolute() || url.getHost() == null || url.getRawFragment() != null
          || !("https".equalsIgnoreCase(scheme) || "http".equalsIgnoreCase(scheme))) {
        throw new IllegalArgumentException(what + " must be an absolute http(s) URL without fragment but was "
            + url);
      }
      return url;
    }

    private static X509Certificate parseCertificate(String what, String pem) {
      Objects.requireNonNull(pem, what);
      String text = pem.strip();
      if (!text.startsWith("-----BEGIN")) {
        text = "-----BEGIN CERTIFICATE-----\n" + text.replaceAll("\\s+", "") + "\n-----END CERTIFICATE-----\n";
      }
      try {
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        return (X509Certificate) factory.generateCertificate(
            new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII)));
      } catch (CertificateException | ClassCastException e) {
        throw new IllegalArgumentException(what + " must be an X.509 certificate in PEM or Base64 but could not be"
            + " read: " + e.getMessage(), e);
      }
    }
  }
}
