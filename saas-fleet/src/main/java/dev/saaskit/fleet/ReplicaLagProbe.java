package dev.saaskit.fleet;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * Measures how far a read replica is behind its primary, on a connection to the replica. The default,
 * {@link #replayLag()}, asks PostgreSQL.
 */
@FunctionalInterface
public interface ReplicaLagProbe {
  /** The replica's lag; throw if the replica cannot be asked (it is then skipped). */
  Duration lag(Connection replica) throws SQLException;

  /**
   * Zero when the server is not in recovery (not a replica), or when it streams from its primary and has replayed
   * everything it received ({@code pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()}, so an idle primary does
   * not look like lag); otherwise {@code now() - pg_last_xact_replay_timestamp()}. A standby with no WAL receiver
   * streaming (its primary gone, the connection cut) has "replayed everything it received" too, while falling
   * further behind every second: it gets the time since its last replayed transaction, so it is skipped once that
   * passes the bound (and at once if it never replayed one). The receiver's state needs no privilege: without
   * {@code pg_read_all_stats} the view shows the receiver's pid only, and a receiver that exists counts as
   * streaming.
   */
  static ReplicaLagProbe replayLag() {
    return replica -> {
      try (Statement st = replica.createStatement(); ResultSet rs = st.executeQuery(
          "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
              + " WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver"
              + " WHERE coalesce(status, 'streaming') = 'streaming')"
              + " THEN coalesce((extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint,"
              + " 9223372036854775807)"
              + " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
              + " ELSE coalesce((extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0)"
              + " END")) {
        rs.next();
        return Duration.ofMillis(Math.max(0, rs.getLong(1)));
      }
    };
  }
}
