package dev.saaskit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.fleet.CredentialResolver;
import dev.saaskit.fleet.FleetDataSource;
import dev.saaskit.fleet.FleetSchema;
import dev.saaskit.fleet.Placement;
import dev.saaskit.fleet.TenantDirectory;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Routing overhead of {@link FleetDataSource}: connection acquisition plus a point select for a tenant in a
 * dedicated database, through the fleet, against the same on that database's own HikariCP pool (wrapped in
 * {@link TenantDataSource}, as an application with one database would run it). Both paths run at the same time in
 * one JMH group (two threads each), so they meet the same machine. The table has RLS forced; every select checks its
 * row came back. The group {@code control} runs the direct path against itself: how far a group scatters here.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar FleetBenchmark}. Figures: docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@Warmup(iterations = 5, time = 4)
@Measurement(iterations = 5, time = 4)
public class FleetBenchmark {
  static final int ROWS = 10_000;
  static final TenantId TENANT = TenantId.of("bigbank");
  static final String SELECT = "SELECT id, amount FROM ledger WHERE id = ?";

  private TestDatabase control;
  private TestDatabase dedicated;
  FleetDataSource fleet;
  private HikariDataSource pool;
  DataSource direct;
  private HikariDataSource controlPool;
  private DataSource directAgain;

  @Setup(Level.Trial)
  public void setUp() throws SQLException {
    control = TestDatabase.create();
    dedicated = TestDatabase.create();
    try (Connection c = dedicated.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE ledger (tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id', true), "
          + "id bigint PRIMARY KEY, amount bigint NOT NULL)");
      st.execute("INSERT INTO ledger SELECT 'bigbank', g, g * 7 FROM generate_series(1, " + ROWS + ") g");
      st.execute("ALTER TABLE ledger ENABLE ROW LEVEL SECURITY");
      st.execute("ALTER TABLE ledger FORCE ROW LEVEL SECURITY");
      st.execute("CREATE POLICY t ON ledger USING (tenant_id = current_setting('app.tenant_id', true))");
      st.execute("ANALYZE ledger");
    }
    FleetSchema.defaults().migrate(control.ownerDataSource());
    Map<String, String> env = Map.of("BANK_USER", dedicated.appRole(), "BANK_PASSWORD", dedicated.appPassword());
    TenantDirectory directory = TenantDirectory.builder(control.ownerDataSource())
        .credentialResolver(CredentialResolver.fromLookup(env::get)).build();
    directory.register(TENANT, Placement.dedicated(dedicated.jdbcUrl(), "BANK"));
    fleet = FleetDataSource.builder(directory).budget(10).perTenantCap(2).build();
    pool = dedicated.newPool(dedicated.appRole(), dedicated.appPassword(), 2);
    direct = TenantDataSource.wrap(pool);
    controlPool = dedicatedPool();
    directAgain = TenantDataSource.wrap(controlPool);
  }

  /** Another pool like {@code direct}'s on the tenant's database (for an A/A control); the caller closes it. */
  HikariDataSource dedicatedPool() {
    return dedicated.newPool(dedicated.appRole(), dedicated.appPassword(), 2);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fleet.close();
    pool.close();
    controlPool.close();
    dedicated.close();
    control.close();
  }

  /** Per thread: a random source. */
  @State(Scope.Thread)
  public static class Ids {
    final SplittableRandom random = new SplittableRandom();

    long next() {
      return 1L + random.nextInt(ROWS);
    }
  }

  @Benchmark
  @Group("pair")
  @GroupThreads(2)
  public long fleet(Ids ids) throws SQLException {
    return TenantContext.call(TENANT, () -> select(fleet, ids.next()));
  }

  @Benchmark
  @Group("pair")
  @GroupThreads(2)
  public long direct(Ids ids) throws SQLException {
    return TenantContext.call(TENANT, () -> select(direct, ids.next()));
  }

  /**
   * The A/A control of the pair: the direct path against itself on a second pool. On the 2-core machine of
   * docs/benchmarks.md it came out at 0.91, which is why the routing overhead is judged by {@link
   * FleetRoutingOverhead}'s alternating blocks.
   */
  @Benchmark
  @Group("control")
  @GroupThreads(2)
  public long controlDirect(Ids ids) throws SQLException {
    return TenantContext.call(TENANT, () -> select(direct, ids.next()));
  }

  @Benchmark
  @Group("control")
  @GroupThreads(2)
  public long controlDirectAgain(Ids ids) throws SQLException {
    return TenantContext.call(TENANT, () -> select(directAgain, ids.next()));
  }

  static long select(DataSource ds, long id) throws SQLException {
    try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(SELECT)) {
      ps.setLong(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new IllegalStateException("row " + id + " not found");
        }
        return rs.getLong(2);
      }
    }
  }
}
