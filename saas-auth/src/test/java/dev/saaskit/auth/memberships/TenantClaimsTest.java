package dev.saaskit.auth.memberships;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.auth.Actor;
import dev.saaskit.auth.CreatedInvitation;
import dev.saaskit.auth.Invitations;
import dev.saaskit.auth.Membership;
import dev.saaskit.auth.MembershipClaims;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.TenantClaims;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The claims helper for IdPs with custom claims, and the docs' usage examples. */
@ExtendWith(PostgresExtension.class)
class TenantClaimsTest {
  private static final String IDP = "https://idp.example";

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    AuthDb.migrate(db);
  }

  @Test
  void claimsCarryTheActiveTenantsRolePermissionsAndVersion(TestDatabase db) {
    Memberships memberships = Memberships.builder(db.appDataSource()).build();
    TenantId acme = TenantId.of("acme");
    memberships.add(acme, IDP, "boss", "owner", Actor.system());
    memberships.add(acme, IDP, "user-1", "admin", Actor.system());
    memberships.changeRole(acme, IDP, "user-1", "member", Actor.system());
    memberships.add(TenantId.of("other"), IDP, "user-1", "owner", Actor.system());
    Map<String, Set<String>> model = Map.of("member", Set.of("invoice:read"),
        "admin", Set.of("invoice:read", "members:invite"));

    // snippet: claims
    TenantClaims claims = TenantClaims.of(memberships, role -> model.getOrDefault(role, Set.of()));
    Optional<MembershipClaims> forToken = claims.claimsFor(acme, IDP, "user-1");
    // {"tenant_id":"acme","role":"member","permissions":["invoice:read"],"saaskit_pv":2}
    String json = forToken.map(MembershipClaims::toJson).orElse("{}");
    // end snippet

    assertThat(json).isEqualTo("{\"tenant_id\":\"acme\",\"role\":\"member\",\"permissions\":[\"invoice:read\"],"
        + "\"saaskit_pv\":2}");
    MembershipClaims c = forToken.orElseThrow();
    assertThat(c.asMap()).containsExactly(Map.entry("tenant_id", "acme"), Map.entry("role", "member"),
        Map.entry("permissions", List.of("invoice:read")), Map.entry("saaskit_pv", 2L));
    assertThat(c.asMap()).doesNotContainKey("other");
    assertThat(claims.claimsFor(TenantId.of("nowhere"), IDP, "user-1")).isEmpty();
    assertThat(TenantClaims.of(memberships).claimsFor(acme, IDP, "boss").orElseThrow().permissions()).isEmpty();
    assertThat(TenantClaims.of(memberships, role -> null).claimsFor(acme, IDP, "boss").orElseThrow().permissions())
        .isEmpty();
  }

  @Test
  void jsonEscapesHostileText() {
    MembershipClaims c = new MembershipClaims(TenantId.of("a\"b\\c"), "r\u2028", Set.of("p\"", "x</script>"), 7);
    assertThat(c.toJson()).isEqualTo("{\"tenant_id\":\"a\\\"b\\\\c\",\"role\":\"r\\u2028\","
        + "\"permissions\":[\"p\\\"\",\"x</script>\"],\"saaskit_pv\":7}");
  }

  @Test
  void theDocsWalkThrough(TestDatabase db) {
    javax.sql.DataSource appDataSource = db.appDataSource();
    TenantId tenant = TenantId.of("docs");
    Principal admin = Principal.builder(IDP, "founder").tenant(tenant).build();
    Memberships.builder(appDataSource).build().add(tenant, IDP, "founder", "admin", Actor.system());
    String issuer = IDP;
    String subject = "new-hire";

    // snippet: invite
    Memberships memberships = Memberships.builder(appDataSource).build();
    Invitations invitations = Invitations.builder(appDataSource).sameSettingsAs(memberships).build();
    CreatedInvitation invitation = invitations.create(tenant, admin, "new@example.com", "member");
    String link = "https://app.example/join?token=" + invitation.token();   // send it; do not store it
    // ... later, the invitee signs in with their IdP and opens the link:
    Membership joined = invitations.accept(invitation.token(), issuer, subject, "new@example.com");
    // end snippet

    assertThat(link).contains(invitation.token());
    assertThat(joined.role()).isEqualTo("member");
    assertThat(memberships.find(tenant, issuer, subject)).contains(joined);
  }
}
