package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.saaskit.auth.Actor;
import dev.saaskit.auth.Membership;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.TokenIssuer;
import dev.saaskit.core.TenantId;
import dev.saaskit.examples.saasapp.AppFixture.Answer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The app with a real IdP's tokens ({@code OIDC_ISSUER}): here an issuer of saas-auth's own serving its JWKS over
 * HTTP on loopback, verified like any external one. What an IdP states about a user (the email) is the user's own
 * text, and must never turn a request into a 500.
 */
class SaasAppExternalIdpTest {
  private static final String IDP = "https://idp.example.test";
  private static final String AUDIENCE = "saas-app-idp";

  private final TokenIssuer idp = TokenIssuer.builder(IDP).build();
  private HttpServer jwks;
  private AppFixture f;

  @BeforeEach
  void start() throws Exception {
    jwks = HttpServer.create(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    jwks.createContext("/jwks", exchange -> {
      byte[] body = idp.jwksJson().getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    jwks.start();
    String jwksUri = "http://127.0.0.1:" + jwks.getAddress().getPort() + "/jwks";
    f = AppFixture.start(b -> b.oidc(IDP, jwksUri, AUDIENCE));
  }

  @AfterEach
  void stop() throws Exception {
    if (f != null) {
      f.close();
    }
    if (jwks != null) {
      jwks.stop(0);
    }
  }

  @Test
  void anInvitationAcceptedWithAnEmailClaimSaasAuthWouldRefuseIsNotA500() throws Exception {
    String owner = f.login("idp-co", "olga@idp.test", "owner");
    // an IdP user, member of another tenant (memberships live in the app's database, added as the README says)
    PGSimpleDataSource admin = new PGSimpleDataSource();
    admin.setUrl(f.adminUrl);
    admin.setDatabaseName(f.database);
    Membership home = Memberships.builder(admin).build()
        .add(TenantId.of("idp-home"), IDP, "user-7", null, "member", Actor.system());
    for (String email : new String[] {"a".repeat(400) + "@idp.test", "eve\u0007@idp.test", "not an email"}) {
      String token = idp.token("user-7").tenant(home.tenant()).roles("member")
          .permissionVersion(home.permissionVersion()).email(email).audience(AUDIENCE).sign();
      assertThat(f.get("/api/me", token).status()).isEqualTo(200);
      String invitation = f.post("/api/invitations", owner, Map.of("role", "member")).body().get("token").asText();
      Answer accepted = f.post("/api/invitations/accept", token, Map.of("token", invitation));
      assertThat(accepted.status()).as(accepted.raw()).isEqualTo(200);
      assertThat(accepted.body().get("tenant").asText()).isEqualTo("idp-co");
    }
    assertThat(f.get("/api/members", owner).body().get("members").size()).isEqualTo(2);
  }
}
