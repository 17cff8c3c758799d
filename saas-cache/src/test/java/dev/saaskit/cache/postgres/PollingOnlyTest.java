package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Polling mode, for deployments behind a transaction-pooling proxy: no LISTEN, no NOTIFY, no long-lived
 * connection; every read borrows a pooled connection, runs one statement in one transaction and gives it back.
 */
@ExtendWith(PostgresExtension.class)
class PollingOnlyTest {
  static BusFixture fx;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    BusFixture.migrate(db);
    fx = new BusFixture(db);
  }

  @AfterEach
  void closeNodes() {
    fx.close();
  }

  @AfterAll
  static void tearDown() {
    fx.close();
  }

  @Test
  void pollingNodesDeliverEverythingWithoutListenOrNotify() throws SQLException {
    PostgresInvalidationBus a = fx.node("a", x -> x.pollingOnly(true).pollInterval(Duration.ofMillis(100)));
    PostgresInvalidationBus b = fx.node("b", x -> x.pollingOnly(true).pollInterval(Duration.ofMillis(100)));
    RecordingListener onA = new RecordingListener();
    RecordingListener onB = new RecordingListener();
    a.subscribe(onA);
    b.subscribe(onB);
    List<Invalidation> all = IntStream.range(0, 50).mapToObj(i -> Invalidation.tag("p-" + i)).toList();
    all.subList(0, 25).forEach(a::publish);
    try (Connection c = fx.db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      all.subList(25, 50).forEach(i -> a.publish(c, i));
      c.commit();
    }
    Await.until("both nodes have everything", () -> onA.hasAll(all) && onB.hasAll(all));
    assertThat(onB.receivedAmong(all)).containsExactlyElementsOf(all);
    assertThat(onA.receivedAmong(all)).containsExactlyElementsOf(all);
    for (PostgresInvalidationBus node : List.of(a, b)) {
      assertThat(node.stats().listening()).isFalse();
      assertThat(node.stats().notificationsSent()).isZero();
      assertThat(node.stats().notificationsReceived()).isZero();
    }
    assertThat(sessionsNamed(a.listenerApplicationName()) + sessionsNamed(b.listenerApplicationName()))
        .as("no listener connection").isZero();
  }

  @Test
  void aPollingNodeRecoversFromALostConnectionAndReplays() throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    PostgresInvalidationBus b = fx.node("b", fx.appPool(2, "pool of b"),
        x -> x.pollingOnly(true).pollInterval(Duration.ofMillis(50)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    Invalidation first = Invalidation.tag("first");
    a.publish(first);
    Await.until("first", () -> onB.has(first));
    // end every session of b's pool: b's next read fails, and the one after replays from its position
    long before = b.stats().polls();
    Await.until("b reads again", () -> b.stats().polls() > before);
    assertThat(terminateSessions("pool of b")).isPositive();
    Invalidation second = Invalidation.tag("second");
    a.publish(second);
    Await.until("second", () -> onB.has(second));
    assertThat(onB.received).containsExactly(first, second);
    assertThat(onB.flushes).hasValue(0);
    assertThat(b.stats().reconnects()).as("the failed read was retried").isGreaterThanOrEqualTo(1);
  }

  private static long terminateSessions(String applicationName) throws SQLException {
    try (Connection c = fx.db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
            + " FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?")) {
      ps.setString(1, applicationName);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private static long sessionsNamed(String applicationName) throws SQLException {
    try (Connection c = fx.db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?")) {
      ps.setString(1, applicationName);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
