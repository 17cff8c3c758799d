package dev.saaskit.tenancy;

import static dev.saaskit.tenancy.TenantMaterializedViewTest.exec;
import static dev.saaskit.tenancy.TenantMaterializedViewTest.rows;
import static dev.saaskit.tenancy.TenantMaterializedViewTest.setTenant;
import static dev.saaskit.tenancy.TenantMaterializedViewTest.sqlState;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link TenantMaterializedView#refresh} never blocks readers, shown by locks rather than by timing: a refresh held
 * open mid-transaction lets a reader with a short {@code lock_timeout} through (a plain {@code REFRESH} makes it
 * time out), and an open reader does not hold up the refresh. Then four tenants read in a loop through
 * {@link TenantDataSource} while the aggregates are refreshed twenty times: no read fails, each sees exactly its
 * own tenant in one of the refreshed states, never going back.
 */
@ExtendWith(PostgresExtension.class)
class TenantMaterializedViewConcurrencyTest {
  static final int REFRESHES = 20;
  static final List<String> TENANTS = List.of("0f8fad5b-d9cb-469f-a165-70867728950e",
      "7c9e6679-7425-40de-944b-e07fc1f90ae7", "16fd2706-8baf-433b-82eb-8c7fada847da",
      "9a3e1d8a-52a5-4a8e-9b9c-0d7c3a1b2f11");

  static TestDatabase db;
  static DataSource analyticsDs;
  static TenantMaterializedView stats;
  static int state; // orders per tenant = state + 1
  static ExecutorService background;

  @BeforeAll
  static void init(TestDatabase database) throws SQLException {
    db = database;
    String analytics = TenantMaterializedViewTest.createSchema(db);
    analyticsDs = db.newPool(analytics, db.rolePassword(analytics), 2);
    addOrders(); // state 0
    stats = TenantMaterializedViewTest.statsView("order_stats", db).build();
    try (Connection c = analyticsDs.getConnection()) {
      stats.create(c);
    }
    background = Executors.newFixedThreadPool(TENANTS.size());
  }

  @AfterAll
  static void stop() {
    background.shutdownNow();
  }

