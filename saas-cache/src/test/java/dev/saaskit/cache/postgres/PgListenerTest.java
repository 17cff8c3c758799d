package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.internal.PgListener;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * saas-core's shared LISTEN loop, which the bus and the jobs worker run on, against a real PostgreSQL (saas-core has
 * no database in its own tests): notifications with their channel and payload, reconnect after the backend is
 * killed, a bounded close that leaves the pooled connection without LISTEN and with its application_name reset.
 */
@ExtendWith(PostgresExtension.class)
class PgListenerTest {

  /** Records the callbacks. */
  static final class Recorder implements PgListener.Handler {
    final List<PgListener.Notification> received = new CopyOnWriteArrayList<>();
    final AtomicInteger connects = new AtomicInteger();
    final AtomicInteger reconnects = new AtomicInteger();
    final AtomicInteger failures = new AtomicInteger();

    @Override
    public void onConnected(Connection connection, boolean reconnect) {
      connects.incrementAndGet();
      if (reconnect) {
        reconnects.incrementAndGet();
      }
    }

    @Override
    public void onWake(Connection connection, List<PgListener.Notification> notifications) {
      received.addAll(notifications);
    }

    @Override
    public void onFailure(Exception failure, int attempt) {
      failures.incrementAndGet();
    }

    @Override
    public long nextWaitMillis() {
      return 50;
    }
  }

  private static PgListener listener(DataSource ds, Recorder recorder, String name) {
    return new PgListener(ds, List.of("Mixed_Case channel"), "pg-listener-test " + name, Duration.ofMillis(20),
        Duration.ofMillis(200), new SplittableRandom(1), "pg-listener-test-" + name, recorder);
  }

  private static void notify(DataSource ds, String payload) throws SQLException {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT pg_notify('Mixed_Case channel', ?)")) {
      ps.setString(1, payload);
      ps.execute();
    }
  }

  private static long sessions(TestDatabase db, String name, String extra) throws SQLException {
    try (Connection c = db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?"
            + " AND datname = current_database()" + extra)) {
      ps.setString(1, "pg-listener-test " + name);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  @Test
  void deliversNotificationsReconnectsAfterAKillAndClosesWithinTheBound(TestDatabase db) throws Exception {
    try (HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), 2)) {
      Recorder recorder = new Recorder();
      PgListener loop = listener(pool, recorder, "a");
      loop.start(true);
      notify(db.appDataSource(), "first");
      Await.until("the first notification", () -> recorder.received.contains(
          new PgListener.Notification("Mixed_Case channel", "first")));
      assertThat(recorder.connects).hasValue(1);
      assertThat(recorder.reconnects).hasValue(0);

      try (Connection c = db.adminDataSource().getConnection();
          PreparedStatement ps = c.prepareStatement("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
              + " WHERE application_name = 'pg-listener-test a'")) {
        ps.execute();
      }
      Await.until("a reconnect", () -> recorder.reconnects.get() == 1);
      assertThat(recorder.failures).hasValue(1);
      notify(db.appDataSource(), "second");
      Await.until("a notification on the new connection", () -> recorder.received.contains(
          new PgListener.Notification("Mixed_Case channel", "second")));

      long began = System.nanoTime();
      assertThat(loop.close(TimeUnit.SECONDS.toNanos(5))).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(5));
      assertThat(loop.close(TimeUnit.SECONDS.toNanos(1))).as("closing twice").isTrue();
      // back in the pool: no LISTEN left, application_name reset
      assertThat(sessions(db, "a", "")).isZero();
      try (Connection c = pool.getConnection();
          ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM pg_listening_channels()")) {
        rs.next();
        assertThat(rs.getLong(1)).isZero();
      }
    }
  }

  @Test
  void startingWithAConnectionFirstFailsAtOnceWhenTheDatabaseRefuses(TestDatabase db) {
    DataSource refusing = refusing(new AtomicInteger());
    Recorder recorder = new Recorder();
    PgListener loop = listener(refusing, recorder, "refused");
    assertThatThrownBy(() -> loop.start(true)).isInstanceOf(SQLException.class)
        .hasMessageContaining("connection refused");
    assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("pg-listener-test-refused"));
    assertThat(recorder.connects).hasValue(0);
  }

  @Test
  void aLoopThatCannotConnectKeepsRetryingWithBackoffAndStillClosesInTime(TestDatabase db) throws Exception {
    AtomicInteger attempts = new AtomicInteger();
    DataSource refusing = refusing(attempts);
    Recorder recorder = new Recorder();
    PgListener loop = listener(refusing, recorder, "retrying");
    loop.start(false);
    // the attempt is counted before the failure reaches the listener, so wait for the failures themselves
    Await.until("several reported failures", () -> recorder.failures.get() >= 3);
    assertThat(attempts.get()).isGreaterThanOrEqualTo(recorder.failures.get());
    assertThat(loop.close(TimeUnit.SECONDS.toNanos(2))).isTrue();
  }

  /** A data source whose every connection attempt is refused, counting the attempts. */
  private static DataSource refusing(AtomicInteger attempts) {
    return (DataSource) Proxy.newProxyInstance(PgListenerTest.class.getClassLoader(),
        new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
          if (method.getName().equals("getConnection")) {
            attempts.incrementAndGet();
            throw new SQLException("connection refused (test)", "08001");
          }
          throw new UnsupportedOperationException(method.getName());
        });
  }
}
