package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.util.JSONObjectUtils;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.core.TenantId;
import java.text.ParseException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each preset on a realistic claims set, as the IdP documents its tokens. */
class ClaimMappingsTest {
  private static Principal map(ClaimMapping mapping, String json) {
    Map<String, Object> claims;
    try {
      claims = JSONObjectUtils.parse(json);
    } catch (ParseException e) {
      throw new AssertionError(e);
    }
    Principal.Builder b = Principal.builder(String.valueOf(claims.get("iss")), String.valueOf(claims.get("sub")));
    mapping.map(java.util.Collections.unmodifiableMap(claims), b);
    return b.build();
  }

  @Test
  void clerk_v2_session_token_reads_the_o_claim() {
    Principal p = map(ClaimMappings.clerk(), "{\"azp\":\"https://app.example.com\",\"exp\":1767225900,"
        + "\"fva\":[3,-1],\"iat\":1767225840,\"iss\":\"https://clerk.example.com\",\"nbf\":1767225830,"
        + "\"o\":{\"id\":\"org_2xAbc\",\"rol\":\"admin\",\"slg\":\"acme\",\"per\":\"invoices:read,invoices:write\","
        + "\"fpm\":\"3\"},\"sid\":\"sess_2yX\",\"sts\":\"active\",\"sub\":\"user_2wQ\",\"v\":2,\"saaskit_pv\":7}");
    assertThat(p.tenant()).contains(TenantId.of("org_2xAbc"));
    assertThat(p.roles()).containsExactly("admin");
    assertThat(p.permissions()).containsExactlyInAnyOrder("invoices:read", "invoices:write");
    assertThat(p.permissionVersion().getAsLong()).isEqualTo(7);
    assertThat(p.userKey()).isEqualTo(Principal.userKey("https://clerk.example.com", "user_2wQ"));
  }

  @Test
  void clerk_v1_session_token_reads_org_id_and_strips_the_org_prefix() {
    Principal p = map(ClaimMappings.clerk(), "{\"azp\":\"https://app.example.com\",\"exp\":1767225900,"
        + "\"iss\":\"https://clerk.example.com\",\"org_id\":\"org_2xAbc\",\"org_role\":\"org:admin\","
        + "\"org_slug\":\"acme\",\"org_permissions\":[\"org:invoices:read\",\"org:members:invite\"],"
        + "\"sid\":\"sess_2yX\",\"sub\":\"user_2wQ\"}");
    assertThat(p.tenant()).contains(TenantId.of("org_2xAbc"));
    assertThat(p.roles()).containsExactly("admin");
    assertThat(p.permissions()).containsExactlyInAnyOrder("invoices:read", "members:invite");
    assertThat(p.permissionVersion()).isEmpty();
  }

  @Test
  void clerk_without_an_active_organization_has_no_tenant() {
    Principal p = map(ClaimMappings.clerk(), "{\"iss\":\"https://clerk.example.com\",\"sub\":\"user_2wQ\","
        + "\"v\":2,\"azp\":\"https://app.example.com\"}");
    assertThat(p.tenant()).isEmpty();
    assertThat(p.roles()).isEmpty();
  }

  @Test
  void supabase_reads_app_metadata_and_ignores_the_database_role() {
    Principal p = map(ClaimMappings.supabase(), "{\"aal\":\"aal1\",\"amr\":[{\"method\":\"password\","
        + "\"timestamp\":1767225000}],\"app_metadata\":{\"provider\":\"email\",\"providers\":[\"email\"],"
        + "\"tenant_id\":\"acme\",\"role\":\"admin\",\"permissions\":[\"invoices:read\"],\"saaskit_pv\":3},"
        + "\"aud\":\"authenticated\",\"email\":\"ana@acme.example\",\"exp\":1767228600,\"iat\":1767225000,"
        + "\"is_anonymous\":false,\"iss\":\"https://abc.supabase.co/auth/v1\",\"phone\":\"\",\"role\":\"authenticated\","
        + "\"session_id\":\"5f0c\",\"sub\":\"0d3f2c1e-9b7a-4c3e-8f00-1a2b3c4d5e6f\",\"user_metadata\":{\"role\":\"owner\","
        + "\"tenant_id\":\"globex\"}}");
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactly("admin"); // not "authenticated", not user_metadata's "owner"
    assertThat(p.permissions()).containsExactly("invoices:read");
    assertThat(p.permissionVersion().getAsLong()).isEqualTo(3);
    assertThat(p.email()).contains("ana@acme.example");
  }

