package dev.saaskit.auth.sso;

import static dev.saaskit.auth.sso.SsoFixture.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Connections per tenant under RLS, domain verification, and pre-tenant routing of verified domains only. */
@ExtendWith(PostgresExtension.class)
class SsoConnectionsTest {
  static TestDatabase db;
  static DataSource app;
  static SsoFixture.FakeDns dns = new SsoFixture.FakeDns();
  static SsoConnections connections;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    SsoFixture.migrate(db);
    app = db.appDataSource();
    connections = SsoConnections.builder(app).dnsResolver(dns).build();
  }

  private static SsoConnectionSpec oidcSpec(String name) {
    return SsoConnectionSpec.oidc(name, OidcSettings.of("https://idp.example.com", "client-" + name,
        "s3cr3t-value-" + name)).defaultRole("editor").build();
  }

  private static TenantId tenant() {
    return TenantId.of("t-" + UUID.randomUUID());
  }

  @Test
  void createUpdateDisableAndListStayWithinTheTenant() throws SQLException {
    TenantId a = tenant();
    TenantId b = tenant();
    SsoConnection created = connections.create(a, oidcSpec("okta"));
    SsoConnection saml = connections.create(a, SsoConnectionSpec.saml("adfs", new SamlConnectionSettings("urn:idp", 
        "https://idp.example.com/sso", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "urn:sp", "https://app.example.com/saml/acs")).build());
    assertThat(connections.get(a, created.id())).isEqualTo(created);
    assertThat(created.protocol()).isEqualTo(SsoProtocol.OIDC);
    assertThat(created.oidc().orElseThrow().clientSecret()).isEqualTo("s3cr3t-value-okta");
    assertThat(connections.list(a)).extracting(SsoConnection::id).containsExactly(created.id(), saml.id());
    assertThat(connections.get(a, saml.id()).saml().orElseThrow().spEntityId()).isEqualTo("urn:sp");

    SsoConnection renamed = connections.update(a, created.id(), created.spec().toBuilder()
        .displayName("Okta (new)").defaultRole("viewer").build());
    assertThat(renamed.displayName()).isEqualTo("Okta (new)");
    assertThat(renamed.defaultRole()).isEqualTo("viewer");
    assertThat(connections.disable(a, created.id()).enabled()).isFalse();
    assertThat(connections.get(a, created.id()).enabled()).isFalse();

    // tenant b sees none of it, and cannot change it
    assertThat(connections.list(b)).isEmpty();
    assertThat(connections.find(b, created.id())).isEmpty();
    assertThatThrownBy(() -> connections.update(b, created.id(), oidcSpec("hijack")))
        .isInstanceOfSatisfying(SsoException.class, e -> assertThat(e.reason())
            .isEqualTo(SsoException.Reason.NOT_FOUND));
    assertThat(connections.delete(b, created.id())).isFalse();
    assertThat(connections.get(a, created.id()).displayName()).isEqualTo("Okta (new)");
    // the app role itself: RLS shows a tenant's rows only with that tenant set
    assertThat(count(app, a.value(), "SELECT count(*) FROM saaskit_auth.sso_connections")).isEqualTo(2);
    assertThat(count(app, b.value(), "SELECT count(*) FROM saaskit_auth.sso_connections")).isZero();
    assertThat(count(app, null, "SELECT count(*) FROM saaskit_auth.sso_connections")).isZero();
    assertThat(connections.delete(a, saml.id())).isTrue();
    assertThat(connections.list(a)).hasSize(1);
  }

  @Test
  void valuesTheDatabaseOrALaterLoginCannotUseAreArgumentErrorsNotStoredRows() {
    TenantId t = tenant();
    OidcSettings okta = OidcSettings.of("https://idp.example.com", "client", "secret");
    String cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    // PostgreSQL text cannot hold NUL: before, these failed as a database error (a 500), not as a bad argument
    assertRefusedArgument(t, SsoConnectionSpec.oidc("Ac\u0000me", okta).build(), "displayName");
    assertRefusedArgument(t, SsoConnectionSpec.oidc("Acme\r\nforged", okta).build(), "displayName");
    assertRefusedArgument(t, SsoConnectionSpec.oidc("Acme", OidcSettings.of("https://idp.example.com",
        "cli\u0000ent", "secret")).build(), "clientId");
    assertRefusedArgument(t, SsoConnectionSpec.oidc("Acme", OidcSettings.of("https://idp.example.com", "client",
        "sec\u0000ret")).build(), "clientSecret");
    // a default role that Memberships cannot store would make every first login of the connection fail
    assertRefusedArgument(t, SsoConnectionSpec.oidc("Acme", okta).defaultRole("r".repeat(101)).build(),
        "defaultRole");
    assertRefusedArgument(t, SsoConnectionSpec.oidc("Acme", okta).defaultRole("member\t").build(), "defaultRole");
    // an issuer longer than a user's issuer may be (512) could sign nobody in
    assertRefusedArgument(t, SsoConnectionSpec.oidc("Acme", OidcSettings.of("https://idp.example.com/"
        + "p".repeat(520), "client", "secret")).build(), "issuer");
    // SAML values that SamlSettings.forConnection refuses at every login are refused when saved
    assertRefusedArgument(t, SsoConnectionSpec.saml("Acme", new SamlConnectionSettings("urn:idp",
        "javascript:alert(1)", cert, "urn:sp", "https://app.example.com/saml/acs")).build(), "ssoUrl");
    assertRefusedArgument(t, SsoConnectionSpec.saml("Acme", new SamlConnectionSettings("urn:idp",
        "https://idp.example.com/sso", cert, "urn:sp", "/saml/acs")).build(), "acsUrl");
    assertRefusedArgument(t, SsoConnectionSpec.saml("Acme", new SamlConnectionSettings("urn:i\u0000dp",
        "https://idp.example.com/sso", cert, "urn:sp", "https://app.example.com/saml/acs")).build(), "idpEntityId");
    assertRefusedArgument(t, SsoConnectionSpec.saml("Acme", new SamlConnectionSettings("urn:idp",
        "https://idp.example.com/sso", cert + "\u0000", "urn:sp", "https://app.example.com/saml/acs")).build(),
        "idpSigningCertificatePem");
    assertThat(connections.list(t)).isEmpty();
    // an update is checked the same way and leaves the stored connection as it was
    SsoConnection stored = connections.create(t, SsoConnectionSpec.oidc("Acme", okta).build());
    assertThatThrownBy(() -> connections.update(t, stored.id(), stored.spec().toBuilder().displayName("A\u0000")
        .build())).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("displayName");
    assertThat(connections.get(t, stored.id())).isEqualTo(stored);
    // a connection stored before these checks existed can still be read and switched off
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("SELECT set_config('app.tenant_id', '" + t.value() + "', false)");
      st.executeUpdate("UPDATE saaskit_auth.sso_connections SET default_role = repeat('r', 150) WHERE id = '"
          + stored.id() + "'");
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    assertThat(connections.get(t, stored.id()).defaultRole()).hasSize(150);
    assertThat(connections.disable(t, stored.id()).enabled()).isFalse();
  }

  private static void assertRefusedArgument(TenantId t, SsoConnectionSpec spec, String field) {
    assertThatThrownBy(() -> connections.create(t, spec)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(field);
  }

  @Test
  void theClientSecretIsInNoToStringAndNoMessage() {
    TenantId a = tenant();
    SsoConnection c = connections.create(a, oidcSpec("secretive"));
    assertThat(c.toString()).contains("client-secretive").doesNotContain("s3cr3t-value");
    assertThat(c.spec().toString()).doesNotContain("s3cr3t-value");
    assertThat(c.oidc().orElseThrow().toString()).doesNotContain("s3cr3t-value").contains("***");
    assertThatThrownBy(() -> OidcSettings.of("https://idp.example.com", "id", " "))
        .hasMessage("clientSecret must be non-blank");
    assertThatThrownBy(() -> OidcSettings.of("http://idp.example.com", "id", "x"))
        .hasMessageContaining("must be an https URL");
  }

  @Test
  void aDomainIsVerifiedByItsTxtRecordAndThenRoutesEmailsOfThatDomainOnly() {
    TenantId a = tenant();
    SsoConnection c = connections.create(a, oidcSpec("dns"));
    SsoDomain pending = connections.addDomain(a, c.id(), "  Acme-DNS.Example. ");
    assertThat(pending.domain()).isEqualTo("acme-dns.example");
    assertThat(pending.txtValue()).startsWith("saaskit-verification=").hasSizeGreaterThan(40);
    assertThat(pending.verified()).isFalse();
    assertThat(connections.addDomain(a, c.id(), "acme-dns.example")).isEqualTo(pending);
    // pending domains route nowhere
    assertThat(connections.connectionForEmail("jane@acme-dns.example")).isEmpty();

    dns.records.put("acme-dns.example", List.of("v=spf1 -all", "saaskit-verification=wrong"));
    assertThatThrownBy(() -> connections.verifyDomain(a, c.id(), "acme-dns.example"))
        .isInstanceOfSatisfying(SsoException.class, e -> assertThat(e.reason())
            .isEqualTo(SsoException.Reason.DOMAIN_NOT_VERIFIED));
    dns.records.put("acme-dns.example", List.of("v=spf1 -all", pending.txtValue()));
    SsoDomain verified = connections.verifyDomain(a, c.id(), "ACME-dns.example");
    assertThat(verified.verified()).isTrue();
    assertThat(verified.verifiedBy()).isEqualTo(SsoDomain.VerifiedBy.DNS);

    Optional<SsoConnection> routed = connections.connectionForEmail("Jane.Doe@ACME-DNS.example");
    assertThat(routed).isPresent();
    assertThat(routed.get().id()).isEqualTo(c.id());
    assertThat(routed.get().tenant()).isEqualTo(a);
    assertThat(routed.get().verifiedDomains()).containsExactly("acme-dns.example");
    // a subdomain, a look-alike and garbage route nowhere
    assertThat(connections.connectionForEmail("jane@eu.acme-dns.example")).isEmpty();
    assertThat(connections.connectionForEmail("jane@acme-dns.example.evil.test")).isEmpty();
    assertThat(connections.connectionForEmail("acme-dns.example")).isEmpty();
    assertThat(connections.connectionForEmail("jane@")).isEmpty();

    // a disabled connection and a removed domain stop routing
    connections.disable(a, c.id());
    assertThat(connections.connectionForEmail("jane@acme-dns.example")).isEmpty();
    connections.update(a, c.id(), c.spec());
    assertThat(connections.connectionForEmail("jane@acme-dns.example")).isPresent();
    assertThat(connections.removeDomain(a, c.id(), "acme-dns.example")).isTrue();
    assertThat(connections.connectionForEmail("jane@acme-dns.example")).isEmpty();
  }

  @Test
  void internationalDomainsAreStoredInAsciiAndPublicMailDomainsAreRefused() {
    TenantId a = tenant();
    SsoConnection c = connections.create(a, oidcSpec("idn"));
    SsoDomain idn = connections.confirmDomainByAdmin(a, c.id(), "Bücher.example");
    assertThat(idn.domain()).isEqualTo("xn--bcher-kva.example");
    assertThat(idn.verifiedBy()).isEqualTo(SsoDomain.VerifiedBy.ADMIN);
    assertThat(connections.connectionForEmail("kim@bücher.example")).map(SsoConnection::id).contains(c.id());
    assertThat(connections.connectionForEmail("kim@XN--BCHER-KVA.example")).map(SsoConnection::id).contains(c.id());

    assertThatThrownBy(() -> connections.addDomain(a, c.id(), "GMail.com"))
        .isInstanceOfSatisfying(SsoException.class, e -> assertThat(e.reason())
            .isEqualTo(SsoException.Reason.PUBLIC_MAIL_DOMAIN));
    for (String bad : List.of("localhost", "-a.example", "a..example", "1.2.3.4", "exa mple.com", "a_b.example")) {
      assertThatThrownBy(() -> connections.addDomain(a, c.id(), bad)).as(bad)
          .isInstanceOfSatisfying(SsoException.class, e -> assertThat(e.reason())
              .isEqualTo(SsoException.Reason.INVALID_DOMAIN));
    }
    assertThatThrownBy(() -> connections.addDomain(tenant(), c.id(), "other.example"))
        .isInstanceOfSatisfying(SsoException.class, e -> assertThat(e.reason())
            .isEqualTo(SsoException.Reason.NOT_FOUND));
  }

  @Test
  void twoTenantsVerifyingTheSameDomainAtOnceOneWins() throws Exception {
    for (int round = 0; round < 5; round++) {
      String domain = "race" + round + ".example";
      int tenants = 4;
      List<TenantId> ids = new ArrayList<>();
      List<SsoConnection> conns = new ArrayList<>();
      for (int i = 0; i < tenants; i++) {
        TenantId t = tenant();
        ids.add(t);
        SsoConnection c = connections.create(t, oidcSpec("race"));
        conns.add(c);
        connections.addDomain(t, c.id(), domain);
      }
      CountDownLatch go = new CountDownLatch(1);
      ExecutorService pool = Executors.newFixedThreadPool(tenants);
      try {
        List<Future<SsoDomain>> results = new ArrayList<>();
        for (int i = 0; i < tenants; i++) {
          TenantId t = ids.get(i);
          UUID id = conns.get(i).id();
          Callable<SsoDomain> task = () -> {
            go.await();
            return connections.confirmDomainByAdmin(t, id, domain);
          };
          results.add(pool.submit(task));
        }
        go.countDown();
        int won = 0;
        int taken = 0;
        for (Future<SsoDomain> f : results) {
          try {
            assertThat(f.get(1, TimeUnit.MINUTES).verified()).isTrue();
            won++;
          } catch (java.util.concurrent.ExecutionException e) {
            assertThat(e.getCause()).isInstanceOfSatisfying(SsoException.class, x -> assertThat(x.reason())
                .isEqualTo(SsoException.Reason.DOMAIN_TAKEN));
            taken++;
          }
        }
        assertThat(won).isEqualTo(1);
        assertThat(taken).isEqualTo(tenants - 1);
      } finally {
        pool.shutdownNow();
      }
      SsoConnection winner = connections.connectionForEmail("x@" + domain).orElseThrow();
      assertThat(ids).contains(winner.tenant());
      assertThat(count(db.adminDataSource(), null, "SELECT count(*) FROM saaskit_auth.sso_domain_routes"
          + " WHERE domain = '" + domain + "'")).isEqualTo(1);
    }
  }

  @Test
  void theAppRoleCannotReadTheRouteTableNorForgeARoute() throws SQLException {
    assertThatThrownBy(() -> count(app, null, "SELECT count(*) FROM saaskit_auth.sso_domain_routes"))
        .hasMessageContaining("permission denied");
    try (Connection c = app.getConnection(); Statement st = c.createStatement()) {
      assertThatThrownBy(() -> st.execute("INSERT INTO saaskit_auth.sso_domain_routes VALUES"
          + " ('forged.example', 'x', gen_random_uuid())")).hasMessageContaining("permission denied");
      assertThatThrownBy(() -> st.execute("TRUNCATE saaskit_auth.sso_connections"))
          .hasMessageContaining("permission denied");
    }
    // a domain verified by the tenant itself, written straight by the app role, is refused by RLS for another tenant
    TenantId a = tenant();
    SsoConnection c = connections.create(a, oidcSpec("forge"));
    assertThatThrownBy(() -> count(app, "other-tenant", "WITH x AS (INSERT INTO saaskit_auth.sso_domains"
        + " (tenant_id, connection_id, domain, txt_value, verified_at, verified_by, created_at) VALUES ('"
        + a.value() + "', '" + c.id() + "', 'forged.example', 'v', now(), 'ADMIN', now()) RETURNING 1)"
        + " SELECT count(*) FROM x")).isInstanceOf(SQLException.class)
        .hasMessageContaining("row-level security");
  }

  @Test
  void theRlsAuditFindsNoErrorInTheSchema() {
    AuditReport report = RlsAudit.builder().schemas("saaskit_auth").appRole(db.appRole()).build()
        .run(db.adminDataSource());
    assertThat(report.errors()).as(report.toText()).isEmpty();
    assertThat(report.warnings()).as(report.toText()).isEmpty();
  }

  @Test
  void unknownDnsFailuresAreReportedAsSuch() {
    TenantId a = tenant();
    SsoConnection c = connections.create(a, oidcSpec("dnsfail"));
    connections.addDomain(a, c.id(), "flaky.example");
    SsoConnections broken = SsoConnections.builder(app).dnsResolver(name -> {
      throw new SaasException("SERVFAIL");
    }).build();
    assertThatThrownBy(() -> broken.verifyDomain(a, c.id(), "flaky.example"))
        .isInstanceOfSatisfying(SsoException.class, e -> assertThat(e.reason())
            .isEqualTo(SsoException.Reason.DNS_FAILURE));
    assertThat(connections.domains(a, c.id())).singleElement().satisfies(d -> assertThat(d.verified()).isFalse());
  }
}
