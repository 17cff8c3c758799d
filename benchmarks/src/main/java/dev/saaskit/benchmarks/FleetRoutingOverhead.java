package dev.saaskit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.tenancy.TenantDataSource;
import javax.sql.DataSource;

/**
 * The routing overhead of {@link FleetBenchmark} (acquisition plus a point select for a dedicated tenant, through
 * the fleet against the tenant's own HikariCP pool wrapped in {@code TenantDataSource}) in {@linkplain
 * AlternatingBlocks alternating blocks} of two threads: {@code direct} (the baseline), {@code fleet}, and
 * {@code direct-again} (a second pool of the same kind on the same database: the A/A control).
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.FleetRoutingOverhead};
 * {@code -Drounds=N -Dseconds=S} change the rounds (after two warm-up rounds) and their length.
 */
public final class FleetRoutingOverhead {
  private FleetRoutingOverhead() {}

  public static void main(String[] args) throws Exception {
    FleetBenchmark setup = new FleetBenchmark();
    setup.setUp();
    try (HikariDataSource secondPool = setup.dedicatedPool()) {
      DataSource again = TenantDataSource.wrap(secondPool);
      new AlternatingBlocks(2)
          .variant("direct", random -> select(setup.direct, random.nextInt(FleetBenchmark.ROWS)))
          .variant("fleet", random -> select(setup.fleet, random.nextInt(FleetBenchmark.ROWS)))
          .variant("direct-again", random -> select(again, random.nextInt(FleetBenchmark.ROWS)))
          .run(Integer.getInteger("rounds", 15), Integer.getInteger("seconds", 3));
    } finally {
      setup.tearDown();
    }
  }

  private static void select(DataSource source, int index) throws Exception {
    TenantContext.call(FleetBenchmark.TENANT, () -> FleetBenchmark.select(source, 1L + index));
  }
}
