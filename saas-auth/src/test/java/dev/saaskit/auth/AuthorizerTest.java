package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.AccessDeniedException.Reason;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The rules of the in-process authorizer: tenant, revocation, roles, direct permissions, grants, PDP, listener. */
class AuthorizerTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");
  static final String ISS = "https://idp.example";

  static Principal user(String subject, TenantId tenant, String... roles) {
    return Principal.builder(ISS, subject).tenant(tenant).roles(List.of(roles)).build();
  }

  /** The reason {@code require} gives, or null when it allows. */
  static Reason reason(Runnable require) {
    try {
      require.run();
      return null;
    } catch (AccessDeniedException e) {
      return e.reason();
    }
  }

  @Test
  void rolesResolveThroughTheModelAndUnknownRolesGiveNothing() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    Principal member = user("m", ACME, "member");
    Principal admin = user("a", ACME, "admin");
    Principal owner = user("o", ACME, "owner");
    Principal ghost = user("g", ACME, "superuser", "Owner");
    assertThat(authz.check(member, "invoice:read")).isTrue();
    assertThat(authz.check(member, "members:invite")).isFalse();
    assertThat(authz.check(admin, "invoice:read")).isTrue();
    assertThat(authz.check(admin, "members:invite")).isTrue();
    assertThat(authz.check(admin, "billing:manage")).isFalse();
    assertThat(authz.check(owner, "billing:manage")).isTrue();
    assertThat(authz.check(owner, "tenant:delete")).isTrue();
    assertThat(authz.check(ghost, "invoice:read")).isFalse();
    assertThat(reason(() -> authz.require(ghost, "invoice:read"))).isEqualTo(Reason.NOT_PERMITTED);
    assertThat(reason(() -> authz.require(admin, "members:invite"))).isNull();
    // several roles add up
    Principal both = user("b", ACME, "member", "ghost", "owner");
    assertThat(authz.check(both, "tenant:delete")).isTrue();
  }

  @Test
  void unknownPermissionsFailClosedUnlessGrantedDirectly() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    Principal owner = user("o", ACME, "owner");
    assertThat(authz.check(owner, "invoice:raed")).isFalse();
    assertThat(reason(() -> authz.require(owner, "invoice:raed"))).isEqualTo(Reason.UNKNOWN_PERMISSION);
    assertThatThrownBy(() -> authz.require(owner, "invoice:raed")).hasMessageContaining("invoice:raed")
        .hasMessageContaining("UNKNOWN_PERMISSION");
    // an API key scope or an IdP permission the model does not know is still honoured when granted directly
    Principal key = Principal.builder("saaskit:api-key", "k1").tenant(ACME).method(Principal.Method.API_KEY)
        .permissions(List.of("reports:export", "invoice:read")).build();
    assertThat(authz.check(key, "reports:export")).isTrue();
    assertThat(authz.check(key, "invoice:read")).isTrue();
    assertThat(authz.check(key, "invoice:write")).isFalse();
    assertThat(reason(() -> authz.require(key, "invoice:write"))).isEqualTo(Reason.NOT_PERMITTED);
    assertThat(reason(() -> authz.require(key, "reports:delete"))).isEqualTo(Reason.UNKNOWN_PERMISSION);
  }

  @Test
  void tenantMismatchIsDeniedWhateverTheRolesAndReported() {
    List<Decision> decisions = new ArrayList<>();
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).decisionListener(decisions::add).build();
    Principal owner = user("o", ACME, "owner");
    // no TenantContext: the principal's own tenant is the target
    assertThat(authz.check(owner, "invoice:read")).isTrue();
    // TenantContext names another tenant
    TenantContext.run(GLOBEX, () -> {
      assertThat(authz.check(owner, "invoice:read")).isFalse();
      assertThat(authz.check(owner, "invoice:read", "inv-1")).isFalse();
      assertThat(reason(() -> authz.require(owner, "tenant:delete"))).isEqualTo(Reason.TENANT_MISMATCH);
      assertThat(reason(() -> authz.require(owner, "tenant:delete", "x"))).isEqualTo(Reason.TENANT_MISMATCH);
    });
    TenantContext.run(ACME, () -> assertThat(authz.check(owner, "invoice:read")).isTrue());
    Decision mismatch = decisions.get(1);
    assertThat(mismatch.allowed()).isFalse();
    assertThat(mismatch.denial()).contains(Reason.TENANT_MISMATCH);
    assertThat(mismatch.targetTenant()).contains(GLOBEX);
    assertThat(mismatch.principal()).isSameAs(owner);
    assertThat(mismatch.resource()).isEmpty();
    assertThat(decisions.get(2).resource()).contains("inv-1");
    assertThat(decisions).hasSize(6);
  }

  @Test
  void aTenantMismatchIsLoggedAtWarnWithoutTheCredential() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    Principal key = Principal.builder("saaskit:api-key", "key-owner").tenant(ACME)
        .method(Principal.Method.API_KEY).credentialId("pk_secretish_7f3a").permissions(List.of("invoice:read"))
        .claims(Map.of("raw", "sk_live_do_not_log")).build();
    java.io.PrintStream err = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      TenantContext.run(GLOBEX, () -> assertThat(authz.check(key, "invoice:read")).isFalse());
    } finally {
      System.setErr(err);
    }
    String log = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(log).contains("WARN").contains("key-owner").contains("acme").contains("globex")
        .contains("invoice:read").doesNotContain("sk_live_do_not_log").doesNotContain("pk_secretish_7f3a");
  }

  @Test
  void aPrincipalWithoutTenantIsDenied() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    Principal noTenant = Principal.builder(ISS, "n").roles(List.of("owner")).build();
    assertThat(authz.check(noTenant, "invoice:read")).isFalse();
    assertThat(reason(() -> authz.require(noTenant, "invoice:read"))).isEqualTo(Reason.NO_TENANT);
    TenantContext.run(ACME, () ->
        assertThat(reason(() -> authz.require(noTenant, "invoice:read", "r"))).isEqualTo(Reason.NO_TENANT));
  }

  /** A version source backed by a map, as a membership table would be; counts loads. */
  static final class VersionTable implements PermissionVersions.Loader {
    final Map<String, Long> rows = new ConcurrentHashMap<>();
    final AtomicInteger loads = new AtomicInteger();

    @Override
    public long load(TenantId tenant, String userKey) {
      loads.incrementAndGet();
      return rows.getOrDefault(tenant.value() + "/" + userKey, PermissionVersions.NO_MEMBERSHIP);
    }

    void set(TenantId tenant, Principal p, long version) {
      rows.put(tenant.value() + "/" + p.userKey(), version);
    }

    void remove(TenantId tenant, Principal p) {
      rows.remove(tenant.value() + "/" + p.userKey());
    }
  }

  @Test
  void aDemotedAdminIsDeniedAtOnceAfterTheVersionBumpAndInvalidation() {
    VersionTable table = new VersionTable();
    PermissionVersions versions = PermissionVersions.loadingFrom(table);
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).permissionVersions(versions).build();
    Principal admin = Principal.builder(ISS, "alice").tenant(ACME).roles(List.of("admin")).permissionVersion(3L)
        .build();
    table.set(ACME, admin, 3);
    assertThat(authz.check(admin, "members:invite")).isTrue();
    assertThat(authz.check(admin, "members:invite")).isTrue();
    assertThat(table.loads).hasValue(1);

    // demotion: the membership's version is bumped in the database, then every node invalidates
    table.set(ACME, admin, 4);
    assertThat(authz.check(admin, "members:invite")).as("before invalidation the cached version holds").isTrue();
    versions.invalidate(ACME, admin.userKey());
    assertThat(authz.check(admin, "members:invite")).isFalse();
    assertThat(authz.check(admin, "invoice:read")).as("even what the new role would allow: the token is stale")
        .isFalse();
    assertThat(reason(() -> authz.require(admin, "invoice:read"))).isEqualTo(Reason.STALE_PERMISSIONS);
    assertThat(reason(() -> authz.require(admin, "invoice:read", "inv-1"))).isEqualTo(Reason.STALE_PERMISSIONS);

    // the new token carries the new version and the new role
    Principal demoted = admin.toBuilder().roles(List.of("member")).permissionVersion(4L).build();
    assertThat(authz.check(demoted, "invoice:read")).isTrue();
    assertThat(authz.check(demoted, "members:invite")).isFalse();
    assertThat(reason(() -> authz.require(demoted, "members:invite"))).isEqualTo(Reason.NOT_PERMITTED);

    // removal: NO_MEMBERSHIP denies every credential of the user in that tenant
    table.remove(ACME, admin);
    versions.invalidate(ACME, admin.userKey());
    assertThat(reason(() -> authz.require(demoted, "invoice:read"))).isEqualTo(Reason.STALE_PERMISSIONS);
  }

  @Test
  void versionChecksDenyMissingVersionsNonMembersAndLoaderFailures() {
    VersionTable table = new VersionTable();
    PermissionVersions versions = PermissionVersions.loadingFrom(table);
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).permissionVersions(versions).build();
    Principal noVersion = user("nv", ACME, "owner");
    table.set(ACME, noVersion, 0);
    assertThat(reason(() -> authz.require(noVersion, "invoice:read"))).isEqualTo(Reason.STALE_PERMISSIONS);
    Principal stranger = Principal.builder(ISS, "s").tenant(ACME).roles(List.of("owner")).permissionVersion(9L)
        .build();
    assertThat(reason(() -> authz.require(stranger, "invoice:read"))).isEqualTo(Reason.STALE_PERMISSIONS);
    Principal newer = Principal.builder(ISS, "n").tenant(ACME).roles(List.of("member")).permissionVersion(5L)
        .build();
    table.set(ACME, newer, 2);
    assertThat(authz.check(newer, "invoice:read")).as("a version newer than the cached one is not stale").isTrue();
    // the same user's membership in another tenant is a separate version
    assertThat(authz.check(newer.toBuilder().tenant(GLOBEX).build(), "invoice:read")).isFalse();

    Authorizer failing = Authorizer.builder(RoleModel.defaults())
        .permissionVersions(PermissionVersions.loadingFrom((t, u) -> {
          throw new java.sql.SQLException("database down");
        })).build();
    assertThat(reason(() -> failing.require(newer, "invoice:read"))).isEqualTo(Reason.STALE_PERMISSIONS);
    // API keys carry fixed scopes and are revoked directly: the version check does not apply to them
    Principal key = Principal.builder("saaskit:api-key", "k").tenant(ACME).method(Principal.Method.API_KEY)
        .permissions(List.of("invoice:read")).build();
    assertThat(failing.check(key, "invoice:read")).isTrue();
  }

  @Test
  void resourceGrantsGiveRolesOrPermissionsOnOneResourceOnly() {
    ResourceGrants grants = new ResourceGrants();
    Authorizer authz = Authorizer.builder(RoleModel.builder()
        .role("viewer", "doc:read").role("editor", "doc:write").inherits("editor", "viewer")
        .permissions("doc:share").build()).resourceGrants(grants).build();
    Principal bob = user("bob", ACME);
    Principal eve = user("eve", ACME);
    grants.grantRole(ACME, bob.userKey(), "doc-1", "editor");
    grants.grantPermission(ACME, bob.userKey(), "doc-2", "doc:share");
    grants.grantPermission(ACME, bob.userKey(), "doc-2", "custom:thing");

    assertThat(authz.check(bob, "doc:read", "doc-1")).isTrue();
    assertThat(authz.check(bob, "doc:write", "doc-1")).isTrue();
    assertThat(authz.check(bob, "doc:share", "doc-1")).isFalse();
    assertThat(authz.check(bob, "doc:share", "doc-2")).isTrue();
    assertThat(authz.check(bob, "custom:thing", "doc-2")).isTrue();
    assertThat(authz.check(bob, "doc:read", "doc-2")).isFalse();
    assertThat(authz.check(bob, "doc:read", "doc-3")).isFalse();
    assertThat(authz.check(bob, "doc:read")).as("a resource grant is not tenant-wide").isFalse();
    assertThat(authz.check(eve, "doc:read", "doc-1")).as("another user").isFalse();
    assertThat(reason(() -> authz.require(eve, "doc:read", "doc-1"))).isEqualTo(Reason.NOT_PERMITTED);
    // the same user and resource id in another tenant
    Principal bobGlobex = user("bob", GLOBEX);
    assertThat(authz.check(bobGlobex, "doc:read", "doc-1")).isFalse();
    // a tenant-wide role covers every resource
    assertThat(authz.check(user("v", ACME, "viewer"), "doc:read", "any")).isTrue();

    grants.revoke(ACME, bob.userKey(), "doc-1");
    assertThat(authz.check(bob, "doc:read", "doc-1")).isFalse();
    assertThat(authz.check(bob, "doc:share", "doc-2")).isTrue();
    grants.revokeAll(ACME, bob.userKey());
    assertThat(authz.check(bob, "doc:share", "doc-2")).isFalse();
    grants.grantRole(ACME, bob.userKey(), "doc-9", "viewer");
    grants.revokeTenant(ACME);
    assertThat(authz.check(bob, "doc:read", "doc-9")).isFalse();
    assertThatThrownBy(() -> grants.grantRole(ACME, bob.userKey(), "", "viewer"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("resource");
  }

  @Test
  void thePolicyDecisionPointIsAskedLastAndFailsClosed() {
    List<String> asked = new ArrayList<>();
    PolicyDecisionPoint pdp = (principal, tenant, permission, resource) -> {
      asked.add(tenant.value() + " " + principal.subject() + " " + permission + " " + resource);
      if (resource.equals("boom")) {
        throw new IllegalStateException("policy engine unreachable");
      }
      return resource.startsWith("public-");
    };
    ResourceGrants grants = new ResourceGrants();
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).resourceGrants(grants).policyDecisionPoint(pdp)
        .build();
    Principal member = user("m", ACME, "member");
    grants.grantPermission(ACME, member.userKey(), "granted", "invoice:write");

    assertThat(authz.check(member, "invoice:read", "r1")).as("roles allow: PDP not asked").isTrue();
    assertThat(authz.check(member, "invoice:write", "granted")).as("grant allows: PDP not asked").isTrue();
    assertThat(asked).isEmpty();
    assertThat(authz.check(member, "invoice:write", "public-1")).isTrue();
    assertThat(authz.check(member, "invoice:write", "private-1")).isFalse();
    assertThat(reason(() -> authz.require(member, "invoice:write", "private-1"))).isEqualTo(Reason.POLICY_DENIED);
    assertThat(reason(() -> authz.require(member, "invoice:write", "boom"))).isEqualTo(Reason.POLICY_DENIED);
    assertThat(asked).contains("acme m invoice:write public-1", "acme m invoice:write boom");
    // the PDP is never asked across tenants, nor for tenant-wide checks
    int before = asked.size();
    TenantContext.run(GLOBEX, () -> assertThat(authz.check(member, "invoice:write", "public-1")).isFalse());
    assertThat(authz.check(member, "invoice:write")).isFalse();
    assertThat(asked).hasSize(before);
  }

  @Test
  void theListenerSeesEveryDecisionAndAThrowingListenerChangesNothing() {
    List<Decision> decisions = new ArrayList<>();
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).decisionListener(decisions::add).build();
    Principal member = user("m", ACME, "member");
    authz.check(member, "invoice:read");
    authz.check(member, "invoice:write", "inv-7");
    assertThatThrownBy(() -> authz.require(member, "nope:nope")).isInstanceOf(AccessDeniedException.class);
    assertThat(decisions).hasSize(3);
    Decision allowed = decisions.get(0);
    assertThat(allowed.allowed()).isTrue();
    assertThat(allowed.denial()).isEmpty();
    assertThat(allowed.targetTenant()).contains(ACME);
    assertThat(allowed.permission()).isEqualTo("invoice:read");
    Decision denied = decisions.get(1);
    assertThat(denied.allowed()).isFalse();
    assertThat(denied.denial()).contains(Reason.NOT_PERMITTED);
    assertThat(denied.resource()).contains("inv-7");
    assertThat(denied.toString()).contains("invoice:write", "inv-7", "acme", "NOT_PERMITTED");
    assertThat(decisions.get(2).denial()).contains(Reason.UNKNOWN_PERMISSION);

    Authorizer throwing = Authorizer.builder(RoleModel.defaults()).decisionListener(d -> {
      throw new IllegalStateException("audit log full");
    }).build();
    assertThat(throwing.check(member, "invoice:read")).isTrue();
    assertThat(throwing.check(member, "invoice:write")).isFalse();
  }

  @Test
  void oneModelPerAuthorizerEvenForTheSamePrincipal() {
    RoleModel strict = RoleModel.builder().role("member", "invoice:read").build();
    RoleModel generous = RoleModel.builder().role("member", "invoice:read", "invoice:write").build();
    Authorizer a = Authorizer.builder(strict).build();
    Authorizer b = Authorizer.builder(generous).build();
    Principal member = user("m", ACME, "member");
    for (int i = 0; i < 3; i++) {
      assertThat(a.check(member, "invoice:write")).isFalse();
      assertThat(b.check(member, "invoice:write")).isTrue();
    }
  }
}
