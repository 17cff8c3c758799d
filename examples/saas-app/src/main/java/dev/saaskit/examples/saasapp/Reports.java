package dev.saaskit.examples.saasapp;

import dev.saaskit.jobs.JobContext;
import dev.saaskit.jobs.JobType;
import dev.saaskit.tenancy.TenantMaterializedView;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The background work: the report job (a few steps, each reporting progress, then a result the dashboard shows)
 * and the recurring refresh of the tenant-safe analytics view.
 */
final class Reports {
  /** The report job's payload: who asked. */
  record ReportRequest(String requestedBy) {}

  /** The refresh job's payload (none). */
  record RefreshRequest() {}

  static final JobType<ReportRequest> REPORT = JobType.of("report.projects", ReportRequest.class);
  static final JobType<RefreshRequest> REFRESH_ANALYTICS = JobType.of("analytics.refresh", RefreshRequest.class);

  /** A tenant's analytics summary. */
  record Summary(long projects, long reports, @Nullable Instant refreshedAt) {}

  private final DataSource db;
  private final DataSource analyticsPool;
  private final TenantMaterializedView analytics;
  private final int steps;
  private final Duration stepDelay;

  Reports(DataSource tenantDataSource, DataSource analyticsPool, TenantMaterializedView analytics, int steps,
      Duration stepDelay) {
    this.db = tenantDataSource;
    this.analyticsPool = analyticsPool;
    this.analytics = analytics;
    this.steps = steps;
    this.stepDelay = stepDelay;
  }

  /**
   * Runs a report in the job's tenant (the worker set its {@code TenantContext}, so the same RLS-scoped data source
   * sees that tenant's projects only): one step per {@code stepDelay}, progress after each, then the result.
   */
  Map<String, Object> run(ReportRequest request, JobContext context) throws Exception {
    context.progress(0, "starting");
    for (int step = 1; step <= steps; step++) {
      if (context.isCancellationRequested()) {
        throw new InterruptedException("cancelled");
      }
      Thread.sleep(stepDelay.toMillis());
      context.progress((double) step / steps, "step " + step + " of " + steps + ": counting projects");
    }
    List<String> names = new java.util.ArrayList<>();
    try (Connection c = db.getConnection()) {
      try (PreparedStatement ps = c.prepareStatement("SELECT name FROM projects ORDER BY created_at, id");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          names.add(rs.getString(1));
        }
      }
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO reports (job_id, projects) VALUES (?, ?)")) {
        ps.setLong(1, context.id().value());
        ps.setInt(2, names.size());
        ps.executeUpdate();
      }
    }
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("projects", names.size());
    result.put("projectNames", names);
    result.put("requestedBy", request.requestedBy());
    result.put("generatedAt", Instant.now().toString());
    return result;
  }

  /** Refreshes the analytics view (as its owner, the analytics role) and records when. */
  void refreshAnalytics() throws SQLException {
    analytics.refresh(analyticsPool);
    try (Connection c = analyticsPool.getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO analytics_refreshes (view_name, refreshed_at)"
            + " VALUES (?, now()) ON CONFLICT (view_name) DO UPDATE SET refreshed_at = excluded.refreshed_at")) {
      ps.setString(1, analytics.viewName());
      ps.executeUpdate();
    }
  }

  /** The current tenant's row of the analytics view (zeros before its first refresh). */
  Summary summary() throws SQLException {
    try (Connection c = db.getConnection()) {
      long projects = 0;
      long reports = 0;
      try (PreparedStatement ps = c.prepareStatement("SELECT projects, reports FROM " + analytics.viewName());
          ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          projects = rs.getLong(1);
          reports = rs.getLong(2);
        }
      }
      Instant refreshedAt = null;
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT refreshed_at FROM analytics_refreshes WHERE view_name = ?")) {
        ps.setString(1, analytics.viewName());
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            refreshedAt = rs.getObject(1, OffsetDateTime.class).toInstant();
          }
        }
      }
      return new Summary(projects, reports, refreshedAt);
    }
  }
}
