package dev.saaskit.benchmarks.jobs;

/**
 * The job JobRunr runs: a public static method, which JobRunr's lambda analysis stores as class, method and argument
 * and its worker calls by reflection. JobRunr instantiates nothing here, so the probe of the engine under test is
 * reached through a static field (one JobRunr engine runs at a time: JobRunr itself is a JVM-wide singleton).
 */
public final class JobRunrNoOpJob {

  static volatile JobProbe probe;

  private JobRunrNoOpJob() {}

  /** Tells the probe that a job started; {@code enqueuedAtNanos} is the job's argument. */
  public static void run(long enqueuedAtNanos) {
    probe.jobStarted(enqueuedAtNanos);
  }
}
