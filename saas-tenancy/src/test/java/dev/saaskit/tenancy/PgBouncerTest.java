package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.PgBouncer;
import dev.saaskit.testing.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.PGConnection;

/**
 * {@link TenantDataSource} behind a real PgBouncer in transaction pooling mode, where one server connection serves
 * many client connections in turn. A session-level tenant setting would leak from one client to the next there;
 * the transaction-local setting that the wrapper pipelines with every statement cannot.
 *
 * <p>PgBouncer (the Debian package, 1.18) is started by the test as the {@code postgres} OS user when the test
 * runs as root (it refuses to run as root), listening on 127.0.0.1 and a free port, in front of this class's test
 * database (embedded, or the server of {@code SAAS_TEST_POSTGRES_URL}). Two database entries point at that
 * database: {@code saas} with {@value #SERVER_POOL_SIZE} server connections, shared by {@value #CLIENTS} client
 * connections, and {@code saas_leak} with one server connection, for the negative control.
 */
@ExtendWith(PostgresExtension.class)
class PgBouncerTest {
  static final String ALIAS = "saas";
  static final String LEAK_ALIAS = "saas_leak";
  static final int SERVER_POOL_SIZE = 2;
  static final int CLIENTS = 8;
  static final int THREADS = 12;
  static final int TRANSACTIONS_PER_THREAD = 300; // 3,600 in all
  static final List<TenantId> TENANTS =
      List.of(TenantId.of("t-1"), TenantId.of("t-2"), TenantId.of("t-3"), TenantId.of("t-4"), TenantId.of("t-5"));

  static PgBouncer bouncer;

  @BeforeAll
  static void startPgBouncer(TestDatabase db) throws Exception {
    Path binary = PgBouncer.findBinary();
    assumeTrue(binary != null, "pgbouncer not installed; .ci/run installs it");
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, writer text NOT NULL)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
      s.execute("CREATE TABLE leak_probe (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
      RlsPolicy.forTable("leak_probe").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    bouncer = PgBouncer.builder(binary).defaultPoolSize(SERVER_POOL_SIZE).maxClientConnections(100)
        .database(ALIAS, db).database(LEAK_ALIAS, db, 1).start();
  }

  @AfterAll
  static void stopPgBouncer() {
    if (bouncer != null) {
      bouncer.close();
      bouncer = null;
    }
  }

  @Test
  void tenantsStayIsolatedOnSharedServerConnections(TestDatabase db) throws Exception {
    Map<TenantId, LongAdder> committed = new ConcurrentHashMap<>();
    TENANTS.forEach(t -> committed.put(t, new LongAdder()));
    Set<Integer> backendPids = ConcurrentHashMap.newKeySet();
    LongAdder transactions = new LongAdder();
    LongAdder rowsChecked = new LongAdder();

    try (HikariDataSource clients = clientPool(ALIAS, db.appRole(), db.appPassword(), CLIENTS)) {
      TenantDataSource tenantDs = TenantDataSource.builder(clients).strict(true).build();
      ExecutorService threads = Executors.newFixedThreadPool(THREADS);
      try {
        List<Future<?>> results = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
          int threadNo = t;
          results.add(threads.submit(() -> {
            SplittableRandom random = new SplittableRandom(31L * threadNo + 7);
            for (int i = 0; i < TRANSACTIONS_PER_THREAD; i++) {
              TenantId tenant = TENANTS.get(random.nextInt(TENANTS.size()));
              int kind = random.nextInt(6);
              String writer = "w" + threadNo;
              TenantContext.call(tenant, () -> {
                runOne(tenantDs, tenant, writer, kind, committed.get(tenant), backendPids, rowsChecked);
                return null;
              });
              transactions.increment();
            }
            return null;
          }));
        }
        for (Future<?> f : results) {
          f.get(5, TimeUnit.MINUTES);
        }
      } finally {
        threads.shutdownNow();
      }
      // 8 client connections were open, and PgBouncer ran their transactions on at most 2 server connections
      assertThat(clients.getHikariPoolMXBean().getTotalConnections()).isEqualTo(CLIENTS);
      assertThat(backendPids).hasSizeBetween(1, SERVER_POOL_SIZE);

      // Through PgBouncer, each tenant counts exactly its committed rows.
      for (TenantId tenant : TENANTS) {
        long seen = TenantContext.call(tenant, () -> count(tenantDs, "SELECT count(*) FROM notes"));
        assertThat(seen).as("rows of %s seen through PgBouncer", tenant).isEqualTo(committed.get(tenant).sum());
      }
    }
    assertThat(transactions.sum()).isEqualTo((long) THREADS * TRANSACTIONS_PER_THREAD);
    assertThat(rowsChecked.sum()).isPositive();

