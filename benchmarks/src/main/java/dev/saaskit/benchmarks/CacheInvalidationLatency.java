package dev.saaskit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationListener;
import dev.saaskit.cache.postgres.CacheSchema;
import dev.saaskit.cache.postgres.PostgresInvalidationBus;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import javax.sql.DataSource;

/**
 * Propagation latency of {@link PostgresInvalidationBus} between two nodes (two buses, each with its own pool and
 * listener connection, one database), and what writing an invalidation adds to a business transaction.
 *
 * <ol>
 *   <li>Latency, publish on node A to delivery on node B, at a steady rate: (a) {@code publish(invalidation)} in
 *       the bus's own transaction, measured from the call; (b) {@code publish(connection, invalidation)} inside a
 *       business transaction (UPDATE + invalidation), measured from the return of {@code commit()}. Percentiles
 *       over {@value #SAMPLES} invalidations after {@value #WARMUP} warm-up ones.
 *   <li>Cost in a business transaction, one thread, alternating: {@code UPDATE; COMMIT} against
 *       {@code UPDATE; INSERT invalidation; COMMIT} and {@code UPDATE; publishAndCommit}; mean and percentiles of
 *       each, {@value #TX_SAMPLES} each.
 *   <li>Throughput with {@value #THREADS} threads: UPDATE only, UPDATE + a {@code SELECT 1} (the extra round trip
 *       alone), UPDATE + invalidation row (this bus), and UPDATE + {@code pg_notify} in every transaction (the
 *       per-transaction NOTIFY this design avoids: it holds a cluster-wide lock from before the commit record until
 *       after it is flushed, so notifying commits cannot share a WAL flush), UPDATE + {@code publishAndCommit} (the
 *       row sent with the COMMIT), UPDATE + {@code SELECT 1; COMMIT} as one statement (what any statement sent with
 *       the COMMIT costs), and UPDATE only a second time as an A/A
 *       control; 5 rounds of 3 s per variant by default, the order rotating, median and range reported, and
 *       each variant's ratio to UPDATE only within the same round (a shared machine is noisy). Run it against a server with durable commits ({@code SAAS_TEST_POSTGRES_URL}) too: the
 *       embedded server runs without fsync, where commits are too cheap for the NOTIFY lock to show.
 * </ol>
 *
 * <p>The throughput part also runs a second pair of buses on a schema whose log has version 1's CHECK constraints
 * added back ({@value #V1_SCHEMA}), so the schema change of version 2 is measured before/after in the same run.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.CacheInvalidationLatency}; with the
 * argument {@code throughput} only part 3 runs; {@code -Drounds=N -Dseconds=S} change its rounds and their length.
 * Uses {@link TestDatabase#create()}: embedded PostgreSQL 17, or {@code SAAS_TEST_POSTGRES_URL}.
 */
public final class CacheInvalidationLatency {
  static final int RATE_PER_SECOND = 200;
  static final int WARMUP = 200;
  static final int SAMPLES = 2_000;
  static final int TX_SAMPLES = 2_000;
  static final int ITEMS = 1_000;
  static final int THREADS = 16;
  static final int THROUGHPUT_SECONDS = Integer.getInteger("seconds", 3);
  static final int THROUGHPUT_ROUNDS = Integer.getInteger("rounds", 5);
  /** A second cache schema whose log keeps version 1's CHECK constraints: the "before" of the throughput table. */
  static final String V1_SCHEMA = "bench_v1_checks";
  /** Version 1's CHECK constraints, added back to {@link #V1_SCHEMA}'s log (V2 dropped them). */
  static final String V1_CHECKS = "ALTER TABLE " + V1_SCHEMA + ".invalidation_log"
      + " ADD CHECK (scope IN ('KEY', 'TAG', 'TENANT', 'ALL')),"
      + " ADD CHECK (length(cache_name) BETWEEN 1 AND 1024),"
      + " ADD CHECK (length(tenant) BETWEEN 1 AND 128),"
      + " ADD CHECK (length(value) BETWEEN 1 AND 1024),"
      + " ADD CHECK (CASE scope WHEN 'KEY' THEN cache_name IS NOT NULL AND value IS NOT NULL"
      + " WHEN 'TAG' THEN value IS NOT NULL AND tenant IS NULL WHEN 'TENANT' THEN tenant IS NOT NULL AND value IS NULL"
      + " ELSE tenant IS NULL AND value IS NULL END)";

