package dev.saaskit.tenancy;

import static dev.saaskit.tenancy.TenantMaterializedViewTest.exec;
import static dev.saaskit.tenancy.TenantMaterializedViewTest.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link TenantMaterializedView#refresh}: when the owner's cross-tenant read is taken away after {@code create}
 * (its SELECT policy dropped, its {@code BYPASSRLS} removed), the refresh refuses and keeps the previous data
 * instead of publishing aggregates of the rows the owner still sees (none: the dashboards would go empty).
 */
@ExtendWith(PostgresExtension.class)
class TenantMaterializedViewRefreshGuardTest {
  static final String A = "0f8fad5b-d9cb-469f-a165-70867728950e";
  static final String B = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  static final String TOTALS = "SELECT tenant_id, count(*) AS n FROM orders GROUP BY tenant_id";

  static TestDatabase db;
  static String analytics;
  static DataSource analyticsDs;

  @BeforeAll
  static void init(TestDatabase database) throws SQLException {
    db = database;
    analytics = TenantMaterializedViewTest.createSchema(db);
    analyticsDs = db.newPool(analytics, db.rolePassword(analytics), 2);
    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "INSERT INTO orders (tenant_id, created_on, amount_cents) VALUES ('" + A + "', '2024-01-01', 1),"
          + " ('" + A + "', '2024-01-02', 2), ('" + B + "', '2024-01-01', 3)");
    }
  }

  static TenantMaterializedView view(String name) {
    return TenantMaterializedView.builder(name).query(TOTALS).columnType(TenantColumnType.UUID)
        .uniqueKey("tenant_id").readers(db.appRole()).build();
  }

  /** The materialized view's rows as the superuser (past the tenant filter). */
  static String contents(TenantMaterializedView v) throws SQLException {
    return String.join(",", rows(db.adminDataSource(), "SELECT tenant_id || '=' || n FROM "
        + v.materializedViewName() + " ORDER BY tenant_id"));
  }

  @Test
  void refreshRefusesOnceTheOwnersSelectPolicyIsDroppedAndKeepsThePreviousData() throws SQLException {
    TenantMaterializedView v = view("totals_policy");
    TenantMaterializedViewTest.createIn(analyticsDs, v);
    String before = A + "=2," + B + "=1";
    assertThat(contents(v)).isEqualTo(before);
    v.refresh(analyticsDs); // the setup is intact: refreshes

    try (Connection c = db.ownerDataSource().getConnection()) {
      exec(c, "DROP POLICY analytics_read ON orders"); // an operator "cleaning up" the open policy
    }
    try {
      assertThatThrownBy(() -> v.refresh(analyticsDs))
          .isInstanceOf(SaasException.class)
          .hasMessageContaining("refusing to refresh")
          .hasMessageContaining("row-level security on \"public\".\"orders\"")
          .hasMessageContaining("the previous data is kept")
          .hasMessageContaining("CREATE POLICY analytics_read ON \"public\".\"orders\" FOR SELECT TO \""
              + analytics + "\" USING (true);")
          .hasMessageContaining("BYPASSRLS");
      try (Connection c = analyticsDs.getConnection()) {
        assertThatThrownBy(() -> v.refresh(c)).isInstanceOf(SaasException.class)
            .hasMessageContaining("refusing to refresh");
      }
      assertThat(contents(v)).as("the previous aggregates stay").isEqualTo(before);
    } finally {
      try (Connection c = db.ownerDataSource().getConnection()) {
        exec(c, "CREATE POLICY analytics_read ON orders FOR SELECT TO " + analytics + " USING (true)");
      }
    }
    v.refresh(analyticsDs); // restored: refreshes again
    assertThat(contents(v)).isEqualTo(before);
  }

  @Test
  void refreshRefusesOnceTheOwnersBypassRlsIsRemoved() throws SQLException {
    // a second analytics role that reads across tenants by BYPASSRLS instead of a policy
    String bypass = db.createRole("analytics_bypass", "BYPASSRLS");
    try (Connection c = db.ownerDataSource().getConnection()) {
      exec(c, "GRANT SELECT ON orders TO " + bypass);
      exec(c, "GRANT CREATE ON SCHEMA public TO " + bypass);
    }
    DataSource bypassDs = db.newPool(bypass, db.rolePassword(bypass), 1);
    TenantMaterializedView v = view("totals_bypass");
    TenantMaterializedViewTest.createIn(bypassDs, v);
    v.refresh(bypassDs);
    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "ALTER ROLE " + bypass + " NOBYPASSRLS");
    }
    assertThatThrownBy(() -> v.refresh(bypassDs))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("row-level security on \"public\".\"orders\" now applies to \"" + bypass + "\"");
    assertThat(contents(v)).isEqualTo(A + "=2," + B + "=1");
  }
}
