package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The in-memory side of revocation: versions loaded once, forgotten on invalidation, never left stale by a race. */
class PermissionVersionsTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  final Map<String, Long> table = new ConcurrentHashMap<>();
  final AtomicInteger loads = new AtomicInteger();

  long read(TenantId tenant, String user) {
    loads.incrementAndGet();
    return table.getOrDefault(tenant.value() + "/" + user, PermissionVersions.NO_MEMBERSHIP);
  }

  @Test
  void loadsOnceThenServesFromMemoryUntilInvalidated() {
    PermissionVersions versions = PermissionVersions.loadingFrom(this::read);
    table.put("acme/u", 3L);
    table.put("globex/u", 8L);
    assertThat(versions.current(ACME, "u")).isEqualTo(3);
    assertThat(versions.current(ACME, "u")).isEqualTo(3);
    assertThat(versions.current(GLOBEX, "u")).isEqualTo(8);
    assertThat(versions.current(ACME, "nobody")).isEqualTo(PermissionVersions.NO_MEMBERSHIP);
    assertThat(versions.current(ACME, "nobody")).isEqualTo(PermissionVersions.NO_MEMBERSHIP);
    assertThat(loads).hasValue(3);

    table.put("acme/u", 4L);
    table.put("globex/u", 9L);
    versions.invalidate(ACME, "u");
    assertThat(versions.current(ACME, "u")).isEqualTo(4);
    assertThat(versions.current(GLOBEX, "u")).as("another tenant's entry is untouched").isEqualTo(8);
    versions.invalidateTenant(GLOBEX);
    assertThat(versions.current(GLOBEX, "u")).isEqualTo(9);
    table.put("acme/u", 5L);
    table.put("globex/u", 10L);
    versions.invalidateAll();
    assertThat(versions.current(ACME, "u")).isEqualTo(5);
    assertThat(versions.current(GLOBEX, "u")).isEqualTo(10);
  }

  @Test
  void aFailedLoadIsNotCachedAndAnImpossibleVersionIsRefused() {
    AtomicInteger calls = new AtomicInteger();
    PermissionVersions versions = PermissionVersions.loadingFrom((t, u) -> {
      if (calls.incrementAndGet() == 1) {
        throw new java.sql.SQLTransientConnectionException("pool exhausted");
      }
      return calls.get() == 2 ? -7 : 2;
    });
    assertThatThrownBy(() -> versions.current(ACME, "u")).isInstanceOf(SaasException.class)
        .hasMessageContaining("pool exhausted").hasMessageContaining("acme");
    assertThatThrownBy(() -> versions.current(ACME, "u")).isInstanceOf(SaasException.class)
        .hasMessageContaining("-7");
    assertThat(versions.current(ACME, "u")).isEqualTo(2);
  }

  @Test
  void anInvalidationDuringALoadWinsOverTheValueThatLoadRead() throws Exception {
    CountDownLatch readDone = new CountDownLatch(1);
    CountDownLatch mayReturn = new CountDownLatch(1);
    AtomicInteger slow = new AtomicInteger(1);
    table.put("acme/u", 3L);
    PermissionVersions versions = PermissionVersions.loadingFrom((t, u) -> {
      long v = read(t, u);
      if (slow.getAndSet(0) == 1) {
        readDone.countDown();
        assertThat(mayReturn.await(1, TimeUnit.MINUTES)).isTrue();
      }
      return v;
    });
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      // a check starts loading and reads version 3 ...
      Future<Long> first = pool.submit(() -> versions.current(ACME, "u"));
      assertThat(readDone.await(1, TimeUnit.MINUTES)).isTrue();
      // ... the demotion commits and is invalidated before that load stores what it read
      table.put("acme/u", 4L);
      versions.invalidate(ACME, "u");
      mayReturn.countDown();
      assertThat(first.get(1, TimeUnit.MINUTES)).isEqualTo(3L);
      // the value read before the change must not stay: the next check sees the new version
      assertThat(versions.current(ACME, "u")).isEqualTo(4);
      assertThat(loads).hasValue(2);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void theMapStaysWithinItsMaximumSizeAndAnEvictedRevocationIsReloaded() {
    PermissionVersions versions = PermissionVersions.builder(this::read).maximumSize(100).build();
    assertThat(versions.maximumSize()).isEqualTo(100);
    Authorizer authorizer = Authorizer.builder(RoleModel.builder().role("admin", "invoice:read").build())
        .permissionVersions(versions).build();
    Principal oldToken = Principal.builder("https://idp", "victim").tenant(ACME).roles(java.util.Set.of("admin"))
        .permissionVersion(5L).build();
    String victim = "acme/" + oldToken.userKey();
    table.put(victim, 5L);
    assertThat(authorizer.check(oldToken, "invoice:read")).isTrue();
    // the user is demoted (version 6): the token carrying version 5 is refused from now on
    table.put(victim, 6L);
    versions.invalidate(ACME, oldToken.userKey());
    assertThat(authorizer.check(oldToken, "invoice:read")).isFalse();
    // many other members are checked, in many tenants: far more than the bound
    for (int i = 0; i < 10_000; i++) {
      TenantId tenant = TenantId.of("t" + (i % 500));
      table.put(tenant.value() + "/u" + i, 1L);
      assertThat(versions.current(tenant, "u" + i)).isEqualTo(1);
      assertThat(versions.size()).isLessThanOrEqualTo(100);
    }
    assertThat(versions.tenantCount()).as("emptied tenants are dropped too").isLessThanOrEqualTo(100);
    // the demoted user's entry was evicted long ago: the check reloads it, and the old token stays refused
    int before = loads.get();
    assertThat(authorizer.check(oldToken, "invoice:read")).isFalse();
    assertThat(loads.get()).as("an evicted entry is reloaded, never guessed").isEqualTo(before + 1);
    // and once removed, evicted again: still refused
    table.remove(victim);
    versions.invalidate(ACME, oldToken.userKey());
    assertThat(authorizer.check(oldToken, "invoice:read")).isFalse();
    for (int i = 0; i < 1_000; i++) {
      TenantId tenant = TenantId.of("t" + (i % 7));
      table.put(tenant.value() + "/w" + i, 1L);
      versions.current(tenant, "w" + i);
    }
    assertThat(authorizer.check(oldToken, "invoice:read")).isFalse();
    assertThat(versions.size()).isLessThanOrEqualTo(100);
  }

  @Test
  void hotEntriesSurviveEvictionWithoutAQuery() {
    PermissionVersions versions = PermissionVersions.builder(this::read).maximumSize(1_000).build();
    table.put("acme/hot", 2L);
    versions.current(ACME, "hot");
    for (int i = 0; i < 20_000; i++) {
      table.put("acme/cold" + i, 1L);
      versions.current(ACME, "cold" + i);
      assertThat(versions.current(ACME, "hot")).isEqualTo(2);
    }
    assertThat(table.size()).isEqualTo(20_001);
    assertThat(loads).as("the hot entry was loaded once; every cold one once").hasValue(20_001);
    assertThat(versions.size()).isLessThanOrEqualTo(1_000);
  }

  @Test
  void theMaximumSizeIsChecked() {
    assertThat(PermissionVersions.loadingFrom(this::read).maximumSize())
        .isEqualTo(PermissionVersions.DEFAULT_MAXIMUM_SIZE);
    assertThatThrownBy(() -> PermissionVersions.builder(this::read).maximumSize(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maximumSize").hasMessageContaining("0");
  }

  @Test
  void underConcurrencyTheBoundHoldsAndNoRevocationIsLost() throws Exception {
    int threads = 6;
    int perThread = 20_000;
    PermissionVersions versions = PermissionVersions.builder(this::read).maximumSize(500).build();
    for (int i = 0; i < 50; i++) {
      table.put("acme/member" + i, 1L);
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    AtomicInteger wrong = new AtomicInteger();
    AtomicInteger maxSeen = new AtomicInteger();
    java.util.concurrent.atomic.AtomicIntegerArray revoked = new java.util.concurrent.atomic.AtomicIntegerArray(50);
    try {
      java.util.List<Future<?>> done = new java.util.ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        done.add(pool.submit(() -> {
          assertThat(start.await(1, TimeUnit.MINUTES)).isTrue();
          for (int i = 0; i < perThread; i++) {
            if (id == 0 && i % 100 == 0) {
              // revoke one member: the table first, then the invalidation (as Memberships does)
              int m = i / 100 % 50;
              table.put("acme/member" + m, PermissionVersions.NO_MEMBERSHIP);
              versions.invalidate(ACME, "member" + m);
              revoked.set(m, 1);
            }
            TenantId tenant = TenantId.of("t" + (i % 37));
            String user = "u" + id + "-" + i;
            table.put(tenant.value() + "/" + user, 1L);
            if (versions.current(tenant, user) != 1L) {
              wrong.incrementAndGet();
            }
            // a check that starts after a revocation's invalidation returned must see it, evicted or not
            int m = i % 50;
            boolean wasRevoked = revoked.get(m) == 1;
            long seen = versions.current(ACME, "member" + m);
            if (wasRevoked && seen != PermissionVersions.NO_MEMBERSHIP) {
              wrong.incrementAndGet();
            }
            maxSeen.accumulateAndGet(versions.size(), Math::max);
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get(5, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(wrong).hasValue(0);
    assertThat(maxSeen.get()).as("at most one in-flight load per thread above the bound")
        .isLessThanOrEqualTo(500 + threads);
    // every revocation is seen once the threads are done, whatever was evicted meanwhile
    for (int i = 0; i < 50; i++) {
      assertThat(versions.current(ACME, "member" + i)).as("member" + i).isEqualTo(table.get("acme/member" + i));
    }
    assertThat(versions.size()).isLessThanOrEqualTo(500);
  }
}
