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
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Findings of the adversarial reviews of TenantDataSource (2026-12-05). Each test failed on the code before its
 * fix: a statement ran with a tenant other than the current one, or with a value set under another tenant.
 */
@ExtendWith(PostgresExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TenantDataSourceReviewTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  static TestDatabase db;
  static HikariDataSource pool;
  static TenantDataSource tenantDs;

  @BeforeAll
  static void schema(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL,"
          + " title text NOT NULL DEFAULT '')");
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
  void seed() throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("TRUNCATE notes");
      s.execute("INSERT INTO notes(tenant_id, body) VALUES ('acme', 'a1'), ('globex', 'g1')");
    }
  }

  static <T> T as(TenantId tenant, Callable<T> body) throws Exception {
    return TenantContext.call(tenant, body::call);
  }

  static List<String> strings(ResultSet rs) throws SQLException {
    List<String> out = new ArrayList<>();
    while (rs.next()) {
      out.add(rs.getString(1));
    }
    return out;
  }

  /**
   * JDBC parameter indexes start at 1, and the driver refuses 0. The wrapper shifts the caller's indexes by one to
   * make room for the tenant in parameter 1, so an index 0 landed on the tenant's parameter: a 0-based loop over
   * parameters (or input that picks the index) chose the tenant the statement ran as.
   */
  @Test
  void parameterIndexZeroCannotReplaceTheTenant() throws Exception {
    List<String> seen = new ArrayList<>();
    Throwable failure = null;
    try {
      as(ACME, () -> {
        try (Connection c = tenantDs.getConnection();
            PreparedStatement ps = c.prepareStatement("SELECT body FROM notes WHERE body <> ? ORDER BY id")) {
          ps.setString(0, "globex");
          ps.setString(1, "none");
          try (ResultSet rs = ps.executeQuery()) {
            seen.addAll(strings(rs));
          }
        }
        return null;
      });
    } catch (SQLException e) {
      failure = e;
    }
    assertThat(seen).as("rows read by a statement of acme").doesNotContain("g1");
    assertThat(failure).as("index 0 is refused, as the driver refuses it").isInstanceOf(SQLException.class);

    // every setter of PreparedStatement goes through the same path; a negative index is refused as well
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection();
          PreparedStatement ps = c.prepareStatement("SELECT body FROM notes WHERE body <> ?")) {
        assertThatThrownBy(() -> ps.setObject(0, "globex")).isInstanceOf(SQLException.class);
        assertThatThrownBy(() -> ps.setNull(-1, java.sql.Types.VARCHAR)).isInstanceOf(SQLException.class);
        ps.setString(1, "none");
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(strings(rs)).containsExactly("a1");
        }
      }
      return null;
    });
  }

  /**
   * pgjdbc sends a Sync of its own once a pipeline holds about 256 statements (its estimate of the answers it may
   * ask for before reading them), which ends the implicit transaction of an autocommit execution. A plain statement
   * of many parts (a script of inserts, say) then ran its later parts without the tenant: inserts failed after the
   * first ~254 had committed, and reads saw the session-level value other code left on the pooled connection.
   */
  @Test
  void aLongMultiStatementRunsEveryPartWithTheTenant() throws Exception {
    StringBuilder inserts = new StringBuilder();
    for (int i = 0; i < 300; i++) {
      inserts.append("INSERT INTO notes(body) VALUES ('bulk").append(i).append("');\n");
    }
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        s.execute(inserts.toString());
      }
      return null;
    });
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT tenant_id, count(*) FROM notes WHERE body LIKE 'bulk%' GROUP BY 1")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(1)).isEqualTo("acme");
      assertThat(rs.getLong(2)).isEqualTo(300);
      assertThat(rs.next()).isFalse();
    }

    // other code left a session-level value on the one pooled connection: the wrapper's setting must win
    try (Connection raw = pool.getConnection(); Statement s = raw.createStatement()) {
      s.execute("SET app.tenant_id = 'globex'");
    }
    try {
      StringBuilder script = new StringBuilder();
      for (int i = 0; i < 300; i++) {
        script.append("SELECT ").append(i).append(";\n");
      }
      script.append("SELECT coalesce(string_agg(body, ',' ORDER BY id), '') FROM notes WHERE body NOT LIKE 'bulk%'");
      String last = as(ACME, () -> {
        try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
          s.execute(script.toString());
          String seen = null;
          while (s.getMoreResults() || s.getUpdateCount() != -1) {
            ResultSet rs = s.getResultSet();
            if (rs != null && rs.next()) {
              seen = rs.getString(1);
            }
          }
          return seen;
        }
      });
      assertThat(last).isEqualTo("a1");
    } finally {
      try (Connection raw = pool.getConnection(); Statement s = raw.createStatement()) {
        s.execute("RESET app.tenant_id");
      }
    }
  }

  /** The rows written with a title (the seeded ones have none), as tenant/title/body, past RLS. */
  static List<String> titled() throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT tenant_id || '/' || title || '/' || body FROM notes WHERE title <> ''"
            + " ORDER BY id")) {
      return strings(rs);
    }
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
    assertThat(titled()).containsExactly("acme/plan/acme's secret plan", "globex/b1/globex body");
  }

  /**
   * {@code prepareThreshold=-1} is pgjdbc's "force binary" mode: every statement, plain ones included, is described
   * in a round trip of its own before its first execution, and a described part that returns text makes the driver
   * put a Sync between the setting and the statement. In auto-commit mode the setting then ended with its own
   * implicit transaction: selects saw no rows, inserts broke the policy, and a session-level value left on the
   * pooled connection by code that did not use the wrapper was the tenant the statement ran as.
   */
  @Test
  void forceBinaryModeKeepsTheTenantWithItsStatement() throws Exception {
    try (HikariDataSource binaryPool = db.newPool(db.appRole(), db.appPassword(), 1,
        Map.of("prepareThreshold", "-1"))) {
      TenantDataSource binaryDs = TenantDataSource.wrap(binaryPool);
      // other code left a session-level value on the one pooled connection
      try (Connection raw = binaryPool.getConnection(); Statement st = raw.createStatement()) {
        st.execute("SET app.tenant_id = 'globex'");
      }
      TenantContext.run(ACME, () -> {
        try (Connection c = binaryDs.getConnection()) {
          for (int i = 0; i < 3; i++) {
            try (Statement st = c.createStatement()) {
              assertThat(st.executeUpdate("INSERT INTO notes(body) VALUES ('a-plain-" + i + "')")).isEqualTo(1);
              try (ResultSet rs = st.executeQuery("SELECT body FROM notes ORDER BY body")) {
                assertThat(strings(rs)).as("plain, execution %d", i).allMatch(b -> b.startsWith("a"))
                    .contains("a1");
              }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT body FROM notes WHERE body <> ? ORDER BY body")) {
              ps.setString(1, "none");
              try (ResultSet rs = ps.executeQuery()) {
                assertThat(strings(rs)).as("prepared, execution %d", i).allMatch(b -> b.startsWith("a"))
                    .contains("a1");
              }
            }
          }
        }
      });
    }
  }
}
