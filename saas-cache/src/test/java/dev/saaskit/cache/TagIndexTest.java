package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.GLOBEX;
import static dev.saaskit.cache.Fixtures.as;
import static dev.saaskit.cache.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.internal.DefaultSaasCache;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TagIndexTest {
  private final MutableClock clock = Fixtures.clock();

  private DefaultSaasCache<String, String> cache(long maximumSize) {
    return (DefaultSaasCache<String, String>) SaasCache.<String, String>named("tags").ttl(Duration.ofMinutes(5))
        .jitter(0).maximumSize(maximumSize).clock(clock).executor(Runnable::run).build();
  }

  @Test
  void invalidateTagDropsEveryTaggedEntryInEveryTenantAndNothingElse() {
    try (DefaultSaasCache<String, String> c = cache(1_000)) {
      in(ACME, () -> {
        c.put("plan", CacheValue.of("pro").tags("subscription:acme", "catalogue"));
        c.put("seats", CacheValue.of("10").tags("subscription:acme"));
        c.put("name", "Acme");
      });
      in(GLOBEX, () -> c.put("plan", CacheValue.of("free").tags("subscription:globex", "catalogue")));
      c.invalidateTag("subscription:acme");
      assertThat(as(ACME, () -> c.getIfPresent("plan"))).isNull();
      assertThat(as(ACME, () -> c.getIfPresent("seats"))).isNull();
      assertThat(as(ACME, () -> c.getIfPresent("name"))).isEqualTo("Acme");
      assertThat(as(GLOBEX, () -> c.getIfPresent("plan"))).isEqualTo("free");
      c.invalidateTag("catalogue");
      assertThat(as(GLOBEX, () -> c.getIfPresent("plan"))).isNull();
      assertThat(c.indexedTags()).isZero();
    }
  }

  @Test
  void theIndexesForgetEntriesThatExpired() {
    try (DefaultSaasCache<String, String> c = cache(1_000)) {
      in(ACME, () -> {
        for (int i = 0; i < 100; i++) {
          c.put("k" + i, CacheValue.of("v").tags("t" + i, "shared"));
        }
      });
      assertThat(c.indexedTags()).isEqualTo(101);
      assertThat(c.indexedEntries()).isEqualTo(100);
      clock.advance(Duration.ofMinutes(5));
      c.cleanUp();
      assertThat(c.estimatedSize()).isZero();
      assertThat(c.indexedTags()).isZero();
      assertThat(c.indexedEntries()).isZero();
      assertThat(c.stats().expirations()).isEqualTo(100);
    }
  }

  @Test
  void theIndexesForgetEntriesEvictedForSize() {
    try (DefaultSaasCache<String, String> c = cache(10)) {
      in(ACME, () -> {
        for (int i = 0; i < 500; i++) {
          c.put("k" + i, CacheValue.of("v").tags("t" + i));
        }
      });
      c.cleanUp();
      assertThat(c.estimatedSize()).isLessThanOrEqualTo(10);
      assertThat(c.indexedTags()).isEqualTo((int) c.estimatedSize());
      assertThat(c.indexedEntries()).isEqualTo((int) c.estimatedSize());
    }
  }

  @Test
  void replacingAnEntryKeepsTheNewTagsAndForgetsTheOldOnes() {
    try (DefaultSaasCache<String, String> c = cache(1_000)) {
      in(ACME, () -> {
        c.put("k", CacheValue.of("v1").tags("a", "b"));
        c.put("k", CacheValue.of("v2").tags("b", "c"));
      });
      assertThat(c.indexedTags()).isEqualTo(2);
      c.invalidateTag("a"); // v2 does not carry it
      assertThat(as(ACME, () -> c.getIfPresent("k"))).isEqualTo("v2");
      c.invalidateTag("b"); // the shared tag now points at v2
      assertThat(as(ACME, () -> c.getIfPresent("k"))).isNull();
      assertThat(c.indexedTags()).isZero();
      assertThat(c.indexedEntries()).isZero();
    }
  }

  @Test
  void everyKindOfRemovalCleansTheIndexes() {
    try (DefaultSaasCache<String, String> c = cache(1_000)) {
      in(ACME, () -> {
        c.put("a", CacheValue.of("v").tags("x"));
        c.put("b", CacheValue.of("v").tags("y"));
      });
      in(GLOBEX, () -> c.put("c", CacheValue.of("v").tags("z")));
      in(ACME, () -> c.invalidate("a"));
      assertThat(c.indexedTags()).isEqualTo(2);
      c.invalidateTenant(ACME);
      assertThat(c.indexedTags()).isEqualTo(1);
      c.invalidateAll();
      assertThat(c.indexedTags()).isZero();
      assertThat(c.indexedEntries()).isZero();
      assertThat(c.estimatedSize()).isZero();
    }
  }
}
