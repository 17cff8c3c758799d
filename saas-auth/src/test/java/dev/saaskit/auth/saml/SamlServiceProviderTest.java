package dev.saaskit.auth.saml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.AuthSchema;
import dev.saaskit.auth.saml.SamlException.Reason;
import dev.saaskit.testing.FakeSamlIdp;
import dev.saaskit.testing.FakeSamlIdp.AuthnRequestInfo;
import dev.saaskit.testing.FakeSamlIdp.Signing;
import dev.saaskit.testing.FakeSamlIdp.Wrapping;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * The SAML service provider against {@link FakeSamlIdp} (which signs with the JDK's XML signature API, sharing no
 * code with the SP) and a real PostgreSQL for the request and replay state, as the application role.
 */
@ExtendWith(PostgresExtension.class)
class SamlServiceProviderTest {
  static final String SP = "https://app.example.com/saml/acme";
  static final URI ACS = URI.create("https://app.example.com/saml/acme/acs");
  static final MutableClock clock = MutableClock.at(Instant.parse("2026-12-04T10:00:00Z"));
  static final FakeSamlIdp idp = FakeSamlIdp.create("https://idp.example.org", clock);
  static final FakeSamlIdp attacker = FakeSamlIdp.create("https://idp.example.org", clock);

  static DataSource app;
  static DataSource owner;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    owner = db.ownerDataSource();
    app = db.appDataSource();
    AuthSchema.defaults().migrate(owner);
    try (Connection c = owner.getConnection()) {
      AuthSchema.defaults().grantApp(c, db.appRole());
    }
  }

  static SamlSettings settings() {
    return SamlSettings.builder()
        .spEntityId(SP)
        .acsUrl(ACS)
        .idpEntityId(idp.entityId())
        .idpSsoUrl(URI.create(idp.ssoUrl()))
        .idpCertificatePem(idp.certificatePem())
        .build();
  }

  static SamlServiceProvider sp(SamlSettings settings) {
    return SamlServiceProvider.builder(settings, app).clock(clock).build();
  }

  static SamlServiceProvider sp() {
    return sp(settings());
  }

  static void refused(SamlServiceProvider sp, @org.jspecify.annotations.Nullable String response, Reason reason) {
    assertThatThrownBy(() -> sp.complete(response))
        .isInstanceOfSatisfying(SamlException.class, e -> assertThat(e.reason()).isEqualTo(reason))
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("<").doesNotContain("Assertion ID="));
  }

  @Test
  void aSignedResponseToOurRequestLogsTheUserInByIdpAndNameId() {
    DataSource appDataSource = app;
    // snippet: saml-login
    SamlSettings settings = SamlSettings.builder()
        .spEntityId("https://app.example.com/saml/acme")          // this SP, per tenant connection
        .acsUrl(URI.create("https://app.example.com/saml/acme/acs"))
        .idpEntityId(idp.entityId())                                // from the IdP's metadata
        .idpSsoUrl(URI.create(idp.ssoUrl()))
        .idpCertificatePem(idp.certificatePem())
        .build();
    SamlServiceProvider sp = SamlServiceProvider.builder(settings, appDataSource).clock(clock).build();

    String redirect = sp.begin("/dashboard");                      // 302 the browser here
    // ... the IdP authenticates the user and posts SAMLResponse to the ACS URL ...
    String samlResponse = idp.respondTo(idp.readRedirect(redirect))
        .nameId("00u1abcd").attribute("email", "ann@acme.example").build();
    SamlLogin login = sp.complete(samlResponse);
    String userKey = login.userKey();                              // (IdP entity id, NameID), never the email
    // end snippet
    assertThat(redirect).startsWith(idp.ssoUrl() + "?SAMLRequest=").contains("&RelayState=%2Fdashboard");
    assertThat(login.idpEntityId()).isEqualTo(idp.entityId());
    assertThat(login.nameId()).isEqualTo("00u1abcd");
    assertThat(login.nameIdFormat()).contains("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
    assertThat(login.email()).contains("ann@acme.example");
    assertThat(login.attributes()).containsEntry("email", List.of("ann@acme.example"));
    assertThat(login.sessionIndex()).isPresent();
    assertThat(login.notOnOrAfter()).isAfter(clock.instant());
    assertThat(userKey).isEqualTo(idp.entityId() + "\0" + "00u1abcd");
    assertThat(login.toString()).doesNotContain("00u1abcd").doesNotContain("ann@");
  }

  @Test
  void aTenantsStoredSamlConnectionConfiguresItsServiceProvider() {
    dev.saaskit.auth.sso.SsoConnections connections = dev.saaskit.auth.sso.SsoConnections.builder(app).clock(clock)
        .build();
    dev.saaskit.core.TenantId tenant = dev.saaskit.core.TenantId.of("saml-tenant");
    dev.saaskit.auth.sso.SsoConnection connection = connections.create(tenant,
        dev.saaskit.auth.sso.SsoConnectionSpec.saml("Acme Okta", new dev.saaskit.auth.sso.SamlConnectionSettings(
            idp.entityId(), idp.ssoUrl(), idp.certificatePem(), SP, ACS.toString())).build());
    SamlServiceProvider sp = sp(SamlSettings.forConnection(connections.get(tenant, connection.id())).build());
    String response = idp.respondTo(idp.readRedirect(sp.begin(null))).nameId("00u-ann").build();
    assertThat(sp.complete(response).nameId()).isEqualTo("00u-ann");
    dev.saaskit.auth.sso.SsoConnection oidc = connections.create(tenant, dev.saaskit.auth.sso.SsoConnectionSpec.oidc(
        "Other", dev.saaskit.auth.sso.OidcSettings.of("https://idp.example.net", "client", "secret")).build());
    assertThatThrownBy(() -> SamlSettings.forConnection(oidc)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theAuthnRequestNamesThisSpItsAcsAndTheIdpAndIsStoredOnlyAsAHash() throws SQLException {
    SamlServiceProvider sp = sp(settings().toBuilder()
        .nameIdFormat("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent").build());
    AuthnRequestInfo request = idp.readRedirect(sp.begin(null));
    assertThat(request.spEntityId()).isEqualTo(SP);
    assertThat(request.assertionConsumerServiceUrl()).isEqualTo(ACS.toString());
    assertThat(request.destination()).isEqualTo(idp.ssoUrl());
    assertThat(request.relayState()).isNull();
    assertThat(request.signed()).isFalse();
    assertThat(request.id()).matches("_[0-9a-f]{40}");
    try (Connection c = owner.getConnection(); Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("SELECT count(*) FROM saaskit_auth.saml_requests"
             + " WHERE position(convert_to('" + request.id() + "', 'UTF8') in request_hash) > 0")) {
      rs.next();
      assertThat(rs.getInt(1)).isZero();
    }
    assertThatThrownBy(() -> sp.begin("x".repeat(81))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("relayState must be at most 80 bytes but was 81");
  }

  @Test
  void aSigningKeySignsTheRedirectWithRsaSha256() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    KeyPair keys = generator.generateKeyPair();
    FakeSamlIdp spKeyHolder = FakeSamlIdp.create("https://sp-key.test", clock);
    // a certificate for the SP: reuse the fake's certificate machinery through another fake, then pair its key
    SamlSettings settings = settings().toBuilder().spSigningKey(keys.getPrivate(), spKeyHolder.certificatePem())
        .build();
    String redirect = sp(settings).begin("state-1");
    assertThat(idp.readRedirect(redirect).signed()).isTrue();
    String query = URI.create(redirect).getRawQuery();
    int at = query.indexOf("&Signature=");
    byte[] signature = Base64.getDecoder().decode(URLDecoder.decode(query.substring(at + 11), StandardCharsets.UTF_8));
    Signature verifier = Signature.getInstance("SHA256withRSA");
    verifier.initVerify(keys.getPublic());
    verifier.update(query.substring(0, at).getBytes(StandardCharsets.US_ASCII));
    assertThat(verifier.verify(signature)).isTrue();
    assertThat(query.substring(0, at)).contains("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256");
    assertThat(sp(settings).metadataXml()).contains("AuthnRequestsSigned=\"true\"").contains("<md:KeyDescriptor use=\"signing\">");
  }

  @Test
  void theSameResponseTwiceIsAReplay() {
    SamlServiceProvider sp = sp();
    String response = idp.respondTo(idp.readRedirect(sp.begin(null))).build();
    assertThat(sp.complete(response).nameId()).isEqualTo("user-1");
    refused(sp, response, Reason.REPLAYED);
    // another node (another provider instance on the same database) refuses it too
    refused(sp(), response, Reason.REPLAYED);
  }

  @Test
  void aRequestIsAnsweredOnceEvenByTwoDistinctAssertions() {
    SamlServiceProvider sp = sp();
    AuthnRequestInfo request = idp.readRedirect(sp.begin(null));
    String first = idp.respondTo(request).build();
    String second = idp.respondTo(request).build(); // new assertion id, same InResponseTo
    sp.complete(first);
    refused(sp, second, Reason.UNKNOWN_REQUEST);
  }

  @Test
  void theSameResponseCompletedFromManyThreadsAtOnceIsAcceptedExactlyOnce() throws Exception {
    SamlServiceProvider sp = sp();
    String response = idp.respondTo(idp.readRedirect(sp.begin(null))).build();
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Object>> results = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        results.add(pool.submit(() -> {
          start.await();
          try {
            return sp.complete(response);
          } catch (SamlException e) {
            return e.reason();
          }
        }));
      }
      start.countDown();
      List<Object> outcomes = new ArrayList<>();
      for (Future<Object> f : results) {
        outcomes.add(f.get(60, TimeUnit.SECONDS));
      }
      assertThat(outcomes).filteredOn(o -> o instanceof SamlLogin).hasSize(1);
      assertThat(outcomes).filteredOn(o -> o == Reason.REPLAYED).hasSize(threads - 1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void anUnsignedResponseIsRefused() {
    SamlServiceProvider sp = sp();
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).signing(Signing.NONE).build(), Reason.UNSIGNED);
  }

  @Test
  void aSignedResponseAroundAnUnsignedAssertionIsRefusedUnlessSignedAssertionsAreNotRequired() {
    SamlServiceProvider strict = sp();
    refused(strict, idp.respondTo(idp.readRedirect(strict.begin(null))).signing(Signing.RESPONSE).build(),
        Reason.UNSIGNED);
    SamlServiceProvider lenient = sp(settings().toBuilder().requireSignedAssertions(false).build());
    String response = idp.respondTo(idp.readRedirect(lenient.begin(null))).signing(Signing.RESPONSE)
        .nameId("signed-by-response").build();
    assertThat(lenient.complete(response).nameId()).isEqualTo("signed-by-response");
    // still one signature required
    refused(lenient, idp.respondTo(idp.readRedirect(lenient.begin(null))).signing(Signing.NONE).build(),
        Reason.UNSIGNED);
  }

  @Test
  void bothSignedIsAccepted() {
    SamlServiceProvider sp = sp();
    String response = idp.respondTo(idp.readRedirect(sp.begin(null))).signing(Signing.BOTH).nameId("both").build();
    assertThat(sp.complete(response).nameId()).isEqualTo("both");
  }

  @ParameterizedTest
  @EnumSource(Wrapping.class)
  void signatureWrappingWithASecondUnsignedAssertionIsRefused(Wrapping where) {
    SamlServiceProvider sp = sp();
    String response = idp.respondTo(idp.readRedirect(sp.begin(null))).nameId("victim-user")
        .wrap(where, "admin@victim.example").build();
    refused(sp, response, Reason.SIGNATURE_WRAPPING);
  }

  @Test
  void signatureWrappingAlsoRefusedWhenOnlyTheResponseIsSigned() {
    SamlServiceProvider lenient = sp(settings().toBuilder().requireSignedAssertions(false).build());
    String response = idp.respondTo(idp.readRedirect(lenient.begin(null))).signing(Signing.RESPONSE)
        .wrap(Wrapping.AFTER, "admin@victim.example").build();
    refused(lenient, response, Reason.SIGNATURE_WRAPPING);
  }

  @Test
  void aResponseSignedByAnotherKeyIsRefusedEvenWithItsCertificateInKeyInfo() {
    SamlServiceProvider sp = sp();
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).signedBy(attacker).build(), Reason.BAD_SIGNATURE);
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).signedBy(attacker).signing(Signing.BOTH).build(),
        Reason.BAD_SIGNATURE);
  }

  @Test
  void aSignedAssertionEditedAfterSigningIsRefused() {
    SamlServiceProvider sp = sp();
    String signed = idp.respondTo(idp.readRedirect(sp.begin(null))).nameId("user-1").build();
    String xml = new String(Base64.getDecoder().decode(signed), StandardCharsets.UTF_8);
    assertThat(xml).contains(">user-1</saml:NameID>");
    String edited = Base64.getEncoder().encodeToString(
        xml.replace(">user-1</saml:NameID>", ">admin</saml:NameID>").getBytes(StandardCharsets.UTF_8));
    refused(sp, edited, Reason.BAD_SIGNATURE);
    // and the untouched one still goes through: the refusal was the edit
    assertThat(sp.complete(signed).nameId()).isEqualTo("user-1");
  }

  @Test
  void duringARotationEitherConfiguredCertificateVerifies() {
    SamlServiceProvider sp = sp(settings().toBuilder().idpCertificatePem(attacker.certificatePem()).build());
    String response = idp.respondTo(idp.readRedirect(sp.begin(null))).signedBy(attacker).nameId("rotated").build();
    assertThat(sp.complete(response).nameId()).isEqualTo("rotated");
    assertThatThrownBy(() -> settings().toBuilder().idpCertificatePem(attacker.certificatePem())
        .idpCertificatePem(idp.certificatePem()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("at most 2 IdP certificates may be configured but this would be 3");
  }

  @Test
  void anExpiredAssertionIsRefused() {
    SamlServiceProvider sp = sp();
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).expired().build(), Reason.EXPIRED);
  }

  @Test
  void expiryAllowsTheClockSkewAndNoMore() {
    SamlServiceProvider sp = sp();
    AuthnRequestInfo request = idp.readRedirect(sp.begin(null));
    // valid for 5 minutes from now: at +5m30s (inside the 60 s skew) accepted, at +6m01s refused
    String late = idp.respondTo(request).build();
    String tooLate = idp.respondTo(idp.readRedirect(sp.begin(null))).build();
    Instant start = clock.instant();
    try {
      clock.set(start.plusSeconds(330));
      assertThat(sp.complete(late).nameId()).isEqualTo("user-1");
      clock.set(start.plusSeconds(361));
      refused(sp, tooLate, Reason.EXPIRED);
    } finally {
      clock.set(start);
    }
  }

  @Test
  void anAssertionFromTheFutureIsNotYetValid() {
    SamlServiceProvider sp = sp();
    // NotBefore is issue time - 30 s; issued 3 minutes ahead it starts 150 s from now, beyond the 60 s skew
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).shiftTime(Duration.ofMinutes(3)).build(),
        Reason.NOT_YET_VALID);
  }

  @Test
  void aWrongAudienceIsRefused() {
    SamlServiceProvider sp = sp();
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).audience("https://other-sp.example").build(),
        Reason.WRONG_AUDIENCE);
  }

  @Test
  void aWrongRecipientOrDestinationIsRefused() {
    SamlServiceProvider sp = sp();
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).recipient("https://evil.example/acs").build(),
        Reason.WRONG_RECIPIENT);
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).destination("https://evil.example/acs").build(),
        Reason.WRONG_RECIPIENT);
  }

  @Test
  void aWrongIssuerIsRefused() {
    SamlServiceProvider sp = sp();
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).issuer("https://other-idp.example").build(),
        Reason.WRONG_ISSUER);
  }

  @Test
  void aMissingUnknownOrExpiredInResponseToIsRefused() {
    SamlServiceProvider sp = sp();
    refused(sp, idp.response(null, ACS.toString(), SP).build(), Reason.UNKNOWN_REQUEST);
    refused(sp, idp.response("_" + "0".repeat(40), ACS.toString(), SP).build(), Reason.UNKNOWN_REQUEST);
    // a request of another SP (same database) cannot be answered here
    SamlServiceProvider other = sp(settings().toBuilder().spEntityId("https://app.example.com/saml/globex").build());
    refused(sp, idp.response(idp.readRedirect(other.begin(null)).id(), ACS.toString(), SP).build(),
        Reason.UNKNOWN_REQUEST);
    // a request older than its lifetime (10 minutes by default)
    Instant start = clock.instant();
    AuthnRequestInfo old = idp.readRedirect(sp.begin(null));
    try {
      clock.set(start.plus(Duration.ofMinutes(11)));
      refused(sp, idp.respondTo(old).build(), Reason.UNKNOWN_REQUEST);
    } finally {
      clock.set(start);
    }
  }

  @Test
  void aCommentInsideTheNameIdIsRefusedRatherThanTruncated() {
    SamlServiceProvider sp = sp();
    // signed as user@evil.com.example.com; after signing it reads user@evil.com<!---->.example.com
    String response = idp.respondTo(idp.readRedirect(sp.begin(null))).nameId("user@evil.com.example.com")
        .commentInNameId("user@evil.com".length()).build();
    assertThat(new String(Base64.getDecoder().decode(response), StandardCharsets.UTF_8))
        .contains("user@evil.com<!---->.example.com");
    refused(sp, response, Reason.MALFORMED);
    assertThatThrownBy(() -> sp.complete(response)).hasMessageNotContaining("evil.com");
  }

  @Test
  void aNameIdWithAControlCharacterInsideIsRefused() {
    SamlServiceProvider sp = sp();
    // XML keeps a line break or a tab inside element text: signed, it would become the user's key as it is
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).nameId("ann\nroot").build(), Reason.MALFORMED);
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).nameId("ann\troot").build(), Reason.MALFORMED);
    assertThat(sp.complete(idp.respondTo(idp.readRedirect(sp.begin(null))).nameId("ann root").build()).nameId())
        .isEqualTo("ann root");
  }

  @Test
  void aMissingSamlResponseIsRefusedAsMalformed() {
    SamlServiceProvider sp = sp();
    refused(sp, null, Reason.MALFORMED);
    refused(sp, "", Reason.MALFORMED);
  }

  @Test
  void aNameIdLongerThanAMembershipSubjectIsRefusedBeforeTheAssertionIsSpent() {
    SamlServiceProvider sp = sp();
    String longest = "n".repeat(255);
    String tooLong = "n".repeat(256);
    var request = idp.readRedirect(sp.begin(null));
    // refused where the assertion is validated, as MALFORMED, not later by the user store
    String refusedResponse = idp.respondTo(request).nameId(tooLong).build();
    refused(sp, refusedResponse, Reason.MALFORMED);
    assertThatThrownBy(() -> sp.complete(refusedResponse)).hasMessageContaining("255")
        .hasMessageNotContaining(tooLong);
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null))).nameId("n".repeat(300)).build(), Reason.MALFORMED);
    // the outstanding request was not spent by the refusal: a valid answer to it still logs in
    SamlLogin login = sp.complete(idp.respondTo(request).nameId(longest).build());
    assertThat(login.nameId()).hasSize(255);
    // and what is accepted can be provisioned
    dev.saaskit.auth.Memberships memberships = dev.saaskit.auth.Memberships.builder(app).clock(clock).build();
    dev.saaskit.core.TenantId tenant = dev.saaskit.core.TenantId.of("saml-long-nameid");
    assertThat(memberships.add(tenant, login.idpEntityId(), login.nameId(), "member", dev.saaskit.auth.Actor.system())
        .role()).isEqualTo("member");
  }

  @Test
  void anErrorStatusIsRefused() {
    SamlServiceProvider sp = sp();
    refused(sp, idp.respondTo(idp.readRedirect(sp.begin(null)))
        .statusCode("urn:oasis:names:tc:SAML:2.0:status:Responder").build(), Reason.IDP_ERROR_STATUS);
  }

  @Test
  void garbageAndDoctypesAreMalformed() {
    SamlServiceProvider sp = sp();
    refused(sp, "not base64 !!", Reason.MALFORMED);
    refused(sp, Base64.getEncoder().encodeToString("<a".getBytes(StandardCharsets.UTF_8)), Reason.MALFORMED);
    String xxe = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        + "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">&x;</samlp:Response>";
    refused(sp, Base64.getEncoder().encodeToString(xxe.getBytes(StandardCharsets.UTF_8)), Reason.MALFORMED);
    refused(sp, "A".repeat(600_000), Reason.MALFORMED);
  }

  @Test
  void metadataIsWellFormedAndNamesTheEntityIdAndAcs() throws Exception {
    String xml = sp().metadataXml();
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    Document doc = f.newDocumentBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    Element root = doc.getDocumentElement();
    assertThat(root.getLocalName()).isEqualTo("EntityDescriptor");
    assertThat(root.getAttribute("entityID")).isEqualTo(SP);
    Element acs = (Element) doc.getElementsByTagNameNS("urn:oasis:names:tc:SAML:2.0:metadata",
        "AssertionConsumerService").item(0);
    assertThat(acs.getAttribute("Location")).isEqualTo(ACS.toString());
    assertThat(acs.getAttribute("Binding")).isEqualTo(SamlServiceProvider.POST_BINDING);
    Element descriptor = (Element) doc.getElementsByTagNameNS("urn:oasis:names:tc:SAML:2.0:metadata",
        "SPSSODescriptor").item(0);
    assertThat(descriptor.getAttribute("WantAssertionsSigned")).isEqualTo("true");
    assertThat(descriptor.getAttribute("AuthnRequestsSigned")).isEqualTo("false");
    // and valid against the SAML 2.0 metadata schema java-saml ships
    assertThat(com.onelogin.saml2.util.Util.validateXML(doc,
        com.onelogin.saml2.util.SchemaFactory.SAML_SCHEMA_METADATA_2_0)).isTrue();
  }

  @Test
  void expiredStateIsPrunedAndTheAppRoleCannotRewriteOrTruncateIt() throws SQLException {
    SamlServiceProvider sp = sp();
    sp.complete(idp.respondTo(idp.readRedirect(sp.begin(null))).build());
    sp.begin(null);
    Instant start = clock.instant();
    try {
      clock.set(start.plus(Duration.ofHours(2)));
      assertThat(sp.pruneExpired()).isGreaterThanOrEqualTo(2);
      assertThat(count("saml_requests") + count("saml_assertions")).isZero();
    } finally {
      clock.set(start);
    }
    try (Connection c = app.getConnection(); Statement st = c.createStatement()) {
      assertThatThrownBy(() -> st.execute("UPDATE saaskit_auth.saml_assertions SET expires_at = now()"))
          .hasMessageContaining("permission denied");
      assertThatThrownBy(() -> st.execute("TRUNCATE saaskit_auth.saml_assertions"))
          .hasMessageContaining("permission denied");
    }
  }

  static int count(String table) throws SQLException {
    try (Connection c = owner.getConnection(); Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("SELECT count(*) FROM saaskit_auth." + table)) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void settingsFailFastNamingTheBadValue() {
    assertThatThrownBy(() -> SamlSettings.builder().clockSkew(Duration.ofMinutes(6)))
        .hasMessage("clockSkew must be between PT0S and PT5M but was PT6M");
    assertThatThrownBy(() -> SamlSettings.builder().acsUrl(URI.create("/acs")))
        .hasMessageContaining("acsUrl must be an absolute http(s) URL");
    assertThatThrownBy(() -> SamlSettings.builder().idpCertificatePem("not a certificate"))
        .hasMessageContaining("idpCertificatePem must be an X.509 certificate");
    assertThatThrownBy(() -> settings().toBuilder().clearIdpCertificates().build())
        .hasMessageContaining("idpCertificatePem is required");
    assertThat(settings().clockSkew()).isEqualTo(Duration.ofSeconds(60));
    assertThat(settings().requireSignedAssertions()).isTrue();
    assertThat(settings().requestLifetime()).isEqualTo(Duration.ofMinutes(10));
  }
}
