package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.testing.IsolationAssertions;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class TenantDataSourceTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");
  // A tenant id that needs escaping inside a SQL literal.
  static final TenantId TRICKY = TenantId.of("o'brien\\co; drop table notes; --");

  static HikariDataSource pool;
  static TenantDataSource tenantDs;
  static TestDatabase db;

  @BeforeAll
  static void schema(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    // One connection: every test reuses the same physical connection, the worst case for leaks.
    pool = db.newPool(db.appRole(), db.appPassword(), 1);
    tenantDs = TenantDataSource.wrap(pool);
  }

  @AfterAll
  static void closePool() {
    pool.close();
  }

  @BeforeEach
  void clean() throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("TRUNCATE notes"); // TRUNCATE is not subject to RLS
    }
  }

  static <T> T as(TenantId tenant, Callable<T> body) throws Exception {
    return TenantContext.call(tenant, body::call);
  }

  static void insert(Connection c, String body) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes(body) VALUES (?)")) {
      ps.setString(1, body);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  static List<String> bodies(Connection c) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT body FROM notes ORDER BY id");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  /** What the raw pooled connection (no wrapper) sees as the setting now. */
  static String rawSetting() throws SQLException {
    try (Connection c = pool.getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT current_setting('app.tenant_id', true)")) {
      rs.next();
      return rs.getString(1) == null ? "" : rs.getString(1);
    }
  }

  @Test
  void autocommitStatementsSeeOnlyTheirTenant() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection()) {
        insert(c, "a1");
        insert(c, "a2");
      }
      return null;
    });
    as(GLOBEX, () -> {
      try (Connection c = tenantDs.getConnection()) {
        insert(c, "g1");
      }
      return null;
    });
    assertThat(as(ACME, () -> { try (Connection c = tenantDs.getConnection()) { return bodies(c); } }))
        .containsExactly("a1", "a2");
    assertThat(as(GLOBEX, () -> { try (Connection c = tenantDs.getConnection()) { return bodies(c); } }))
        .containsExactly("g1");
    assertThat(rawSetting()).isEmpty();
  }

  @Test
  void isolationAssertionsPassThroughTheTenantDataSource() throws Exception {
    as(ACME, () -> { try (Connection c = tenantDs.getConnection()) { insert(c, "a1"); } return null; });
    as(GLOBEX, () -> { try (Connection c = tenantDs.getConnection()) { insert(c, "g1"); } return null; });
    IsolationAssertions.assertTenantIsolated(tenantDs, "notes", "tenant_id", ACME, GLOBEX);
    IsolationAssertions.assertTenantIsolated(tenantDs, "notes", "tenant_id", GLOBEX, ACME);
    IsolationAssertions.assertCannotInsertAs(tenantDs, ACME,
        "INSERT INTO notes(tenant_id, body) VALUES (?, 'smuggled')", GLOBEX);
    IsolationAssertions.assertNoRowsWithoutTenant(tenantDs, "notes");
    // The same check over a superuser connection, which bypasses RLS, must catch the leak.
    assertThatThrownBy(() -> IsolationAssertions.assertTenantIsolated(
        TenantDataSource.wrap(db.adminDataSource()), "notes", "tenant_id", ACME, GLOBEX))
        .isInstanceOf(AssertionError.class);
  }

  @Test
  void noTenantReadsNothingAndCannotWrite() throws Exception {
    as(ACME, () -> { try (Connection c = tenantDs.getConnection()) { insert(c, "a1"); } return null; });
    try (Connection c = tenantDs.getConnection()) {
      assertThat(bodies(c)).isEmpty();
      assertThatThrownBy(() -> insert(c, "orphan")).isInstanceOf(SQLException.class);
      try (Statement s = c.createStatement()) {
        assertThat(s.executeUpdate("UPDATE notes SET body = 'x'")).isZero();
        assertThat(s.executeUpdate("DELETE FROM notes")).isZero();
      }
    }
    assertThat(as(ACME, () -> { try (Connection c = tenantDs.getConnection()) { return bodies(c); } }))
        .containsExactly("a1");
  }

  @Test
  void strictModeThrowsBeforeSendingAnything() throws Exception {
    TenantDataSource strict = TenantDataSource.builder(pool).strict(true).build();
    assertThat(strict.isStrict()).isTrue();
    try (Connection c = strict.getConnection()) {
      assertThatThrownBy(() -> insert(c, "orphan"))
          .isInstanceOf(MissingTenantException.class)
          .hasMessageContaining("TenantContext.run");
      try (Statement s = c.createStatement()) {
        assertThatThrownBy(() -> s.executeQuery("SELECT 1")).isInstanceOf(MissingTenantException.class);
      }
    }
    assertThat(as(ACME, () -> { try (Connection c = strict.getConnection()) { insert(c, "ok"); return bodies(c); } }))
        .containsExactly("ok");
  }

  @Test
  void explicitTransactionsFollowTheContextBetweenTransactionsOnOneConnection() throws Exception {
    try (Connection c = tenantDs.getConnection()) {
      c.setAutoCommit(false);
      TenantContext.call(ACME, () -> { insert(c, "a1"); assertThat(bodies(c)).containsExactly("a1"); return null; });
      c.commit();
      TenantContext.call(GLOBEX, () -> { assertThat(bodies(c)).isEmpty(); insert(c, "g1"); return null; });
      c.commit();
      TenantContext.call(ACME, () -> { assertThat(bodies(c)).containsExactly("a1"); return null; });
      c.rollback();
      c.setAutoCommit(true);
    }
    assertThat(rawSetting()).isEmpty();
  }

  @Test
  void eachStatementSeesTheTenantCurrentWhenItRuns() throws Exception {
    as(ACME, () -> { try (Connection c = tenantDs.getConnection()) { insert(c, "a1"); } return null; });
    try (Connection c = tenantDs.getConnection()) {
      c.setAutoCommit(false);
      assertThat(as(ACME, () -> bodies(c))).containsExactly("a1");
      assertThat(as(GLOBEX, () -> bodies(c))).isEmpty();
      assertThat(bodies(c)).isEmpty();
      c.commit();
    }
  }

  @Test
  void nothingSurvivesReturnToThePool() throws Exception {
    // rollback
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection()) {
        c.setAutoCommit(false);
        insert(c, "rolled back");
        c.rollback();
      }
      return null;
    });
    assertThat(rawSetting()).isEmpty();
    // exception inside a transaction, connection closed without commit or rollback
    assertThatThrownBy(() -> as(ACME, () -> {
      try (Connection c = tenantDs.getConnection()) {
        c.setAutoCommit(false);
        insert(c, "closed mid-transaction");
        throw new IllegalStateException("boom");
      }
    })).hasMessage("boom");
    assertThat(rawSetting()).isEmpty();
    // SQL error in autocommit mode
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        assertThatThrownBy(() -> s.executeQuery("SELECT 1/0")).isInstanceOf(SQLException.class);
      }
      return null;
    });
    assertThat(rawSetting()).isEmpty();
    // SQL error inside a transaction, then close
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        c.setAutoCommit(false);
        insert(c, "doomed");
        assertThatThrownBy(() -> s.executeQuery("SELECT 1/0")).isInstanceOf(SQLException.class);
      }
      return null;
    });
    assertThat(rawSetting()).isEmpty();
    try (Connection c = tenantDs.getConnection()) {
      assertThat(as(ACME, () -> bodies(c))).isEmpty();
      assertThat(bodies(c)).isEmpty();
    }
  }

  @Test
  void sessionLevelValueLeftOnThePooledConnectionIsOverridden() throws Exception {
    // Someone set a session-level value on the physical connection by hand: the wrapper still sets its own.
    try (Connection raw = pool.getConnection(); Statement s = raw.createStatement()) {
      s.execute("SET app.tenant_id = 'acme'");
    }
    try {
      as(ACME, () -> { try (Connection c = tenantDs.getConnection()) { insert(c, "a1"); } return null; });
      try (Connection c = tenantDs.getConnection()) {
        assertThat(bodies(c)).isEmpty();
        assertThat(as(GLOBEX, () -> bodies(c))).isEmpty();
      }
    } finally {
      try (Connection raw = pool.getConnection(); Statement s = raw.createStatement()) {
        s.execute("RESET app.tenant_id");
      }
    }
  }

  @Test
  void preparedStatementsKeepTheirParametersAcrossTenantsAndExecutions() throws Exception {
    as(ACME, () -> { try (Connection c = tenantDs.getConnection()) { insert(c, "x"); insert(c, "y"); } return null; });
    as(GLOBEX, () -> { try (Connection c = tenantDs.getConnection()) { insert(c, "x"); } return null; });
    try (Connection c = tenantDs.getConnection();
        PreparedStatement ps = c.prepareStatement(
            "SELECT count(*), current_setting('app.tenant_id', true) FROM notes WHERE body = ?")) {
      ps.setString(1, "x");
      // past the driver's prepareThreshold (5) so server-side prepared statements are exercised too
      for (int i = 0; i < 12; i++) {
        TenantId tenant = i % 2 == 0 ? ACME : GLOBEX;
        Object[] row = as(tenant, () -> {
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return new Object[] {rs.getLong(1), rs.getString(2)};
          }
        });
        assertThat(row).containsExactly(1L, tenant.value());
      }
      ps.clearParameters();
      ps.setString(1, "y");
      assertThat(as(ACME, () -> { try (ResultSet rs = ps.executeQuery()) { rs.next(); return rs.getLong(1); } }))
          .isEqualTo(1L);
      assertThat(ps.getConnection()).isSameAs(c);
      assertThat(ps.getParameterMetaData().getParameterCount()).isEqualTo(1);
      assertThat(ps.getMetaData().getColumnCount()).isEqualTo(2);
    }
  }

  @Test
  void literalTenantValuesAreEscaped() throws Exception {
    as(TRICKY, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        assertThat(s.executeUpdate("INSERT INTO notes(body) VALUES ('t')")).isEqualTo(1);
        try (ResultSet rs = s.executeQuery("SELECT tenant_id FROM notes")) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getString(1)).isEqualTo(TRICKY.value());
        }
      }
      return null;
    });
    assertThat(as(ACME, () -> { try (Connection c = tenantDs.getConnection()) { return bodies(c); } })).isEmpty();
  }

  @Test
  void plainStatementsAnswerLikeTheDriver() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        assertThat(s.execute("INSERT INTO notes(body) VALUES ('a'), ('b')")).isFalse();
        assertThat(s.getUpdateCount()).isEqualTo(2);
        assertThat(s.execute("SELECT body FROM notes ORDER BY id")).isTrue();
        try (ResultSet rs = s.getResultSet()) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getString(1)).isEqualTo("a");
        }
        assertThat(s.executeLargeUpdate("UPDATE notes SET body = body || '!'")).isEqualTo(2L);
        assertThatThrownBy(() -> s.executeQuery("UPDATE notes SET body = body"))
            .isInstanceOf(SQLException.class).hasMessageContaining("No results");
        assertThatThrownBy(() -> s.executeUpdate("SELECT 1"))
            .isInstanceOf(SQLException.class).hasMessageContaining("result was returned");
        // multi-statement SQL from the caller still works, one result each
        assertThat(s.execute("SELECT 1; SELECT 2")).isTrue();
        assertThat(s.getMoreResults()).isTrue();
        try (ResultSet rs = s.getResultSet()) {
          rs.next();
          assertThat(rs.getInt(1)).isEqualTo(2);
        }
        assertThat(s.getConnection()).isSameAs(c);
      }
      return null;
    });
  }

  @Test
  void batchesRunAsTheTenantInAutocommitAndInTransactions() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection();
          PreparedStatement ps = c.prepareStatement("INSERT INTO notes(body) VALUES (?)")) {
        for (int i = 0; i < 5; i++) {
          ps.setString(1, "p" + i);
          ps.addBatch();
        }
        assertThat(ps.executeBatch()).containsExactly(1, 1, 1, 1, 1);
        assertThat(c.getAutoCommit()).isTrue();
        c.setAutoCommit(false);
        ps.setString(1, "tx");
        ps.addBatch();
        assertThat(ps.executeBatch()).containsExactly(1);
        c.commit();
        c.setAutoCommit(true);
        try (Statement s = c.createStatement()) {
          s.addBatch("INSERT INTO notes(body) VALUES ('s1')");
          s.addBatch("INSERT INTO notes(body) VALUES ('s2')");
          assertThat(s.executeBatch()).containsExactly(1, 1);
        }
        assertThat(bodies(c)).containsExactly("p0", "p1", "p2", "p3", "p4", "tx", "s1", "s2");
      }
      return null;
    });
    assertThat(rawSetting()).isEmpty();
    // a batch that fails leaves nothing behind in autocommit mode
    as(GLOBEX, () -> {
      try (Connection c = tenantDs.getConnection();
          PreparedStatement ps = c.prepareStatement("INSERT INTO notes(body) VALUES (?)")) {
        ps.setString(1, "ok");
        ps.addBatch();
        ps.setNull(1, Types.VARCHAR);
        ps.addBatch();
        assertThatThrownBy(ps::executeBatch).isInstanceOf(SQLException.class);
        assertThat(c.getAutoCommit()).isTrue();
        assertThat(bodies(c)).isEmpty();
      }
      return null;
    });
  }

  @Test
  void generatedKeysAndCallableStatementsRunAsTheTenant() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection()) {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes(body) VALUES (?)",
            Statement.RETURN_GENERATED_KEYS)) {
          ps.setString(1, "k");
          assertThat(ps.executeUpdate()).isEqualTo(1);
          try (ResultSet keys = ps.getGeneratedKeys()) {
            assertThat(keys.next()).isTrue();
            assertThat(keys.getString("tenant_id")).isEqualTo("acme");
          }
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes(body) VALUES ('k2')",
            new String[] {"id"})) {
          ps.executeUpdate();
          try (ResultSet keys = ps.getGeneratedKeys()) {
            assertThat(keys.next()).isTrue();
            assertThat(keys.getLong(1)).isPositive();
          }
        }
        try (CallableStatement cs = c.prepareCall("{? = call current_setting('app.tenant_id', true)}")) {
          cs.registerOutParameter(1, Types.VARCHAR);
          cs.execute();
          assertThat(cs.getString(1)).isEqualTo("acme");
        }
        assertThat(bodies(c)).containsExactly("k", "k2");
      }
      return null;
    });
    assertThat(rawSetting()).isEmpty();
  }

  @Test
  void statementSettingsApplyAndFetchSizeStreamsInsideATransaction() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection()) {
        try (Statement s = c.createStatement()) {
          s.executeUpdate("INSERT INTO notes(body) SELECT 'n' || g FROM generate_series(1, 500) g");
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT body FROM notes ORDER BY id")) {
          ps.setMaxRows(7);
          assertThat(ps.getMaxRows()).isEqualTo(7);
          int n = 0;
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              n++;
            }
          }
          assertThat(n).isEqualTo(7);
        }
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("SELECT body FROM notes ORDER BY id")) {
          ps.setFetchSize(50);
          int n = 0;
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              n++;
            }
          }
          assertThat(n).isEqualTo(500);
        }
        c.commit();
      }
      return null;
    });
  }

  @Test
  void simpleQueryModeWorksToo() throws Exception {
    try (HikariDataSource simplePool = db.newPool(db.appRole(), db.appPassword(), 1,
        Map.of("preferQueryMode", "simple"))) {
      TenantDataSource simple = TenantDataSource.wrap(simplePool);
      as(ACME, () -> { try (Connection c = simple.getConnection()) { insert(c, "s"); } return null; });
      assertThat(as(ACME, () -> { try (Connection c = simple.getConnection()) { return bodies(c); } }))
          .containsExactly("s");
      assertThat(as(GLOBEX, () -> { try (Connection c = simple.getConnection()) { return bodies(c); } }))
          .isEmpty();
    }
  }

  @Test
  void customSettingNameAndWrapping() throws Exception {
    TenantDataSource custom = TenantDataSource.builder(pool).tenantSetting(TenantSetting.of("myapp.org")).build();
    assertThat(custom.tenantSetting().name()).isEqualTo("myapp.org");
    as(ACME, () -> {
      try (Connection c = custom.getConnection(); Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT current_setting('myapp.org', true)")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("acme");
        assertThat(c.unwrap(Connection.class)).isSameAs(c);
        assertThat(c.isWrapperFor(org.postgresql.PGConnection.class)).isTrue();
      }
      return null;
    });
    assertThat(custom.unwrap(HikariDataSource.class)).isSameAs(pool);
    assertThat(custom.isWrapperFor(TenantDataSource.class)).isTrue();
    assertThatThrownBy(() -> TenantDataSource.builder(pool).tenantSetting(TenantSetting.of("tenant")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("prefix.name");
    assertThatThrownBy(() -> TenantDataSource.builder(pool).tenantSetting(TenantSetting.of("app.x'; drop")))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
