package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Findings of the third adversarial review of TenantDataSource (2026-12-05). Each test failed on the code before
 * its fix.
 */
@ExtendWith(PostgresExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TenantDataSourceThirdReviewTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  static TestDatabase db;
  static HikariDataSource pool;
  static TenantDataSource tenantDs;

  @BeforeAll
  static void schema(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, title text NOT NULL,"
          + " body text NOT NULL)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    pool = db.newPool(db.appRole(), db.appPassword(), 1);
    tenantDs = TenantDataSource.wrap(pool);
  }

  @AfterAll
  static void closePool() {
    pool.close();
  }

  @BeforeEach
  void clean() throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("TRUNCATE notes");
    }
  }

  static List<String> all() throws SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT tenant_id || '/' || title || '/' || body FROM notes ORDER BY id")) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  /**
   * {@code clearParameters()} cleared the wrapper's record of the parameters but not the driver statements, which
   * kept the values replayed into them. A parameter not set again after it then ran with the value set before, where
   * the driver fails the execution ("No value specified for parameter"): a statement shared by the code of two
   * tenants wrote acme's text into globex's row.
   */
  @Test
  void clearParametersLeavesNoValueOfAnEarlierExecutionBehind() throws Exception {
    try (Connection c = tenantDs.getConnection();
        PreparedStatement insert = c.prepareStatement("INSERT INTO notes(title, body) VALUES (?, ?)")) {
      TenantContext.run(ACME, () -> {
        insert.setString(1, "plan");
        insert.setString(2, "acme's secret plan");
        insert.executeUpdate();
        insert.clearParameters();
      });
      TenantContext.run(GLOBEX, () -> {
        insert.setString(1, "hello"); // forgets the body
        assertThatThrownBy(insert::executeUpdate).isInstanceOf(SQLException.class)
            .hasMessageContaining("No value specified for parameter");
      });
      // the batch path (the second driver statement) too
      TenantContext.run(GLOBEX, () -> {
        insert.setString(1, "b1");
        insert.setString(2, "globex body");
        insert.addBatch();
        insert.executeBatch();
        insert.clearParameters();
        insert.setString(1, "b2"); // forgets the body
        insert.addBatch();
        assertThatThrownBy(insert::executeBatch).isInstanceOf(SQLException.class);
        insert.clearBatch();
      });
    }
    assertThat(all()).containsExactly("acme/plan/acme's secret plan", "globex/b1/globex body");
  }
}
