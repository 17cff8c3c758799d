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
}
