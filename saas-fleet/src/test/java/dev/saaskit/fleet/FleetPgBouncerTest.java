package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PgBouncer;
import dev.saaskit.testing.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
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

/**
 * The fleet behind a real PgBouncer in transaction pooling mode ({@link PgBouncer}), where each server connection
 * serves many client connections in turn, so anything a connection left in its session (a tenant, read-only mode)
 * would reach the next tenant. A shared shard and two dedicated databases are reached only through PgBouncer, with
 * {@value #SERVER_POOL_SIZE} server connections per database; {@value #THREADS} threads run
 * {@value #TRANSACTIONS_PER_THREAD} transactions each through one {@link FleetDataSource}, every one for a tenant
 * drawn at random: active tenants on the shard and on a dedicated database (inserts, transactions committed,
 * rolled back, failed; reads), read-only tenants on the shard and on a dedicated database, a suspended tenant.
 * Skipped when pgbouncer is not installed (.ci/run installs it).
 */
class FleetPgBouncerTest {
  static final int SERVER_POOL_SIZE = 2;
  static final int THREADS = 8;
  static final int TRANSACTIONS_PER_THREAD = 250; // 2,000 in all
  static final int SEEDED = 20;

  static final TenantId SHARED_1 = TenantId.of("shared-1");
  static final TenantId SHARED_2 = TenantId.of("shared-2");
  static final TenantId SHARED_3 = TenantId.of("shared-3");
  static final TenantId SHARED_READ_ONLY = TenantId.of("shared-read-only");
  static final TenantId SHARED_SUSPENDED = TenantId.of("shared-suspended");
  static final TenantId DEDICATED = TenantId.of("dedicated");
  static final TenantId DEDICATED_READ_ONLY = TenantId.of("dedicated-read-only");
  static final List<TenantId> ACTIVE = List.of(SHARED_1, SHARED_2, SHARED_3, DEDICATED);
  static final List<TenantId> READ_ONLY = List.of(SHARED_READ_ONLY, DEDICATED_READ_ONLY);
  static final List<TenantId> ALL = List.of(SHARED_1, SHARED_2, SHARED_3, SHARED_READ_ONLY, SHARED_SUSPENDED,
      DEDICATED, DEDICATED_READ_ONLY);

  static TestFleet fleet;
  static PgBouncer bouncer;
  /** The database each tenant's rows live in, reached directly (past PgBouncer) for the final checks. */
  static final Map<TenantId, TestDatabase> HOME = new LinkedHashMap<>();

  @BeforeAll
  static void setUp() throws Exception {
    Path binary = PgBouncer.findBinary();
    assumeTrue(binary != null, "pgbouncer not installed; .ci/run installs it");
    fleet = TestFleet.create(1, 2);
    bouncer = PgBouncer.builder(binary).defaultPoolSize(SERVER_POOL_SIZE).database("shard0", fleet.shards.get(0))
        .database("dedicated0", fleet.dedicated.get(0)).database("dedicated1", fleet.dedicated.get(1)).start();
    // the same credentials references as the direct entries: only the address differs
    fleet.directory.addShard(Shard.of("bounced", bouncer.jdbcUrl("shard0"), "SHARD_0"));
    Placement shard = Placement.shared("bounced");
    for (TenantId t : List.of(SHARED_1, SHARED_2, SHARED_3)) {
      fleet.directory.register(t, shard);
    }
    fleet.directory.register(SHARED_READ_ONLY, shard, TenantState.READ_ONLY);
    fleet.directory.register(SHARED_SUSPENDED, shard, TenantState.SUSPENDED);
    fleet.directory.register(DEDICATED, Placement.dedicated(bouncer.jdbcUrl("dedicated0"), "DEDICATED_0"));
    fleet.directory.register(DEDICATED_READ_ONLY, Placement.dedicated(bouncer.jdbcUrl("dedicated1"), "DEDICATED_1"),
        TenantState.READ_ONLY);
    for (TenantId t : List.of(SHARED_1, SHARED_2, SHARED_3, SHARED_READ_ONLY, SHARED_SUSPENDED)) {
      HOME.put(t, fleet.shards.get(0));
    }
    HOME.put(DEDICATED, fleet.dedicated.get(0));
    HOME.put(DEDICATED_READ_ONLY, fleet.dedicated.get(1));
    for (TenantId t : ALL) {
      Shop.seed(HOME.get(t), t, SEEDED);
    }
  }

  @AfterAll
  static void tearDown() {
    if (bouncer != null) {
      bouncer.close();
    }
    if (fleet != null) {
      fleet.close();
    }
  }

