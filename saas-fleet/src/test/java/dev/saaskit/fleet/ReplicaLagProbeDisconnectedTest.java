package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.testing.Await;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A hot standby cut off from its primary has replayed everything it received, so "received = replayed" alone calls
 * its lag zero for ever while it serves older and older reads. The default probe must see that nothing streams and
 * report the time since the standby's last replayed transaction instead. Real primary and standby
 * ({@link StreamingReplica}); skipped on a machine without PostgreSQL server binaries.
 */
class ReplicaLagProbeDisconnectedTest {
  static StreamingReplica pair;

  @BeforeAll
  static void setUp() throws Exception {
    pair = StreamingReplica.startIfPossible().orElse(null);
    Assumptions.assumeTrue(pair != null, "no PostgreSQL server binaries under /usr/lib/postgresql");
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (pair != null) {
      pair.close();
    }
  }

  private static Duration lagOfStandby() throws Exception {
    try (Connection c = DriverManager.getConnection(pair.standbyUrl("postgres"), "postgres", "")) {
      return ReplicaLagProbe.replayLag().lag(c);
    }
  }

  @Test
  void aStandbyWhosePrimaryIsGoneIsNotReportedAsCaughtUp() throws Exception {
    try (Connection c = DriverManager.getConnection(pair.primaryUrl("postgres"), "postgres", "");
        Statement st = c.createStatement()) {
      st.execute("CREATE TABLE marks (n int)");
      st.execute("INSERT INTO marks VALUES (1)");
    }
    Await.until("the standby streams and has replayed the write", Duration.ofSeconds(30), () -> {
      try (Connection c = DriverManager.getConnection(pair.standbyUrl("postgres"), "postgres", "");
          Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT to_regclass('public.marks') IS NOT NULL AND EXISTS"
              + " (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')")) {
        return rs.next() && rs.getBoolean(1);
      }
    });
    Await.until("a caught-up streaming standby has no lag", Duration.ofSeconds(30),
        () -> lagOfStandby().isZero());

    pair.stopPrimary();

    Await.until("a standby cut off from its primary reports a lag that grows", Duration.ofSeconds(30),
        () -> lagOfStandby().compareTo(Duration.ofSeconds(2)) > 0);
    assertThat(lagOfStandby()).isGreaterThan(Duration.ofSeconds(2));
  }
}
