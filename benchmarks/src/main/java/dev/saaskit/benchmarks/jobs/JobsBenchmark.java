package dev.saaskit.benchmarks.jobs;

import dev.saaskit.testing.PostgresServer;
import dev.saaskit.testing.TestDatabase;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

/**
 * saas-jobs against db-scheduler and JobRunr, in one run, on the same PostgreSQL server, each engine on a fresh
 * database of its own:
 *
 * <ol>
 *   <li><b>throughput</b>: enqueue {@code --jobs} no-op jobs in batches of {@code --batch} with the workers stopped
 *       (the enqueue rate), then start {@code --threads} workers and time the drain, from just before
 *       {@link JobEngine#startWorkers()} to the start of the last job (jobs per second), and again from the first
 *       job's start to the last one's (the rate without the engine's start-up);</li>
 *   <li><b>latency</b>: with the workers running and idle, enqueue {@code --latency-jobs} jobs one at a time at
 *       {@code --latency-rate} per second and report the enqueue-to-start time (p50, p99, max), measured with
 *       {@link System#nanoTime()} in the same JVM.</li>
 * </ol>
 *
 * <p>Before each measured engine run, the same steps run once with {@code --warmup-jobs} jobs (and up to 100
 * latency jobs) on a throwaway database, so the JIT has compiled each engine's code paths before it is measured
 * and no engine profits from running after another. Every job must run exactly once: a lost or doubled job fails
 * the engine's run, and the program exits with status 1.
 *
 * <p>Run it from the shaded jar (see docs/benchmarks.md):
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.jobs.JobsBenchmark \
 *     --engines db-scheduler,jobrunr --jobs 100000 --threads 16 [--url jdbc:postgresql://host/db?user=postgres]
 * }</pre>
 */
public final class JobsBenchmark {

  /** The engines by command-line name; saas-jobs is looked up by class name until its adapter exists. */
  static final Map<String, Function<Options, JobEngine>> ENGINES = new LinkedHashMap<>();

  static {
    ENGINES.put("saas-jobs", options -> byClassName("dev.saaskit.benchmarks.jobs.SaasJobsEngine"));
    ENGINES.put("db-scheduler",
        options -> DbSchedulerEngine.withLimits(options.dbSchedulerLower, options.dbSchedulerUpper));
    ENGINES.put("jobrunr", options -> new JobRunrEngine());
    // not run by default: db-scheduler with single jobs enqueued as from another process
    ENGINES.put("db-scheduler-client",
        options -> DbSchedulerEngine.fromOtherProcess(options.dbSchedulerLower, options.dbSchedulerUpper));
  }

  /** Engines that run when {@code --engines} is not given (those whose adapter is in the build). */
  static final List<String> DEFAULT_ENGINES = List.of("saas-jobs", "db-scheduler", "jobrunr");

  private static final int WARMUP_LATENCY_JOBS = 100;
  private static final long SETTLE_MILLIS = 1_000;

  private JobsBenchmark() {}

  /** Command-line options; see {@link #usage()}. */
  static final class Options {
    List<String> engines = new ArrayList<>();
    int jobs = 100_000;
    int batch = 1_000;
    int threads = 16;
    int latencyJobs = 1_000;
    double latencyRate = 20;
    int warmupJobs = 10_000;
    int timeoutSeconds = 900;
    double dbSchedulerLower = 1.0;
    double dbSchedulerUpper = 4.0;
    int pairedLatencyJobs;
    String url;