  /** Adds one order per tenant (as the superuser, past RLS): the next state. Order j of tenant i is worth (i+1)*1000+j. */
  static void addOrders() throws SQLException {
    int j = state;
    StringBuilder values = new StringBuilder();
    for (int i = 0; i < TENANTS.size(); i++) {
      values.append(i == 0 ? "" : ", ").append("('").append(TENANTS.get(i)).append("', date '2024-01-01' + ")
          .append(j % 3).append(", ").append((i + 1) * 1000 + j).append(")");
    }
    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "INSERT INTO orders (tenant_id, created_on, amount_cents) VALUES " + values);
    }
  }

  static long revenue(int tenant, int k) {
    return (k + 1L) * (tenant + 1) * 1000 + (long) k * (k + 1) / 2;
  }

  /** Tenant 0's totals, read as the application role with the given lock_timeout. */
  static String readTotals(String lockTimeout) throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      try {
        setTenant(c, TENANTS.get(0));
        exec(c, "SET LOCAL lock_timeout = '" + lockTimeout + "'");
        return rows(c, "SELECT sum(orders), sum(revenue) FROM order_stats").get(0);
      } finally {
        c.rollback();
      }
    }
  }

  /**
   * Runs {@code sql} as the analytics role in a transaction on a background thread, returns once it has executed
   * and keeps the transaction (and its locks) open until {@code release} counts down; then commits.
   */
  static Future<?> holdOpen(String sql, CountDownLatch release) throws InterruptedException {
    CountDownLatch executed = new CountDownLatch(1);
    Future<?> f = background.submit(() -> {
      try (Connection c = analyticsDs.getConnection()) {
        c.setAutoCommit(false);
        exec(c, sql);
        executed.countDown();
        assertThat(release.await(1, TimeUnit.MINUTES)).isTrue();
        c.commit();
      }
      return null;
    });
    while (!executed.await(100, TimeUnit.MILLISECONDS)) {
      if (f.isDone()) {
        try {
          f.get();
        } catch (Exception e) {
          throw new AssertionError("the background statement failed: " + sql, e);
        }
      }
    }
    return f;
  }

  /** The lock modes other sessions hold on the materialized view. */
  static List<String> locksOnMaterializedView() throws SQLException {
    return rows(db.adminDataSource(), "SELECT mode FROM pg_locks WHERE granted AND locktype = 'relation'"
        + " AND relation = 'order_stats_data'::regclass AND pid <> pg_backend_pid() ORDER BY mode");
  }

  @Test
  void aRefreshInProgressDoesNotBlockReadersButAPlainRefreshDoes() throws Exception {
    String before = readTotals("2s");
    state++;
    addOrders();

    // CONCURRENTLY holds EXCLUSIVE until commit: a reader gets through at once and sees the previous data
    CountDownLatch release = new CountDownLatch(1);
    Future<?> refresh = holdOpen(stats.refreshStatement(), release);
    try {
      assertThat(locksOnMaterializedView()).contains("ExclusiveLock").doesNotContain("AccessExclusiveLock");
      assertThat(readTotals("2s")).isEqualTo(before);
    } finally {
      release.countDown();
    }
    refresh.get(1, TimeUnit.MINUTES);
    String after = readTotals("2s");
    assertThat(after).isEqualTo((state + 1) * 1L + "|" + revenue(0, state)).isNotEqualTo(before);

    // the contrast: a plain REFRESH holds ACCESS EXCLUSIVE, and the same read waits until its lock_timeout
    CountDownLatch releasePlain = new CountDownLatch(1);
    Future<?> plain = holdOpen("REFRESH MATERIALIZED VIEW order_stats_data", releasePlain);
    try {
      assertThat(locksOnMaterializedView()).contains("AccessExclusiveLock");
      assertThatThrownBy(() -> readTotals("200ms")).satisfies(e -> assertThat(sqlState(e)).isEqualTo("55P03"));
    } finally {
      releasePlain.countDown();
    }
    plain.get(1, TimeUnit.MINUTES);
    assertThat(readTotals("2s")).isEqualTo(after);
  }

  @Test
  void anOpenReaderDoesNotHoldUpTheRefreshButWouldHoldUpAPlainOne() throws Exception {
    try (Connection reader = db.appDataSource().getConnection()) {
      reader.setAutoCommit(false);
      setTenant(reader, TENANTS.get(1));
      assertThat(rows(reader, "SELECT count(*) FROM order_stats")).hasSize(1); // holds ACCESS SHARE until rollback
      try (Connection c = analyticsDs.getConnection()) {
        c.setAutoCommit(false);
        exec(c, "SET LOCAL lock_timeout = '2s'");
        stats.refresh(c);
        c.commit();
        c.setAutoCommit(false);
        exec(c, "SET LOCAL lock_timeout = '200ms'");
        assertThatThrownBy(() -> exec(c, "REFRESH MATERIALIZED VIEW order_stats_data"))
            .satisfies(e -> assertThat(sqlState(e)).isEqualTo("55P03"));
        c.rollback();
        c.setAutoCommit(true);
      } finally {
        reader.rollback();
      }
    }
  }

  @Test
  void readersInALoopNeverFailNorSeeAnotherTenantWhileRefreshing() throws Exception {
    int n = TENANTS.size();
    int first = state;
    AtomicIntegerArray seen = new AtomicIntegerArray(n); // last state each reader saw
    for (int i = 0; i < n; i++) {
      seen.set(i, -1);
    }
    AtomicBoolean done = new AtomicBoolean();
    Queue<String> failures = new ConcurrentLinkedQueue<>();
    List<Future<Integer>> readers = new ArrayList<>();
    // a blocked read would fail after lock_timeout rather than hang
    try (HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), n, Map.of("options", "-c lock_timeout=10s"))) {
      DataSource tenantDs = TenantDataSource.wrap(pool);
      for (int t = 0; t < n; t++) {
        int tenant = t;
        readers.add(background.submit(() -> TenantContext.call(TenantId.of(TENANTS.get(tenant)), () -> {
          int reads = 0;
          while (!done.get() && failures.isEmpty()) {
            try {
              List<String> r = rows(tenantDs, "SELECT tenant_id, sum(orders), sum(revenue) FROM order_stats"
                  + " GROUP BY tenant_id");
              reads++;
              if (r.size() != 1) {
                failures.add("tenant " + tenant + " read " + r);
                break;
              }
              String[] parts = r.get(0).split("\\|", -1);
              int k = Integer.parseInt(parts[1]) - 1;
              if (!parts[0].equals(TENANTS.get(tenant)) || Long.parseLong(parts[2]) != revenue(tenant, k)
                  || k < seen.get(tenant) || k > REFRESHES + first) {
                failures.add("tenant " + tenant + " read " + r + " after state " + seen.get(tenant));
                break;
              }
              seen.set(tenant, k);
            } catch (SQLException | RuntimeException e) {
              failures.add("tenant " + tenant + " failed: " + e);
              break;
            }
          }
          return reads;
        })));
      }
      try {
        for (int r = 1; r <= REFRESHES && failures.isEmpty(); r++) {
          awaitEveryReaderAt(seen, state, failures);
          state++;
          addOrders();
          stats.refresh(analyticsDs);
        }
        awaitEveryReaderAt(seen, state, failures);
      } finally {
        done.set(true);
      }
      int total = 0;
      for (Future<Integer> f : readers) {
        total += f.get(1, TimeUnit.MINUTES);
      }
      assertThat(failures).isEmpty();
      assertThat(state).isEqualTo(first + REFRESHES);
      assertThat(total).isGreaterThanOrEqualTo(n * (REFRESHES + 1));
    }
  }

  /** Waits (at most 30 s) until every reader has read state {@code k}: each reader saw every state. */
  static void awaitEveryReaderAt(AtomicIntegerArray seen, int k, Queue<String> failures) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (int i = 0; i < seen.length(); i++) {
      while (seen.get(i) < k && failures.isEmpty()) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("reader " + i + " is still at state " + seen.get(i) + ", expected " + k);
        }
        Thread.sleep(1);
      }
    }
  }
}