  @Test
  void supabase_reads_the_access_token_hook_shape() {
    Principal p = map(ClaimMappings.supabase(), "{\"aud\":\"authenticated\",\"exp\":1767228600,"
        + "\"iss\":\"https://abc.supabase.co/auth/v1\",\"role\":\"authenticated\",\"sub\":\"0d3f\","
        + "\"app_metadata\":{\"provider\":\"email\"},\"tenant_id\":\"acme\",\"tenant_role\":\"member\","
        + "\"permissions\":[\"notes:read\"],\"saaskit_pv\":12}");
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactly("member");
    assertThat(p.permissions()).containsExactly("notes:read");
    assertThat(p.permissionVersion().getAsLong()).isEqualTo(12);
  }

  @Test
  void auth0_reads_org_id_rbac_permissions_and_namespaced_claims() {
    Principal p = map(ClaimMappings.auth0("https://saas.example.com/"), "{\"iss\":\"https://acme.us.auth0.com/\","
        + "\"sub\":\"auth0|64f1\",\"aud\":[\"https://api.example.com\",\"https://acme.us.auth0.com/userinfo\"],"
        + "\"iat\":1767225000,\"exp\":1767311400,\"scope\":\"openid profile\",\"org_id\":\"org_9sYh\","
        + "\"permissions\":[\"read:invoices\",\"create:invoices\"],\"azp\":\"kP3x\","
        + "\"https://saas.example.com/roles\":[\"admin\"],\"https://saas.example.com/saaskit_pv\":5,"
        + "\"https://saas.example.com/email\":\"bo@acme.example\"}");
    assertThat(p.tenant()).contains(TenantId.of("org_9sYh"));
    assertThat(p.roles()).containsExactly("admin");
    assertThat(p.permissions()).containsExactlyInAnyOrder("read:invoices", "create:invoices");
    assertThat(p.permissionVersion().getAsLong()).isEqualTo(5);
    assertThat(p.email()).contains("bo@acme.example");
    assertThatThrownBy(() -> ClaimMappings.auth0(" ")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void keycloak_reads_the_organization_list_shape_and_realm_and_client_roles() {
    Principal p = map(ClaimMappings.keycloak("saas-api"), "{\"exp\":1767225900,\"iat\":1767225600,"
        + "\"jti\":\"onrtac:1\",\"iss\":\"https://kc.example.com/realms/saas\",\"aud\":\"saas-api\","
        + "\"sub\":\"f1b2c3\",\"typ\":\"Bearer\",\"azp\":\"saas-web\",\"realm_access\":{\"roles\":"
        + "[\"default-roles-saas\",\"member\"]},\"resource_access\":{\"saas-api\":{\"roles\":[\"billing-admin\"]},"
        + "\"account\":{\"roles\":[\"manage-account\"]}},\"organization\":[\"acme\"],\"email\":\"cy@acme.example\"}");
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactlyInAnyOrder("default-roles-saas", "member", "billing-admin");
    assertThat(p.roles()).doesNotContain("manage-account");
  }

  @Test
  void keycloak_reads_the_organization_map_shape_with_ids() {
    Principal p = map(ClaimMappings.keycloak("saas-api"), "{\"iss\":\"https://kc.example.com/realms/saas\","
        + "\"sub\":\"f1b2c3\",\"organization\":{\"acme\":{\"id\":\"42a7c0de-0c4f-4a53-9d8e-1f6b9a0c2d11\"}},"
        + "\"saaskit_pv\":2}");
    assertThat(p.tenant()).contains(TenantId.of("42a7c0de-0c4f-4a53-9d8e-1f6b9a0c2d11"));
    assertThat(p.permissionVersion().getAsLong()).isEqualTo(2);
    Principal aliasOnly = map(ClaimMappings.keycloak("saas-api"), "{\"iss\":\"k\",\"sub\":\"s\","
        + "\"organization\":{\"acme\":{}}}");
    assertThat(aliasOnly.tenant()).contains(TenantId.of("acme"));
    Principal two = map(ClaimMappings.keycloak("saas-api"), "{\"iss\":\"k\",\"sub\":\"s\","
        + "\"organization\":[\"acme\",\"globex\"]}");
    assertThat(two.tenant()).isEmpty(); // ambiguous: no tenant rather than a guess
  }

  @Test
  void workos_reads_org_id_role_roles_and_permissions() {
    Principal p = map(ClaimMappings.workos(), "{\"iss\":\"https://api.workos.com/user_management/client_01H\","
        + "\"sub\":\"user_01HBEQ\",\"sid\":\"session_01H\",\"jti\":\"01HN\",\"org_id\":\"org_01HRDMC\","
        + "\"role\":\"admin\",\"roles\":[\"admin\",\"billing\"],\"permissions\":[\"posts:create\",\"posts:delete\"],"
        + "\"exp\":1767225900,\"iat\":1767225600}");
    assertThat(p.tenant()).contains(TenantId.of("org_01HRDMC"));
    assertThat(p.roles()).containsExactlyInAnyOrder("admin", "billing");
    assertThat(p.permissions()).containsExactlyInAnyOrder("posts:create", "posts:delete");
  }

  @Test
  void generic_reads_configured_names_and_dotted_paths() {
    ClaimMapping mapping = ClaimMappings.generic().tenantClaim("ctx.tenant").roleClaims("groups")
        .permissionsClaim("scp").permissionVersionClaim("pv").emailClaim("mail").build();
    Principal p = map(mapping, "{\"iss\":\"https://idp.corp.example\",\"sub\":\"e-1001\",\"ctx\":{\"tenant\":"
        + "\"acme\"},\"groups\":[\"admin\"],\"scp\":\"invoices:read invoices:write\",\"pv\":9,"
        + "\"mail\":\"dee@acme.example\",\"email\":\"other@evil.example\"}");
    assertThat(p.tenant()).contains(TenantId.of("acme"));
    assertThat(p.roles()).containsExactly("admin");
    assertThat(p.permissions()).containsExactlyInAnyOrder("invoices:read", "invoices:write");
    assertThat(p.permissionVersion().getAsLong()).isEqualTo(9);
    assertThat(p.email()).contains("dee@acme.example");
    assertThat(p.subject()).isEqualTo("e-1001");
  }

  @Test
  void standard_reads_our_own_claims_and_the_default_pv_name() {
    assertThat(ClaimMappings.PERMISSION_VERSION).isEqualTo("saaskit_pv");
    Principal p = map(ClaimMappings.standard(), "{\"iss\":\"i\",\"sub\":\"s\",\"tenant_id\":\"acme\","
        + "\"role\":\"owner\",\"roles\":[\"admin\"],\"permissions\":[\"x:y\"],\"saaskit_pv\":0}");
    assertThat(p.roles()).containsExactlyInAnyOrder("owner", "admin");
    assertThat(p.permissionVersion().getAsLong()).isZero();
  }

  @Test
  void wrongly_typed_claims_are_bad_claims() {
    for (String json : new String[] {"{\"iss\":\"i\",\"sub\":\"s\",\"roles\":[1,2]}",
        "{\"iss\":\"i\",\"sub\":\"s\",\"saaskit_pv\":-1}", "{\"iss\":\"i\",\"sub\":\"s\",\"saaskit_pv\":\"v1\"}",
        "{\"iss\":\"i\",\"sub\":\"s\",\"tenant_id\":[\"a\"]}"}) {
      assertThatThrownBy(() -> map(ClaimMappings.standard(), json)).isInstanceOfSatisfying(
          InvalidTokenException.class, e -> assertThat(e.reason()).isEqualTo(Reason.BAD_CLAIM));
    }
    assertThatThrownBy(() -> map(ClaimMappings.keycloak("c"), "{\"iss\":\"i\",\"sub\":\"s\",\"organization\":7}"))
        .isInstanceOf(InvalidTokenException.class);
  }
}
