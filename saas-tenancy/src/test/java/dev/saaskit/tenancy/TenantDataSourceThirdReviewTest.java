package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Findings of the third review of TenantDataSource (2026-12-05): driver options and pool reuse. Each test failed on
 * the code before its fix.
 */
@ExtendWith(PostgresExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TenantDataSourceThirdReviewTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  static TestDatabase db;

  @BeforeAll
  static void schema(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
  }

  @BeforeEach
  void seed() throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("TRUNCATE notes");
      s.execute("INSERT INTO notes(tenant_id, body) VALUES ('acme', 'a1'), ('globex', 'g1')");
    }
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
    try (HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), 1, Map.of("prepareThreshold", "-1"))) {
      TenantDataSource tenantDs = TenantDataSource.wrap(pool);
      // other code left a session-level value on the one pooled connection
      try (Connection raw = pool.getConnection(); Statement st = raw.createStatement()) {
        st.execute("SET app.tenant_id = 'globex'");
      }
      TenantContext.run(ACME, () -> {
        try (Connection c = tenantDs.getConnection()) {
          for (int i = 0; i < 3; i++) {
            try (Statement st = c.createStatement()) {
              assertThat(st.executeUpdate("INSERT INTO notes(body) VALUES ('a-plain-" + i + "')")).isEqualTo(1);
              try (ResultSet rs = st.executeQuery("SELECT body FROM notes ORDER BY body")) {
                assertThat(bodies(rs)).as("plain, execution %d", i).allMatch(b -> b.startsWith("a"))
                    .contains("a1");
              }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT body FROM notes WHERE body <> ? ORDER BY body")) {
              ps.setString(1, "none");
              try (ResultSet rs = ps.executeQuery()) {
                assertThat(bodies(rs)).as("prepared, execution %d", i).allMatch(b -> b.startsWith("a"))
                    .contains("a1");
              }
            }
          }
        }
      });
    }
  }

  private static List<String> bodies(ResultSet rs) throws SQLException {
    List<String> out = new ArrayList<>();
    while (rs.next()) {
      out.add(rs.getString(1));
    }
    return out;
  }
}
