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
   * Zero when the server is not in recovery (not a replica) or has replayed everything it received
   * ({@code pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()}, so an idle primary does not look like lag);
   * otherwise {@code now() - pg_last_xact_replay_timestamp()}.
   */
  static ReplicaLagProbe replayLag() {
    return replica -> {
      try (Statement st = replica.createStatement(); ResultSet rs = st.executeQuery(
          "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
              + " ELSE coalesce((extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0)"
              + " END")) {
        rs.next();
        return Duration.ofMillis(Math.max(0, rs.getLong(1)));
      }
    };
  }
}
