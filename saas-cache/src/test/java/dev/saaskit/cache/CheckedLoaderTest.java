package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Loaders that throw checked exceptions: accepted as they are, and their exception is exactly the cause. */
class CheckedLoaderTest {

  private static SaasCache<String, String> cache() {
    return SaasCache.<String, String>named("checked").ttl(Duration.ofMinutes(5)).clock(Fixtures.clock())
        .executor(Runnable::run).build();
  }

  /** Stands for a repository method that declares the JDBC exception. */
  private static String loadPlan(String key) throws SQLException {
    if (key.equals("missing-table")) {
      throw new SQLException("relation \"plans\" does not exist", "42P01");
    }
    return "plan-" + key;
  }

  @Test
  void aLoaderThrowingSqlExceptionFailsWithExactlyThatExceptionAsTheCause() {
    AtomicInteger calls = new AtomicInteger();
    try (SaasCache<String, String> c = cache()) {
      in(ACME, () -> {
        assertThatThrownBy(() -> c.get("missing-table", key -> {
          calls.incrementAndGet();
          return loadPlan(key);
        }))
            .isInstanceOf(CacheLoadException.class)
            .hasMessageContaining("cache 'checked'")
            .cause().isInstanceOf(SQLException.class).hasMessage("relation \"plans\" does not exist");
        // nothing was cached: the next get calls the loader again
        assertThatThrownBy(() -> c.get("missing-table", CheckedLoaderTest::loadPlan))
            .isInstanceOf(CacheLoadException.class)
            .extracting(e -> ((SQLException) e.getCause()).getSQLState()).isEqualTo("42P01");
        // a method reference declaring SQLException is a loader as it is
        assertThat(c.get("a", CheckedLoaderTest::loadPlan)).isEqualTo("plan-a");
      });
      assertThat(calls).hasValue(1);
      assertThat(c.stats().loadFailures()).isEqualTo(2);
      assertThat(c.stats().loadSuccesses()).isEqualTo(1);
    }
  }

  /**
   * A loader interrupted while it waits (a cancelled request, a pool shutting down) throws InterruptedException,
   * which clears the thread's interrupt flag; wrapped into the unchecked CacheLoadException, the interruption was
   * lost for the caller's thread. The flag is set again, on the loading thread only.
   */
  @Test
  void anInterruptedLoaderLeavesItsThreadInterrupted() {
    InterruptedException interrupted = new InterruptedException("cancelled");
    try (SaasCache<String, String> c = cache()) {
      in(ACME, () -> {
        try {
          assertThatThrownBy(() -> c.get("k", key -> {
            throw interrupted;
          })).isInstanceOf(CacheLoadException.class).cause().isSameAs(interrupted);
          assertThat(Thread.currentThread().isInterrupted()).as("the interruption is not lost").isTrue();
        } finally {
          Thread.interrupted(); // leave the test thread clean
        }
        assertThat(c.get("k", key -> "loaded")).isEqualTo("loaded");
      });
    }
  }

  @Test
  void theCauseIsTheSameInstanceForCheckedAndUncheckedExceptions() {
    IOException io = new IOException("disk");
    IllegalArgumentException bad = new IllegalArgumentException("bad key");
    try (SaasCache<String, String> c = cache()) {
      in(ACME, () -> {
        assertThatThrownBy(() -> c.getWith("io", key -> {
          throw io;
        })).isInstanceOf(CacheLoadException.class).cause().isSameAs(io);
        assertThatThrownBy(() -> c.get("bad", key -> {
          throw bad;
        })).isInstanceOf(CacheLoadException.class).cause().isSameAs(bad);
      });
    }
  }
}
