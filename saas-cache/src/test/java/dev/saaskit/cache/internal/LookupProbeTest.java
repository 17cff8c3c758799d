package dev.saaskit.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Hits look keys up through a per-thread probe that the next lookup on the thread re-aims. These tests fail if a
 * probe ever became a stored key or outlived its lookup.
 */
class LookupProbeTest {
  private static final TenantId ACME = TenantId.of("acme");
  private static final TenantId GLOBEX = TenantId.of("globex");

  private static SaasCache<String, String> cache() {
    return SaasCache.<String, String>named("probe").ttl(Duration.ofMinutes(5)).executor(Runnable::run).build();
  }

  @Test
  void lookupsInsideALoaderDoNotChangeTheKeyTheLoadIsStoredUnder() {
    try (SaasCache<String, String> c = cache()) {
      // the loader of acme's "plan" looks up globex's "plan" (same encoded key, other tenant) and acme's "seats":
      // each re-aims this thread's probe; acme's load must still be stored under (acme, "plan")
      String loaded = TenantContext.call(ACME, () -> c.get("plan", k -> {
        String other = TenantContext.call(GLOBEX, () -> c.get("plan", k2 -> "globex-free"));
        String seats = c.get("seats", k2 -> "10");
        return "acme-pro(" + other + "," + seats + ")";
      }));
      assertThat(loaded).isEqualTo("acme-pro(globex-free,10)");
      assertThat(TenantContext.call(ACME, () -> c.getIfPresent("plan"))).isEqualTo("acme-pro(globex-free,10)");
      assertThat(TenantContext.call(GLOBEX, () -> c.getIfPresent("plan"))).isEqualTo("globex-free");
      assertThat(TenantContext.call(ACME, () -> c.getIfPresent("seats"))).isEqualTo("10");
      assertThat(TenantContext.call(GLOBEX, () -> c.getIfPresent("seats"))).isNull();
      assertThat(c.estimatedSize()).isEqualTo(3);
      assertThat(((DefaultSaasCache<?, ?>) c).indexedEntries()).isEqualTo(3);
    }
  }

  @Test
  void aTenantInvalidationStillFindsEntriesLoadedAfterHits() {
    try (SaasCache<String, String> c = cache()) {
      for (int i = 0; i < 100; i++) {
        String key = "k" + (i % 10);
        TenantContext.call(i % 2 == 0 ? ACME : GLOBEX, () -> c.get(key, k -> k + "@" + TenantContext.require()));
      }
      c.invalidateTenant(ACME);
      for (int i = 0; i < 10; i++) {
        String key = "k" + i;
        assertThat(TenantContext.call(ACME, () -> c.getIfPresent(key))).isNull();
      }
      // keys k0..k9 were each loaded by one tenant only (i % 10 and i % 2 share parity): globex holds the odd ones
      for (int i = 1; i < 10; i += 2) {
        String key = "k" + i;
        assertThat(TenantContext.call(GLOBEX, () -> c.getIfPresent(key))).isEqualTo(key + "@globex");
      }
    }
  }

  @Test
  void theProbeKeepsNoKeyOrTenantAfterALookup() {
    try (SaasCache<String, String> c = cache()) {
      TenantContext.run(ACME, () -> {
        c.put("secret@example.com", "v");
        assertThat(c.get("secret@example.com", k -> "never")).isEqualTo("v");
        assertThat(c.getIfPresent("absent@example.com")).isNull();
      });
      ScopedKey probe = ScopedKey.probe();
      assertThat(probe.tenant()).isNull();
      assertThat(probe.key()).isEmpty();
    }
  }
}
