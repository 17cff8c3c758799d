package dev.saaskit.cli;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobQueue;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.SaasJobs;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/** A database with the job schema, a worker role and jobs in known states, for the jobs command tests. */
final class JobsFixtures {
  final TestDatabase db;
  final String worker;
  final JobQueue queue;

  JobsFixtures(TestDatabase db) throws SQLException {
    this.db = db;
    JobsSchema.defaults().migrate(db.ownerDataSource());
    this.worker = db.createRole("jobs_worker", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      JobsSchema.defaults().grantApp(c, db.appRole());
      JobsSchema.defaults().grantWorker(c, worker);
    }
    this.queue = SaasJobs.builder(db.appDataSource()).build().queue();
  }

  JobId enqueue(String tenant, JobRequest.Builder request) {
    try {
      return TenantContext.call(TenantId.of(tenant), () -> queue.enqueue(request.build()));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  void sql(String sql, Object... params) {
    try (Connection c = db.adminDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      ps.execute();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The job table's state of {@code id}, or null if gone. */
  String state(JobId id) {
    try (Connection c = db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT state FROM saaskit_jobs.jobs WHERE id = ?")) {
      ps.setLong(1, id.value());
      try (var rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A URL that logs in as the worker role (password in the URL: fine for in-process tests). */
  String workerUrl() {
    return db.jdbcUrl() + "?user=" + worker + "&password=" + db.rolePassword(worker);
  }
}
