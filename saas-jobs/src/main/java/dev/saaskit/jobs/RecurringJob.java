package dev.saaskit.jobs;

import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.internal.CronSchedule;
import dev.saaskit.jobs.internal.JsonTexts;
import java.time.Duration;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.Optional;

/**
 * A job enqueued on a cron schedule: a unique name, a cron expression read in a time zone, the {@link JobRequest}
 * every occurrence enqueues, and a {@link MisfirePolicy}. Immutable and thread-safe; register it with
 * {@link RecurringJobs.Builder#add(RecurringJob)}.
 *
 * <pre>{@code
 * RecurringJob nightly = RecurringJob.builder("billing.nightly-invoices", "30 2 * * *",
 *         JobRequest.builder("billing.invoices", Map.of("kind", "nightly")).noTenant().build())
 *     .zone(ZoneId.of("Europe/Paris"))
 *     .build();
 * }</pre>
 *
 * <p>Settings and their defaults:
 *
 * <ul>
 *   <li>{@code syntax}: {@link CronSyntax#UNIX} (five fields, minute precision).
 *   <li>{@code zone}: UTC. The expression is read as wall-clock time in this zone, DST included: a matching time
 *       occurs at the first instant the zone's clock shows it or a later time, so a time skipped by a DST gap runs
 *       once at the end of the gap, and a repeated time runs once, in the first pass (docs/jobs-cron.md).
 *   <li>{@code misfirePolicy}: {@link MisfirePolicy#FIRE_ONCE}.
 *   <li>{@code misfireThreshold}: one minute; an occurrence found later than this is missed.
 *   <li>{@code maxCatchUp}: 100, the most missed occurrences {@link MisfirePolicy#FIRE_ALL} enqueues in one pass.
 * </ul>
 *
 * <p>The template is the job of every occurrence. Its tenant is fixed when it is built (like every
 * {@link JobRequest}): name it ({@link JobRequest.Builder#tenant}) or make it a system job
 * ({@link JobRequest.Builder#noTenant()}), since a schedule is usually declared outside any request. It must not set a run time, a delay or a unique key: each occurrence's
 * job runs at the occurrence and has the unique key {@code cron:<name>:<occurrence>} (ISO-8601, UTC). For the
 * same schedule in many tenants, register one recurring job per tenant, named {@code <name>:<tenant>}.
 */
public final class RecurringJob {
  /** The longest name, in characters (the unique key of an occurrence must stay within 255). */
  public static final int MAX_NAME_LENGTH = 200;
  /** The misfire threshold used unless set. */
  public static final Duration DEFAULT_MISFIRE_THRESHOLD = Duration.ofMinutes(1);
  /** The catch-up limit of {@link MisfirePolicy#FIRE_ALL} used unless set. */
  public static final int DEFAULT_MAX_CATCH_UP = 100;

  private final String name;
  private final CronSchedule schedule;
  private final JobRequest template;
  private final MisfirePolicy misfirePolicy;
  private final Duration misfireThreshold;
  private final int maxCatchUp;

  private RecurringJob(Builder b, CronSchedule schedule) {
    this.name = b.name;
    this.schedule = schedule;
    this.template = b.template;
    this.misfirePolicy = b.misfirePolicy;
    this.misfireThreshold = b.misfireThreshold;
    this.maxCatchUp = b.maxCatchUp;
  }

  /**
   * A builder for the recurring job {@code name} enqueueing {@code template} on the schedule {@code cron}.
   *
   * @param name unique across all recurring jobs of the schema, 1 to {@value #MAX_NAME_LENGTH} characters, no
   *     control characters nor surrounding white space
   * @param cron the cron expression, checked by {@link Builder#build()} against the chosen {@link CronSyntax}
   * @throws IllegalArgumentException if the name or the template is not acceptable
   */
  public static Builder builder(String name, String cron, JobRequest template) {
    return new Builder(requireName(name), Objects.requireNonNull(cron, "cron"), requireTemplate(name, template));
  }

  /** A builder holding this recurring job's settings, for a variant. */
  public Builder toBuilder() {
    return new Builder(name, schedule.expression(), template)
        .syntax(schedule.syntax())
        .zone(schedule.zone())
        .misfirePolicy(misfirePolicy)
        .misfireThreshold(misfireThreshold)
        .maxCatchUp(maxCatchUp);
  }

  /** The unique name. */
  public String name() {
    return name;
  }

  /** The cron expression, with white space normalized to single spaces. */
  public String cron() {
    return schedule.expression();
  }

  /** The syntax of {@link #cron()}. */
  public CronSyntax syntax() {
    return schedule.syntax();
  }

  /** The time zone the expression is read in. */
  public ZoneId zone() {
    return schedule.zone();
  }

  /** The job every occurrence enqueues. */
  public JobRequest template() {
    return template;
  }

  /** The tenant of the occurrences' jobs, or empty for a system job. */
  public Optional<TenantId> tenant() {
    return template.tenant();
  }

  /** What happens to occurrences found later than the {@link #misfireThreshold()}. */
  public MisfirePolicy misfirePolicy() {
    return misfirePolicy;
  }

  /** How late an occurrence may be found and still count as on time. */
  public Duration misfireThreshold() {
    return misfireThreshold;
  }

