package dev.saaskit.auth.sso;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.auth.Principal;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.FakeOidcProvider;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.net.URI;
import java.sql.SQLException;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The code of docs/auth-sso.md, run against the fake IdP. */
@ExtendWith(PostgresExtension.class)
class OidcDocsTest {
  @Test
  void theDocumentedFlow(TestDatabase db) throws SQLException {
    SsoFixture.migrate(db);
    DataSource appDataSource = db.appDataSource();
    SsoFixture.FakeDns dns = new SsoFixture.FakeDns();
    TenantId tenant = TenantId.of("acme");
    try (FakeOidcProvider idp = FakeOidcProvider.builder()
        .user(FakeOidcProvider.User.of("00u-jane", "jane@acme.example")).start()) {
      String issuer = idp.issuer();
      String clientId = idp.clientId();
      String clientSecret = idp.clientSecret();

      // snippet: sso-admin
      SsoConnections connections = SsoConnections.builder(appDataSource)
          .dnsResolver(dns)                        // default DnsTxtResolver.system()
          .build();
      SsoConnection acme = connections.create(tenant, SsoConnectionSpec.oidc("Acme Okta",
              OidcSettings.of(issuer, clientId, clientSecret))
          .defaultRole("member")                   // the role of users provisioned on first login
          .build());
      SsoDomain pending = connections.addDomain(tenant, acme.id(), "acme.example");
      // the tenant publishes pending.txtValue() ("saaskit-verification=...") as a TXT record of acme.example
      // end snippet
      dns.records.put(pending.txtName(), List.of(pending.txtValue()));
      // snippet: sso-verify
      SsoDomain verified = connections.verifyDomain(tenant, acme.id(), "acme.example");
      // end snippet
      assertThat(verified.verified()).isTrue();

      // snippet: oidc-begin
      OidcLogin oidc = OidcLogin.builder(connections)
          .allowPrivateAddresses(true) // only because this example's IdP is a fake on loopback: leave it off
          .build();
      SsoConnection connection = connections.connectionForEmail("jane@acme.example").orElseThrow();
      OidcLogin.Start start = oidc.begin(connection, URI.create("https://app.example.com/sso/callback"));
      String stateForTheSession = start.state();       // keep in the browser's session (a cookie)
      URI sendTheBrowserTo = start.authorizationUri(); // 302 to the IdP
      // end snippet

      URI callbackUri = idp.authorize(sendTheBrowserTo);
      // snippet: oidc-complete
      SsoLogin login = oidc.complete(callbackUri, stateForTheSession);
      Principal principal = SsoProvisioner.defaultRole().provision(login);
      // end snippet
      assertThat(login.subject()).isEqualTo("00u-jane");
      assertThat(principal.tenant()).contains(tenant);
      assertThat(principal.roles()).containsExactly("member");
    }
  }
}
