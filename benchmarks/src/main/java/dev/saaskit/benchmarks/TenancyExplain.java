package dev.saaskit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/**
 * Prints the plans behind {@link TenancyBenchmark}: {@code EXPLAIN (ANALYZE, BUFFERS)} of the point select and the
 * insert on the RLS path (through {@link TenantDataSource}) and on the explicit path, on the same schema and data.
 * Evidence for the reading in docs/benchmarks.md, not a benchmark.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.TenancyExplain}.
 */
public final class TenancyExplain {
  private TenancyExplain() {}

  public static void main(String[] args) throws Exception {
    try (TestDatabase database = TestDatabase.create()) {
      System.out.println("# PostgreSQL: " + database.server().description());
      TenancyBenchmark.Fixture.load(database);
      long[] first = TenancyBenchmark.Fixture.firstIds(database);
      String tenant = TenancyBenchmark.Fixture.tenant(42);
      long id = first[42] + 1234;
      try (HikariDataSource pool = database.newPool(database.appRole(), database.appPassword(), 2)) {
        DataSource rls = TenantDataSource.wrap(pool);
        TenantContext.call(TenantId.of(tenant), () -> {
          try (Connection c = rls.getConnection()) {
            c.setAutoCommit(false);
            explain(c, "RLS path, point select (TenantDataSource)", TenancyBenchmark.RLS_SELECT, id);
            explain(c, "RLS path, insert (TenantDataSource)", TenancyBenchmark.RLS_INSERT, "customer-new", 1L);
            c.rollback();
          }
          return null;
        });
        try (Connection c = pool.getConnection()) {
          c.setAutoCommit(false);
          explain(c, "explicit path, point select", TenancyBenchmark.EXPLICIT_SELECT, id, tenant);
          explain(c, "explicit path, insert", TenancyBenchmark.EXPLICIT_INSERT, tenant, "customer-new", 1L);
          c.rollback();
        }
      }
    }
  }

  private static void explain(Connection c, String title, String sql, Object... parameters) throws SQLException {
    System.out.println();
    System.out.println("## " + title + ": " + sql);
    // run it a few times first so the plan printed is the warm one the benchmark sees
    for (int round = 0; round < 6; round++) {
      try (PreparedStatement ps = c.prepareStatement("EXPLAIN (ANALYZE, BUFFERS, TIMING ON) " + sql)) {
        for (int i = 0; i < parameters.length; i++) {
          ps.setObject(i + 1, parameters[i]);
        }
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            if (round == 5) {
              System.out.println(rs.getString(1));
            }
          }
        }
      }
    }
  }
}
