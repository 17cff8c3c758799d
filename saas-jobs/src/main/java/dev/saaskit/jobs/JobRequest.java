package dev.saaskit.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.internal.JsonTexts;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What to run: a job type, its payload and the options of one job. Immutable and thread-safe; build one with
 * {@link #builder(JobType, Object)} and hand it to {@link JobQueue#enqueue(JobRequest)}. A request can be enqueued
 * any number of times (each time is a new job, unless it has a {@linkplain Builder#uniqueKey(String) unique key}).
 *
 * <pre>{@code
 * static final JobType<ExportReport> EXPORT = JobType.of("report.export", ExportReport.class);
 *
 * JobRequest request = JobRequest.builder(EXPORT, new ExportReport(reportId, "csv"))
 *     .queue("reports")
 *     .maxAttempts(5)
 *     .timeout(Duration.ofMinutes(10))
 *     .uniqueKey("export:" + reportId)
 *     .build();
 * JobId id = queue.enqueue(request);
 * }</pre>
 *
 * <p>Options and their defaults:
 *
 * <ul>
 *   <li>{@code queue}: {@value #DEFAULT_QUEUE}. Queue and type names are 1 to {@value #MAX_NAME_LENGTH}
 *       characters of {@code A-Z a-z 0-9 _ . : -}.
 *   <li>{@code priority}: {@value #DEFAULT_PRIORITY}; lower runs first, from -32768 to 32767.
 *   <li>{@code runAt} / {@code delay}: none, the job is due at once (the database's {@code now()} at enqueue).
 *       A delay is added to the queue's clock at enqueue time. The later call of the two wins.
 *   <li>{@code maxAttempts}: {@value #DEFAULT_MAX_ATTEMPTS}, at least 1; after the last failed attempt the job is
 *       dead.
 *   <li>{@code timeout}: none, the worker's setting for the job type applies; at least 1 ms.
 *   <li>{@code uniqueKey}: none. While a job of the same tenant with the same key is pending or running, enqueue
 *       returns that job's id instead of creating a new one. 1 to {@value #MAX_UNIQUE_KEY_LENGTH} characters.
 *   <li>tenant: the tenant of {@link TenantContext} when {@link Builder#build()} runs, unless set with
 *       {@link Builder#tenant} or {@link Builder#noTenant()}; building with none of the three throws
 *       {@link MissingTenantException}. {@link #tenant()} is the one place to read it: empty means a job of no
 *       tenant (a system job).
 * </ul>
 *
 * <p>The payload is turned into JSON by the {@link JobCodec} of the {@link SaasJobs} whose queue enqueues it, so
 * with the default codec it must be a value Jackson can write (a record, a bean, a {@code Map}); a {@code String}
 * payload becomes a JSON string. Use {@link Builder#payloadJson(String)} to pass JSON text as it is.
 */
public final class JobRequest {
  /** The queue used unless set. */
  public static final String DEFAULT_QUEUE = "default";
  /** The priority used unless set. */
  public static final int DEFAULT_PRIORITY = 0;
  /** The attempt limit used unless set. */
  public static final int DEFAULT_MAX_ATTEMPTS = 20;
  /** The longest queue or type name, in characters. */
  public static final int MAX_NAME_LENGTH = 100;
  /** The first instant {@link Builder#runAt(Instant)} refuses: the year 10000. */
  static final Instant LATEST_RUN_AT = Instant.parse("+10000-01-01T00:00:00Z");
  /**
   * The earliest run time written: an earlier one means "at once" just as well, and before the year 1 neither the
   * JDBC driver (a DateTimeException for Instant.MIN) nor the ISO text of a batch insert (a database error) could
   * carry it.
   */
  static final Instant EARLIEST_RUN_AT = Instant.parse("0001-01-01T00:00:00Z");
  /** The longest unique key, in characters. */
  public static final int MAX_UNIQUE_KEY_LENGTH = 255;

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.:\\-]+");
  /** Only parses JSON text given to {@link Builder#payloadJson(String)}; never writes payloads. */
  private static final ObjectMapper JSON_CHECKER =
      JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

  private final String type;
  private final @Nullable Object payload;
  private final @Nullable String payloadJson;
  private final String queue;
  private final int priority;
  private final @Nullable Instant runAt;
  private final @Nullable Duration delay;
  private final int maxAttempts;
  private final @Nullable Duration timeout;
  private final @Nullable String uniqueKey;
  private final @Nullable TenantId tenant;

  private JobRequest(Builder b, @Nullable TenantId tenant) {
    this.type = b.type;
    this.payload = b.payload;
    this.payloadJson = b.payloadJson;
    this.queue = b.queue;
    this.priority = b.priority;
    this.runAt = b.runAt;
    this.delay = b.delay;
    this.maxAttempts = b.maxAttempts;
    this.timeout = b.timeout;
    this.uniqueKey = b.uniqueKey;
    this.tenant = tenant;
  }

  /**
   * A builder for a job of {@code type} with {@code payload} (written as JSON by the {@link JobCodec}; {@code null}
   * is the JSON {@code null}). The worker's handler for the same {@link JobType} reads it back as {@code P}.
   */
  public static <P> Builder builder(JobType<P> type, @Nullable P payload) {
    return new Builder(Objects.requireNonNull(type, "type").name(), payload);
  }

  /**
   * A builder for a job of the type named {@code type}, for code that has no {@link JobType} at hand (tools that
   * enqueue by name, payloads given as JSON text with {@link Builder#payloadJson(String)}). Prefer
   * {@link #builder(JobType, Object)}: it ties the payload class to the handler's.
   *
   * @throws IllegalArgumentException if {@code type} is not a valid name
   */
  public static Builder builder(String type, @Nullable Object payload) {
    return new Builder(requireName("type", type), payload);
  }

  /** A builder holding this request's settings, for a variant. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** The job type, which selects the worker's handler. */
  public String type() {
    return type;
  }

  /** The payload object, or empty if the payload was given as JSON text or is {@code null}. */
  public Optional<Object> payload() {
    return Optional.ofNullable(payload);
  }

  /** The payload JSON text given to {@link Builder#payloadJson(String)}, or empty. */
  public Optional<String> payloadJson() {
    return Optional.ofNullable(payloadJson);
  }

  /** The queue name. */
  public String queue() {
    return queue;
  }

  /** The priority; lower runs first. */
  public int priority() {
    return priority;
  }

  /** The absolute run time, if set (and not replaced by a later {@link Builder#delay(Duration)}). */
  public Optional<Instant> runAt() {
    return Optional.ofNullable(runAt);
  }

  /** The delay from enqueue time, if set (and not replaced by a later {@link Builder#runAt(Instant)}). */
  public Optional<Duration> delay() {
    return Optional.ofNullable(delay);
  }

  /** The most attempts the job gets before it is dead. */
  public int maxAttempts() {
    return maxAttempts;
  }

  /** The run time limit of one attempt, if set; otherwise the worker's setting applies. */
  public Optional<Duration> timeout() {
    return Optional.ofNullable(timeout);
  }

  /** The unique key, if set. */
  public Optional<String> uniqueKey() {
    return Optional.ofNullable(uniqueKey);
  }

  /**
   * The job's tenant: the one set with {@link Builder#tenant(TenantId)}, else the {@link TenantContext} tenant
   * current when the request was built; empty for a job of no tenant ({@link Builder#noTenant()}, a system job).
   */
  public Optional<TenantId> tenant() {
    return Optional.ofNullable(tenant);
  }

  @Override
  public String toString() {
    // the payload may hold personal data: never printed
    return "JobRequest[type=" + type + ", queue=" + queue + ", priority=" + priority
        + (runAt != null ? ", runAt=" + runAt : "") + (delay != null ? ", delay=" + delay : "")
        + ", maxAttempts=" + maxAttempts + (timeout != null ? ", timeout=" + timeout : "")
        + (uniqueKey != null ? ", uniqueKey=" + uniqueKey : "")
        + (tenant != null ? ", tenant=" + tenant : ", noTenant") + "]";
  }

  static String requireName(String what, @Nullable String name) {
    if (name == null) {
      throw new IllegalArgumentException(what + " must not be null");
    }
    if (name.isEmpty() || name.length() > MAX_NAME_LENGTH || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(what + " must be 1 to " + MAX_NAME_LENGTH
          + " characters of A-Z a-z 0-9 _ . : - but was '" + name + "'");
    }
    return name;
  }

  /** Builds a {@link JobRequest}; every setter checks its value and names it when it is bad. Not thread-safe. */
  public static final class Builder {
    private final String type;
    private @Nullable Object payload;
    private @Nullable String payloadJson;
    private String queue = DEFAULT_QUEUE;
    private int priority = DEFAULT_PRIORITY;
    private @Nullable Instant runAt;
    private @Nullable Duration delay;
    private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
    private @Nullable Duration timeout;
    private @Nullable String uniqueKey;
    private @Nullable TenantId tenant;
    private boolean noTenant;

    private Builder(String type, @Nullable Object payload) {
      this.type = type;
      this.payload = payload;
    }

    private Builder(JobRequest r) {
      this.type = r.type;
      this.payload = r.payload;
      this.payloadJson = r.payloadJson;
      this.queue = r.queue;
      this.priority = r.priority;
      this.runAt = r.runAt;
      this.delay = r.delay;
      this.maxAttempts = r.maxAttempts;
      this.timeout = r.timeout;
      this.uniqueKey = r.uniqueKey;
      this.tenant = r.tenant;
      this.noTenant = r.tenant == null;
    }

    /** Replaces the payload with an object to be written as JSON by the {@link JobCodec}. */
    public Builder payload(@Nullable Object payload) {
      this.payload = payload;
      this.payloadJson = null;
      return this;
    }

    /**
     * Replaces the payload with JSON text, stored as it is (in the job row's JSONB column).
     *
     * @throws IllegalArgumentException if {@code json} is not one well-formed JSON value, or one that PostgreSQL
     *     jsonb cannot store as it is (an escaped NUL {@code \}{@code u0000}, an unpaired surrogate)
     */
    public Builder payloadJson(String json) {
      Objects.requireNonNull(json, "json");
      if (json.isBlank()) {
        throw new IllegalArgumentException("payloadJson must be well-formed JSON but was blank");
      }
      try {
        JSON_CHECKER.readTree(json);
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException("payloadJson must be well-formed JSON: "
            + e.getOriginalMessage(), e);
      }
      // well-formed for Jackson is not enough: jsonb refuses some escapes, and the driver alters lone surrogates
      String unstorable = JsonTexts.unstorable(json);
      if (unstorable != null) {
        throw new IllegalArgumentException("payloadJson cannot be stored: " + unstorable);
      }
      this.payloadJson = json;
      this.payload = null;
      return this;
    }

    /** The queue; default {@value JobRequest#DEFAULT_QUEUE}. */
    public Builder queue(String queue) {
      this.queue = requireName("queue", queue);
      return this;
    }

    /** The priority, lower runs first, from -32768 to 32767; default {@value JobRequest#DEFAULT_PRIORITY}. */
    public Builder priority(int priority) {
      if (priority < Short.MIN_VALUE || priority > Short.MAX_VALUE) {
        throw new IllegalArgumentException("priority must be between " + Short.MIN_VALUE + " and "
            + Short.MAX_VALUE + " but was " + priority);
      }
      this.priority = priority;
      return this;
    }

    /**
     * Runs the job no earlier than {@code runAt} (a past instant, however far back, means at once); replaces a
     * delay.
     *
     * @throws IllegalArgumentException if {@code runAt} is in the year 10000 or later
     */
    public Builder runAt(Instant runAt) {
      Objects.requireNonNull(runAt, "runAt");
      // PostgreSQL's timestamptz and the ISO text the batch insert sends stop there; later instants failed at
      // enqueue time as a database error, or (Instant.MAX) a DateTimeException
      if (!runAt.isBefore(LATEST_RUN_AT)) {
        throw new IllegalArgumentException("runAt must be before the year 10000 but was " + runAt);
      }
      this.runAt = runAt;
      this.delay = null;
      return this;
    }

    /**
     * Runs the job no earlier than {@code delay} after enqueue (by the queue's clock), 0 to 1000 years; replaces a run
     * time.
     */
    public Builder delay(Duration delay) {
      Objects.requireNonNull(delay, "delay");
      if (delay.isNegative() || delay.compareTo(RetryPolicy.MAX_DELAY) > 0) {
        throw new IllegalArgumentException("delay must be 0 to 1000 years (RetryPolicy.MAX_DELAY) but was " + delay);
      }
      this.delay = delay;
      this.runAt = null;
      return this;
    }

    /** The most attempts, at least 1; default {@value JobRequest#DEFAULT_MAX_ATTEMPTS}. */
    public Builder maxAttempts(int maxAttempts) {
      if (maxAttempts < 1) {
        throw new IllegalArgumentException("maxAttempts must be >= 1 but was " + maxAttempts);
      }
      this.maxAttempts = maxAttempts;
      return this;
    }

    /** The run time limit of one attempt, 1 ms to 1000 years; default none (the worker's setting for the type). */
    public Builder timeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      // compared, not converted: toNanos() of a duration past 292 years throws ArithmeticException
      if (timeout.compareTo(Duration.ofMillis(1)) < 0 || timeout.compareTo(RetryPolicy.MAX_DELAY) > 0) {
        throw new IllegalArgumentException("timeout must be 1 ms to 1000 years but was " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    /**
     * The unique key, 1 to {@value JobRequest#MAX_UNIQUE_KEY_LENGTH} characters: while a job of the same tenant
     * with this key is pending or running, enqueue returns its id instead of creating a job.
     */
    public Builder uniqueKey(String uniqueKey) {
      Objects.requireNonNull(uniqueKey, "uniqueKey");
      if (uniqueKey.isEmpty() || uniqueKey.length() > MAX_UNIQUE_KEY_LENGTH) {
        throw new IllegalArgumentException("uniqueKey must be 1 to " + MAX_UNIQUE_KEY_LENGTH
            + " characters but had " + uniqueKey.length());
      }
      if (uniqueKey.indexOf('\0') >= 0) {
        throw new IllegalArgumentException("uniqueKey must not contain a NUL character");
      }
      if (JsonTexts.unstorableText(uniqueKey) != null) {
        // the driver would send '?' in its place: "k" + U+D800 and "k?" would then be one key
        throw new IllegalArgumentException("uniqueKey must be valid Unicode but holds an unpaired surrogate");
      }
      this.uniqueKey = uniqueKey;
      return this;
    }

    /** The job's tenant, instead of the current {@link TenantContext} one; replaces {@link #noTenant()}. */
    public Builder tenant(TenantId tenant) {
      this.tenant = Objects.requireNonNull(tenant, "tenant");
      this.noTenant = false;
      return this;
    }

    /**
     * Makes this a job of no tenant (system work): its handler runs without a tenant. The application role's
     * policy admits only rows of its current tenant, so such jobs can only be enqueued through a connection of a
     * role granted {@link JobsSchema#grantWorker}. Replaces {@link #tenant(TenantId)}.
     */
    public Builder noTenant() {
      this.noTenant = true;
      this.tenant = null;
      return this;
    }

    /**
     * The request, with its tenant fixed: the one set with {@link #tenant(TenantId)}, none after
     * {@link #noTenant()}, else the current {@link TenantContext} tenant.
     *
     * @throws MissingTenantException if no tenant was set, none is current and {@link #noTenant()} was not called
     */
    public JobRequest build() {
      TenantId resolved = tenant;
      if (resolved == null && !noTenant) {
        resolved = TenantContext.current().orElseThrow(() -> new MissingTenantException(
            "cannot build a request for job type '" + type + "': no tenant is set. Build it inside"
                + " TenantContext.run(tenantId, ...), or call .tenant(tenantId), or .noTenant() for a system job"
                + " (which needs the worker role)."));
      }
      return new JobRequest(this, resolved);
    }
  }
}
