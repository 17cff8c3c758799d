package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantId;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Each preset on a realistic claims set (shaped like the IdP's documented tokens), and the generic mapping. The
 * mapping only fills tenant, roles, permissions, permission version and email: the user stays (iss, sub).
 */
class ClaimMappingPresetsTest {
  private static Principal map(ClaimMapping mapping, Map<String, Object> claims) {
    Principal.Builder b = Principal.builder("https://idp.example", "user_2abc");
    mapping.map(claims, b);
    return b.build();
  }

  private static Map<String, Object> json(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  @Test
  void clerkV2ReadsTheOClaimAndUnpacksFeaturePermissionBitmasks() {
    Map<String, Object> claims = json("azp", "https://app.example", "sub", "user_2abc", "v", 2L,
        "fea", "o:invoices,o:members,u:profile",
        "o", json("id", "org_2xyz", "slg", "acme", "rol", "admin", "per", "manage,read", "fpm", "3,2,1"),
        "saaskit_pv", 7L);
    Principal p = map(ClaimMappings.clerk(), claims);
    assertThat(p.tenant()).contains(TenantId.of("org_2xyz"));
    assertThat(p.roles()).containsExactly("admin");
    // invoices: 3 = manage + read; members: 2 = read; u:profile is a user feature, not an org permission
    assertThat(p.permissions()).containsExactlyInAnyOrder("invoices:manage", "invoices:read", "members:read");
    assertThat(p.permissionVersion()).hasValue(7);
    assertThat(p.subject()).isEqualTo("user_2abc");
  }

  @Test
  void clerkV2WithMismatchedMasksIsABadClaim() {
    Map<String, Object> claims = json("fea", "o:invoices,o:members",
        "o", json("id", "org_2xyz", "rol", "member", "per", "read", "fpm", "1"));
    assertThatThrownBy(() -> map(ClaimMappings.clerk(), claims)).isInstanceOf(InvalidTokenException.class)
        .satisfies(e -> assertThat(((InvalidTokenException) e).reason())
            .isEqualTo(InvalidTokenException.Reason.BAD_CLAIM));
  }

  @Test
  void clerkV1ReadsOrgIdOrgRoleAndOrgPermissionsWithoutTheOrgPrefix() {
    Map<String, Object> claims = json("org_id", "org_2xyz", "org_role", "org:admin", "org_slug", "acme",
        "org_permissions", List.of("org:invoices:read", "org:members:manage"));
    Principal p = map(ClaimMappings.clerk(), claims);
    assertThat(p.tenant()).contains(TenantId.of("org_2xyz"));
    assertThat(p.roles()).containsExactly("admin");
    assertThat(p.permissions()).containsExactlyInAnyOrder("invoices:read", "members:manage");
    assertThat(p.permissionVersion()).isEmpty();
  }

  @Test
  void clerkWithoutAnActiveOrganizationNamesNoTenant() {
    Principal p = map(ClaimMappings.clerk(), json("sid", "sess_1", "v", 2L));
    assertThat(p.tenant()).isEmpty();
    assertThat(p.roles()).isEmpty();
  }

  @Test
  void supabaseReadsAppMetadataAndNeverTheDatabaseRole() {
    Map<String, Object> claims = json("aud", "authenticated", "role", "authenticated", "email", "ann@example.com",
        "app_metadata", json("provider", "email", "providers", List.of("email"), "tenant_id", "acme",
            "role", "admin", "permissions", List.of("invoice:read", "invoice:write"), "saaskit_pv", 3L),
        "user_metadata", json("tenant_id", "evil", "role", "owner"));
    Principal p = map(ClaimMappings.supabase(), claims);
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactly("admin").doesNotContain("authenticated", "owner");
    assertThat(p.permissions()).containsExactlyInAnyOrder("invoice:read", "invoice:write");
    assertThat(p.permissionVersion()).hasValue(3);
    assertThat(p.email()).contains("ann@example.com");
  }

  @Test
  void supabaseReadsTheAccessTokenHookShape() {
    Map<String, Object> claims = json("aud", "authenticated", "role", "authenticated",
        "app_metadata", json("provider", "email"),
        "tenant_id", "acme", "tenant_role", "member", "permissions", List.of("invoice:read"), "saaskit_pv", 12L);
    Principal p = map(ClaimMappings.supabase(), claims);
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactly("member");
    assertThat(p.permissions()).containsExactly("invoice:read");
    assertThat(p.permissionVersion()).hasValue(12);
  }

  @Test
  void auth0ReadsNamespacedClaimsOrgIdAndRbacPermissions() {
    Map<String, Object> claims = json("aud", List.of("https://api.example.com"), "azp", "client123",
        "scope", "openid profile", "org_id", "org_9f8e7d", "permissions", List.of("invoice:read"),
        "https://app.example.com/roles", List.of("admin", "billing"),
        "https://app.example.com/saaskit_pv", 4L, "https://app.example.com/email", "bob@example.com");
    Principal p = map(ClaimMappings.auth0("https://app.example.com"), claims);
    assertThat(p.tenant()).contains(TenantId.of("org_9f8e7d"));
    assertThat(p.roles()).containsExactlyInAnyOrder("admin", "billing");
    assertThat(p.permissions()).containsExactly("invoice:read");
    assertThat(p.permissionVersion()).hasValue(4);
    assertThat(p.email()).contains("bob@example.com");
    // a trailing slash on the namespace makes no difference
    assertThat(map(ClaimMappings.auth0("https://app.example.com/"), claims)).isEqualTo(p);
  }

  @Test
  void keycloakReadsOrganizationAsAListOfAliases() {
    Map<String, Object> claims = json("organization", List.of("acme"),
        "realm_access", json("roles", List.of("offline_access", "member")),
        "resource_access", json("saas-api", json("roles", List.of("admin")), "other", json("roles", List.of("x"))),
        "email", "k@example.com", "saaskit_pv", 2L);
    Principal p = map(ClaimMappings.keycloak("saas-api"), claims);
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactlyInAnyOrder("offline_access", "member", "admin").doesNotContain("x");
    assertThat(p.permissionVersion()).hasValue(2);
  }

  @Test
  void keycloakReadsOrganizationAsAMapOfAliasToAttributes() {
    Map<String, Object> withId = json("organization",
        json("acme", json("id", "2f1d6a3e-1111-4c1e-9d8e-0a1b2c3d4e5f")));
    assertThat(map(ClaimMappings.keycloak("saas-api"), withId).tenant())
        .contains(TenantId.of("2f1d6a3e-1111-4c1e-9d8e-0a1b2c3d4e5f"));
    Map<String, Object> withoutId = json("organization", json("acme", json()));
    assertThat(map(ClaimMappings.keycloak("saas-api"), withoutId).tenant()).contains(TenantId.of("acme"));
  }

  @Test
  void keycloakWithSeveralOrganizationsNamesNoTenant() {
    Map<String, Object> claims = json("organization", List.of("acme", "globex"));
    assertThat(map(ClaimMappings.keycloak("saas-api"), claims).tenant()).isEmpty();
  }

  @Test
  void workosReadsOrgIdRoleRolesAndPermissions() {
    Map<String, Object> claims = json("sid", "session_01H", "org_id", "org_01HXYZ", "role", "admin",
        "roles", List.of("admin", "billing"), "permissions", List.of("widgets:create", "widgets:delete"),
        "saaskit_pv", 9L);
    Principal p = map(ClaimMappings.workos(), claims);
    assertThat(p.tenant()).contains(TenantId.of("org_01HXYZ"));
    assertThat(p.roles()).containsExactlyInAnyOrder("admin", "billing");
    assertThat(p.permissions()).containsExactlyInAnyOrder("widgets:create", "widgets:delete");
    assertThat(p.permissionVersion()).hasValue(9);
  }

  @Test
  void standardReadsWhatOurClaimsHelperEmits() {
    Map<String, Object> claims = json("tenant_id", "acme", "role", "owner", "permissions", List.of("a:b"),
        "saaskit_pv", 0L, "email", "o@example.com");
    Principal p = map(ClaimMappings.standard(), claims);
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactly("owner");
    assertThat(p.permissions()).containsExactly("a:b");
    assertThat(p.permissionVersion()).hasValue(0);
    assertThat(p.email()).contains("o@example.com");
  }

  @Test
  void genericUsesTheConfiguredNamesAndDottedPaths() {
    ClaimMapping m = ClaimMappings.generic().tenantClaim("app.tenant").roleClaims("groups")
        .permissionsClaim("scope").permissionVersionClaim("pv").emailClaim("mail").build();
    Map<String, Object> claims = json("app", json("tenant", "acme"), "groups", List.of("admin"),
        "scope", "invoice:read invoice:write", "pv", "5", "mail", "m@example.com",
        "tenant_id", "ignored", "role", "ignored");
    Principal p = map(m, claims);
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactly("admin");
    assertThat(p.permissions()).containsExactlyInAnyOrder("invoice:read", "invoice:write");
    assertThat(p.permissionVersion()).hasValue(5);
    assertThat(p.email()).contains("m@example.com");
  }

  @Test
  void wrongClaimShapesAreBadClaims() {
    assertBadClaim(ClaimMappings.standard(), json("tenant_id", json("nested", "x")));
    assertBadClaim(ClaimMappings.standard(), json("saaskit_pv", -1L));
    assertBadClaim(ClaimMappings.standard(), json("role", List.of(1L, 2L)));
    assertBadClaim(ClaimMappings.keycloak("c"), json("organization", "acme-as-a-string-is-not-a-shape"));
  }

  private static void assertBadClaim(ClaimMapping m, Map<String, Object> claims) {
    assertThatThrownBy(() -> map(m, claims)).isInstanceOf(InvalidTokenException.class)
        .satisfies(e -> assertThat(((InvalidTokenException) e).reason())
            .isEqualTo(InvalidTokenException.Reason.BAD_CLAIM));
  }
}