    // Past RLS, as the superuser directly on the server: every row is under the tenant that wrote it.
    Map<String, Long> actual = new HashMap<>();
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT tenant_id, count(*) FROM notes GROUP BY 1")) {
      while (rs.next()) {
        actual.put(rs.getString(1), rs.getLong(2));
      }
    }
    Map<String, Long> expected = new HashMap<>();
    committed.forEach((tenant, n) -> { if (n.sum() > 0) { expected.put(tenant.value(), n.sum()); } });
    assertThat(actual).isEqualTo(expected);
  }

  /**
   * The negative control: proves that this setup would catch a leak. A session-level {@code SET} on one client
   * connection stays on PgBouncer's server connection and is seen by another client connection that never set
   * anything. With one server connection in the pool this happens on the first try. The same leaky pool, wrapped
   * in a {@link TenantDataSource}, still sees only its own tenant (or nothing without one).
   */
  @Test
  void sessionLevelSetLeaksAcrossClientsButTenantDataSourceDoesNot(TestDatabase db) throws Exception {
    try (HikariDataSource clients = clientPool(LEAK_ALIAS, db.appRole(), db.appPassword(), 3)) {
      TenantDataSource tenantDs = TenantDataSource.wrap(clients);
      TenantContext.run(TenantId.of("a"), () -> insertProbe(tenantDs, "secret of a"));
      TenantContext.run(TenantId.of("b"), () -> insertProbe(tenantDs, "note of b"));

      try (Connection c1 = clients.getConnection(); Connection c2 = clients.getConnection()) {
        assertThat(c1.unwrap(PGConnection.class)).isNotSameAs(c2.unwrap(PGConnection.class));
        try (Statement s = c1.createStatement()) {
          s.execute("SET app.tenant_id = 'a'"); // the mistake: session-level, survives the transaction
        }
        String seen = null;
        for (int attempt = 0; attempt < 20 && !"a".equals(seen); attempt++) {
          seen = string(c2, "SELECT current_setting('app.tenant_id', true)");
        }
        assertThat(seen).as("client 2 sees client 1's session-level SET through the shared server connection")
            .isEqualTo("a");
        // ...and with it tenant a's rows, although client 2 never named a tenant
        assertThat(string(c2, "SELECT string_agg(body, ',') FROM leak_probe")).isEqualTo("secret of a");

        // The wrapper's transaction-local setting overrides whatever the server session carries.
        TenantContext.run(TenantId.of("b"), () -> {
          assertThat(call(() -> string(tenantDs, "SELECT current_setting('app.tenant_id', true)"))).isEqualTo("b");
          assertThat(call(() -> string(tenantDs, "SELECT string_agg(body, ',') FROM leak_probe")))
              .isEqualTo("note of b");
        });
        assertThat(string(tenantDs, "SELECT current_setting('app.tenant_id', true)")).isEmpty();
        assertThat(count(tenantDs, "SELECT count(*) FROM leak_probe")).isZero();

        try (Statement s = c1.createStatement()) {
          s.execute("RESET app.tenant_id");
        }
      }
    }
  }

  private static void runOne(TenantDataSource ds, TenantId tenant, String writer, int kind, LongAdder committed,
      Set<Integer> backendPids, LongAdder rowsChecked) throws SQLException {
    switch (kind) {
      case 0: // autocommit insert
        try (Connection c = ds.getConnection()) {
          insert(c, writer);
          committed.increment();
        }
        break;
      case 1: // explicit transaction: insert, read back, commit
        try (Connection c = ds.getConnection()) {
          c.setAutoCommit(false);
          insert(c, writer);
          check(c, tenant, backendPids, rowsChecked);
          c.commit();
          committed.increment();
        }
        break;
      case 2: // explicit transaction rolled back
        try (Connection c = ds.getConnection()) {
          c.setAutoCommit(false);
          insert(c, writer);
          check(c, tenant, backendPids, rowsChecked);
          c.rollback();
        }
        break;
      case 3: // SQL error inside a transaction, then rollback
        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
          c.setAutoCommit(false);
          insert(c, writer);
          try {
            s.execute("SELECT 1/0");
            throw new AssertionError("division by zero did not fail");
          } catch (SQLException expected) {
            c.rollback();
          }
        }
        break;
      case 4: // autocommit JDBC batch (the wrapper sends the setting in a short transaction of its own)
        try (Connection c = ds.getConnection();
            PreparedStatement ps = c.prepareStatement("INSERT INTO notes(writer) VALUES (?)")) {
          ps.setString(1, writer);
          ps.addBatch();
          ps.setString(1, writer);
          ps.addBatch();
          assertThat(ps.executeBatch()).containsExactly(1, 1);
          committed.add(2);
        }
        break;
      default: // autocommit reads
        try (Connection c = ds.getConnection()) {
          check(c, tenant, backendPids, rowsChecked);
        }
        break;
    }
  }

  private static void insert(Connection c, String writer) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes(writer) VALUES (?)")) {
      ps.setString(1, writer);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  private static void check(Connection c, TenantId tenant, Set<Integer> backendPids, LongAdder rowsChecked)
      throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT current_setting('app.tenant_id', true), pg_backend_pid()")) {
      rs.next();
      assertThat(rs.getString(1)).isEqualTo(tenant.value());
      backendPids.add(rs.getInt(2));
    }
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT tenant_id, current_setting('app.tenant_id', true) FROM notes ORDER BY id DESC LIMIT 30");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        assertThat(rs.getString(1)).isEqualTo(tenant.value());
        assertThat(rs.getString(2)).isEqualTo(tenant.value());
        rowsChecked.increment();
      }
    }
  }

  private static void insertProbe(TenantDataSource ds, String body) {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO leak_probe(body) VALUES (?)")) {
      ps.setString(1, body);
      ps.executeUpdate();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static long count(javax.sql.DataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection()) {
      return Long.parseLong(string(c, sql));
    }
  }

  private static String string(javax.sql.DataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection()) {
      return string(c, sql);
    }
  }

  private static String string(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      assertThat(rs.next()).isTrue();
      return rs.getString(1);
    }
  }

  private static <T> T call(SqlCall<T> body) {
    try {
      return body.call();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @FunctionalInterface
  interface SqlCall<T> {
    T call() throws SQLException;
  }

  /**
   * A HikariCP pool of {@code size} client connections to PgBouncer's {@code alias}, opened at once.
   * {@code prepareThreshold=0}: PgBouncer 1.18 in transaction mode does not track server-side prepared statements,
   * so a statement pgjdbc prepared on one server connection (named {@code S_1}, after 5 uses by default) would be
   * missing on the next one ("prepared statement S_1 does not exist"); with 0 the driver only uses the unnamed
   * statement, parsed again in each round trip.
   */
  private static HikariDataSource clientPool(String alias, String user, String password, int size) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("pgbouncer-" + alias);
    config.setJdbcUrl(bouncer.jdbcUrl(alias));
    config.setUsername(user);
    config.setPassword(password);
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(size);
    config.setConnectionTimeout(30_000);
    config.addDataSourceProperty("prepareThreshold", "0");
    return new HikariDataSource(config);
  }
}
