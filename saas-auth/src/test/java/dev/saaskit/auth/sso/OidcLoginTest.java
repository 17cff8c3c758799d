package dev.saaskit.auth.sso;

import static dev.saaskit.auth.sso.SsoFixture.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.Principal;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.FakeOidcProvider;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** OIDC logins against the fake IdP of saas-testing: the happy path and every attack it can stage. */
@ExtendWith(PostgresExtension.class)
class OidcLoginTest {
  static final URI REDIRECT = URI.create("http://localhost:8080/sso/callback");
  static TestDatabase db;
  static DataSource app;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-01-05T10:00:00Z"));
  static FakeOidcProvider idp;
  static SsoConnections connections;
  static OidcLogin oidc;
  static TenantId tenant;
  static SsoConnection connection;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    SsoFixture.migrate(db);
    app = db.appDataSource();
    idp = FakeOidcProvider.builder().clock(clock)
        .user(new FakeOidcProvider.User("00u-jane", "jane@acme-oidc.example", true, "Jane Doe")).start();
    connections = SsoConnections.builder(app).clock(clock).build();
    oidc = OidcLogin.builder(connections).allowPrivateAddresses(true).build();
    tenant = TenantId.of("acme-" + UUID.randomUUID());
    connection = connections.create(tenant, SsoConnectionSpec.oidc("Acme",
        OidcSettings.of(idp.issuer(), idp.clientId(), idp.clientSecret())).defaultRole("member").build());
    connections.confirmDomainByAdmin(tenant, connection.id(), "acme-oidc.example");
    connection = connections.get(tenant, connection.id());
  }

  @AfterAll
  static void tearDown() {
    idp.close();
  }

  @BeforeEach
  void resetIdp() {
    idp.reset().user(new FakeOidcProvider.User("00u-jane", "jane@acme-oidc.example", true, "Jane Doe"));
  }

  @Test
  void byDefaultAnIdpOnThisServersOwnNetworkIsNeverCalled() {
    // a tenant administrator typed an issuer on loopback: a local service the tenant must not reach through us
    OidcLogin strict = OidcLogin.builder(connections).build();
    assertThatThrownBy(() -> strict.begin(connection, REDIRECT)).isInstanceOfSatisfying(SsoException.class, e -> {
      assertThat(e.reason()).isEqualTo(SsoException.Reason.DISCOVERY_FAILED);
      assertThat(e.getMessage()).contains("loopback").contains("allowPrivateAddresses");
    });
  }

  @Test
  void happyPathLogsTheUserInByIssuerAndSubjectWithTheConnectionsRole() throws SQLException {
    int pkce = idp.pkceVerified();
    SsoConnection routed = connections.connectionForEmail("jane@ACME-OIDC.example").orElseThrow();
    OidcLogin.Start start = oidc.begin(routed, REDIRECT);
    Map<String, String> request = query(start.authorizationUri());
    assertThat(start.authorizationUri().toString()).startsWith(idp.issuer() + "/authorize?");
    assertThat(request).containsEntry("response_type", "code").containsEntry("client_id", idp.clientId())
        .containsEntry("code_challenge_method", "S256").containsEntry("redirect_uri", REDIRECT.toString())
        .containsEntry("state", start.state()).containsKeys("nonce", "code_challenge");
    assertThat(request.get("scope")).contains("openid");
    assertThat(start.toString()).doesNotContain(start.state());
    assertThat(count(app, tenant.value(), "SELECT count(*) FROM saaskit_auth.sso_login_states")).isPositive();

    URI callback = idp.authorize(start.authorizationUri());
    SsoLogin login = oidc.complete(callback, start.state());
    assertThat(login.issuer()).isEqualTo(idp.issuer());
    assertThat(login.subject()).isEqualTo("00u-jane");
    assertThat(login.tenant()).isEqualTo(tenant);
    assertThat(login.connection().id()).isEqualTo(connection.id());
    assertThat(login.email()).contains("jane@acme-oidc.example");
    assertThat(login.emailVerified()).isTrue();
    assertThat(login.name()).contains("Jane Doe");
    assertThat(login.role()).isEqualTo("member");
    assertThat(login.idTokenExpiresAt()).isAfter(clock.instant());
    assertThat(login.claims()).containsEntry("sub", "00u-jane");
    // the PKCE verifier went to the token endpoint and matched the challenge
    assertThat(idp.pkceVerified()).isEqualTo(pkce + 1);
    assertThat(login.toString()).doesNotContain(idp.clientSecret());

    Principal p = SsoProvisioner.defaultRole().provision(login);
    assertThat(p.userKey()).isEqualTo(Principal.userKey(idp.issuer(), "00u-jane"));
    assertThat(p.tenant()).contains(tenant);
    assertThat(p.roles()).containsExactly("member");
    assertThat(p.method()).isEqualTo(Principal.Method.SSO);
    assertThat(p.credentialId()).contains(connection.id().toString());
  }

  @Test
  void aStateIsUsedOnce() {
    OidcLogin.Start start = oidc.begin(connection, REDIRECT);
    URI callback = idp.authorize(start.authorizationUri());
    oidc.complete(callback);
    assertRefused(() -> oidc.complete(callback), SsoException.Reason.UNKNOWN_STATE);
  }

  @Test
  void theSameCallbackCompletedTwiceAtOnceLogsInOnce() throws Exception {
    for (int round = 0; round < 3; round++) {
      URI callback = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
      java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
      try {
        java.util.List<java.util.concurrent.Future<SsoLogin>> results = new java.util.ArrayList<>();
        for (int i = 0; i < 2; i++) {
          results.add(pool.submit(() -> {
            go.await();
            return oidc.complete(callback);
          }));
        }
        go.countDown();
        int ok = 0;
        for (java.util.concurrent.Future<SsoLogin> f : results) {
          try {
            f.get(1, java.util.concurrent.TimeUnit.MINUTES);
            ok++;
          } catch (java.util.concurrent.ExecutionException e) {
            assertThat(e.getCause()).isInstanceOfSatisfying(SsoException.class,
                x -> assertThat(x.reason()).isEqualTo(SsoException.Reason.UNKNOWN_STATE));
          }
        }
        assertThat(ok).isEqualTo(1);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void theMembershipsProvisionerAddsTheUserOnceAndLaterLoginsGetTheCurrentMembership() {
    dev.saaskit.auth.Memberships memberships = dev.saaskit.auth.Memberships.builder(app).clock(clock).build();
    OidcLogin jit = OidcLogin.builder(connections).allowPrivateAddresses(true).provisioner(SsoProvisioner.memberships(memberships)).build();
    Principal first = jit.signIn(idp.authorize(jit.begin(connection, REDIRECT).authorizationUri()));
    assertThat(first.roles()).containsExactly("member");
    assertThat(first.permissionVersion()).isPresent();
    assertThat(memberships.find(tenant, idp.issuer(), "00u-jane")).isPresent();
    // an admin promotes jane: her next login carries the new role and version
    memberships.add(tenant, "https://admin.example", "boss", "owner", dev.saaskit.auth.Actor.system());
    memberships.changeRole(tenant, idp.issuer(), "00u-jane", "admin",
        dev.saaskit.auth.Actor.user("https://admin.example", "boss"));
    Principal second = jit.signIn(idp.authorize(jit.begin(connection, REDIRECT).authorizationUri()));
    assertThat(second.roles()).containsExactly("admin");
    assertThat(second.permissionVersion().getAsLong()).isGreaterThan(first.permissionVersion().getAsLong());
    assertThat(memberships.list(tenant)).hasSize(2);
  }

  @Test
  void signInRunsTheProvisioner() {
    AtomicInteger calls = new AtomicInteger();
    OidcLogin custom = OidcLogin.builder(connections).allowPrivateAddresses(true).provisioner(login -> {
      calls.incrementAndGet();
      return Principal.builder(login.issuer(), login.subject()).tenant(login.tenant()).roles(Set.of("custom"))
          .method(Principal.Method.SSO).build();
    }).build();
    Principal p = custom.signIn(idp.authorize(custom.begin(connection, REDIRECT).authorizationUri()));
    assertThat(p.roles()).containsExactly("custom");
    assertThat(calls).hasValue(1);
  }

  @Test
  void theStateOfAnotherLoginIsRefused() {
    OidcLogin.Start first = oidc.begin(connection, REDIRECT);
    OidcLogin.Start second = oidc.begin(connection, REDIRECT);
    URI callback = idp.authorize(second.authorizationUri());
    // the browser's session holds the first login's state: the second's callback does not match it
    assertRefused(() -> oidc.complete(callback, first.state()), SsoException.Reason.UNKNOWN_STATE);
    // an attacker swaps in the first login's state: the code was bound to the second login's PKCE challenge
    URI swapped = replaceParam(callback, "state", first.state());
    assertRefused(() -> oidc.complete(swapped), SsoException.Reason.TOKEN_REQUEST_FAILED);
    assertThat(idp.tokenErrors()).last().isEqualTo("invalid_grant: PKCE verifier missing or wrong");
  }

  @Test
  void alteredForeignAndExpiredStatesAreRefused() {
    OidcLogin.Start start = oidc.begin(connection, REDIRECT);
    URI callback = idp.authorize(start.authorizationUri());
    String state = start.state();
    String otherTenant = java.util.Base64.getUrlEncoder().withoutPadding()
        .encodeToString("other-tenant".getBytes(StandardCharsets.UTF_8));
    assertRefused(() -> oidc.complete(replaceParam(callback, "state", otherTenant + state.substring(
        state.indexOf('.')))), SsoException.Reason.UNKNOWN_STATE);
    assertRefused(() -> oidc.complete(replaceParam(callback, "state", state + "x")),
        SsoException.Reason.UNKNOWN_STATE);
    assertRefused(() -> oidc.complete(replaceParam(callback, "state", "no-dot")),
        SsoException.Reason.UNKNOWN_STATE);
    assertRefused(() -> oidc.complete(URI.create(REDIRECT + "?code=x")), SsoException.Reason.MALFORMED_CALLBACK);
    assertRefused(() -> oidc.complete(URI.create(callback + "&state=" + state)),
        SsoException.Reason.MALFORMED_CALLBACK);
    // the real one still works after those attempts
    assertThat(oidc.complete(callback).subject()).isEqualTo("00u-jane");

    OidcLogin.Start late = oidc.begin(connection, REDIRECT);
    URI lateCallback = idp.authorize(late.authorizationUri());
    clock.advance(Duration.ofMinutes(11));
    assertRefused(() -> oidc.complete(lateCallback), SsoException.Reason.UNKNOWN_STATE);
  }

  @Test
  void aCallbackMapWithNullsIsRefusedAsMalformedNotWithANullPointerException() {
    assertRefused(() -> oidc.complete((java.util.Map<String, String>) null), SsoException.Reason.MALFORMED_CALLBACK);
    java.util.Map<String, String> nullState = new java.util.HashMap<>();
    nullState.put("state", null);
    nullState.put("code", "x");
    assertRefused(() -> oidc.complete(nullState), SsoException.Reason.MALFORMED_CALLBACK);
    java.util.Map<String, String> nullKey = new java.util.HashMap<>();
    nullKey.put(null, "x");
    assertRefused(() -> oidc.complete(nullKey), SsoException.Reason.MALFORMED_CALLBACK);
    java.util.Map<String, String> notText = rawMap(java.util.Map.of("state", 42, "code", "x"));
    assertRefused(() -> oidc.complete(notText), SsoException.Reason.MALFORMED_CALLBACK);

    URI callback = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    java.util.Map<String, String> noCode = queryOf(callback);
    noCode.put("code", null);
    noCode.put(null, null);
    assertRefused(() -> oidc.complete(noCode), SsoException.Reason.MALFORMED_CALLBACK);
    // a fresh login whose callback map also holds a null entry completes: the null entry is ignored
    URI second = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    java.util.Map<String, String> good = queryOf(second);
    good.put("error_description", null);
    good.put(null, "x");
    assertThat(oidc.complete(good).subject()).isEqualTo("00u-jane");
  }

  @Test
  void theIssResponseParameterMustBeTheConnectionsIssuer() {
    idp.issParameter(FakeOidcProvider.IssParameter.WRONG);
    URI wrong = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    int tokenRequests = idp.tokenRequests();
    assertRefused(() -> oidc.complete(wrong), SsoException.Reason.ISSUER_MISMATCH);
    idp.issParameter(FakeOidcProvider.IssParameter.MISSING);
    URI missing = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    assertRefused(() -> oidc.complete(missing), SsoException.Reason.MISSING_ISSUER);
    // the code never reached the token endpoint
    assertThat(idp.tokenRequests()).isEqualTo(tokenRequests);
  }

  @Test
  void aMissingIssIsAcceptedFromAnIdpThatDoesNotPromiseIt() {
    try (FakeOidcProvider legacy = FakeOidcProvider.builder().clock(clock).start()) {
      legacy.advertiseIssParameter(false).issParameter(FakeOidcProvider.IssParameter.MISSING);
      TenantId t = TenantId.of("legacy-" + UUID.randomUUID());
      SsoConnection c = connections.create(t, SsoConnectionSpec.oidc("Legacy", OidcSettings.of(legacy.issuer(),
          legacy.clientId(), legacy.clientSecret())).requireVerifiedEmailDomain(false).build());
      SsoLogin login = oidc.complete(legacy.authorize(oidc.begin(c, REDIRECT).authorizationUri()));
      assertThat(login.subject()).isEqualTo("user-1");
      // but a wrong one is still refused
      legacy.issParameter(FakeOidcProvider.IssParameter.WRONG);
      URI wrong = legacy.authorize(oidc.begin(c, REDIRECT).authorizationUri());
      assertRefused(() -> oidc.complete(wrong), SsoException.Reason.ISSUER_MISMATCH);
    }
  }

  @Test
  void es256IdpsWorkAndOnlyTheirAdvertisedAlgorithmIsAccepted() {
    try (FakeOidcProvider ec = FakeOidcProvider.builder().clock(clock).algorithm("ES256").start()) {
      TenantId t = TenantId.of("ec-" + UUID.randomUUID());
      SsoConnection c = connections.create(t, SsoConnectionSpec.oidc("EC", OidcSettings.of(ec.issuer(),
          ec.clientId(), ec.clientSecret())).requireVerifiedEmailDomain(false).build());
      assertThat(oidc.complete(ec.authorize(oidc.begin(c, REDIRECT).authorizationUri())).subject())
          .isEqualTo("user-1");
      // an RP that allows RSA only finds nothing in common with an ES256 IdP
      OidcLogin rsaOnly = OidcLogin.builder(connections).allowPrivateAddresses(true).algorithms(java.util.List.of("RS256")).build();
      assertRefused(() -> rsaOnly.begin(c, REDIRECT), SsoException.Reason.DISCOVERY_FAILED);
      assertThatThrownBy(() -> OidcLogin.builder(connections).allowPrivateAddresses(true).algorithms(java.util.List.of("HS256")))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("HS256");
    }
  }

  @Test
  void aNonceMismatchIsRefused() {
    idp.idTokenNonce("a-nonce-from-another-login");
    URI callback = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    assertRefused(() -> oidc.complete(callback), SsoException.Reason.NONCE_MISMATCH);
  }

  @Test
  void badIdTokensAreRefusedWithTheirReason() {
    idp.idTokenAudience("another-client");
    assertIdTokenRefused(InvalidTokenException.Reason.WRONG_AUDIENCE);
    idp.reset().expiredIdToken(true);
    assertIdTokenRefused(InvalidTokenException.Reason.EXPIRED);
    idp.reset().signWithForeignKey(true);
    assertIdTokenRefused(InvalidTokenException.Reason.BAD_SIGNATURE);
    idp.reset().unsignedIdToken(true);
    assertIdTokenRefused(InvalidTokenException.Reason.UNSIGNED);
    idp.reset().idTokenIssuer("https://attacker.example");
    assertIdTokenRefused(InvalidTokenException.Reason.UNKNOWN_ISSUER);
  }

  @Test
  void identityClaimsNoMembershipCouldHoldAreRefusedOrLeftOut() {
    // a subject with a line break: a bad ID token, not an IllegalArgumentException out of the provisioner later
    idp.user(new FakeOidcProvider.User("00u-\nforged", "jane@acme-oidc.example", true, null));
    assertIdTokenRefused(InvalidTokenException.Reason.BAD_CLAIM);
    // an email with a control character is no address: the domain check does not strip it into one
    idp.reset().user(new FakeOidcProvider.User("00u-jane", "jane@acme-oidc.example\n", true, null));
    URI padded = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    assertRefused(() -> oidc.complete(padded), SsoException.Reason.EMAIL_DOMAIN_NOT_ALLOWED);
    // where no domain is required the login goes on without it (the email is informational), and is provisioned
    TenantId t = TenantId.of("open-" + UUID.randomUUID());
    SsoConnection open = connections.create(t, SsoConnectionSpec.oidc("Open",
        OidcSettings.of(idp.issuer(), idp.clientId(), idp.clientSecret())).requireVerifiedEmailDomain(false).build());
    dev.saaskit.auth.Memberships memberships = dev.saaskit.auth.Memberships.builder(app).clock(clock).build();
    OidcLogin jit = OidcLogin.builder(connections).allowPrivateAddresses(true)
        .provisioner(SsoProvisioner.memberships(memberships)).build();
    idp.user(new FakeOidcProvider.User("00u-ctl", "ann\u0007@acme-oidc.example", true, null));
    Principal p = jit.signIn(idp.authorize(jit.begin(open, REDIRECT).authorizationUri()));
    assertThat(p.email()).isEmpty();
    assertThat(memberships.find(t, idp.issuer(), "00u-ctl")).isPresent();
    idp.user(new FakeOidcProvider.User("00u-long", "a".repeat(320) + "@acme-oidc.example", true, null));
    assertThat(jit.signIn(idp.authorize(jit.begin(open, REDIRECT).authorizationUri())).email()).isEmpty();
  }

  @Test
  void anEmailOutsideTheConnectionsVerifiedDomainsIsRefused() {
    idp.user(new FakeOidcProvider.User("00u-eve", "eve@evil.example", true, null));
    URI other = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    assertRefused(() -> oidc.complete(other), SsoException.Reason.EMAIL_DOMAIN_NOT_ALLOWED);
    idp.user(new FakeOidcProvider.User("00u-eve", "eve@acme-oidc.example", false, null));
    URI unverified = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    assertRefused(() -> oidc.complete(unverified), SsoException.Reason.EMAIL_DOMAIN_NOT_ALLOWED);
    idp.user(new FakeOidcProvider.User("00u-eve", null, false, null));
    URI none = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    assertRefused(() -> oidc.complete(none), SsoException.Reason.EMAIL_DOMAIN_NOT_ALLOWED);
  }

  @Test
  void disabledConnectionsAndProviderErrorsEndTheLogin() {
    URI error = URI.create(REDIRECT + "?error=access_denied&state=" + oidc.begin(connection, REDIRECT).state());
    assertRefused(() -> oidc.complete(error), SsoException.Reason.PROVIDER_ERROR);
    TenantId t = TenantId.of("off-" + UUID.randomUUID());
    SsoConnection off = connections.create(t, SsoConnectionSpec.oidc("Off", OidcSettings.of(idp.issuer(),
        idp.clientId(), idp.clientSecret())).build());
    OidcLogin.Start start = oidc.begin(off, REDIRECT);
    connections.disable(t, off.id());
    assertRefused(() -> oidc.begin(connections.get(t, off.id()), REDIRECT), SsoException.Reason.CONNECTION_DISABLED);
    URI callback = idp.authorize(start.authorizationUri());
    assertRefused(() -> oidc.complete(callback), SsoException.Reason.CONNECTION_DISABLED);
  }

  @Test
  void discoveryMustNameTheConfiguredIssuerAndIsCached() {
    TenantId t = TenantId.of("slash-" + UUID.randomUUID());
    SsoConnection slash = connections.create(t, SsoConnectionSpec.oidc("Slash", OidcSettings.of(
        idp.issuer() + "/", idp.clientId(), idp.clientSecret())).build());
    assertRefused(() -> oidc.begin(slash, REDIRECT), SsoException.Reason.DISCOVERY_FAILED);
    OidcLogin fresh = OidcLogin.builder(connections).allowPrivateAddresses(true).build();
    int before = idp.discoveryRequests();
    fresh.begin(connection, REDIRECT);
    fresh.begin(connection, REDIRECT);
    assertThat(idp.discoveryRequests()).isEqualTo(before + 1);
    clock.advance(Duration.ofMinutes(61));
    fresh.begin(connection, REDIRECT);
    assertThat(idp.discoveryRequests()).isEqualTo(before + 2);
  }

  @Test
  void aFailedDiscoveryIsNotFetchedAgainByEveryLoginForHalfAMinute() throws Exception {
    // an IdP that is down (or a tarpit a tenant pointed its connection at): every login page view used to fetch
    // the discovery document again, each waiting up to twice the HTTP timeout behind the previous one
    AtomicInteger fetches = new AtomicInteger();
    com.sun.net.httpserver.HttpServer down = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    down.createContext("/.well-known/openid-configuration", exchange -> {
      fetches.incrementAndGet();
      exchange.sendResponseHeaders(503, -1);
      exchange.close();
    });
    down.start();
    try {
      TenantId t = TenantId.of("down-" + UUID.randomUUID());
      SsoConnection c = connections.create(t, SsoConnectionSpec.oidc("Down", OidcSettings.of("http://localhost:"
          + down.getAddress().getPort(), "client", "secret")).build());
      OidcLogin login = OidcLogin.builder(connections).allowPrivateAddresses(true).build();
      for (int i = 0; i < 5; i++) {
        assertRefused(() -> login.begin(c, REDIRECT), SsoException.Reason.DISCOVERY_FAILED);
      }
      assertThat(fetches).hasValue(1);
      clock.advance(Duration.ofSeconds(31));
      assertRefused(() -> login.begin(c, REDIRECT), SsoException.Reason.DISCOVERY_FAILED);
      assertThat(fetches).hasValue(2);
      // the working connection of the same login is not held up by the failing one
      assertThat(login.begin(connection, REDIRECT).authorizationUri().toString()).startsWith(idp.issuer());
    } finally {
      down.stop(0);
    }
  }

  @Test
  void anOversizedTokenResponseIsRefusedInsteadOfBeingReadIntoMemory() throws Exception {
    // a tenant admin may point a connection at any IdP: its token endpoint must not be able to fill the heap
    com.sun.net.httpserver.HttpServer hostile = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    String iss = "http://localhost:" + hostile.getAddress().getPort();
    hostile.createContext("/.well-known/openid-configuration", exchange -> respond(exchange, "{\"issuer\":\""
        + iss + "\",\"authorization_endpoint\":\"" + iss + "/authorize\",\"token_endpoint\":\"" + iss
        + "/token\",\"jwks_uri\":\"" + iss + "/jwks\",\"response_types_supported\":[\"code\"],"
        + "\"subject_types_supported\":[\"public\"],\"id_token_signing_alg_values_supported\":[\"RS256\"]}"));
    hostile.createContext("/token", exchange -> respond(exchange, "{\"access_token\":\"a\",\"token_type\":"
        + "\"Bearer\",\"id_token\":\"eyJhbGciOiJSUzI1NiJ9.e30.c2ln\",\"x_padding\":\"" + "x".repeat(4 * 1024 * 1024) + "\"}"));
    hostile.start();
    try {
      TenantId t = TenantId.of("hostile-" + UUID.randomUUID());
      SsoConnection c = connections.create(t, SsoConnectionSpec.oidc("Hostile", OidcSettings.of(iss, "client",
          "secret")).requireVerifiedEmailDomain(false).build());
      OidcLogin.Start start = oidc.begin(c, REDIRECT);
      URI callback = URI.create(REDIRECT + "?code=c0de&state=" + java.net.URLEncoder.encode(start.state(),
          StandardCharsets.UTF_8));
      assertRefused(() -> oidc.complete(callback, start.state()), SsoException.Reason.TOKEN_REQUEST_FAILED);
    } finally {
      hostile.stop(0);
    }
  }

  private static void respond(com.sun.net.httpserver.HttpExchange exchange, String json) throws java.io.IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(200, body.length);
    try (java.io.OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  @Test
  void loginStatesAreTenantRowsUnderRls() throws SQLException {
    oidc.begin(connection, REDIRECT);
    assertThat(count(app, tenant.value(), "SELECT count(*) FROM saaskit_auth.sso_login_states")).isPositive();
    assertThat(count(app, "someone-else", "SELECT count(*) FROM saaskit_auth.sso_login_states")).isZero();
    assertThat(count(app, null, "SELECT count(*) FROM saaskit_auth.sso_login_states")).isZero();
    // the state itself is never stored, only its SHA-256
    assertThat(count(db.adminDataSource(), null, "SELECT count(*) FROM saaskit_auth.sso_login_states"
        + " WHERE length(state_hash) <> 32")).isZero();
  }

  private void assertIdTokenRefused(InvalidTokenException.Reason reason) {
    URI callback = idp.authorize(oidc.begin(connection, REDIRECT).authorizationUri());
    assertThatThrownBy(() -> oidc.complete(callback)).isInstanceOfSatisfying(SsoException.class, e -> {
      assertThat(e.reason()).isEqualTo(SsoException.Reason.INVALID_ID_TOKEN);
      assertThat(e.getCause()).isInstanceOfSatisfying(InvalidTokenException.class,
          c -> assertThat(c.reason()).as(e.getMessage()).isEqualTo(reason));
      assertThat(e.getMessage()).doesNotContain(idp.clientSecret());
    });
  }

  /** The decoded query parameters of a callback, in a mutable map. */
  private static java.util.Map<String, String> queryOf(URI callback) {
    java.util.Map<String, String> params = new java.util.HashMap<>();
    for (String pair : callback.getRawQuery().split("&", -1)) {
      int eq = pair.indexOf('=');
      params.put(java.net.URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
          java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return params;
  }

  /** The same map, typed as text: what a caller filling a map through raw types hands over. */
  @SuppressWarnings("unchecked")
  private static java.util.Map<String, String> rawMap(java.util.Map<String, ?> map) {
    return (java.util.Map<String, String>) (java.util.Map<String, ? extends Object>) map;
  }

  private static void assertRefused(ThrowingCallable call, SsoException.Reason reason) {
    assertThatThrownBy(call).isInstanceOfSatisfying(SsoException.class, e -> {
      assertThat(e.reason()).as(e.getMessage()).isEqualTo(reason);
      assertThat(e.getMessage()).doesNotContain(idp.clientSecret());
    });
  }

  private static Map<String, String> query(URI uri) {
    Map<String, String> out = new HashMap<>();
    for (String pair : uri.getRawQuery().split("&", -1)) {
      int eq = pair.indexOf('=');
      out.put(pair.substring(0, eq), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return out;
  }

  private static URI replaceParam(URI uri, String name, String value) {
    StringBuilder q = new StringBuilder();
    for (String pair : uri.getRawQuery().split("&", -1)) {
      if (q.length() > 0) {
        q.append('&');
      }
      q.append(pair.startsWith(name + "=") ? name + "=" + java.net.URLEncoder.encode(value, StandardCharsets.UTF_8)
          : pair);
    }
    String s = uri.toString();
    return URI.create(s.substring(0, s.indexOf('?') + 1) + q);
  }
}
