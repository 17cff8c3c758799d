package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.PipelineSplit;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * pgjdbc sends a Sync between the parts of a multi-statement query when a part after the first has been described
 * and returns columns of unbounded size. It describes a server-prepared statement (from the 5th execution on one
 * connection) with a parameter of unspecified type: {@code setTimestamp}, {@code setNull} of a timestamp type,
 * {@code setObject(i, null)}, any string with {@code stringtype=unspecified}. In autocommit mode the setting then
 * ran in a transaction of its own and the statement in the next, with no tenant (no rows, failed inserts) or with a
 * session-level value someone left on the connection (another tenant's rows). Each test ran a statement twelve
 * times on one connection and failed from the sixth execution before the fix.
 */
@ExtendWith(PostgresExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DriverSyncSplitTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");
  static final int EXECUTIONS = 12;

  static TestDatabase db;
  /** One physical connection, so every execution reuses the same server-prepared statement. */
  static HikariDataSource pool;
  static TenantDataSource tenantDs;

  @BeforeAll
  static void schema(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE events (id bigserial PRIMARY KEY, tenant_id text NOT NULL, title text NOT NULL,"
          + " at timestamptz NOT NULL DEFAULT now())");
      RlsPolicy.forTable("events").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("INSERT INTO events (tenant_id, title, at) VALUES"
          + " ('acme', 'acme-1', '2020-01-01'), ('acme', 'acme-2', '2020-01-02'), ('acme', 'acme-3', '2020-01-03'),"
          + " ('globex', 'globex-1', '2020-01-01'), ('globex', 'globex-2', '2020-01-02')");
    }
    pool = db.newPool(db.appRole(), db.appPassword(), 1);
    tenantDs = TenantDataSource.wrap(pool);
  }

  @AfterAll
  static void closePool() {
    pool.close();
  }

  @Test
  void aTimestampParameterKeepsTheTenantOnEveryExecution() throws Exception {
    List<String> seen = new ArrayList<>();
    try (Connection c = tenantDs.getConnection()) {
      for (int i = 0; i < EXECUTIONS; i++) {
        TenantId tenant = i % 2 == 0 ? ACME : GLOBEX;
        seen.add(TenantContext.call(tenant, () -> {
          try (PreparedStatement ps = c.prepareStatement("SELECT title FROM events WHERE at >= ? ORDER BY id")) {
            ps.setTimestamp(1, Timestamp.valueOf("2019-12-31 00:00:00"));
            return titles(ps);
          }
        }));
      }
    }
    assertThat(seen).containsExactlyElementsOf(alternating("acme-1,acme-2,acme-3", "globex-1,globex-2"));
  }

  @Test
  void anUntypedNullKeepsTheTenantOnEveryExecution() throws Exception {
    List<String> seen = new ArrayList<>();
    try (Connection c = tenantDs.getConnection()) {
      for (int i = 0; i < EXECUTIONS; i++) {
        TenantId tenant = i % 2 == 0 ? ACME : GLOBEX;
        seen.add(TenantContext.call(tenant, () -> {
          try (PreparedStatement ps = c.prepareStatement(
              "SELECT title FROM events WHERE title <> coalesce(CAST(? AS text), '') ORDER BY id")) {
            ps.setObject(1, null);
            return titles(ps);
          }
        }));
      }
    }
    assertThat(seen).containsExactlyElementsOf(alternating("acme-1,acme-2,acme-3", "globex-1,globex-2"));
  }

  @Test
  void unspecifiedStringsKeepTheTenantOnEveryExecution() throws Exception {
    try (HikariDataSource unspecified = db.newPool(db.appRole(), db.appPassword(), 1,
        Map.of("stringtype", "unspecified"))) {
      TenantDataSource ds = TenantDataSource.wrap(unspecified);
      List<String> seen = new ArrayList<>();
      try (Connection c = ds.getConnection()) {
        for (int i = 0; i < EXECUTIONS; i++) {
          TenantId tenant = i % 2 == 0 ? ACME : GLOBEX;
          seen.add(TenantContext.call(tenant, () -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT title FROM events WHERE title > ? ORDER BY id")) {
              ps.setString(1, "a");
              return titles(ps);
            }
          }));
        }
      }
      assertThat(seen).containsExactlyElementsOf(alternating("acme-1,acme-2,acme-3", "globex-1,globex-2"));
    }
  }

  @Test
  void insertsWithATimestampKeepTheirTenantAndPassThePolicy() throws Exception {
    List<String> returned = new ArrayList<>();
    try (Connection c = tenantDs.getConnection()) {
      insertTwelve(c, returned);
    } finally {
      try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
        s.executeUpdate("DELETE FROM events WHERE title LIKE 'inserted-%'");
      }
    }
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < EXECUTIONS; i++) {
      expected.add((i % 2 == 0 ? "acme" : "globex") + ":inserted-" + i);
    }
    assertThat(returned).containsExactlyElementsOf(expected);
  }

  private static void insertTwelve(Connection c, List<String> returned) throws Exception {
    for (int i = 0; i < EXECUTIONS; i++) {
      TenantId tenant = i % 2 == 0 ? ACME : GLOBEX;
      String title = "inserted-" + i;
      returned.add(TenantContext.call(tenant, () -> {
        try (PreparedStatement ps = c.prepareStatement(
            "INSERT INTO events (title, at) VALUES (?, ?) RETURNING tenant_id || ':' || title")) {
          ps.setString(1, title);
          ps.setTimestamp(2, Timestamp.valueOf("2030-01-01 00:00:00"));
          return titles(ps);
        }
      }));
    }
  }

  /** A statement that fails in the short transaction rolls it back and leaves the connection as it was. */
  @Test
  void aFailingSplitExecutionRollsBackAndTheConnectionStaysUsable() throws Exception {
    String sql = "INSERT INTO events (title, at) VALUES (?, ?) RETURNING title";
    try (Connection c = tenantDs.getConnection()) {
      for (int i = 0; i < EXECUTIONS; i++) {
        String title = i == 8 ? null : "usable-" + i;
        Object outcome = TenantContext.call(GLOBEX, () -> {
          try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, title);
            ps.setTimestamp(2, Timestamp.valueOf("2032-01-01 00:00:00"));
            return titles(ps);
          } catch (SQLException e) {
            return e.getSQLState();
          }
        });
        assertThat(outcome).as("execution %d", i + 1).isEqualTo(i == 8 ? "23502" : "usable-" + i);
        assertThat(c.getAutoCommit()).isTrue();
      }
    } finally {
      try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
        assertThat(s.executeUpdate("DELETE FROM events WHERE title LIKE 'usable-%' AND tenant_id = 'globex'"))
            .isEqualTo(EXECUTIONS - 1);
      }
    }
  }

  /**
   * The leak: a session-level value left on the physical connection (app code that ran {@code SET} on the raw
   * pool) is what a split-off statement saw. Tenant globex then read acme's rows.
   */
  @Test
  void aSessionLevelValueLeftOnTheConnectionIsNeverWhatAStatementSees() throws Exception {
    try (Connection raw = pool.getConnection(); Statement s = raw.createStatement()) {
      s.execute("SET app.tenant_id = 'acme'");
    }
    try {
      List<String> seen = new ArrayList<>();
      try (Connection c = tenantDs.getConnection()) {
        for (int i = 0; i < EXECUTIONS; i++) {
          seen.add(TenantContext.call(GLOBEX, () -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT title FROM events WHERE at < ? ORDER BY id")) {
              ps.setTimestamp(1, Timestamp.valueOf("2025-01-01 00:00:00"));
              return titles(ps);
            }
          }));
        }
      }
      assertThat(seen).containsOnly("globex-1,globex-2").hasSize(EXECUTIONS);
    } finally {
      try (Connection raw = pool.getConnection(); Statement s = raw.createStatement()) {
        s.execute("RESET app.tenant_id");
      }
    }
  }

  /**
   * The remedy runs such an execution in a short transaction; there the driver would read through a cursor when
   * the statement has a fetch size, and the commit would close it before the caller read the rest.
   */
  @Test
  void aFetchSizeStillReadsEveryRowAndTheConnectionStaysInAutocommit() throws Exception {
    try (Connection c = tenantDs.getConnection()) {
      for (int i = 0; i < EXECUTIONS; i++) {
        String titles = TenantContext.call(ACME, () -> {
          try (PreparedStatement ps = c.prepareStatement(
              "SELECT title FROM events WHERE at >= ? AND at < '2025-01-01' ORDER BY id")) {
            ps.setFetchSize(1);
            ps.setTimestamp(1, Timestamp.valueOf("2019-12-31 00:00:00"));
            String result = titles(ps);
            assertThat(ps.getFetchSize()).isEqualTo(1);
            return result;
          }
        });
        assertThat(titles).as("execution %d", i + 1).isEqualTo("acme-1,acme-2,acme-3");
        assertThat(c.getAutoCommit()).isTrue();
      }
    }
  }

  /**
   * Generated keys and callable statements always set the tenant in a short transaction of their own in autocommit
   * mode; with a fetch size the driver read them through a cursor that the commit closed ("portal C_1 does not
   * exist"), before this was found on the way.
   */
  @Test
  void generatedKeysAndCallableStatementsWithAFetchSizeReadEveryRow() throws Exception {
    try (Connection c = tenantDs.getConnection()) {
      TenantContext.run(ACME, () -> {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO events (title, at)"
            + " SELECT 'keys-' || g, '2031-01-01' FROM generate_series(1, 5) g", new String[] {"id"})) {
          ps.setFetchSize(1);
          assertThat(ps.executeUpdate()).isEqualTo(5);
          int keys = 0;
          try (ResultSet rs = ps.getGeneratedKeys()) {
            while (rs.next()) {
              keys++;
            }
          }
          assertThat(keys).isEqualTo(5);
        }
        try (CallableStatement cs = c.prepareCall("SELECT title FROM events WHERE title LIKE ?")) {
          cs.setFetchSize(2);
          cs.setString(1, "keys-%");
          int rows = 0;
          try (ResultSet rs = cs.executeQuery()) {
            while (rs.next()) {
              rows++;
            }
          }
          assertThat(rows).isEqualTo(5);
        }
      });
      assertThat(c.getAutoCommit()).isTrue();
    } finally {
      try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
        s.executeUpdate("DELETE FROM events WHERE title LIKE 'keys-%'");
      }
    }
  }

  @Test
  void insideACallersTransactionNothingChanges() throws Exception {
    try (Connection c = tenantDs.getConnection()) {
      c.setAutoCommit(false);
      try {
        for (int i = 0; i < EXECUTIONS; i++) {
          String titles = TenantContext.call(GLOBEX, () -> {
            try (PreparedStatement ps = c.prepareStatement(
                "SELECT title FROM events WHERE at BETWEEN ? AND '2025-01-01' ORDER BY id")) {
              ps.setTimestamp(1, Timestamp.valueOf("2019-12-31 00:00:00"));
              return titles(ps);
            }
          });
          assertThat(titles).as("execution %d", i + 1).isEqualTo("globex-1,globex-2");
        }
      } finally {
        c.rollback();
        c.setAutoCommit(true);
      }
    }
  }

  /**
   * The probe reads the driver's own state: no split is foreseen until the driver has described the statement,
   * and none ever for parameters of known types (a probe that could not read the driver would say yes at once, and
   * every such execution would pay a COMMIT's round trip).
   */
  @Test
  void theProbeFollowsTheDriversState() throws Exception {
    String sql = "SELECT set_config('app.tenant_id', ?, true);\nSELECT title FROM events WHERE at >= ?";
    try (Connection c = pool.getConnection()) {
      try (PreparedStatement typed = c.prepareStatement(sql + " AND true")) {
        PipelineSplit.Probe probe = PipelineSplit.of(typed);
        for (int i = 0; i < EXECUTIONS; i++) {
          assertThat(probe.maySplit()).as("typed, before execution %d", i + 1).isFalse();
          typed.setString(1, "acme");
          typed.setObject(2, OffsetDateTime.parse("2019-12-31T00:00:00Z"));
          typed.execute();
        }
      }
      try (PreparedStatement untyped = c.prepareStatement(sql + " AND 1 = 1")) {
        PipelineSplit.Probe probe = PipelineSplit.of(untyped);
        List<Boolean> foreseen = new ArrayList<>();
        for (int i = 0; i < EXECUTIONS; i++) {
          foreseen.add(probe.maySplit());
          untyped.setString(1, "acme");
          untyped.setTimestamp(2, Timestamp.valueOf("2019-12-31 00:00:00"));
          untyped.execute();
        }
        // pgjdbc prepares on the server at its 5th execution and describes the statement then
        assertThat(foreseen.subList(0, 5)).containsOnly(false);
        assertThat(foreseen.subList(5, EXECUTIONS)).containsOnly(true);
      }
    }
  }

  private static String titles(PreparedStatement ps) throws SQLException {
    List<String> titles = new ArrayList<>();
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        titles.add(rs.getString(1));
      }
    }
    return String.join(",", titles);
  }

  private static List<String> alternating(String even, String odd) {
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < EXECUTIONS; i++) {
      expected.add(i % 2 == 0 ? even : odd);
    }
    return expected;
  }
}
