package dev.saaskit.benchmarks.jobs;

import dev.saaskit.testing.TestDatabase;

/**
 * One job queue under test in {@link JobsBenchmark}: saas-jobs or a peer, configured as its documentation
 * recommends, on a database of its own.
 *
 * <p>Every engine runs the same job: a no-op whose handler, as its first and only act, calls
 * {@link JobProbe#jobStarted(long)} with the {@code long} the job was enqueued with. The probe counts the runs
 * (so the harness knows when a drain is over and can fail loudly when a job is lost or run twice) and, for jobs
 * enqueued by {@link #enqueueOne(long)}, records the enqueue-to-start latency. How the {@code long} travels (task
 * data, a job argument, a JSON payload) is up to the engine: it should be the engine's ordinary way of passing a
 * job its arguments.
 *
 * <p>The harness calls, in this order and from one thread: {@link #setUp}, {@link #enqueueBatch} (repeatedly),
 * {@link #startWorkers}, {@link #enqueueOne} (repeatedly, at a steady rate, workers running), {@link #close}. A new
 * engine instance is made for every database, so instances need not be reusable.
 *
 * <p>Adding an engine: implement this interface in this package with a public no-argument constructor and add it to
 * {@link JobsBenchmark#ENGINES} (saas-jobs is already listed, by class name, as
 * {@code dev.saaskit.benchmarks.jobs.SaasJobsEngine}).
 */
// try: close() stops the engine's threads and may be interrupted; the benchmark lets that end the run
@SuppressWarnings("try")
public interface JobEngine extends AutoCloseable {

  /** The name used on the command line and in the results, e.g. {@code db-scheduler}. */
  String name();

  /** The version and the settings that matter, one line, for the results, e.g. {@code 16.7.1, 16 threads, ...}. */
  String settings();

  /**
   * Creates the engine's schema in {@code database} (fresh and empty, created for this engine alone), its pools
   * and its workers, without starting the workers. Jobs enqueued before {@link #startWorkers()} must wait.
   *
   * @param database a fresh database; use {@link TestDatabase#ownerRole()} for DDL, and the app role where the
   *     engine, like saas-jobs, is meant to run without owning its tables
   * @param workerThreads how many jobs may run at the same time (the engine's thread or worker count)
   * @param probe what every job's handler calls when it starts
   */
  void setUp(TestDatabase database, int workerThreads, JobProbe probe) throws Exception;

  /**
   * Enqueues {@code count} no-op jobs in one batch, in the engine's batch API where it has one, with
   * {@link JobProbe#UNTIMED} as their {@code long}. Returns when they are durably stored.
   */
  void enqueueBatch(int count) throws Exception;

  /** Starts the workers; returns once they are started (jobs may still be starting). */
  void startWorkers() throws Exception;

  /**
   * Enqueues one no-op job carrying {@code enqueuedAtNanos} (a {@link System#nanoTime()} taken just before this
   * call), the way an application enqueues a single job, so that it starts as soon as the engine allows. Returns
   * when it is durably stored.
   */
  void enqueueOne(long enqueuedAtNanos) throws Exception;

  /** Stops the workers and releases every thread and connection the engine holds. */
  @Override
  void close() throws Exception;
}
