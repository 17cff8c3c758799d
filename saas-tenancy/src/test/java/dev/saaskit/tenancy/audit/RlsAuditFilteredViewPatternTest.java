package dev.saaskit.tenancy.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The tenant-filtered view pattern (review of 2026-12-05): the audit accepted a {@code security_barrier} view as
 * filtered when any top-level conjunct compared any tenant column with the tenant setting, so a view that filters one
 * tenant table and reads another unfiltered (a join, a sub-query) passed silently while it showed every tenant's
 * rows of the second.
 */
@ExtendWith(PostgresExtension.class)
class RlsAuditFilteredViewPatternTest {
  static final String FILTER = "(select nullif(current_setting('app.tenant_id', true), '')::text)";

  TestDatabase db;

  @Test
  void aBarrierViewIsTheFilteredPatternOnlyWhenEveryTenantTableItReadsIsFiltered() throws Exception {
    owner("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)",
        "CREATE TABLE profiles (tenant_id text PRIMARY KEY, name text NOT NULL)");
    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
      RlsPolicy.forTable("profiles").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    // views owned by the superuser, which is not held to the policies: only the view's own filter protects
    admin("INSERT INTO profiles VALUES ('acme', 'Acme'), ('globex', 'Globex')",
        "INSERT INTO notes(tenant_id, body) VALUES ('acme', 'acme note'), ('globex', 'globex note')",
        "CREATE VIEW filtered WITH (security_barrier = true) AS SELECT * FROM notes WHERE tenant_id = " + FILTER,
        "CREATE VIEW joined WITH (security_barrier = true) AS SELECT p.name, n.body FROM profiles p, notes n"
            + " WHERE p.tenant_id = " + FILTER,
        "CREATE VIEW sublink WITH (security_barrier = true) AS SELECT p.name,"
            + " (SELECT string_agg(body, ',' ORDER BY body) FROM notes) AS bodies FROM profiles p"
            + " WHERE p.tenant_id = " + FILTER,
        "CREATE VIEW both_filtered WITH (security_barrier = true) AS SELECT p.name, n.body FROM profiles p"
            + " JOIN notes n ON n.tenant_id = p.tenant_id WHERE p.tenant_id = " + FILTER + " AND n.tenant_id = "
            + FILTER,
        "GRANT SELECT ON filtered, joined, sublink, both_filtered TO " + q(db.appRole()));

    DataSource tenantDs = TenantDataSource.wrap(db.appDataSource());
    List<String> acmeSees = TenantContext.call(TenantId.of("acme"), () -> {
      List<String> out = new ArrayList<>();
      out.addAll(rows(tenantDs, "SELECT body FROM filtered"));
      out.addAll(rows(tenantDs, "SELECT body FROM joined"));
      out.addAll(rows(tenantDs, "SELECT bodies FROM sublink"));
      out.addAll(rows(tenantDs, "SELECT body FROM both_filtered"));
      return out;
    });
    assertThat(acmeSees).as("the leak is real: joined and sublink show globex's note to acme")
        .containsExactly("acme note", "acme note", "globex note", "acme note,globex note", "acme note");

    AuditReport report = RlsAudit.builder().appRole(db.appRole()).build().run(db.adminDataSource());
    assertThat(report.findings()).extracting(f -> f.ruleId() + " " + f.severity() + " " + f.object())
        .containsExactlyInAnyOrder(
            "view-without-security-invoker ERROR public.joined",
            "view-without-security-invoker ERROR public.sublink");
  }

  static List<String> rows(DataSource ds, String sql) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = ds.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  void owner(String... sql) throws SQLException {
    run(db.ownerDataSource(), sql);
  }

  void admin(String... sql) throws SQLException {
    run(db.adminDataSource(), sql);
  }

  static void run(DataSource ds, String... sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      for (String each : sql) {
        s.execute(each);
      }
    }
  }

  static String q(String identifier) {
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }
}