    static Options parse(String[] args) {
      Options o = new Options();
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        if (arg.equals("-h") || arg.equals("--help")) {
          System.out.println(usage());
          System.exit(0);
        }
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(arg + " needs a value\n" + usage());
        }
        String value = args[++i];
        switch (arg) {
          case "--engines" -> o.engines = List.of(value.split(",", -1));
          case "--jobs" -> o.jobs = atLeast(arg, Integer.parseInt(value), 1);
          case "--batch" -> o.batch = atLeast(arg, Integer.parseInt(value), 1);
          case "--threads" -> o.threads = atLeast(arg, Integer.parseInt(value), 1);
          case "--latency-jobs" -> o.latencyJobs = atLeast(arg, Integer.parseInt(value), 0);
          case "--latency-rate" -> {
            o.latencyRate = Double.parseDouble(value);
            if (!(o.latencyRate > 0)) {
              throw new IllegalArgumentException("--latency-rate must be > 0 but was " + value);
            }
          }
          case "--warmup-jobs" -> o.warmupJobs = atLeast(arg, Integer.parseInt(value), 0);
          case "--timeout-seconds" -> o.timeoutSeconds = atLeast(arg, Integer.parseInt(value), 1);
          case "--db-scheduler-limits" -> {
            String[] limits = value.split(",", -1);
            if (limits.length != 2) {
              throw new IllegalArgumentException("--db-scheduler-limits must be lower,upper but was " + value);
            }
            o.dbSchedulerLower = Double.parseDouble(limits[0]);
            o.dbSchedulerUpper = Double.parseDouble(limits[1]);
          }
          case "--paired-latency-jobs" -> o.pairedLatencyJobs = atLeast(arg, Integer.parseInt(value), 0);
          case "--url" -> o.url = value;
          default -> throw new IllegalArgumentException("unknown option " + arg + "\n" + usage());
        }
      }
      for (String engine : o.engines) {
        if (!ENGINES.containsKey(engine)) {
          throw new IllegalArgumentException("unknown engine " + engine + "; known: " + ENGINES.keySet());
        }
      }
      return o;
    }

    private static int atLeast(String option, int value, int min) {
      if (value < min) {
        throw new IllegalArgumentException(option + " must be >= " + min + " but was " + value);
      }
      return value;
    }
  }

  static String usage() {
    return """
        usage: JobsBenchmark [options]
          --engines a,b,c          engines to run, from %s
                                   (default: saas-jobs if in the build, db-scheduler, jobrunr)
          --jobs N                 no-op jobs enqueued and drained for throughput (default 100000)
          --batch N                jobs per enqueueBatch call (default 1000)
          --threads N              worker threads of every engine (default 16)
          --latency-jobs N         jobs enqueued one at a time for latency (default 1000, 0 to skip)
          --latency-rate R         latency jobs per second (default 20)
          --warmup-jobs N          jobs of the unmeasured warm-up run per engine (default 10000, 0 to skip)
          --timeout-seconds N      longest wait for a drain (default 900)
          --db-scheduler-limits L,U  pollUsingLockAndFetch fractions of threads (default 1.0,4.0)
          --paired-latency-jobs N  instead of the runs above: all engines' workers run side by side, each on its
                                   own database, and N latency jobs per engine are enqueued in turns (engine order
                                   rotating), each engine at --latency-rate, after 100 unmeasured ones each
          --url JDBC_URL           a PostgreSQL superuser URL instead of the embedded server
                                   (the same as SAAS_TEST_POSTGRES_URL)
        """.formatted(ENGINES.keySet());
  }

  /** One engine's measured run. */
  @SuppressWarnings("ArrayRecordComponent") // a report row, never compared or hashed
  record Result(String engine, String settings, int jobs, long enqueueNanos, long drainNanos,
      long firstToLastNanos, long[] latencyNanos, String failure) {

    static Result failed(String engine, String settings, String failure) {
      return new Result(engine, settings, 0, 0, 0, 0, new long[0], failure);
    }

    double enqueuePerSecond() {
      return jobs / (enqueueNanos / 1e9);
    }

    double drainPerSecond() {
      return jobs / (drainNanos / 1e9);
    }

    /** The drain rate once jobs flow, without the engine's start-up: from the first start to the last. */
    double flowingPerSecond() {
      return (jobs - 1) / (firstToLastNanos / 1e9);
    }

    /** Nearest-rank percentile of the sorted latencies, in milliseconds. */
    double latencyMillis(double percentile) {
      int rank = (int) Math.ceil(percentile / 100.0 * latencyNanos.length);
      return latencyNanos[Math.max(0, rank - 1)] / 1e6;
    }
  }

  /** Runs the benchmark; exits with 1 if any engine lost or doubled a job or failed otherwise. */
  public static void main(String[] args) {
    Options options = Options.parse(args);
    if (options.url != null) {
      // read by saas-testing's PostgresServer.shared(); a system property wins over the environment variable
      System.setProperty("SAAS_TEST_POSTGRES_URL", options.url);
    }
    List<String> engines = options.engines.isEmpty() ? availableEngines(options) : options.engines;
    Instant started = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    String server = PostgresServer.shared().description();
    log("PostgreSQL: %s", server);
    if (options.pairedLatencyJobs > 0) {
      System.out.println(pairedLatency(options, engines, started, server));
      return;
    }
    List<Result> results = new ArrayList<>();
    for (String engine : engines) {
      try {
        var unused = engine(engine).apply(options); // made only to learn whether the engine is available
      } catch (EngineMissing missing) {
        results.add(Result.failed(engine, "-", "pending, " + missing.getMessage()));
        continue;
      }
      if (options.warmupJobs > 0) {
        log("%s: warm-up, %,d jobs", engine, options.warmupJobs);
        Result warmup = runOnce(engine, options, options.warmupJobs,
            Math.min(options.latencyJobs, WARMUP_LATENCY_JOBS));
        if (warmup.failure() != null) {
          results.add(warmup);
          continue;
        }
      }
      log("%s: measured run, %,d jobs", engine, options.jobs);
      results.add(runOnce(engine, options, options.jobs, options.latencyJobs));
    }
    System.out.println(report(options, started, server, results));
    if (results.stream().anyMatch(r -> r.failure() != null)) {
      System.exit(1);
    }
  }

  private static List<String> availableEngines(Options options) {
    List<String> names = new ArrayList<>();
    for (String name : DEFAULT_ENGINES) {
      try {
        var unused = engine(name).apply(options); // made only to learn whether the engine is available
        names.add(name);
      } catch (EngineMissing missing) {
        log("%s: skipped, %s", name, missing.getMessage());
      }
    }
    return names;
  }

  /** The factory of the engine of that name (names are checked when the options are parsed). */
  private static Function<Options, JobEngine> engine(String name) {
    Function<Options, JobEngine> factory = ENGINES.get(name);
    if (factory == null) {
      throw new IllegalArgumentException("unknown engine " + name + "; known: " + ENGINES.keySet());
    }
    return factory;
  }

  // try: the engine is closed by the try even though the body names it by its other variable
  @SuppressWarnings("try")
  static Result runOnce(String name, Options options, int jobs, int latencyJobs) {
    JobEngine engine = engine(name).apply(options);
    long timeoutNanos = TimeUnit.SECONDS.toNanos(options.timeoutSeconds);
    JobProbe probe = new JobProbe(latencyJobs);
    try (TestDatabase database = TestDatabase.create(); JobEngine closing = engine) {
      engine.setUp(database, options.threads, probe);

      long enqueueStart = System.nanoTime();
      for (int left = jobs; left > 0; ) {
        int n = Math.min(options.batch, left);
        engine.enqueueBatch(n);
        left -= n;
      }
      long enqueueNanos = System.nanoTime() - enqueueStart;
      if (probe.started() != 0) {
        throw new IllegalStateException(probe.started() + " jobs ran before the workers were started");
      }
      log("%s: enqueued %,d jobs in %.2f s, draining", name, jobs, enqueueNanos / 1e9);

      long drainStart = System.nanoTime();
      engine.startWorkers();
      if (!probe.awaitStarted(jobs, timeoutNanos)) {
        throw new IllegalStateException(
            "only " + probe.started() + " of " + jobs + " jobs ran within " + options.timeoutSeconds + " s");
      }
      long drainNanos = probe.latestStartNanos() - drainStart;
      long firstToLastNanos = probe.latestStartNanos() - probe.firstStartNanos();
      log("%s: drained in %.2f s (first job after %.3f s), latency run (%d jobs at %.1f/s)", name, drainNanos / 1e9,
          (probe.firstStartNanos() - drainStart) / 1e9, latencyJobs,
          options.latencyRate);

      long periodNanos = (long) (1e9 / options.latencyRate);
      long latencyStart = System.nanoTime() + periodNanos;
      for (int i = 0; i < latencyJobs; i++) {
        long due = latencyStart + i * periodNanos;
        for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
          LockSupport.parkNanos(wait);
        }
        engine.enqueueOne(System.nanoTime());
      }
      long expected = (long) jobs + latencyJobs;
      if (!probe.awaitStarted(expected, timeoutNanos)) {
        throw new IllegalStateException("only " + (probe.started() - jobs) + " of " + latencyJobs
            + " latency jobs ran within " + options.timeoutSeconds + " s");
      }
      // a job run twice would show up now or never: give stragglers a moment before counting
      Thread.sleep(SETTLE_MILLIS);
      if (probe.started() != expected) {
        throw new IllegalStateException(
            probe.started() + " job starts for " + expected + " jobs enqueued: some ran more than once");
      }
      return new Result(name, engine.settings(), jobs, enqueueNanos, drainNanos, firstToLastNanos,
          probe.sortedLatencyNanos(), null);
    } catch (Exception | Error e) {
      System.err.println(name + " FAILED:");
      e.printStackTrace();
      return Result.failed(name, engine.settings(), String.valueOf(e));
    }
  }

  /**
   * Latency only, the engines side by side: each on its own fresh database with its workers started, single jobs
   * enqueued in turns (engine order rotating every round so none always goes first), so every engine meets the same
   * moments of the host's load. Each engine gets {@code --latency-rate} jobs per second; the turns are spread evenly
   * over each period. 100 unmeasured jobs per engine first.
   */
  @SuppressWarnings("try")
  static String pairedLatency(Options options, List<String> names, Instant started, String server) {
    int n = names.size();
    List<JobEngine> engines = new ArrayList<>();
    List<TestDatabase> databases = new ArrayList<>();
    List<JobProbe> probes = new ArrayList<>();
    long timeoutNanos = TimeUnit.SECONDS.toNanos(options.timeoutSeconds);
    StringBuilder out = new StringBuilder();
    try {
      for (String name : names) {
        JobEngine engine = engine(name).apply(options);
        TestDatabase database = TestDatabase.create();
        engines.add(engine);
        databases.add(database);
        JobProbe probe = new JobProbe(options.pairedLatencyJobs);
        probes.add(probe);
        engine.setUp(database, options.threads, probe);
        engine.startWorkers();
      }
      long periodNanos = (long) (1e9 / (options.latencyRate * n));
      int warm = WARMUP_LATENCY_JOBS;
      log("paired latency: %s, %d unmeasured then %d measured jobs each, %.1f/s each", names, warm,
          options.pairedLatencyJobs, options.latencyRate);
      long next = System.nanoTime() + periodNanos;
      for (int round = 0; round < warm + options.pairedLatencyJobs; round++) {
        for (int k = 0; k < n; k++) {
          int e = (round + k) % n;
          for (long wait = next - System.nanoTime(); wait > 0; wait = next - System.nanoTime()) {
            LockSupport.parkNanos(wait);
          }
          next += periodNanos;
          // the warm-up jobs carry UNTIMED: counted, not kept
          engines.get(e).enqueueOne(round < warm ? JobProbe.UNTIMED : System.nanoTime());
        }
      }
      long expected = (long) warm + options.pairedLatencyJobs;
      for (int e = 0; e < n; e++) {
        if (!probes.get(e).awaitStarted(expected, timeoutNanos)) {
          throw new IllegalStateException(names.get(e) + ": only " + probes.get(e).started() + " of " + expected
              + " jobs ran");
        }
      }
      Thread.sleep(SETTLE_MILLIS);
      out.append("\n## Jobs benchmark, paired latency, ").append(started).append('\n');
      out.append("PostgreSQL: ").append(server).append("; Java ").append(System.getProperty("java.version"))
          .append("; ").append(Runtime.getRuntime().availableProcessors()).append(" processors\n");
      out.append(String.format(Locale.ROOT, "%,d jobs per engine in turns, %.1f/s each, %d worker threads%n%n",
          options.pairedLatencyJobs, options.latencyRate, options.threads));
      out.append("| engine | latency p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |\n|---|---:|---:|---:|---:|\n");
      for (int e = 0; e < n; e++) {
        if (probes.get(e).started() != expected) {
          throw new IllegalStateException(names.get(e) + ": " + probes.get(e).started() + " starts for " + expected
              + " jobs: some ran more than once");
        }
        Result r = new Result(names.get(e), engines.get(e).settings(), 1, 1, 1, 1,
            probes.get(e).sortedLatencyNanos(), null);
        out.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.1f |%n", r.engine(),
            r.latencyMillis(50), r.latencyMillis(90), r.latencyMillis(99), r.latencyMillis(100)));
      }
      out.append('\n');
      for (int e = 0; e < n; e++) {
        out.append("- ").append(names.get(e)).append(": ").append(engines.get(e).settings()).append('\n');
      }
    } catch (Exception e) {
      System.err.println("paired latency FAILED:");
      e.printStackTrace();
      out.append("paired latency FAILED: ").append(e);
    } finally {
      for (JobEngine engine : engines) {
        try {
          engine.close();
        } catch (Exception e) {
          System.err.println("closing " + engine.name() + ": " + e);
        }
      }
      for (TestDatabase database : databases) {
        database.close();
      }
    }
    return out.toString();
  }

  static String report(Options options, Instant started, String server, List<Result> results) {
    StringBuilder out = new StringBuilder();
    out.append("\n## Jobs benchmark, ").append(started).append('\n');
    out.append("PostgreSQL: ").append(server).append("; Java ").append(System.getProperty("java.version"))
        .append("; ").append(Runtime.getRuntime().availableProcessors()).append(" processors; max heap ")
        .append(Runtime.getRuntime().maxMemory() >> 20).append(" MiB\n");
    out.append(String.format(Locale.ROOT,
        "%,d jobs in batches of %,d, %d worker threads; latency: %,d jobs at %.1f/s; warm-up %,d jobs%n%n",
        options.jobs, options.batch, options.threads, options.latencyJobs, options.latencyRate,
        options.warmupJobs));
    out.append("| engine | enqueue (jobs/s) | drain (jobs/s) | drain (s) | first to last start (jobs/s) "
        + "| latency p50 (ms) | p99 (ms) | max (ms) |\n");
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Result r : results) {
      if (r.failure() != null) {
        out.append("| ").append(r.engine()).append(" | FAILED: ").append(r.failure()).append(" | | | | | | |\n");
        continue;
      }
      String latency = r.latencyNanos().length == 0 ? "| - | - | - |"
          : String.format(Locale.ROOT, "| %.1f | %.1f | %.1f |", r.latencyMillis(50), r.latencyMillis(99),
              r.latencyMillis(100));
      out.append(String.format(Locale.ROOT, "| %s | %,.0f | %,.0f | %.2f | %,.0f %s%n", r.engine(),
          r.enqueuePerSecond(), r.drainPerSecond(), r.drainNanos() / 1e9, r.flowingPerSecond(), latency));
    }
    out.append('\n');
    for (Result r : results) {
      out.append("- ").append(r.engine()).append(": ").append(r.settings()).append('\n');
    }
    return out.toString();
  }

  private static JobEngine byClassName(String className) {
    Class<?> type;
    try {
      type = Class.forName(className);
    } catch (ClassNotFoundException e) {
      throw new EngineMissing(className + " is not in this build yet");
    }
    try {
      return (JobEngine) type.getConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(className + " needs a public no-argument constructor", e);
    }
  }

  /** An engine listed in {@link #ENGINES} whose adapter is not in the build. */
  static final class EngineMissing extends RuntimeException {
    EngineMissing(String message) {
      super(message);
    }
  }

  private static void log(String format, Object... args) {
    System.err.printf(Locale.ROOT, "[%s] %s%n", Instant.now().truncatedTo(ChronoUnit.SECONDS),
        String.format(Locale.ROOT, format, args));
  }
}
