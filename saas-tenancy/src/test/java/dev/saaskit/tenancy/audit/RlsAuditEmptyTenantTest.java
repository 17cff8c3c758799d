package dev.saaskit.tenancy.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code current-setting-without-nullif}: a hand-written text policy {@code tenant_id = current_setting('app.tenant_id',
 * true)} is not fail-closed. A session without a tenant that once had one reads the setting as {@code ''}, and
 * {@code '' = ''}: it reads and writes the rows whose tenant is {@code ''}. First the leak, on a real session, then
 * the finding, and the guarded forms that are not reported.
 */
@ExtendWith(PostgresExtension.class)
class RlsAuditEmptyTenantTest {
  static TestDatabase db;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    String app = q(db.appRole());
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA empty AUTHORIZATION " + q(db.ownerRole()));
      s.execute("GRANT USAGE ON SCHEMA empty TO " + app);
    }
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      for (String table : List.of("plain", "sub_query", "guarded", "and_guarded", "case_guarded", "uuid_cast")) {
        String type = table.equals("uuid_cast") ? "uuid" : "text";
        s.execute("CREATE TABLE empty." + table + " (id bigint, tenant_id " + type + " NOT NULL, note text)");
        s.execute("CREATE INDEX ON empty." + table + " (tenant_id)");
        s.execute("ALTER TABLE empty." + table + " ENABLE ROW LEVEL SECURITY");
        s.execute("ALTER TABLE empty." + table + " FORCE ROW LEVEL SECURITY");
        s.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON empty." + table + " TO " + app);
      }
      // the hand-written forms: text comparison with the raw setting (per row, and once in a sub-query)
      s.execute("CREATE POLICY p ON empty.plain USING (tenant_id = current_setting('app.tenant_id', true))");
      s.execute("CREATE POLICY p ON empty.sub_query USING (tenant_id = (SELECT current_setting('app.tenant_id',"
          + " true))) WITH CHECK (tenant_id = (SELECT current_setting('app.tenant_id', true)))");
      // guarded against '': not reported
      s.execute("CREATE POLICY p ON empty.guarded USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id',"
          + " true), '')))");
      s.execute("CREATE POLICY p ON empty.and_guarded USING ((SELECT current_setting('app.tenant_id', true)) <> ''"
          + " AND tenant_id = (SELECT current_setting('app.tenant_id', true)))");
      s.execute("CREATE POLICY p ON empty.case_guarded USING (tenant_id = (SELECT CASE WHEN"
          + " current_setting('app.tenant_id', true) = '' THEN NULL ELSE current_setting('app.tenant_id', true)"
          + " END))");
      // a uuid comparison raises an error on '' (fails closed, loudly): not this rule's business
      s.execute("CREATE POLICY p ON empty.uuid_cast USING (tenant_id = (SELECT current_setting('app.tenant_id',"
          + " true)::uuid))");
    }
  }

  @Test
  void aTenantlessSessionReadsAndWritesTheEmptyTenantsRowsThroughAnUnguardedTextPolicy() throws SQLException {
    // session 1: served tenant 'a' (transaction-local, as TenantDataSource does), then works without a tenant
    try (Connection c = db.appDataSource().getConnection(); Statement s = c.createStatement()) {
      makeTenantless(c, s);
      s.execute("INSERT INTO empty.sub_query (id, tenant_id, note) VALUES (1, '', 'written without a tenant')");
      // the guarded policy refuses the same write
      assertThatThrownBy(() -> s.execute("INSERT INTO empty.guarded (id, tenant_id, note) VALUES (1, '', 'x')"))
          .isInstanceOf(SQLException.class).hasMessageContaining("row-level security");
    }
    // session 2, another tenantless session, reads what session 1 wrote: not fail-closed
    try (Connection c = db.appDataSource().getConnection(); Statement s = c.createStatement()) {
      makeTenantless(c, s);
      assertThat(count(s, "empty.sub_query")).isEqualTo(1);
    }
    // rows with tenant '' written past RLS are visible the same way through the per-row form, not the guarded one
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("INSERT INTO empty.plain VALUES (1, '', 'x'), (2, 'a', 'y')");
      s.execute("INSERT INTO empty.guarded VALUES (2, '', 'x'), (3, 'a', 'y')");
    }
    try (Connection c = db.appDataSource().getConnection(); Statement s = c.createStatement()) {
      makeTenantless(c, s);
      assertThat(count(s, "empty.plain")).isEqualTo(1);
      assertThat(count(s, "empty.guarded")).isZero();
    }
  }

  @Test
  void theAuditReportsTheUnguardedTextComparisonsOnly() {
    AuditReport report = RlsAudit.builder().schemas("empty").appRole(db.appRole()).build()
        .run(db.adminDataSource());
    List<String> keys = report.findings().stream().filter(f -> f.ruleId().equals("current-setting-without-nullif"))
        .map(f -> f.severity() + " " + f.object()).collect(Collectors.toList());
    assertThat(keys).as(report.toText()).containsExactlyInAnyOrder(
        "WARNING policy p on empty.plain", "WARNING policy p on empty.sub_query");
    Finding finding = report.findings().stream()
        .filter(f -> f.ruleId().equals("current-setting-without-nullif") && f.object().contains("sub_query"))
        .findFirst().orElseThrow();
    assertThat(finding.message()).contains("reads ''").contains("app.tenant_id");
    assertThat(finding.fix()).hasValueSatisfying(fix -> assertThat(fix)
        .contains("nullif(current_setting('app.tenant_id', true), '')"));
    assertThat(AuditReport.rules()).anyMatch(r -> r.id().equals("current-setting-without-nullif"));
  }

  /** A transaction-local tenant that ended: the setting now reads '' on this connection. */
  static void makeTenantless(Connection c, Statement s) throws SQLException {
    c.setAutoCommit(false);
    s.execute("SELECT set_config('app.tenant_id', 'a', true)");
    c.commit();
    c.setAutoCommit(true);
    try (ResultSet rs = s.executeQuery("SELECT current_setting('app.tenant_id', true)")) {
      rs.next();
      assertThat(rs.getString(1)).isEmpty();
    }
  }

  static long count(Statement s, String table) throws SQLException {
    try (ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  static String q(String identifier) {
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }
}
