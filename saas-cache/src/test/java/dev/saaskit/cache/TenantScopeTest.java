package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.GLOBEX;
import static dev.saaskit.cache.Fixtures.as;
import static dev.saaskit.cache.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.internal.DefaultSaasCache;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TenantScopeTest {
  private final MutableClock clock = Fixtures.clock();

  private SaasCache.Builder<String, String> cache() {
    return SaasCache.<String, String>named("scoped").ttl(Duration.ofMinutes(5)).clock(clock).executor(Runnable::run);
  }

  @Test
  void theSameKeyInTwoTenantsIsTwoEntries() {
    try (SaasCache<String, String> c = cache().build()) {
      in(ACME, () -> c.put("plan", "acme-pro"));
      assertThat(as(GLOBEX, () -> c.getIfPresent("plan"))).isNull();
      assertThat(as(GLOBEX, () -> c.get("plan", k -> "globex-free"))).isEqualTo("globex-free");
      assertThat(as(ACME, () -> c.get("plan", k -> "never loaded"))).isEqualTo("acme-pro");
      assertThat(as(GLOBEX, () -> c.getIfPresent("plan"))).isEqualTo("globex-free");
      in(GLOBEX, () -> c.invalidate("plan"));
      assertThat(as(GLOBEX, () -> c.getIfPresent("plan"))).isNull();
      assertThat(as(ACME, () -> c.getIfPresent("plan"))).isEqualTo("acme-pro");
    }
  }

  @Test
  void aTenantScopedCacheRefusesWorkWithoutATenant() {
    AtomicInteger loads = new AtomicInteger();
    try (SaasCache<String, String> c = cache().build()) {
      assertThatThrownBy(() -> c.get("plan", k -> "v" + loads.incrementAndGet()))
          .isInstanceOf(MissingTenantException.class)
          .hasMessageContaining("cache 'scoped' is tenant-scoped and no tenant is set")
          .hasMessageContaining(".global()");
      assertThatThrownBy(() -> c.getIfPresent("plan")).isInstanceOf(MissingTenantException.class);
      assertThatThrownBy(() -> c.put("plan", "v")).isInstanceOf(MissingTenantException.class);
      assertThatThrownBy(() -> c.invalidate("plan")).isInstanceOf(MissingTenantException.class);
      assertThat(loads).hasValue(0);
      assertThat(c.estimatedSize()).isZero();
    }
  }

  @Test
  void aGlobalCacheSharesEntriesAcrossTenantsAndNeedsNone() {
    try (SaasCache<String, String> c = cache().global().build()) {
      c.put("catalogue", "v1");
      assertThat(as(ACME, () -> c.getIfPresent("catalogue"))).isEqualTo("v1");
      assertThat(as(GLOBEX, () -> c.get("catalogue", k -> "other"))).isEqualTo("v1");
      c.invalidateTenant(ACME); // no tenant entries in a global cache
      assertThat(c.getIfPresent("catalogue")).isEqualTo("v1");
      c.invalidate("catalogue");
      assertThat(as(ACME, () -> c.getIfPresent("catalogue"))).isNull();
    }
  }

  @Test
  void invalidateTenantDropsOnlyThatTenantsEntries() {
    try (SaasCache<String, String> c = cache().build()) {
      for (int i = 0; i < 20; i++) {
        String key = "k" + i;
        in(ACME, () -> c.put(key, "a"));
        in(GLOBEX, () -> c.put(key, "g"));
      }
      c.invalidateTenant(ACME);
      for (int i = 0; i < 20; i++) {
        String key = "k" + i;
        assertThat(as(ACME, () -> c.getIfPresent(key))).isNull();
        assertThat(as(GLOBEX, () -> c.getIfPresent(key))).isEqualTo("g");
      }
      assertThat(((DefaultSaasCache<String, String>) c).indexedEntries()).isEqualTo(20);
    }
  }

  @Test
  void aTenantOverItsBudgetEvictsItsOwnOldestEntriesNotOtherTenants() {
    try (SaasCache<String, String> c = cache().maximumSize(1_000).maximumSizePerTenant(10).build()) {
      for (int i = 0; i < 10; i++) {
        String key = "g" + i;
        in(GLOBEX, () -> c.put(key, "g"));
      }
      // a noisy tenant writes 500 entries; only its own newest 10 stay
      for (int i = 0; i < 500; i++) {
        String key = "a" + i;
        in(ACME, () -> c.put(key, "a"));
      }
      for (int i = 0; i < 10; i++) {
        String key = "g" + i;
        assertThat(as(GLOBEX, () -> c.getIfPresent(key))).as(key).isEqualTo("g");
      }
      for (int i = 0; i < 490; i++) {
        String key = "a" + i;
        assertThat(as(ACME, () -> c.getIfPresent(key))).as(key).isNull();
      }
      for (int i = 490; i < 500; i++) {
        String key = "a" + i;
        assertThat(as(ACME, () -> c.getIfPresent(key))).as(key).isEqualTo("a");
      }
      assertThat(c.stats().evictions()).isEqualTo(490);
      assertThat(((DefaultSaasCache<String, String>) c).indexedEntries()).isEqualTo(20);
      // rewriting an old key makes it the newest: the next overflow evicts another one
      in(ACME, () -> c.put("a490", "again"));
      in(ACME, () -> c.put("a500", "a"));
      assertThat(as(ACME, () -> c.getIfPresent("a490"))).isEqualTo("again");
      assertThat(as(ACME, () -> c.getIfPresent("a491"))).isNull();
    }
  }

  @Test
  void withoutABudgetOneTenantCanFillTheWholeCache() {
    // the contrast that motivates the budget: a global bound alone lets acme push globex out
    try (SaasCache<String, String> c = cache().maximumSize(50).build()) {
      for (int i = 0; i < 10; i++) {
        String key = "g" + i;
        in(GLOBEX, () -> c.put(key, "g"));
      }
      for (int i = 0; i < 2_000; i++) {
        String key = "a" + i;
        in(ACME, () -> c.put(key, "a"));
      }
      ((DefaultSaasCache<String, String>) c).cleanUp();
      int globexLeft = 0;
      for (int i = 0; i < 10; i++) {
        String key = "g" + i;
        if (as(GLOBEX, () -> c.getIfPresent(key)) != null) {
          globexLeft++;
        }
      }
      assertThat(c.estimatedSize()).isLessThanOrEqualTo(50);
      assertThat(globexLeft).isLessThan(10);
    }
  }

  @Test
  void tenantIdsAreComparedExactly() {
    try (SaasCache<String, String> c = cache().build()) {
      in(TenantId.of("Acme"), () -> c.put("k", "upper"));
      assertThat(as(ACME, () -> c.getIfPresent("k"))).isNull();
    }
  }

  @Test
  void spellingsPostgresqlConsidersOneTenantAreOneTenantThroughTheCanonicalIds() {
    // issue 10, point 6: '{A0EE...}' and 'a0ee...' on a uuid column, '+01' and '1' on a bigint one
    TenantId braced = TenantId.ofUuid("{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}");
    TenantId plain = TenantId.ofUuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    TenantId signed = TenantId.ofNumber("+01");
    TenantId one = TenantId.ofNumber("1");
    try (SaasCache<String, String> c = cache().build()) {
      in(braced, () -> c.put("plan", "uuid-tenant"));
      in(signed, () -> c.put("plan", "number-tenant"));
      assertThat(as(plain, () -> c.get("plan", k -> "a second copy"))).isEqualTo("uuid-tenant");
      assertThat(as(one, () -> c.get("plan", k -> "a second copy"))).isEqualTo("number-tenant");
      c.invalidateTenant(TenantId.ofUuid("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"));
      assertThat(as(braced, () -> c.getIfPresent("plan"))).as("one tenant, one invalidation").isNull();
      assertThat(as(one, () -> c.getIfPresent("plan"))).isEqualTo("number-tenant");
      assertThat(c.keyInvalidation(TenantId.ofNumber("0001"), "plan").tenant()).isEqualTo(one);
    }
  }
}
