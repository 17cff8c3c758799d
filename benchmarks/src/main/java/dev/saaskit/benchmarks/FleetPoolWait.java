package dev.saaskit.benchmarks;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.fleet.CredentialResolver;
import dev.saaskit.fleet.FleetDataSource;
import dev.saaskit.fleet.FleetSchema;
import dev.saaskit.fleet.FleetStats;
import dev.saaskit.fleet.Placement;
import dev.saaskit.fleet.TenantDirectory;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Pool behaviour of a {@link FleetDataSource} with 500 tenants, each with a dedicated placement (500 pools, spread
 * over 5 databases through 500 credential references), under a budget of 100 connections: client threads pick a
 * random tenant, take a connection, run {@code SELECT 1} and give it back. Prints the wait for a connection (p50,
 * p99, max) and the peak of open connections. Not JMH: the figure is a latency distribution.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.FleetPoolWait [seconds] [threads]}.
 */
public final class FleetPoolWait {
  private FleetPoolWait() {}

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 32;
    int tenants = 500;
    int budget = 100;
    List<TestDatabase> dbs = new ArrayList<>();
    try (TestDatabase control = TestDatabase.create()) {
      for (int i = 0; i < 5; i++) {
        dbs.add(TestDatabase.create());
      }
      FleetSchema.defaults().migrate(control.ownerDataSource());
      Map<String, String> env = new HashMap<>();
      TenantDirectory directory = TenantDirectory.builder(control.ownerDataSource())
          .credentialResolver(CredentialResolver.fromLookup(env::get)).build();
      for (int t = 0; t < tenants; t++) {
        TestDatabase db = dbs.get(t % dbs.size());
        env.put("T" + t + "_USER", db.appRole());
        env.put("T" + t + "_PASSWORD", db.appPassword());
        directory.register(TenantId.of("t" + t), Placement.dedicated(db.jdbcUrl(), "T" + t));
      }
      try (FleetDataSource fleet = FleetDataSource.builder(directory).budget(budget).perTenantCap(2)
          .directoryCacheTtl(Duration.ofMinutes(10)).acquireTimeout(Duration.ofSeconds(60)).build()) {
        AtomicBoolean running = new AtomicBoolean(true);
        List<long[]> samples = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        for (int w = 0; w < threads; w++) {
          long[] waits = new long[2_000_000];
          samples.add(waits);
          int seed = w;
          Thread thread = new Thread(() -> {
            SplittableRandom random = new SplittableRandom(seed);
            int n = 0;
            while (running.get() && n < waits.length - 1) {
              TenantId tenant = TenantId.of("t" + random.nextInt(tenants));
              try {
                long start = System.nanoTime();
                try (Connection c = TenantContext.call(tenant, fleet::getConnection)) {
                  waits[++n] = System.nanoTime() - start;
                  TenantContext.run(tenant, () -> {
                    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
                      rs.next();
                    }
                  });
                }
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            }
            waits[0] = n;
          });
          workers.add(thread);
          thread.start();
        }
        Thread.sleep(seconds * 1000L);
        running.set(false);
        for (Thread t : workers) {
          t.join();
        }
        long total = 0;
        for (long[] s : samples) {
          total += s[0];
        }
        long[] all = new long[(int) total];
        int at = 0;
        for (long[] s : samples) {
          System.arraycopy(s, 1, all, at, (int) s[0]);
          at += (int) s[0];
        }
        Arrays.sort(all);
        FleetStats stats = fleet.stats();
        System.out.printf("tenants=%d pools(now)=%d budget=%d threads=%d ops=%d (%.0f/s)%n", tenants, stats.pools(),
            budget, threads, total, total / (double) seconds);
        System.out.printf("wait for a connection: p50=%.2f ms p99=%.2f ms max=%.2f ms; peak open=%d%n",
            all[all.length / 2] / 1e6, all[(int) (all.length * 0.99)] / 1e6, all[all.length - 1] / 1e6,
            stats.peakOpenConnections());
      }
    } finally {
      for (TestDatabase db : dbs) {
        db.close();
      }
    }
  }
}