  @Test
  void tenantsStayIsolatedAndKeepTheirStatesOnSharedServerConnections() throws Exception {
    Map<TenantId, Map<String, String>> readOnlyBefore = new HashMap<>();
    for (TenantId t : READ_ONLY) {
      readOnlyBefore.put(t, Shop.fingerprint(HOME.get(t), t));
    }
    Map<TenantId, LongAdder> committed = new ConcurrentHashMap<>();
    ACTIVE.forEach(t -> committed.put(t, new LongAdder()));
    Map<String, Set<Integer>> backendPids = new ConcurrentHashMap<>();
    Stats stats = new Stats();

    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory)
        .budget(6)
        .perTenantCap(2)
        .acquireTimeout(Duration.ofSeconds(60))
        .connectionProperty("prepareThreshold", "0") // PgBouncer 1.18 does not follow named prepared statements
        .build()) {
      ExecutorService threads = Executors.newFixedThreadPool(THREADS);
      try {
        List<Future<?>> results = new ArrayList<>();
        for (int n = 0; n < THREADS; n++) {
          int threadNo = n;
          results.add(threads.submit(() -> {
            SplittableRandom random = new SplittableRandom(17L * threadNo + 3);
            for (int i = 0; i < TRANSACTIONS_PER_THREAD; i++) {
              TenantId tenant = ALL.get(random.nextInt(ALL.size()));
              int kind = random.nextInt(6);
              TenantContext.run(tenant, () -> runOne(ds, tenant, kind, committed, backendPids, stats));
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
      assertThat(ds.stats().peakOpenConnections()).isLessThanOrEqualTo(6);

      // through PgBouncer, each tenant sees exactly its own rows
      for (TenantId t : ALL) {
        if (t.equals(SHARED_SUSPENDED)) {
          continue;
        }
        long expected = SEEDED + (committed.containsKey(t) ? committed.get(t).sum() : 0);
        long seen = TenantContext.call(t, () -> count(ds, "SELECT count(*) FROM notes"));
        assertThat(seen).as("notes of %s seen through PgBouncer", t).isEqualTo(expected);
      }
    }

    // every path ran, on at most SERVER_POOL_SIZE server connections per database
    assertThat(stats.activeChecks.sum()).isPositive();
    assertThat(stats.readOnlyChecks.sum()).isPositive();
    assertThat(stats.writesRefused.sum()).isPositive();
    assertThat(stats.unavailable.sum()).isPositive();
    assertThat(backendPids.keySet()).containsExactlyInAnyOrder(fleet.shards.get(0).name(),
        fleet.dedicated.get(0).name(), fleet.dedicated.get(1).name());
    backendPids.forEach((db, pids) -> assertThat(pids).as("server connections of %s", db)
        .hasSizeBetween(1, SERVER_POOL_SIZE));

    // past RLS, as the superuser directly on each database: every row is under the tenant that wrote it
    for (TestDatabase db : List.of(fleet.shards.get(0), fleet.dedicated.get(0), fleet.dedicated.get(1))) {
      Map<String, Long> expected = new HashMap<>();
      HOME.forEach((t, home) -> {
        if (home.equals(db)) {
          expected.put(t.value(), SEEDED + (committed.containsKey(t) ? committed.get(t).sum() : 0));
        }
      });
      Map<String, Long> actual = new HashMap<>();
      try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT tenant_id, count(*) FROM notes GROUP BY 1")) {
        while (rs.next()) {
          actual.put(rs.getString(1), rs.getLong(2));
        }
      }
      assertThat(actual).as("notes per tenant in %s", db.name()).isEqualTo(expected);
    }
    for (TenantId t : READ_ONLY) {
      assertThat(Shop.fingerprint(HOME.get(t), t)).as("the rows of read-only %s", t).isEqualTo(readOnlyBefore.get(t));
    }
  }

  /** The premise of the test above, made certain: more client connections than server connections, isolated. */
  @Test
  void sixClientConnectionsOfThreeTenantsRunOnTwoServerConnections() throws Exception {
    Map<String, Set<Integer>> pids = new ConcurrentHashMap<>();
    List<Connection> held = new ArrayList<>();
    Set<Object> physical = new java.util.HashSet<>();
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(6).perTenantCap(2)
        .connectionProperty("prepareThreshold", "0").build()) {
      try {
        for (TenantId t : List.of(SHARED_1, SHARED_2, SHARED_3)) {
          for (int i = 0; i < 2; i++) {
            held.add(TenantContext.call(t, ds::getConnection));
          }
        }
        // all six are open at once; each runs its statements under its own tenant
        for (int round = 0; round < 3; round++) {
          for (int i = 0; i < held.size(); i++) {
            TenantId t = List.of(SHARED_1, SHARED_2, SHARED_3).get(i / 2);
            Connection c = held.get(i);
            TenantContext.run(t, () -> check(c, t, false, pids));
            physical.add(c.unwrap(org.postgresql.PGConnection.class));
          }
        }
        assertThat(ds.stats().borrowedConnections()).isEqualTo(6);
      } finally {
        for (Connection c : held) {
          c.close();
        }
      }
    }
    assertThat(physical).hasSize(6);
    assertThat(pids).containsOnlyKeys(fleet.shards.get(0).name());
    assertThat(pids.get(fleet.shards.get(0).name())).hasSizeBetween(1, SERVER_POOL_SIZE);
  }

  /** What ran, so the test can prove every path was taken. */
  static final class Stats {
    final LongAdder activeChecks = new LongAdder();
    final LongAdder readOnlyChecks = new LongAdder();
    final LongAdder writesRefused = new LongAdder();
    final LongAdder unavailable = new LongAdder();
  }

  private static void runOne(FleetDataSource ds, TenantId tenant, int kind, Map<TenantId, LongAdder> committed,
      Map<String, Set<Integer>> pids, Stats stats) throws SQLException {
    if (tenant.equals(SHARED_SUSPENDED)) {
      assertThatThrownBy(ds::getConnection).isInstanceOf(TenantUnavailableException.class);
      stats.unavailable.increment();
      return;
    }
    if (READ_ONLY.contains(tenant)) {
      try (Connection c = ds.getConnection()) {
        check(c, tenant, true, pids);
        assertThat(count(c, "SELECT count(*) FROM notes")).isEqualTo(SEEDED);
        stats.readOnlyChecks.increment();
        // the write is refused, and aborts the read-only transaction: last
        assertThatThrownBy(() -> insert(c, "refused")).isInstanceOf(TenantReadOnlyException.class);
        stats.writesRefused.increment();
      }
      return;
    }
    LongAdder mine = committed.get(tenant);
    switch (kind) {
      case 0: // autocommit insert
        try (Connection c = ds.getConnection()) {
          insert(c, tenant.value());
          mine.increment();
        }
        break;
      case 1: // a transaction: insert, read back, commit
        try (Connection c = ds.getConnection()) {
          c.setAutoCommit(false);
          insert(c, tenant.value());
          check(c, tenant, false, pids);
          c.commit();
          mine.increment();
        }
        stats.activeChecks.increment();
        break;
      case 2: // a transaction rolled back
        try (Connection c = ds.getConnection()) {
          c.setAutoCommit(false);
          insert(c, tenant.value());
          check(c, tenant, false, pids);
          c.rollback();
        }
        stats.activeChecks.increment();
        break;
      case 3: // an SQL error inside a transaction, then roll back
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          c.setAutoCommit(false);
          insert(c, tenant.value());
          assertThatThrownBy(() -> st.execute("SELECT 1/0")).isInstanceOf(SQLException.class);
          c.rollback();
        }
        break;
      default: // autocommit reads
        try (Connection c = ds.getConnection()) {
          check(c, tenant, false, pids);
        }
        stats.activeChecks.increment();
        break;
    }
  }

  private static void insert(Connection c, String body) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes (body) VALUES (?)")) {
      ps.setString(1, body);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  /** The server connection carries this tenant, the expected read-only mode, and only this tenant's rows. */
  private static void check(Connection c, TenantId tenant, boolean readOnly, Map<String, Set<Integer>> pids)
      throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_setting('app.tenant_id',"
        + " true), current_setting('transaction_read_only'), current_database(), pg_backend_pid()")) {
      rs.next();
      assertThat(rs.getString(1)).isEqualTo(tenant.value());
      assertThat(rs.getString(2)).as("transaction_read_only of %s", tenant).isEqualTo(readOnly ? "on" : "off");
      pids.computeIfAbsent(rs.getString(3), k -> ConcurrentHashMap.newKeySet()).add(rs.getInt(4));
    }
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT tenant_id, body FROM notes "
        + "ORDER BY id DESC LIMIT 30")) {
      while (rs.next()) {
        assertThat(rs.getString(1)).isEqualTo(tenant.value());
        if (!rs.getString(2).startsWith("note ")) { // seeded bodies start so; written ones name their tenant
          assertThat(rs.getString(2)).isEqualTo(tenant.value());
        }
      }
    }
  }

  private static long count(FleetDataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection()) {
      return count(c, sql);
    }
  }

  private static long count(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
