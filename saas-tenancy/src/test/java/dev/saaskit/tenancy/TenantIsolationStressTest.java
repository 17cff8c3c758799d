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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Many threads over a pool of two connections, tenants chosen at random for every transaction, mixing autocommit,
 * explicit transactions, rollbacks, SQL errors and exceptions thrown with the transaction open. No thread may ever
 * read or write a row of another tenant, and the rows that end up committed are exactly the expected ones.
 */
@ExtendWith(PostgresExtension.class)
class TenantIsolationStressTest {
  static final int THREADS = 16;
  static final int TRANSACTIONS_PER_THREAD = 700; // 11,200 in all
  static final List<TenantId> TENANTS =
      List.of(TenantId.of("t-1"), TenantId.of("t-2"), TenantId.of("t-3"), TenantId.of("t-4"));

  @Test
  void noCrossTenantReadOrWriteUnderContention(TestDatabase db) throws Exception {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE items (id bigserial PRIMARY KEY, tenant_id text NOT NULL, "
          + "writer text NOT NULL, seq int NOT NULL)");
      RlsPolicy.forTable("items").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    Map<String, AtomicInteger> committed = new ConcurrentHashMap<>();
    LongAdder transactions = new LongAdder();
    LongAdder rowsChecked = new LongAdder();
    try (HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), 2)) {
      TenantDataSource tenantDs = TenantDataSource.wrap(pool);
      ExecutorService threads = Executors.newFixedThreadPool(THREADS);
      List<Future<?>> results = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int threadNo = t;
        results.add(threads.submit(() -> {
          SplittableRandom random = new SplittableRandom(threadNo * 7919L);
          for (int i = 0; i < TRANSACTIONS_PER_THREAD; i++) {
            TenantId tenant = TENANTS.get(random.nextInt(TENANTS.size()));
            String writer = "w" + threadNo;
            int kind = random.nextInt(6);
            int seq = i;
            TenantContext.run(tenant, () -> {
              try {
                runOne(tenantDs, tenant, writer, seq, kind, committed, rowsChecked);
              } catch (SQLException e) {
                throw new IllegalStateException(e);
              }
            });
            transactions.increment();
          }
          return null;
        }));
      }
      for (Future<?> f : results) {
        f.get(5, TimeUnit.MINUTES);
      }
      threads.shutdown();
    }
    assertThat(transactions.sum()).isGreaterThanOrEqualTo(10_000);
    assertThat(rowsChecked.sum()).isPositive();

    // What is in the table is exactly what was committed, each row under its own tenant.
    Map<String, Integer> actual = new HashMap<>();
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT tenant_id, writer, count(*) FROM items GROUP BY 1, 2")) {
      while (rs.next()) {
        actual.put(rs.getString(1) + "/" + rs.getString(2), rs.getInt(3));
      }
    }
    Map<String, Integer> expected = new HashMap<>();
    committed.forEach((k, v) -> { if (v.get() > 0) { expected.put(k, v.get()); } });
    assertThat(actual).isEqualTo(expected);
  }

  private static void runOne(TenantDataSource ds, TenantId tenant, String writer, int seq, int kind,
      Map<String, AtomicInteger> committed, LongAdder rowsChecked) throws SQLException {
    String key = tenant.value() + "/" + writer;
    switch (kind) {
      case 0: // autocommit insert
        try (Connection c = ds.getConnection()) {
          insert(c, writer, seq);
          committed.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        }
        break;
      case 1: // explicit transaction: insert, read back, commit
        try (Connection c = ds.getConnection()) {
          c.setAutoCommit(false);
          insert(c, writer, seq);
          checkOnlyOwnRows(c, tenant, rowsChecked);
          c.commit();
          committed.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        }
        break;
      case 2: // rollback
        try (Connection c = ds.getConnection()) {
          c.setAutoCommit(false);
          insert(c, writer, seq);
          checkOnlyOwnRows(c, tenant, rowsChecked);
          c.rollback();
        }
        break;
      case 3: // exception with the transaction open: closed mid-transaction
        try (Connection c = ds.getConnection()) {
          c.setAutoCommit(false);
          insert(c, writer, seq);
          throw new AbandonedTransaction();
        } catch (AbandonedTransaction expected) {
          // the insert must not survive
        }
        break;
      case 4: // SQL error inside a transaction, then rollback
        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
          c.setAutoCommit(false);
          insert(c, writer, seq);
          try {
            s.execute("SELECT 1/0");
            throw new AssertionError("division by zero did not fail");
          } catch (SQLException expected) {
            c.rollback();
          }
        }
        break;
      default: // autocommit reads, plain and prepared
        try (Connection c = ds.getConnection()) {
          checkOnlyOwnRows(c, tenant, rowsChecked);
          try (Statement s = c.createStatement();
              ResultSet rs = s.executeQuery("SELECT current_setting('app.tenant_id', true)")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo(tenant.value());
          }
        }
        break;
    }
  }

  private static void insert(Connection c, String writer, int seq) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO items(writer, seq) VALUES (?, ?)")) {
      ps.setString(1, writer);
      ps.setInt(2, seq);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  private static void checkOnlyOwnRows(Connection c, TenantId tenant, LongAdder rowsChecked) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT tenant_id, current_setting('app.tenant_id', true) FROM items ORDER BY id DESC LIMIT 50");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        assertThat(rs.getString(1)).isEqualTo(tenant.value());
        assertThat(rs.getString(2)).isEqualTo(tenant.value());
        rowsChecked.increment();
      }
    }
  }

  private static final class AbandonedTransaction extends RuntimeException {
    private static final long serialVersionUID = 1L;
  }
}