  private CacheInvalidationLatency() {}

  public static void main(String[] args) throws Exception {
    try (TestDatabase db = TestDatabase.create()) {
      System.out.println("# CacheInvalidationLatency on " + db.server().description() + ", "
          + Runtime.getRuntime().availableProcessors() + " cores");
      boolean throughputOnly = Arrays.asList(args).contains("throughput");
      CacheSchema v1 = CacheSchema.builder().name(V1_SCHEMA).build();
      CacheSchema.defaults().migrate(db.ownerDataSource());
      v1.migrate(db.ownerDataSource());
      try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
        CacheSchema.defaults().grantApp(c, db.appRole());
        v1.grantApp(c, db.appRole());
        st.execute(V1_CHECKS);
        st.execute("CREATE TABLE items (id int PRIMARY KEY, version bigint NOT NULL)");
        st.execute("INSERT INTO items SELECT g, 0 FROM generate_series(1, " + ITEMS + ") g");
      }
      try (HikariDataSource poolA = db.newPool(db.appRole(), db.appPassword(), THREADS + 2);
          HikariDataSource poolB = db.newPool(db.appRole(), db.appPassword(), 4);
          PostgresInvalidationBus a = PostgresInvalidationBus.builder(poolA).nodeName("A").build().start();
          PostgresInvalidationBus b = PostgresInvalidationBus.builder(poolB).nodeName("B").build().start();
          PostgresInvalidationBus a1 = PostgresInvalidationBus.builder(poolA).schema(v1).nodeName("A1").build().start();
          PostgresInvalidationBus b1 = PostgresInvalidationBus.builder(poolB).schema(v1).nodeName("B1").build()
              .start()) {
        Map<String, Long> arrivals = new ConcurrentHashMap<>();
        b.subscribe(new InvalidationListener() {
          @Override
          public void onInvalidation(Invalidation invalidation) {
            if (invalidation.value() != null) {
              arrivals.putIfAbsent(invalidation.value(), System.nanoTime());
            }
          }

          @Override
          public void onLostInvalidations() {
            System.out.println("UNEXPECTED: B flushed");
          }
        });
        awaitListening(b);
        if (throughputOnly) {
          throughput(poolA, a, a1);
          System.out.println("A stats: " + a.stats() + "; B stats: " + b.stats());
          System.out.println("A1 stats: " + a1.stats() + "; B1 stats: " + b1.stats());
          return;
        }

        long[] own = latency("own", arrivals, (i, tag) -> {
          long start = System.nanoTime();
          a.publish(Invalidation.tag(tag));
          return start;
        });
        report("publish(invalidation), own transaction: call -> delivered on B", own);

        long[] inTx = latency("tx", arrivals, (i, tag) -> {
          try (Connection c = poolA.getConnection()) {
            c.setAutoCommit(false);
            update(c, 1 + i % ITEMS);
            a.publish(c, Invalidation.tag(tag));
            c.commit();
            return System.nanoTime();
          }
        });
        report("publish(connection, invalidation) in a business transaction: commit -> delivered on B", inTx);
        System.out.println("B stats: " + b.stats());
        System.out.println("A stats: " + a.stats());

        businessTransactionCost(poolA, a);
        throughput(poolA, a, a1);
      }
    }
  }

  @FunctionalInterface
  interface Publish {
    /** Publishes {@code tag} and returns the nanoTime the latency counts from. */
    long publish(int i, String tag) throws SQLException;
  }

  private static long[] latency(String prefix, Map<String, Long> arrivals, Publish publish) throws SQLException {
    int total = WARMUP + SAMPLES;
    long[] sent = new long[total];
    long period = TimeUnit.SECONDS.toNanos(1) / RATE_PER_SECOND;
    long begin = System.nanoTime();
    for (int i = 0; i < total; i++) {
      long due = begin + i * period;
      while (System.nanoTime() < due) {
        LockSupport.parkNanos(due - System.nanoTime());
      }
      sent[i] = publish.publish(i, prefix + "-" + i);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!arrivals.containsKey(prefix + "-" + (total - 1)) && System.nanoTime() < deadline) {
      LockSupport.parkNanos(1_000_000);
    }
    long[] latencies = new long[SAMPLES];
    int missing = 0;
    for (int i = WARMUP; i < total; i++) {
      Long arrived = arrivals.get(prefix + "-" + i);
      if (arrived == null) {
        missing++;
        latencies[i - WARMUP] = Long.MAX_VALUE;
      } else {
        latencies[i - WARMUP] = arrived - sent[i];
      }
    }
    if (missing > 0) {
      System.out.println("UNEXPECTED: " + missing + " invalidations not delivered within 30 s");
    }
    return latencies;
  }

  private static void businessTransactionCost(DataSource pool, PostgresInvalidationBus bus) throws SQLException {
    SplittableRandom random = new SplittableRandom(42);
    long[] plain = new long[TX_SAMPLES];
    long[] withInvalidation = new long[TX_SAMPLES];
    long[] withCommit = new long[TX_SAMPLES];
    for (int i = -WARMUP; i < TX_SAMPLES; i++) {
      int id = 1 + random.nextInt(ITEMS);
      long t0 = System.nanoTime();
      try (Connection c = pool.getConnection()) {
        c.setAutoCommit(false);
        update(c, id);
        c.commit();
      }
      long t1 = System.nanoTime();
      try (Connection c = pool.getConnection()) {
        c.setAutoCommit(false);
        update(c, id);
        bus.publish(c, Invalidation.key("items", null, Integer.toString(id)));
        c.commit();
      }
      long t2 = System.nanoTime();
      try (Connection c = pool.getConnection()) {
        c.setAutoCommit(false);
        update(c, id);
        bus.publishAndCommit(c, Invalidation.key("items", null, Integer.toString(id)));
      }
      long t3 = System.nanoTime();
      if (i >= 0) {
        plain[i] = t1 - t0;
        withInvalidation[i] = t2 - t1;
        withCommit[i] = t3 - t2;
      }
    }
    System.out.println();
    System.out.println("## Business transaction, one thread, " + TX_SAMPLES + " each (alternating)");
    System.out.println("| transaction | mean | p50 | p99 |");
    System.out.println("|---|---|---|---|");
    row("UPDATE; COMMIT", plain);
    row("UPDATE; INSERT invalidation; COMMIT", withInvalidation);
    row("UPDATE; publishAndCommit", withCommit);
    System.out.printf(Locale.ROOT, "added by the invalidation: %.3f ms mean (publish), %.3f ms mean"
        + " (publishAndCommit)%n", (mean(withInvalidation) - mean(plain)) / 1e6,
        (mean(withCommit) - mean(plain)) / 1e6);
  }

  private static void throughput(DataSource pool, PostgresInvalidationBus bus, PostgresInvalidationBus v1Bus)
      throws Exception {
    String[] names = {"UPDATE; COMMIT", "UPDATE; SELECT 1; COMMIT (one more round trip, for scale)",
        "UPDATE; INSERT invalidation (this bus); COMMIT",
        "UPDATE; INSERT invalidation (log with version 1's CHECK constraints); COMMIT",
        "UPDATE; pg_notify in the transaction; COMMIT",
        "UPDATE; publishAndCommit (the insert and the COMMIT in one round trip)",
        "UPDATE; SELECT 1 and COMMIT in one round trip (a statement with the COMMIT, for scale)",
        "UPDATE; COMMIT again (A/A control: how far a ratio strays by noise alone)"};
    // what each row runs in throughputOnce: 0 update only, 1 + SELECT 1, 2 + publish (on the bus given), 3 + pg_notify,
    // 4 publishAndCommit instead of commit, 5 "SELECT 1; COMMIT" in one statement instead of commit
    int[] kinds = {0, 1, 2, 2, 3, 4, 5, 0};
    double[][] rates = new double[names.length][THROUGHPUT_ROUNDS];
    for (int round = 0; round < THROUGHPUT_ROUNDS; round++) {
      // the order rotates each round, so no variant always follows the same one
      for (int k = 0; k < names.length; k++) {
        int variant = (k + round) % names.length;
        rates[variant][round] = throughputOnce(pool, variant == 3 ? v1Bus : bus, kinds[variant]);
      }
      StringBuilder line = new StringBuilder("round " + (round + 1) + ":");
      for (double[] r : rates) {
        line.append(' ').append(Math.round(r[round]));
      }
      System.out.println(line + " tx/s (load average " + loadAverage() + ")");
    }
    System.out.println();
    System.out.println("## Throughput, " + THREADS + " threads, " + THROUGHPUT_ROUNDS + " interleaved rounds of "
        + THROUGHPUT_SECONDS + " s per variant");
    System.out.println("| transaction | median tx/s | min | max | ratio to UPDATE; COMMIT in the same round, median (min-max) |");
    System.out.println("|---|---|---|---|---|");
    for (int variant = 0; variant < names.length; variant++) {
      double[] r = rates[variant].clone();
      Arrays.sort(r);
      double[] ratios = new double[THROUGHPUT_ROUNDS];
      for (int round = 0; round < THROUGHPUT_ROUNDS; round++) {
        ratios[round] = rates[variant][round] / rates[0][round];
      }
      Arrays.sort(ratios);
      System.out.printf(Locale.ROOT, "| %s | %.0f | %.0f | %.0f | %.2f (%.2f-%.2f) |%n", names[variant],
          r[r.length / 2], r[0], r[r.length - 1], ratios[ratios.length / 2], ratios[0], ratios[ratios.length - 1]);
    }
  }

  private static double throughputOnce(DataSource pool, PostgresInvalidationBus bus, int variant) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService threads = Executors.newFixedThreadPool(THREADS);
    List<Future<Long>> counts = new ArrayList<>();
    try {
      for (int t = 0; t < THREADS; t++) {
        int seed = t;
        counts.add(threads.submit(() -> {
          SplittableRandom random = new SplittableRandom(seed);
          long n = 0;
          while (!stop.get()) {
            int id = 1 + random.nextInt(ITEMS);
            try (Connection c = pool.getConnection()) {
              c.setAutoCommit(false);
              update(c, id);
              if (variant == 1) {
                try (PreparedStatement ps = c.prepareStatement("SELECT 1")) {
                  ps.execute();
                }
              } else if (variant == 2) {
                bus.publish(c, Invalidation.key("items", null, Integer.toString(id)));
              } else if (variant == 3) {
                try (PreparedStatement ps = c.prepareStatement("SELECT pg_notify('bench_per_tx', ?)")) {
                  ps.setString(1, Integer.toString(id));
                  ps.execute();
                }
              }
              if (variant == 4) {
                bus.publishAndCommit(c, Invalidation.key("items", null, Integer.toString(id)));
              } else if (variant == 5) {
                try (PreparedStatement ps = c.prepareStatement("SELECT 1; COMMIT")) {
                  ps.execute();
                }
                c.commit(); // the server is idle already: the driver sends nothing
              } else {
                c.commit();
              }
            }
            n++;
          }
          return n;
        }));
      }
      long start = System.nanoTime();
      LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(THROUGHPUT_SECONDS));
      stop.set(true);
      long total = 0;
      for (Future<Long> f : counts) {
        total += f.get(1, TimeUnit.MINUTES);
      }
      return total / ((System.nanoTime() - start) / 1e9);
    } finally {
      threads.shutdownNow();
    }
  }

  private static String loadAverage() {
    try {
      String all = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg"));
      return all.substring(0, Math.max(0, all.indexOf(' ')));
    } catch (java.io.IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private static void update(Connection c, int id) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE items SET version = version + 1 WHERE id = ?")) {
      ps.setInt(1, id);
      ps.executeUpdate();
    }
  }

  private static void awaitListening(PostgresInvalidationBus bus) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!bus.stats().listening()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("node B is not listening after 30 s");
      }
      LockSupport.parkNanos(5_000_000);
    }
  }

  private static void report(String title, long[] latencies) {
    long[] sorted = latencies.clone();
    Arrays.sort(sorted);
    System.out.println();
    System.out.println("## " + title + " (" + SAMPLES + " at " + RATE_PER_SECOND + "/s)");
    System.out.printf(Locale.ROOT, "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms%n", pct(sorted, 50),
        pct(sorted, 90), pct(sorted, 99), sorted[sorted.length - 1] / 1e6);
  }

  private static void row(String name, long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    System.out.printf(Locale.ROOT, "| %s | %.3f ms | %.3f ms | %.3f ms |%n", name, mean(nanos) / 1e6,
        pct(sorted, 50), pct(sorted, 99));
  }

  private static double pct(long[] sorted, int percentile) {
    int index = (int) Math.ceil(percentile / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, index)] / 1e6;
  }

  private static double mean(long[] nanos) {
    return Arrays.stream(nanos).average().orElse(0);
  }
}
