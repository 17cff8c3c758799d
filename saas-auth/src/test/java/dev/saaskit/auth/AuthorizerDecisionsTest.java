package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.AccessDeniedException.Reason;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The in-process authorizer: roles, direct permissions, tenants, revocation, grants, the PDP, the listener. */
class AuthorizerDecisionsTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  static Principal user(TenantId tenant, String... roles) {
    return Principal.builder("https://idp.test", "user-1").tenant(tenant).roles(List.of(roles))
        .permissionVersion(1L).build();
  }

  @Test
  void rolesInheritAlongTheDefaultChain() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    assertThat(authz.check(user(ACME, "member"), "invoice:read")).isTrue();
    assertThat(authz.check(user(ACME, "member"), "invoice:write")).isFalse();
    assertThat(authz.check(user(ACME, "admin"), "invoice:read")).isTrue();
    assertThat(authz.check(user(ACME, "admin"), "billing:manage")).isFalse();
    assertThat(authz.check(user(ACME, "owner"), "billing:manage")).isTrue();
    assertThat(authz.check(user(ACME, "owner"), "members:read")).isTrue();
    assertThat(authz.check(user(ACME, "nobody-knows-me"), "invoice:read")).isFalse();
  }

  @Test
  void denialsSayWhy() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    assertThatThrownBy(() -> authz.require(user(ACME, "member"), "invoice:write"))
        .isInstanceOfSatisfying(AccessDeniedException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NOT_PERMITTED));
    // a typo in code fails closed, and is told apart from a plain "no"
    assertThatThrownBy(() -> authz.require(user(ACME, "owner"), "invoice:raed"))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.UNKNOWN_PERMISSION));
    Principal noTenant = Principal.builder("https://idp.test", "u").roles(List.of("owner")).build();
    assertThatThrownBy(() -> authz.require(noTenant, "invoice:read"))
        .isInstanceOfSatisfying(AccessDeniedException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NO_TENANT));
  }

  @Test
  void directPermissionsCountButOnlyForTheirOwnName() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    Principal key = Principal.builder("saaskit:api-key", "apikey:abc").tenant(ACME).method(Principal.Method.API_KEY)
        .permissions(List.of("invoice:read", "reports:export")).build();
    assertThat(authz.check(key, "invoice:read")).isTrue();
    assertThat(authz.check(key, "reports:export")).isTrue(); // unknown to the model, granted directly
    assertThat(authz.check(key, "invoice:write")).isFalse();
  }

  @Test
  void aPrincipalNeverActsInAnotherTenantWhateverItsRoles() {
    List<Decision> decisions = new CopyOnWriteArrayList<>();
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).decisionListener(decisions::add).build();
    Principal owner = user(ACME, "owner");
    assertThat(TenantContext.call(GLOBEX, () -> authz.check(owner, "invoice:read"))).isFalse();
    assertThat(TenantContext.call(GLOBEX, () -> authz.check(owner, "invoice:read", "inv-1"))).isFalse();
    assertThat(TenantContext.call(ACME, () -> authz.check(owner, "invoice:read"))).isTrue();
    assertThat(decisions).hasSize(3);
    assertThat(decisions.get(0).allowed()).isFalse();
    assertThat(decisions.get(0).denial()).contains(Reason.TENANT_MISMATCH);
    assertThat(decisions.get(0).targetTenant()).contains(GLOBEX);
    assertThat(decisions.get(2).allowed()).isTrue();
    assertThat(decisions.get(2).denial()).isEmpty();
    assertThatThrownBy(() -> TenantContext.run(GLOBEX, () -> authz.require(owner, "invoice:read")))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.TENANT_MISMATCH));
  }

  @Test
  void aTokenOlderThanTheMembershipIsDeniedAndAnApiKeyIsNotAskedForAVersion() {
    Map<String, Long> table = new ConcurrentHashMap<>();
    table.put("acme|user-1", 1L);
    PermissionVersions versions = PermissionVersions.loadingFrom(
        (tenant, userKey) -> table.getOrDefault(tenant.value() + "|" + userKey.substring(userKey.indexOf('\0') + 1),
            PermissionVersions.NO_MEMBERSHIP));
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).permissionVersions(versions).build();
    Principal admin = user(ACME, "admin");
    assertThat(authz.check(admin, "members:invite")).isTrue();
    // demoted: the version is bumped, the node is told
    table.put("acme|user-1", 2L);
    versions.invalidate(ACME, admin.userKey());
    assertThatThrownBy(() -> authz.require(admin, "invoice:read"))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.STALE_PERMISSIONS));
    Principal fresh = admin.toBuilder().roles(List.of("member")).permissionVersion(2L).build();
    assertThat(authz.check(fresh, "invoice:read")).isTrue();
    assertThat(authz.check(fresh, "members:invite")).isFalse();
    // removed: no membership, every token denied
    table.remove("acme|user-1");
    versions.invalidate(ACME, admin.userKey());
    assertThat(authz.check(fresh, "invoice:read")).isFalse();
    // a token without a version cannot prove it is current
    Principal unversioned = Principal.builder("https://idp.test", "user-2").tenant(ACME).roles(List.of("owner")).build();
    table.put("acme|user-2", 0L);
    assertThat(authz.check(unversioned, "invoice:read")).isFalse();
    Principal key = Principal.builder("saaskit:api-key", "apikey:k1").tenant(ACME).method(Principal.Method.API_KEY)
        .permissions(List.of("invoice:read")).build();
    assertThat(authz.check(key, "invoice:read")).isTrue();
  }

  @Test
  void aFailingVersionSourceFailsClosed() {
    PermissionVersions broken = PermissionVersions.loadingFrom((tenant, user) -> {
      throw new java.sql.SQLException("database down");
    });
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).permissionVersions(broken).build();
    assertThat(authz.check(user(ACME, "owner"), "invoice:read")).isFalse();
  }

  @Test
  void resourceGrantsAllowOnTheirResourceOnly() {
    ResourceGrants grants = new ResourceGrants();
    Principal member = user(ACME, "member");
    grants.grantRole(ACME, member.userKey(), "project-7", "admin");
    grants.grantPermission(ACME, member.userKey(), "invoice-9", "invoice:write");
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).resourceGrants(grants).build();
    assertThat(authz.check(member, "project:write", "project-7")).isTrue();
    assertThat(authz.check(member, "project:write", "project-8")).isFalse();
    assertThat(authz.check(member, "project:write")).isFalse();
    assertThat(authz.check(member, "invoice:write", "invoice-9")).isTrue();
    assertThat(authz.check(member, "invoice:write", "invoice-10")).isFalse();
    // the same user and resource id in another tenant gets nothing
    Principal elsewhere = user(GLOBEX, "member");
    assertThat(authz.check(elsewhere, "project:write", "project-7")).isFalse();
    grants.revoke(ACME, member.userKey(), "project-7");
    assertThat(authz.check(member, "project:write", "project-7")).isFalse();
    grants.revokeAll(ACME, member.userKey());
    assertThat(authz.check(member, "invoice:write", "invoice-9")).isFalse();
  }

  @Test
  void thePolicyDecisionPointDecidesWhatRolesDoNotAndFailsClosed() {
    List<String> asked = new CopyOnWriteArrayList<>();
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).policyDecisionPoint((p, tenant, perm, resource) -> {
      asked.add(tenant.value() + " " + perm + " " + resource);
      if (resource.equals("boom")) {
        throw new IllegalStateException("PDP down");
      }
      return resource.startsWith("shared-");
    }).build();
    Principal member = user(ACME, "member");
    assertThat(authz.check(member, "invoice:read", "any")).isTrue(); // roles allow: the PDP is not asked
    assertThat(asked).isEmpty();
    assertThat(authz.check(member, "project:write", "shared-1")).isTrue();
    assertThat(authz.check(member, "project:write", "private-1")).isFalse();
    assertThatThrownBy(() -> authz.require(member, "project:write", "boom"))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.POLICY_DENIED));
    assertThat(asked).containsExactly("acme project:write shared-1", "acme project:write private-1",
        "acme project:write boom");
    // another tenant is denied before the PDP is asked
    assertThat(TenantContext.call(GLOBEX, () -> authz.check(member, "project:write", "shared-1"))).isFalse();
    assertThat(asked).hasSize(3);
  }

  @Test
  void aThrowingListenerDoesNotChangeTheDecision() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).decisionListener(d -> {
      throw new IllegalStateException("listener bug");
    }).build();
    assertThat(authz.check(user(ACME, "member"), "invoice:read")).isTrue();
    assertThat(authz.check(user(ACME, "member"), "invoice:write")).isFalse();
  }

  @Test
  void aCheckAllocatesNothingOnceWarm() {
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    RoleModel.Builder b = RoleModel.builder();
    for (int r = 0; r < 1000; r++) {
      b.role("role" + r, "p" + r + ":read");
      if (r > 0) {
        b.inherits("role" + r, "role" + (r - 1));
      }
    }
    ResourceGrants grants = new ResourceGrants();
    Principal p = user(ACME, "role999");
    grants.grantPermission(ACME, p.userKey(), "doc-1", "extra:write");
    b.permissions("extra:write");
    PermissionVersions versions = PermissionVersions.loadingFrom((t, u) -> 1L);
    Authorizer authz = Authorizer.builder(b.build()).resourceGrants(grants).permissionVersions(versions).build();
    boolean all = true;
    for (int i = 0; i < 200_000; i++) {
      all &= authz.check(p, "p0:read");
      all &= authz.check(p, "extra:write", "doc-1");
    }
    long before = threads.getThreadAllocatedBytes(Thread.currentThread().getId());
    for (int i = 0; i < 100_000; i++) {
      all &= authz.check(p, "p0:read");
      all &= authz.check(p, "extra:write", "doc-1");
    }
    long allocated = threads.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
    assertThat(all).isTrue();
    // 200,000 checks: a per-call allocation would be megabytes; the bound leaves room for the bean's own bytes
    assertThat(allocated).isLessThan(64 * 1024);
  }

  @Test
  void decisionsStayConsistentWhileGrantsAndVersionsChange() throws Exception {
    ResourceGrants grants = new ResourceGrants();
    Map<String, Long> table = new ConcurrentHashMap<>();
    PermissionVersions versions = PermissionVersions.loadingFrom((t, u) -> table.getOrDefault(u, 1L));
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).resourceGrants(grants).permissionVersions(versions)
        .build();
    Principal member = user(ACME, "member");
    Principal other = user(GLOBEX, "owner");
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<?>> futures = new ArrayList<>();
    try {
      futures.add(pool.submit(() -> {
        for (int i = 0; i < 20_000; i++) {
          grants.grantRole(ACME, member.userKey(), "p" + (i % 50), "admin");
          grants.revoke(ACME, member.userKey(), "p" + ((i + 25) % 50));
          versions.invalidate(ACME, member.userKey());
        }
        stop.set(true);
        return null;
      }));
      for (int t = 0; t < 3; t++) {
        futures.add(pool.submit(() -> {
          while (!stop.get()) {
            // invariants that no interleaving may break
            if (!authz.check(member, "invoice:read") || authz.check(member, "billing:manage", "p1")
                || TenantContext.call(ACME, () -> authz.check(other, "invoice:read"))) {
              throw new AssertionError("a decision broke an invariant");
            }
          }
          return null;
        }));
      }
      for (Future<?> f : futures) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
