package dev.saaskit.jobs;

import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of one job, as returned by {@link JobQueue#status(JobId)} (the current tenant's jobs only) and by
 * {@link JobAdmin} (every tenant). It holds no payload, so polling it stays cheap. Immutable and thread-safe.
 *
 * <p>{@link #lastError()} holds the message and (bounded) stack trace of the latest failed attempt; it is meant for
 * operators, so an application showing status to end users should decide what of it to show.
 *
 * <p>{@link #tenant()} is {@code null} for a job of no tenant, and also for a row whose {@code tenant_id} is not a
 * valid {@link TenantId} (one written around the library, by hand or before schema version 3 forbade the empty
 * string): {@link #invalidTenantId()} then holds the stored text, so operator views can show such a row instead of
 * failing. Such a job can never run in a tenant context; a worker ends it {@link JobState#DEAD}.
 *
 * <p><b>The result.</b> A status carries the {@link JobCodec} of the {@link SaasJobs} that read it, so
 * {@link #result(Class)} decodes the stored result the way the worker encoded it; {@link #resultJson()} gives the
 * JSON text itself. A status made with {@link #builder} decodes with {@link JobCodec#jackson()} unless given
 * another codec.
 *
 * <p>This is a class, not a record, so that fields can be added without breaking callers; make one (in tests)
 * with {@link #builder(JobId, String, String, JobState, Instant, Instant)}.
 */
public final class JobStatus {
  private final JobId id;
  private final @Nullable TenantId tenant;
  private final @Nullable String invalidTenantId;
  private final String queue;
  private final String type;
  private final JobState state;
  private final int priority;
  private final int attempts;
  private final int maxAttempts;
  private final @Nullable Duration timeout;
  private final @Nullable String uniqueKey;
  private final boolean cancelRequested;
  private final @Nullable Double progress;
  private final @Nullable String progressMessage;
  private final @Nullable String resultJson;
  private final @Nullable String lastError;
  private final Instant createdAt;
  private final Instant runAt;
  private final @Nullable Instant startedAt;
  private final @Nullable Instant finishedAt;
  private final JobCodec codec;

  private JobStatus(Builder b) {
    if (b.tenant != null && b.invalidTenantId != null) {
      throw new IllegalArgumentException("a job status has a valid tenant or an invalid tenant id, not both");
    }
    this.id = b.id;
    this.tenant = b.tenant;
    this.invalidTenantId = b.invalidTenantId;
    this.queue = b.queue;
    this.type = b.type;
    this.state = b.state;
    this.priority = b.priority;
    this.attempts = b.attempts;
    this.maxAttempts = b.maxAttempts;
    this.timeout = b.timeout;
    this.uniqueKey = b.uniqueKey;
    this.cancelRequested = b.cancelRequested;
    this.progress = b.progress;
    this.progressMessage = b.progressMessage;
    this.resultJson = b.resultJson;
    this.lastError = b.lastError;
    this.createdAt = b.createdAt;
    this.runAt = b.runAt;
    this.startedAt = b.startedAt;
    this.finishedAt = b.finishedAt;
    this.codec = b.codec;
  }

  /**
   * A builder for a status with the required values; every other value starts empty ({@code null}, 0 or false,
   * {@code maxAttempts} {@value JobRequest#DEFAULT_MAX_ATTEMPTS}).
   */
  public static Builder builder(JobId id, String queue, String type, JobState state, Instant createdAt,
      Instant runAt) {
    return new Builder(id, queue, type, state, createdAt, runAt);
  }

  /** The job's id. */
  public JobId id() {
    return id;
  }

  /** The job's tenant, or {@code null} for a job of no tenant (or with an invalid tenant id). */
  public @Nullable TenantId tenant() {
    return tenant;
  }

  /** The stored tenant id when it is not a valid {@link TenantId}, else {@code null}. */
  public @Nullable String invalidTenantId() {
    return invalidTenantId;
  }

  /** The queue name. */
  public String queue() {
    return queue;
  }

  /** The job type's name. */
  public String type() {
    return type;
  }

  /** Where the job is in its life. */
  public JobState state() {
    return state;
  }

  /** The priority; lower runs first. */
  public int priority() {
    return priority;
  }

  /**
   * Attempts started so far (0 while the first one has not started; a job claimed into a worker's prefetch has not
   * started until a handler thread is about to run it).
   */
  public int attempts() {
    return attempts;
  }

  /** The most attempts the job gets. */
  public int maxAttempts() {
    return maxAttempts;
  }

  /** The per-attempt time limit set at enqueue, or {@code null} for the worker's setting. */
  public @Nullable Duration timeout() {
    return timeout;
  }

  /** The unique key, or {@code null}. */
  public @Nullable String uniqueKey() {
    return uniqueKey;
  }

  /** True once cancellation was asked for (a running job stops cooperatively). */
  public boolean cancelRequested() {
    return cancelRequested;
  }

  /** The last reported progress, from 0 to 1, or {@code null} if none was reported. */
  public @Nullable Double progress() {
    return progress;
  }

  /** The message of the last progress report, or {@code null}. */
  public @Nullable String progressMessage() {
    return progressMessage;
  }

  /** The stored result as JSON text, or {@code null}; read it typed with {@link #result(Class)}. */
  public @Nullable String resultJson() {
    return resultJson;
  }

  /** The latest failure (message and bounded stack trace), or {@code null}. */
  public @Nullable String lastError() {
    return lastError;
  }

  /** When the job was enqueued (database clock). */
  public Instant createdAt() {
    return createdAt;
  }

  /** When the job is or was due. */
  public Instant runAt() {
    return runAt;
  }

  /** When the latest attempt was claimed, or {@code null}. */
  public @Nullable Instant startedAt() {
    return startedAt;
  }

  /** When the job completed, died or was cancelled, or {@code null}. */
  public @Nullable Instant finishedAt() {
    return finishedAt;
  }

  /** True for a job of no tenant (a system job): no tenant and no invalid tenant id either. */
  public boolean isSystemJob() {
    return tenant == null && invalidTenantId == null;
  }

  /** True if the job completed, died or was cancelled: it will not change by itself any more. */
  public boolean isFinished() {
    return state.isFinished();
  }

  /**
   * The result the handler returned, read as {@code type} with the {@link JobCodec} of the {@link SaasJobs} that
   * read this status (the codec the worker wrote it with, when both share one {@link SaasJobs} configuration), or
   * {@code null} if the job stored none.
   *
   * @throws JobCodecException if the stored JSON cannot be read as {@code type}
   */
  public <T> @Nullable T result(Class<T> type) {
    Objects.requireNonNull(type, "type");
    String json = resultJson;
    if (json == null) {
      return null;
    }
    try {
      return codec.decode(json, type);
    } catch (JobCodecException e) {
      throw new JobCodecException("the result of job " + id + " cannot be read as " + type.getName() + ": "
          + e.getMessage(), e);
    }
  }

  /** A builder holding this status's values and codec. */
  public Builder toBuilder() {
    Builder b = new Builder(id, queue, type, state, createdAt, runAt);
    b.tenant = tenant;
    b.invalidTenantId = invalidTenantId;
    b.priority = priority;
    b.attempts = attempts;
    b.maxAttempts = maxAttempts;
    b.timeout = timeout;
    b.uniqueKey = uniqueKey;
    b.cancelRequested = cancelRequested;
    b.progress = progress;
    b.progressMessage = progressMessage;
    b.resultJson = resultJson;
    b.lastError = lastError;
    b.startedAt = startedAt;
    b.finishedAt = finishedAt;
    b.codec = codec;
    return b;
  }

  /** Equal when every value is (the codec is not compared). */
  @Override
  public boolean equals(Object other) {
    return other instanceof JobStatus o && id.equals(o.id) && Objects.equals(tenant, o.tenant)
        && Objects.equals(invalidTenantId, o.invalidTenantId) && queue.equals(o.queue) && type.equals(o.type)
        && state == o.state && priority == o.priority && attempts == o.attempts && maxAttempts == o.maxAttempts
        && Objects.equals(timeout, o.timeout) && Objects.equals(uniqueKey, o.uniqueKey)
        && cancelRequested == o.cancelRequested && Objects.equals(progress, o.progress)
        && Objects.equals(progressMessage, o.progressMessage) && Objects.equals(resultJson, o.resultJson)
        && Objects.equals(lastError, o.lastError) && createdAt.equals(o.createdAt) && runAt.equals(o.runAt)
        && Objects.equals(startedAt, o.startedAt) && Objects.equals(finishedAt, o.finishedAt);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, tenant, invalidTenantId, queue, type, state, attempts, runAt, finishedAt);
  }

  @Override
  public String toString() {
    // no result or error text: they may hold personal data
    return "JobStatus[id=" + id + ", tenant=" + (tenant != null ? tenant : invalidTenantId != null
        ? "invalid" : "none") + ", queue=" + queue + ", type=" + type + ", state=" + state + ", attempts="
        + attempts + "/" + maxAttempts + "]";
  }

  /** Builds a {@link JobStatus}; for tests and for saaskit's own readers. Not thread-safe. */
  public static final class Builder {
    private final JobId id;
    private final String queue;
    private final String type;
    private final JobState state;
    private final Instant createdAt;
    private final Instant runAt;
    private @Nullable TenantId tenant;
    private @Nullable String invalidTenantId;
    private int priority;
    private int attempts;
    private int maxAttempts = JobRequest.DEFAULT_MAX_ATTEMPTS;
    private @Nullable Duration timeout;
    private @Nullable String uniqueKey;
    private boolean cancelRequested;
    private @Nullable Double progress;
    private @Nullable String progressMessage;
    private @Nullable String resultJson;
    private @Nullable String lastError;
    private @Nullable Instant startedAt;
    private @Nullable Instant finishedAt;
    private JobCodec codec = JobCodec.jackson();

    private Builder(JobId id, String queue, String type, JobState state, Instant createdAt, Instant runAt) {
      this.id = Objects.requireNonNull(id, "id");
      this.queue = Objects.requireNonNull(queue, "queue");
      this.type = Objects.requireNonNull(type, "type");
      this.state = Objects.requireNonNull(state, "state");
      this.createdAt = Objects.requireNonNull(createdAt, "createdAt");
      this.runAt = Objects.requireNonNull(runAt, "runAt");
    }

    /** The tenant; {@code null} for a system job. */
    public Builder tenant(@Nullable TenantId tenant) {
      this.tenant = tenant;
      return this;
    }

    /** The stored tenant id text when it is not a valid tenant id. */
    public Builder invalidTenantId(@Nullable String invalidTenantId) {
      this.invalidTenantId = invalidTenantId;
      return this;
    }

    /** The priority. */
    public Builder priority(int priority) {
      this.priority = priority;
      return this;
    }

    /** The attempts started so far and the most attempts the job gets. */
    public Builder attempts(int attempts, int maxAttempts) {
      this.attempts = attempts;
      this.maxAttempts = maxAttempts;
      return this;
    }

    /** The per-attempt time limit set at enqueue. */
    public Builder timeout(@Nullable Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /** The unique key. */
    public Builder uniqueKey(@Nullable String uniqueKey) {
      this.uniqueKey = uniqueKey;
      return this;
    }

    /** Whether cancellation was asked for. */
    public Builder cancelRequested(boolean cancelRequested) {
      this.cancelRequested = cancelRequested;
      return this;
    }

    /** The last progress report. */
    public Builder progress(@Nullable Double progress, @Nullable String progressMessage) {
      this.progress = progress;
      this.progressMessage = progressMessage;
      return this;
    }

    /** The stored result as JSON text. */
    public Builder resultJson(@Nullable String resultJson) {
      this.resultJson = resultJson;
      return this;
    }

    /** The latest failure. */
    public Builder lastError(@Nullable String lastError) {
      this.lastError = lastError;
      return this;
    }

    /** When the latest attempt was claimed and when the job finished. */
    public Builder startedAndFinished(@Nullable Instant startedAt, @Nullable Instant finishedAt) {
      this.startedAt = startedAt;
      this.finishedAt = finishedAt;
      return this;
    }

    /** The codec {@link JobStatus#result(Class)} decodes with; default {@link JobCodec#jackson()}. */
    public Builder codec(JobCodec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /**
     * The status.
     *
     * @throws IllegalArgumentException if both a tenant and an invalid tenant id are set
     */
    public JobStatus build() {
      return new JobStatus(this);
    }
  }
}
