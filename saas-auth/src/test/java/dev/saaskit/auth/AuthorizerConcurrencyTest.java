package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Many threads deciding while grants and versions change: no exception, never a cross-tenant allow, and once a
 * revocation (grant removed; version bumped and invalidated) has returned, no thread is allowed by the old state.
 */
class AuthorizerConcurrencyTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");
  static final int READERS = 6;
  static final int ROUNDS = 2_000;

  @Test
  void revocationsHoldForEveryThreadOnceTheyReturn() throws Exception {
    Map<String, Long> table = new ConcurrentHashMap<>();
    PermissionVersions versions = PermissionVersions.loadingFrom(
        (t, u) -> table.getOrDefault(t.value() + "/" + u, PermissionVersions.NO_MEMBERSHIP));
    ResourceGrants grants = new ResourceGrants();
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).permissionVersions(versions)
        .resourceGrants(grants).build();

    Principal admin = Principal.builder("https://idp.example", "alice").tenant(ACME).roles(List.of("admin"))
        .permissionVersion(1L).build();
    Principal guest = Principal.builder("https://idp.example", "gus").tenant(ACME).permissionVersion(1L).build();
    Principal intruder = Principal.builder("https://idp.example", "ivan").tenant(GLOBEX).roles(List.of("owner"))
        .permissionVersion(1L).build();
    table.put("acme/" + admin.userKey(), 1L);
    table.put("acme/" + guest.userKey(), 1L);
    table.put("globex/" + intruder.userKey(), 1L);

    AtomicBoolean grantRevoked = new AtomicBoolean();
    AtomicBoolean adminDemoted = new AtomicBoolean();
    AtomicLong violations = new AtomicLong();
    AtomicLong decisions = new AtomicLong();
    AtomicLong allowedByGrant = new AtomicLong();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(READERS + 2);
    List<Future<?>> readers = new ArrayList<>();
    try {
      for (int r = 0; r < READERS; r++) {
        readers.add(pool.submit(() -> {
          start.await();
          int afterBoth = 0;
          while (afterBoth < 2_000) {
            boolean revokedBefore = grantRevoked.get();
            boolean demotedBefore = adminDemoted.get();
            boolean byGrant = authz.check(guest, "invoice:write", "inv-1");
            boolean asAdmin = authz.check(admin, "members:invite");
            boolean cross = TenantContext.call(ACME, () -> authz.check(intruder, "invoice:read"));
            decisions.addAndGet(3);
            if (byGrant) {
              allowedByGrant.incrementAndGet();
            }
            if (revokedBefore && byGrant || demotedBefore && asAdmin || cross) {
              violations.incrementAndGet();
            }
            if (revokedBefore && demotedBefore) {
              afterBoth++;
            }
          }
          return null;
        }));
      }
      Future<?> grantWriter = pool.submit(() -> {
        start.await();
        for (int i = 0; i < ROUNDS; i++) {
          grants.grantRole(ACME, guest.userKey(), "inv-1", "admin");
          grants.grantPermission(ACME, guest.userKey(), "inv-" + (i % 50 + 2), "invoice:write");
          if (i % 3 == 0) {
            grants.revokeAll(ACME, guest.userKey());
          } else {
            grants.revoke(ACME, guest.userKey(), "inv-1");
          }
        }
        grants.revokeAll(ACME, guest.userKey());
        grantRevoked.set(true);
        return null;
      });
      Future<?> versionWriter = pool.submit(() -> {
        start.await();
        // other memberships churn (invalidations racing with loads), then the admin is demoted
        for (int i = 0; i < ROUNDS; i++) {
          table.put("acme/churn" + (i % 20), (long) i);
          versions.invalidate(ACME, "churn" + (i % 20));
          versions.invalidate(ACME, admin.userKey());
        }
        table.put("acme/" + admin.userKey(), 2L);
        versions.invalidate(ACME, admin.userKey());
        adminDemoted.set(true);
        return null;
      });
      start.countDown();
      grantWriter.get(2, TimeUnit.MINUTES);
      versionWriter.get(2, TimeUnit.MINUTES);
      for (Future<?> f : readers) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(violations).hasValue(0);
    assertThat(decisions.get()).isGreaterThan(READERS * 6_000L);
    assertThat(authz.check(guest, "invoice:write", "inv-1")).isFalse();
    assertThat(authz.check(admin, "members:invite")).isFalse();
    assertThat(authz.check(admin.toBuilder().permissionVersion(2L).build(), "members:invite")).isTrue();
    assertThat(grants.lookup(ACME, guest.userKey(), "inv-2")).as("revokeAll left nothing").isNull();
  }

  @Test
  void grantsMadeConcurrentlyByManyThreadsAreAllKept() throws Exception {
    ResourceGrants grants = new ResourceGrants();
    int threads = 8;
    int each = 500;
    ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> futures = new ArrayList<>();
    try {
      for (int t = 0; t < threads; t++) {
        int id = t;
        futures.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < each; i++) {
            grants.grantPermission(ACME, "user" + (i % 4), "r" + id + "-" + i, "doc:read");
            grants.grantRole(ACME, "user" + (i % 4), "r" + id + "-" + i, "viewer");
          }
          return null;
        }));
      }
      // meanwhile another user's grants come and go in the same tenant
      futures.add(pool.submit(() -> {
        start.await();
        for (int i = 0; i < each; i++) {
          grants.grantRole(ACME, "other", "x" + i, "viewer");
          grants.revokeAll(ACME, "other");
        }
        return null;
      }));
      start.countDown();
      for (Future<?> f : futures) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    for (int t = 0; t < threads; t++) {
      for (int i = 0; i < each; i++) {
        ResourceGrants.Grant g = grants.lookup(ACME, "user" + (i % 4), "r" + t + "-" + i);
        assertThat(g).isNotNull();
        assertThat(g.roles).containsExactly("viewer");
        assertThat(g.permissions).containsExactly("doc:read");
      }
    }
    assertThat(grants.lookup(ACME, "other", "x0")).isNull();
  }
}