  /** The most missed occurrences {@link MisfirePolicy#FIRE_ALL} enqueues in one pass. */
  public int maxCatchUp() {
    return maxCatchUp;
  }

  CronSchedule schedule() {
    return schedule;
  }

  @Override
  public String toString() {
    return "RecurringJob[" + name + ", " + schedule + ", " + misfirePolicy + ", " + template + "]";
  }

  private static String requireName(String name) {
    if (name == null) {
      throw new IllegalArgumentException("recurring job name must not be null");
    }
    if (name.isBlank() || name.length() > MAX_NAME_LENGTH) {
      throw new IllegalArgumentException("recurring job name must be 1 to " + MAX_NAME_LENGTH
          + " characters and not blank but was '" + name + "'");
    }
    if (!name.strip().equals(name)) {
      throw new IllegalArgumentException("recurring job name must not start or end with white space: '" + name + "'");
    }
    for (int i = 0; i < name.length(); i++) {
      if (Character.isISOControl(name.charAt(i))) {
        throw new IllegalArgumentException("recurring job name must not contain control characters (found U+"
            + String.format("%04X", (int) name.charAt(i)) + " at index " + i + ")");
      }
    }
    if (JsonTexts.unstorableText(name) != null) {
      // the driver sends '?' for it: "nightly" + U+D800 and "nightly?" would be one row of recurring_jobs
      throw new IllegalArgumentException("recurring job name must be valid Unicode but holds an unpaired surrogate");
    }
    return name;
  }

  private static JobRequest requireTemplate(String name, JobRequest template) {
    Objects.requireNonNull(template, "template");
    String prefix = "the template of recurring job '" + name + "' ";
    if (template.runAt().isPresent() || template.delay().isPresent()) {
      throw new IllegalArgumentException(prefix + "must not set runAt or delay: each job runs at its occurrence");
    }
    if (template.uniqueKey().isPresent()) {
      throw new IllegalArgumentException(prefix + "must not set a unique key: each occurrence's job gets"
          + " 'cron:<name>:<occurrence>'");
    }
    return template;
  }

  /** Builds a {@link RecurringJob}; every setter checks its value and names it when it is bad. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private final String cron;
    private final JobRequest template;
    private CronSyntax syntax = CronSyntax.UNIX;
    private ZoneId zone = ZoneOffset.UTC;
    private MisfirePolicy misfirePolicy = MisfirePolicy.FIRE_ONCE;
    private Duration misfireThreshold = DEFAULT_MISFIRE_THRESHOLD;
    private int maxCatchUp = DEFAULT_MAX_CATCH_UP;

    private Builder(String name, String cron, JobRequest template) {
      this.name = name;
      this.cron = cron;
      this.template = template;
    }

    /** The dialect of the expression; default {@link CronSyntax#UNIX}. */
    public Builder syntax(CronSyntax syntax) {
      this.syntax = Objects.requireNonNull(syntax, "syntax");
      return this;
    }

    /** The time zone the expression is read in; default UTC. */
    public Builder zone(ZoneId zone) {
      this.zone = Objects.requireNonNull(zone, "zone");
      return this;
    }

    /** What to do about missed occurrences; default {@link MisfirePolicy#FIRE_ONCE}. */
    public Builder misfirePolicy(MisfirePolicy misfirePolicy) {
      this.misfirePolicy = Objects.requireNonNull(misfirePolicy, "misfirePolicy");
      return this;
    }

    /**
     * How late an occurrence may be found and still be enqueued as on time, zero or more (millisecond
     * precision), at most 1000 years ({@link RetryPolicy#MAX_DELAY}); default one minute. Keep it above the
     * scheduler's tick interval and a GC pause or two.
     */
    public Builder misfireThreshold(Duration misfireThreshold) {
      Objects.requireNonNull(misfireThreshold, "misfireThreshold");
      if (misfireThreshold.isNegative()) {
        throw new IllegalArgumentException("misfireThreshold must not be negative but was " + misfireThreshold);
      }
      // bounded: a longer one was accepted here and then broke registration with an ArithmeticException (its
      // milliseconds overflow a long past 292 million years)
      if (misfireThreshold.compareTo(RetryPolicy.MAX_DELAY) > 0) {
        throw new IllegalArgumentException("misfireThreshold must be at most 1000 years (RetryPolicy.MAX_DELAY)"
            + " but was " + misfireThreshold);
      }
      this.misfireThreshold = misfireThreshold;
      return this;
    }

    /** The most missed occurrences {@link MisfirePolicy#FIRE_ALL} enqueues in one pass, at least 1; default 100. */
    public Builder maxCatchUp(int maxCatchUp) {
      if (maxCatchUp < 1) {
        throw new IllegalArgumentException("maxCatchUp must be >= 1 but was " + maxCatchUp);
      }
      this.maxCatchUp = maxCatchUp;
      return this;
    }

    /**
     * The recurring job.
     *
     * @throws IllegalArgumentException if the cron expression is not valid in the chosen syntax; the message
     *     names the expression and, where one field is at fault, that field
     */
    public RecurringJob build() {
      return new RecurringJob(this, CronSchedule.parse(syntax, cron, zone));
    }
  }
}
