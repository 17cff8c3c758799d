package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.fail;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Test support for worker tests: schema and roles, jobs inserted with plain SQL (as the queue's enqueue does,
 * NOTIFY included), rows read back past RLS, and bounded waits.
 */
final class WorkerTestKit {
  static final JobsSchema SCHEMA = JobsSchema.defaults();

  final TestDatabase db;
  final String workerRole;

  private WorkerTestKit(TestDatabase db, String workerRole) {
    this.db = db;
    this.workerRole = workerRole;
  }

  /** Migrates the job schema, creates a worker role (not owner, no BYPASSRLS) and grants app and worker. */
  static WorkerTestKit setUp(TestDatabase db) throws SQLException {
    SCHEMA.migrate(db.ownerDataSource());
    String worker = db.createRole("worker", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      SCHEMA.grantApp(c, db.appRole());
      SCHEMA.grantWorker(c, worker);
    }
    return new WorkerTestKit(db, worker);
  }

  /** A pool logged in as the worker role; its sessions carry {@code applicationName}. */
  HikariDataSource workerPool(String applicationName, int size) {
    return db.newPool(workerRole, db.rolePassword(workerRole), size, Map.of("ApplicationName", applicationName));
  }

  DataSource admin() {
    return db.adminDataSource();
  }

  /** Inserts one job and notifies its queue in the same transaction; returns its id. */
  long insert(@Nullable String tenant, String queue, String type, String payloadJson) {
    return insert(tenant, queue, type, payloadJson, 20, null, null);
  }

  long insert(@Nullable String tenant, String queue, String type, String payloadJson, int maxAttempts,
      @Nullable Long timeoutMillis, @Nullable Instant runAt) {
    try (Connection c = admin().getConnection();
        PreparedStatement st = c.prepareStatement("INSERT INTO saaskit_jobs.jobs"
            + " (tenant_id, queue, type, payload, max_attempts, timeout_ms, run_at)"
            + " VALUES (?, ?, ?, ?::jsonb, ?, ?, coalesce(?, now())) RETURNING id")) {
      c.setAutoCommit(false);
      st.setString(1, tenant);
      st.setString(2, queue);
      st.setString(3, type);
      st.setString(4, payloadJson);
      st.setInt(5, maxAttempts);
      st.setObject(6, timeoutMillis);
      st.setObject(7, runAt == null ? null : java.time.OffsetDateTime.ofInstant(runAt, java.time.ZoneOffset.UTC));
      long id;
      try (ResultSet rs = st.executeQuery()) {
        rs.next();
        id = rs.getLong(1);
      }
      notify(c, queue);
      c.commit();
      return id;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Inserts {@code count} jobs with payload {"n": i} in one statement (and one NOTIFY); returns ids in order. */
  List<Long> insertMany(@Nullable String tenant, String queue, String type, int count) {
    try (Connection c = admin().getConnection();
        PreparedStatement st = c.prepareStatement("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
            + " SELECT ?, ?, ?, jsonb_build_object('n', g) FROM generate_series(1, ?) AS g ORDER BY g"
            + " RETURNING id")) {
      c.setAutoCommit(false);
      st.setString(1, tenant);
      st.setString(2, queue);
      st.setString(3, type);
      st.setInt(4, count);
      List<Long> ids = new ArrayList<>(count);
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getLong(1));
        }
      }
      notify(c, queue);
      c.commit();
      ids.sort(null);
      return ids;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void notify(Connection c, String queue) throws SQLException {
    try (PreparedStatement n = c.prepareStatement("SELECT pg_notify('saaskit_jobs_wakeup', ?)")) {
      n.setString(1, queue);
      n.executeQuery().close();
    }
  }

  /** Sends a wake-up for {@code queue} as the queue's enqueue would. */
  void notifyQueue(String queue) {
    execute("SELECT pg_notify('saaskit_jobs_wakeup', '" + queue + "')");
  }

  void execute(String sql) {
    try (Connection c = admin().getConnection(); Statement st = c.createStatement()) {
      st.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  long count(String sql) {
    try (Connection c = admin().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A job row as the tests need it. */
  record Row(long id, @Nullable String tenant, String state, int attempts, int maxAttempts, Instant runAt,
      long leaseEpoch, @Nullable String workerId, @Nullable Float progress, @Nullable String progressMessage,
      @Nullable String result, @Nullable String lastError, boolean cancelRequested, @Nullable Instant finishedAt,
      @Nullable Instant leaseExpiresAt) {}

  Row row(long id) {
    try (Connection c = admin().getConnection();
        PreparedStatement st = c.prepareStatement("SELECT id, tenant_id, state, attempts, max_attempts, run_at,"
            + " lease_epoch, worker_id, progress, progress_message, result::text, last_error, cancel_requested,"
            + " finished_at, lease_expires_at FROM saaskit_jobs.jobs WHERE id = ?")) {
      st.setLong(1, id);
      try (ResultSet rs = st.executeQuery()) {
        if (!rs.next()) {
          throw new IllegalStateException("no job " + id);
        }
        float progress = rs.getFloat(9);
        Float p = rs.wasNull() ? null : progress;
        java.sql.Timestamp finished = rs.getTimestamp(14);
        java.sql.Timestamp lease = rs.getTimestamp(15);
        return new Row(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getInt(4), rs.getInt(5),
            rs.getTimestamp(6).toInstant(), rs.getLong(7), rs.getString(8), p, rs.getString(10), rs.getString(11),
            rs.getString(12), rs.getBoolean(13), finished == null ? null : finished.toInstant(),
            lease == null ? null : lease.toInstant());
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  void awaitState(long id, String state, Duration max) {
    Await.until("job " + id + " is " + state, max, () -> row(id).state().equals(state));
  }
}
