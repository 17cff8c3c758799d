package dev.saaskit.auth.saml;

import dev.saaskit.auth.AuthSchema;
import dev.saaskit.auth.saml.SamlException.Reason;
import dev.saaskit.auth.saml.internal.ResponseValidator;
import dev.saaskit.auth.saml.internal.SamlState;
import dev.saaskit.auth.saml.internal.SamlXml;
import dev.saaskit.core.SaasException;
import java.io.ByteArrayOutputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.Deflater;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * A SAML 2.0 service provider for one IdP ({@link SamlSettings}): publishes its metadata, starts logins with an
 * AuthnRequest over the HTTP-Redirect binding, and completes them from the Response the IdP posts to the assertion
 * consumer service (HTTP-POST binding).
 *
 * <pre>{@code
 * SamlServiceProvider sp = SamlServiceProvider.builder(settings, appDataSource).build();
 * // GET /sso/start:   redirect the browser
 * String location = sp.begin(relayState);
 * // POST /sso/acs:    the form field SAMLResponse
 * SamlLogin login = sp.complete(request.getParameter("SAMLResponse"));
 * String userKey = login.userKey();          // (IdP entity id, NameID): never the email
 * }</pre>
 *
 * <p>{@link #complete} accepts a Response only if: it is well-formed (no DOCTYPE) and holds exactly one assertion,
 * not encrypted; the assertion (or, when {@link SamlSettings#requireSignedAssertions()} is off, the Response) is
 * signed with one of the configured IdP certificates - never a certificate carried in the message - by a signature
 * that references the element that contains it; issuers are the IdP's; the audience is the SP entity id; the
 * Destination and bearer Recipient are the ACS URL; NotBefore/NotOnOrAfter hold on the injected clock with the
 * configured skew; InResponseTo names a request from {@link #begin} that is outstanding and not expired (each is
 * answered once); and the assertion ID was never accepted before. The request and assertion bookkeeping lives in
 * PostgreSQL ({@link AuthSchema}, migration V4), so it holds across nodes. Thread-safe.
 */
public final class SamlServiceProvider {
  /** The HTTP-POST binding, the one the assertion consumer service uses. */
  public static final String POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
  /** The HTTP-Redirect binding, the one {@link #begin} uses. */
  public static final String REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
  private static final String RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
  private static final int MAX_RELAY_STATE_BYTES = 80;

  private final SamlSettings settings;
  private final ResponseValidator validator;
  private final SamlState state;
  private final Clock clock;
  private final SecureRandom random;
  private final AtomicLong lastPruneSecond = new AtomicLong(Long.MIN_VALUE);

  private SamlServiceProvider(Builder b) {
    requireJavaSaml();
    this.settings = b.settings;
    this.validator = new ResponseValidator(b.settings);
    this.state = new SamlState(b.dataSource, b.schema);
    this.clock = b.clock;
    this.random = b.random;
  }

  private static void requireJavaSaml() {
    try {
      Class.forName("com.onelogin.saml2.util.Util", false, SamlServiceProvider.class.getClassLoader());
      Class.forName("org.apache.xml.security.Init", false, SamlServiceProvider.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      throw new SaasException("SAML needs com.onelogin:java-saml-core and org.apache.santuario:xmlsec, optional "
          + "dependencies of saas-auth: add both (see docs/auth-saml.md)", e);
    }
  }

  /**
   * A builder for a provider with {@code settings}, keeping its state through {@code dataSource}: connections of
   * the application role, granted by {@link AuthSchema#grantApp}.
   */
  public static Builder builder(SamlSettings settings, DataSource dataSource) {
    return new Builder(settings, dataSource);
  }

  /** The settings. */
  public SamlSettings settings() {
    return settings;
  }

  /**
   * This SP's metadata (an {@code md:EntityDescriptor}): entity id, the ACS URL with the HTTP-POST binding, whether
   * requests and assertions are signed, the request-signing certificate if any, and the requested NameID format.
   */
  public String metadataXml() {
    StringBuilder xml = new StringBuilder(1024);
    xml.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .append("<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"")
        .append(SamlXml.escape(settings.spEntityId())).append("\">\n")
        .append("  <md:SPSSODescriptor AuthnRequestsSigned=\"").append(settings.spSigningKey().isPresent())
        .append("\" WantAssertionsSigned=\"").append(settings.requireSignedAssertions())
        .append("\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n");
    X509Certificate certificate = settings.spCertificate().orElse(null);
    if (certificate != null) {
      xml.append("    <md:KeyDescriptor use=\"signing\">\n")
          .append("      <ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>")
          .append(base64(certificate)).append("</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n")
          .append("    </md:KeyDescriptor>\n");
    }
    settings.nameIdFormat().ifPresent(format ->
        xml.append("    <md:NameIDFormat>").append(SamlXml.escape(format)).append("</md:NameIDFormat>\n"));
    xml.append("    <md:AssertionConsumerService Binding=\"").append(POST_BINDING).append("\" Location=\"")
        .append(SamlXml.escape(settings.acsUrl().toString())).append("\" index=\"0\" isDefault=\"true\"/>\n")
        .append("  </md:SPSSODescriptor>\n")
        .append("</md:EntityDescriptor>\n");
    return xml.toString();
  }

  private static String base64(X509Certificate certificate) {
    try {
      return Base64.getEncoder().encodeToString(certificate.getEncoded());
    } catch (CertificateEncodingException e) {
      throw new IllegalStateException("the SP certificate cannot be encoded", e);
    }
  }

  /**
   * Starts a login: creates an AuthnRequest with a random ID, records the ID (as a hash) as outstanding for
   * {@link SamlSettings#requestLifetime()}, and returns the IdP URL to redirect the browser to (HTTP-Redirect
   * binding; signed with RSA-SHA256 when an SP signing key is configured). Prunes expired state at most once a
   * minute.
   *
   * @param relayState an opaque value the IdP posts back with the Response (at most 80 bytes), or {@code null};
   *     it is not integrity-protected: use it as a key to server-side state or a same-origin path you check
   * @throws IllegalArgumentException if {@code relayState} is longer than 80 bytes
   * @throws SaasException if the request cannot be recorded
   */
  public String begin(@Nullable String relayState) {
    if (relayState != null && relayState.getBytes(StandardCharsets.UTF_8).length > MAX_RELAY_STATE_BYTES) {
      throw new IllegalArgumentException("relayState must be at most " + MAX_RELAY_STATE_BYTES
          + " bytes but was " + relayState.getBytes(StandardCharsets.UTF_8).length);
    }
    Instant now = clock.instant();
    pruneIfDue(now);
    byte[] idBytes = new byte[20];
    random.nextBytes(idBytes);
    String id = "_" + HexFormat.of().formatHex(idBytes);
    StringBuilder xml = new StringBuilder(512);
    xml.append("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"")
        .append(" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"").append(id)
        .append("\" Version=\"2.0\" IssueInstant=\"")
        .append(DateTimeFormatter.ISO_INSTANT.format(now.truncatedTo(ChronoUnit.SECONDS)))
        .append("\" Destination=\"").append(SamlXml.escape(settings.idpSsoUrl().toString()))
        .append("\" ProtocolBinding=\"").append(POST_BINDING)
        .append("\" AssertionConsumerServiceURL=\"").append(SamlXml.escape(settings.acsUrl().toString()))
        .append("\"><saml:Issuer>").append(SamlXml.escape(settings.spEntityId())).append("</saml:Issuer>")
        .append("<samlp:NameIDPolicy AllowCreate=\"true\"");
    settings.nameIdFormat().ifPresent(f -> xml.append(" Format=\"").append(SamlXml.escape(f)).append('"'));
    xml.append("/></samlp:AuthnRequest>");
    state.addRequest(requestHash(id), now.plus(settings.requestLifetime()));

    StringBuilder query = new StringBuilder("SAMLRequest=").append(url(deflateBase64(xml.toString())));
    if (relayState != null) {
      query.append("&RelayState=").append(url(relayState));
    }
    PrivateKey key = settings.spSigningKey().orElse(null);
    if (key != null) {
      query.append("&SigAlg=").append(url(RSA_SHA256));
      try {
        Signature signer = Signature.getInstance("SHA256withRSA");
        signer.initSign(key);
        signer.update(query.toString().getBytes(StandardCharsets.US_ASCII));
        query.append("&Signature=").append(url(Base64.getEncoder().encodeToString(signer.sign())));
      } catch (GeneralSecurityException e) {
        throw new SaasException("signing the AuthnRequest failed: " + e.getClass().getSimpleName(), e);
      }
    }
    String sso = settings.idpSsoUrl().toString();
    return sso + (sso.contains("?") ? "&" : "?") + query;
  }

  private byte[] requestHash(String requestId) {
    return SamlState.hash("saml-request", settings.spEntityId(), requestId);
  }

  private static String deflateBase64(String xml) {
    Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
    try {
      deflater.setInput(xml.getBytes(StandardCharsets.UTF_8));
      deflater.finish();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buffer = new byte[1024];
      while (!deflater.finished()) {
        out.write(buffer, 0, deflater.deflate(buffer));
      }
      return Base64.getEncoder().encodeToString(out.toByteArray());
    } finally {
      deflater.end();
    }
  }

  private static String url(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /**
   * Completes a login from the {@code SAMLResponse} form field posted to the ACS URL: checks everything listed in
   * the class description, then (atomically, in PostgreSQL) records the assertion ID against replay and consumes
   * the request it answers. Of two concurrent calls with the same Response, at most one returns.
   *
   * @param samlResponseBase64 the Base64 Response, as posted ({@code null}, a missing field, is refused as {@code
   *     MALFORMED})
   * @return the login, read from the signed assertion
   * @throws SamlException if the Response is refused ({@link SamlException#reason()} says why)
   * @throws SaasException if the state cannot be reached
   */
  public SamlLogin complete(@Nullable String samlResponseBase64) {
    if (samlResponseBase64 == null) {
      // the form field was missing: hostile or broken input, refused like an empty one
      throw new SamlException(Reason.MALFORMED, "no SAMLResponse");
    }
    Instant now = clock.instant();
    ResponseValidator.Checked checked = validator.check(samlResponseBase64, now);
    SamlLogin login = checked.login();
    byte[] assertionHash = SamlState.hash("saml-assertion", settings.idpEntityId(), settings.spEntityId(),
        login.assertionId());
    switch (state.accept(assertionHash, checked.keepUntil(), requestHash(login.inResponseTo()), now)) {
      case ACCEPTED:
        return login;
      case REPLAYED:
        throw new SamlException(Reason.REPLAYED, "this assertion was already accepted");
      default:
        throw new SamlException(Reason.UNKNOWN_REQUEST,
            "InResponseTo names no outstanding request of this SP (unknown, expired or already answered)");
    }
  }

  /**
   * Deletes expired request and assertion rows (of every provider sharing the schema); {@link #begin} calls it at
   * most once a minute. Returns how many rows were deleted.
   */
  public int pruneExpired() {
    Instant now = clock.instant();
    lastPruneSecond.set(now.getEpochSecond());
    return state.prune(now);
  }

  private void pruneIfDue(Instant now) {
    long last = lastPruneSecond.get();
    if (now.getEpochSecond() - 60 > last && lastPruneSecond.compareAndSet(last, now.getEpochSecond())) {
      state.prune(now);
    }
  }

  /** Builds a {@link SamlServiceProvider}. Not thread-safe. */
  public static final class Builder {
    private final SamlSettings settings;
    private final DataSource dataSource;
    private AuthSchema schema = AuthSchema.defaults();
    private Clock clock = Clock.systemUTC();
    private SecureRandom random = new SecureRandom();

    private Builder(SamlSettings settings, DataSource dataSource) {
      this.settings = Objects.requireNonNull(settings, "settings");
      this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    }

    /** The schema holding the state; default {@link AuthSchema#defaults()}. */
    public Builder schema(AuthSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The clock every time check and expiry uses; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The source of request IDs; default a new {@link SecureRandom}. */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * The provider.
     *
     * @throws SaasException if java-saml-core or xmlsec is not on the class path
     */
    public SamlServiceProvider build() {
      return new SamlServiceProvider(this);
    }
  }
}
