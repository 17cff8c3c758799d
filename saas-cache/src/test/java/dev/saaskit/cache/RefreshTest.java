package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.as;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.Fixtures.ManualExecutor;
import dev.saaskit.cache.Fixtures.ScriptedRandom;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import dev.saaskit.core.CheckedFunction;
import org.junit.jupiter.api.Test;

class RefreshTest {
  private final MutableClock clock = Fixtures.clock();
  private final ManualExecutor background = new ManualExecutor();
  private final AtomicInteger loads = new AtomicInteger();
  private final List<TenantId> loaderTenants = new ArrayList<>();

  private CheckedFunction<String, String, RuntimeException> loader() {
    return key -> {
      loaderTenants.add(TenantContext.current().orElse(null));
      return "v" + loads.incrementAndGet();
    };
  }

  @Test
  void refreshAheadServesTheCurrentValueWhileOneBackgroundReloadRuns() {
    try (SaasCache<String, String> c = SaasCache.<String, String>named("refresh").ttl(Duration.ofMinutes(10))
        .jitter(0).refreshAfter(Duration.ofMinutes(8)).clock(clock).executor(background).build()) {
      assertThat(as(ACME, () -> c.get("k", loader()))).isEqualTo("v1");
      clock.advance(Duration.ofMinutes(7));
      assertThat(as(ACME, () -> c.get("k", loader()))).isEqualTo("v1");
      background.runAll();
      assertThat(loads).as("not due before refreshAfter").hasValue(1);

      clock.advance(Duration.ofMinutes(1));
      // due: every get returns v1 at once, and only one reload is started for all of them
      for (int i = 0; i < 5; i++) {
        assertThat(as(ACME, () -> c.get("k", loader()))).isEqualTo("v1");
      }
      assertThat(loads).as("the reload runs in the background, not in get").hasValue(1);
      background.runAll();
      assertThat(loads).hasValue(2);
      assertThat(c.stats().refreshes()).isEqualTo(1);
      assertThat(loaderTenants).as("the background reload runs as the key's tenant").containsExactly(ACME, ACME);
      assertThat(as(ACME, () -> c.getIfPresent("k"))).isEqualTo("v2");

      // the reload wrote a new entry: its ttl counts from the reload, past the first entry's 10 minutes
      clock.advance(Duration.ofMinutes(5));
      assertThat(as(ACME, () -> c.getIfPresent("k"))).isEqualTo("v2");
    }
  }

  /**
   * A background reload whose loader reads its own key after the entry went away (it expired meanwhile, or was
   * invalidated by tag, which leaves the reload in the table) used to join its own flight: the executor's thread
   * waited for itself forever, and every later miss of the key joined it and hung too. It fails like a foreground
   * load that reads its own key.
   */
  @Test
  void aBackgroundReloadWhoseLoaderReadsItsOwnKeyFailsInsteadOfWaitingForItself() throws Exception {
    try (SaasCache<String, String> c = SaasCache.<String, String>named("refresh").ttl(Duration.ofMinutes(10))
        .jitter(0).refreshAfter(Duration.ofMinutes(1)).clock(clock).executor(background).build()) {
      assertThat(as(ACME, () -> c.getWith("k", k -> CacheValue.of("v1").tags("t")))).isEqualTo("v1");
      clock.advance(Duration.ofMinutes(2));
      AtomicReference<Throwable> inner = new AtomicReference<>();
      assertThat(as(ACME, () -> c.getWith("k", k -> {
        c.invalidateTag("t"); // the entry goes away while the reload runs
        try {
          return CacheValue.of(c.get(k, again -> "nested"));
        } catch (RuntimeException e) {
          inner.set(e);
          throw e;
        }
      }))).isEqualTo("v1");
      Thread runner = new Thread(background::runAll, "refresh-runner");
      runner.setDaemon(true); // on the old code it never ends
      runner.start();
      runner.join(60_000);
      assertThat(runner.isAlive()).as("the background reload did not wait for itself").isFalse();
      assertThat(inner.get()).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("asked the cache for the key it is loading");
      assertThat(c.stats().loadFailures()).isEqualTo(1);
      assertThat(((dev.saaskit.cache.internal.DefaultSaasCache<String, String>) c).loadsInFlight()).isZero();
      assertThat(as(ACME, () -> c.get("k", k -> "v2"))).as("the key loads again").isEqualTo("v2");
    }
  }

