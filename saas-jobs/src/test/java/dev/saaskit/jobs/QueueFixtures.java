package dev.saaskit.jobs;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/** Shared set-up and SQL helpers of the queue-side tests. */
final class QueueFixtures {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  private QueueFixtures() {}

  /** Migrates the default schema, grants the app role and a new worker role; returns the worker role's name. */
  static String setUp(TestDatabase db) throws SQLException {
    JobsSchema schema = JobsSchema.defaults();
    schema.migrate(db.ownerDataSource());
    String worker = db.createRole("jobs_worker", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      schema.grantApp(c, db.appRole());
      schema.grantWorker(c, worker);
    }
    return worker;
  }

  static <T> T as(TenantId tenant, Callable<T> body) {
    try {
      return TenantContext.call(tenant, body::call);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Rows of a query as column-name maps (superuser: sees past RLS). */
  static List<Map<String, @Nullable Object>> rows(DataSource ds, String sql, Object... params) {
    try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      List<Map<String, @Nullable Object>> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
          Map<String, @Nullable Object> row = new LinkedHashMap<>();
          for (int i = 1; i <= n; i++) {
            row.put(rs.getMetaData().getColumnLabel(i), rs.getObject(i));
          }
          out.add(row);
        }
      }
      return out;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  static Map<String, @Nullable Object> job(TestDatabase db, JobId id) {
    List<Map<String, @Nullable Object>> rows = rows(db.adminDataSource(),
        "SELECT *, payload::text AS payload_text, result::text AS result_text FROM saaskit_jobs.jobs WHERE id = ?",
        id.value());
    if (rows.size() != 1) {
      throw new AssertionError("expected job " + id + " to exist");
    }
    return rows.get(0);
  }

  static long count(TestDatabase db, String where, Object... params) {
    Object n = rows(db.adminDataSource(), "SELECT count(*) AS n FROM saaskit_jobs.jobs WHERE " + where, params)
        .get(0).get("n");
    return ((Number) n).longValue();
  }

  static int update(TestDatabase db, String sql, Object... params) {
    try (Connection c = db.adminDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      return ps.executeUpdate();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
