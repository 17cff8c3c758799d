package dev.saaskit.tenancy.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.tenancy.TenantMaterializedView;
import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Baseline;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.LocalDate;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The code of docs/analytics.md and docs/rls-audit.md, run as written (between the snippet markers). */
@ExtendWith(PostgresExtension.class)
class AnalyticsAndAuditDocsTest {
  private static final Logger log = LoggerFactory.getLogger(AnalyticsAndAuditDocsTest.class);
  static final String A = "3f1c0a6e-7d4b-4f7e-9a51-000000000001";
  static final String B = "3f1c0a6e-7d4b-4f7e-9a51-000000000002";

  static TestDatabase db;
  static HikariDataSource analyticsPool;
  static TenantMaterializedView stats;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    String analytics = db.createRole("analytics", "");
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE orders (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, created_on date NOT NULL,"
          + " amount_cents bigint NOT NULL)");
      RlsPolicy.forTable("orders").columnType(TenantColumnType.UUID).build().apply(c);
      // the analytics role reads every tenant's rows (it builds the aggregates) and creates in public
      st.execute("GRANT SELECT ON orders TO " + analytics);
      st.execute("CREATE POLICY analytics_read ON orders FOR SELECT TO " + analytics + " USING (true)");
      st.execute("GRANT CREATE ON SCHEMA public TO " + analytics);
    }
    analyticsPool = db.newPool(analytics, db.rolePassword(analytics), 2);
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("INSERT INTO orders (tenant_id, created_on, amount_cents) VALUES"
          + " ('" + A + "', '2024-01-01', 100), ('" + A + "', '2024-01-02', 250), ('" + B + "', '2024-01-02', 7)");
    }
    String appRole = db.appRole();
    try (Connection analyticsConnection = analyticsPool.getConnection()) {
      DataSource analyticsDataSource = analyticsPool;
      // snippet: create-and-refresh
      TenantMaterializedView stats = TenantMaterializedView.builder("order_stats")   // or builder("reports", "order_stats")
          .query("SELECT tenant_id, created_on AS day, count(*) AS orders, sum(amount_cents) AS revenue"
              + " FROM orders GROUP BY tenant_id, created_on")
          .columnType(TenantColumnType.UUID)       // required: type of the query's tenant column
          .uniqueKey("tenant_id", "day")           // required: output columns that identify a row, tenant column first
          .readers(appRole)                        // required: roles granted SELECT on the view (the app's role)
          .build();

      stats.create(analyticsConnection);           // in the caller's transaction (e.g. a Flyway Java migration)
      stats.refresh(analyticsDataSource);          // REFRESH MATERIALIZED VIEW CONCURRENTLY, in auto-commit
      // end snippet
      AnalyticsAndAuditDocsTest.stats = stats;
    }
  }

  @AfterAll
  static void tearDown() {
    analyticsPool.close();
  }

  @Test
  void readingTheViewShowsOnlyTheTenantsRows() throws Exception {
    DataSource appPool = db.appDataSource();
    TenantId tenant = TenantId.ofUuid(A);
    LocalDate since = LocalDate.of(2024, 1, 1);
    // snippet: read
    DataSource db = TenantDataSource.wrap(appPool);
    long revenue = TenantContext.call(tenant, () -> {
      try (Connection c = db.getConnection();
           PreparedStatement ps = c.prepareStatement("SELECT coalesce(sum(revenue), 0) FROM order_stats WHERE day >= ?")) {
        ps.setObject(1, since);                                   // a LocalDate
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          return rs.getLong(1);                                   // this tenant's revenue only
        }
      }
    });
    // end snippet
    assertThat(revenue).isEqualTo(350);
  }

  @Test
  void scheduledRefreshKeepsRunningAfterAFailure() throws Exception {
    DataSource analyticsPool = AnalyticsAndAuditDocsTest.analyticsPool;
    // snippet: schedule
    ScheduledExecutorService refresher = Executors.newSingleThreadScheduledExecutor();
    ScheduledFuture<?> refreshing = refresher.scheduleWithFixedDelay(() -> {
      try {
        stats.refresh(analyticsPool);
      } catch (SaasException e) {
        log.warn("refreshing order_stats failed; readers keep the previous data", e);
      }
    }, 1, 5, TimeUnit.MINUTES);
    // end snippet
    assertThat(refreshing.isDone()).isFalse();
    refresher.shutdownNow();
    assertThat(refresher.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void auditOneLiner() {
    DataSource appDataSource = db.appDataSource();
    tenantIsolationHolds(appDataSource);
  }

  // The one-liner of docs/rls-audit.md, in the shape a test suite has it.
  static void tenantIsolationHolds(DataSource appDataSource) {
    // snippet: audit-test
    RlsAudit.defaults().assertNoErrors(appDataSource);   // AssertionError listing every ERROR finding with its fix
    // end snippet
  }

  @Test
  void auditAsAnOperator(@TempDir Path dir) throws Exception {
    Path baselineFile = dir.resolve("rls-baseline.txt");
    Files.writeString(baselineFile, "# accepted findings, one per line: <rule-id> <object> -- <reason>\n");
    DataSource adminDataSource = db.adminDataSource();
    String appRole = db.appRole();
    // snippet: audit-operator
    AuditReport report = RlsAudit.builder()
        .appRole(appRole)                          // the role the application logs in as
        .baseline(Baseline.load(baselineFile))     // accepted findings, each with a reason (e.g. rls-baseline.txt)
        .build()
        .run(adminDataSource);                     // borrows one connection
    System.out.println(report.toText());           // or toJson(), toSarif()
    if (report.hasErrors()) {
      throw new IllegalStateException("tenant isolation is broken:\n" + report.toText());
    }
    // end snippet
    assertThat(report.hasErrors()).isFalse();
    assertThat(report.toText()).isNotBlank();
  }
}