  @Test
  void aFailedBackgroundReloadKeepsTheCurrentEntry() {
    try (SaasCache<String, String> c = SaasCache.<String, String>named("refresh").ttl(Duration.ofMinutes(10))
        .jitter(0).refreshAfter(Duration.ofMinutes(1)).clock(clock).executor(background).build()) {
      assertThat(as(ACME, () -> c.get("k", loader()))).isEqualTo("v1");
      clock.advance(Duration.ofMinutes(2));
      assertThat(as(ACME, () -> c.get("k", key -> {
        throw new IllegalStateException("down");
      }))).isEqualTo("v1");
      background.runAll();
      assertThat(c.stats().loadFailures()).isEqualTo(1);
      assertThat(as(ACME, () -> c.getIfPresent("k"))).isEqualTo("v1");
    }
  }

  @Test
  void anInvalidationDuringABackgroundReloadWins() {
    AtomicReference<SaasCache<String, String>> self = new AtomicReference<>();
    try (SaasCache<String, String> c = SaasCache.<String, String>named("refresh").ttl(Duration.ofMinutes(10))
        .jitter(0).refreshAfter(Duration.ofMinutes(1)).clock(clock).executor(background).build()) {
      self.set(c);
      assertThat(as(ACME, () -> c.get("k", loader()))).isEqualTo("v1");
      clock.advance(Duration.ofMinutes(2));
      as(ACME, () -> c.get("k", key -> {
        String read = "stale";
        self.get().invalidate(key); // the write lands while the reload runs
        return read;
      }));
      background.runAll();
      assertThat(as(ACME, () -> c.getIfPresent("k"))).isNull();
      assertThat(c.stats().discardedLoads()).isEqualTo(1);
    }
  }

  @Test
  void xfetchRefreshesAHotKeyEarlyAccordingToLoadTimeAndTheRandomDraw() {
    // ttl 100 s, load time 10 s, beta 1: a hit at time t refreshes when t + 10 s * -ln(u) >= expiry, where
    // u = 1 - the random draw (so a draw of 0.99 gives u = 0.01 and a head start of 46 s)
    ScriptedRandom random = new ScriptedRandom(0.5, 0.5, 0.5, 0.99);
    try (SaasCache<String, String> c = SaasCache.<String, String>named("xfetch").ttl(Duration.ofSeconds(100))
        .jitter(0).earlyRefresh(1.0).random(random).clock(clock).executor(background).build()) {
      CheckedFunction<String, String, RuntimeException> slowLoader = key -> {
        clock.advance(Duration.ofSeconds(10));
        return "v" + loads.incrementAndGet();
      };
      assertThat(as(ACME, () -> c.get("k", slowLoader))).isEqualTo("v1"); // written at 10 s, expires at 110 s
      // at 60 s after the write, u = 0.5 gives a head start of 6.9 s: 60 + 6.9 < 100, no refresh
      clock.advance(Duration.ofSeconds(60));
      assertThat(as(ACME, () -> c.get("k", slowLoader))).isEqualTo("v1");
      background.runAll();
      assertThat(loads).hasValue(1);
      // at 95 s, u = 0.5: 95 + 6.9 >= 100, refresh
      clock.advance(Duration.ofSeconds(35));
      assertThat(as(ACME, () -> c.get("k", slowLoader))).isEqualTo("v1");
      background.runAll();
      assertThat(loads).hasValue(2);
      assertThat(c.stats().refreshes()).isEqualTo(1);
      assertThat(as(ACME, () -> c.getIfPresent("k"))).isEqualTo("v2");
      // the new entry was written at 115 s (after the 10 s reload) and expires at 215 s: at 170 s, u = 0.5
      // (head start 6.9 s) does not refresh, u = 0.01 (head start 46 s) does
      clock.advance(Duration.ofSeconds(55));
      assertThat(as(ACME, () -> c.get("k", slowLoader))).isEqualTo("v2");
      background.runAll();
      assertThat(loads).hasValue(2);
      assertThat(as(ACME, () -> c.get("k", slowLoader))).isEqualTo("v2");
      background.runAll();
      assertThat(loads).hasValue(3);
    }
  }

  @Test
  void xfetchLeavesEntriesWithoutALoadTimeAlone() {
    try (SaasCache<String, String> c = SaasCache.<String, String>named("xfetch").ttl(Duration.ofSeconds(100))
        .jitter(0).earlyRefresh(5.0).random(new ScriptedRandom(0.000_001)).clock(clock).executor(background)
        .build()) {
      TenantContext.run(ACME, () -> c.put("k", "put")); // a put has no load time to anticipate
      clock.advance(Duration.ofSeconds(99));
      assertThat(as(ACME, () -> c.get("k", loader()))).isEqualTo("put");
      background.runAll();
      assertThat(loads).hasValue(0);
    }
  }
}
