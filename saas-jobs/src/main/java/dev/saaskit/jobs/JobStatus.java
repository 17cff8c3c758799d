package dev.saaskit.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of one job, as returned by {@link JobQueue#status(JobId)} (the current tenant's jobs only) and by
 * {@link JobAdmin} (every tenant). It holds no payload, so polling it stays cheap.
 *
 * <p>{@code lastError} holds the message and (bounded) stack trace of the latest failed attempt; it is meant for
 * operators, so an application showing status to end users should decide what of it to show.
 *
 * <p>{@code tenant} is {@code null} for a job of no tenant, and also for a row whose {@code tenant_id} is not a valid
 * {@link TenantId} (one written around the library, by hand or before schema version 3 forbade the empty string):
 * {@code invalidTenantId} then holds the stored text, so operator views can show such a row instead of failing.
 * Such a job can never run in a tenant context; a worker ends it {@link JobState#DEAD}.
 *
 * @param id the job's id
 * @param tenant the job's tenant, or {@code null} for a job of no tenant (or with an invalid tenant id)
 * @param invalidTenantId the stored tenant id when it is not a valid {@link TenantId}, else {@code null}
 * @param queue the queue name
 * @param type the job type
 * @param state where the job is in its life
 * @param priority lower runs first
 * @param attempts attempts started so far (0 while the first one has not started; a job claimed into a worker's
 *     prefetch has not started until a handler thread is about to run it)
 * @param maxAttempts the most attempts the job gets
 * @param timeout the per-attempt time limit set at enqueue, or {@code null} for the worker's setting
 * @param uniqueKey the unique key, or {@code null}
 * @param cancelRequested true once cancellation was asked for (a running job stops cooperatively)
 * @param progress the last reported progress, from 0 to 1, or {@code null} if none was reported
 * @param progressMessage the message of the last progress report, or {@code null}
 * @param resultJson the stored result as JSON text, or {@code null}; read it typed with {@link #result(Class)}
 * @param lastError the latest failure (message and bounded stack trace), or {@code null}
 * @param createdAt when the job was enqueued (database clock)
 * @param runAt when the job is or was due
 * @param startedAt when the latest attempt was claimed, or {@code null}
 * @param finishedAt when the job completed, died or was cancelled, or {@code null}
 */
public record JobStatus(
    JobId id,
    @Nullable TenantId tenant,
    @Nullable String invalidTenantId,
    String queue,
    String type,
    JobState state,
    int priority,
    int attempts,
    int maxAttempts,
    @Nullable Duration timeout,
    @Nullable String uniqueKey,
    boolean cancelRequested,
    @Nullable Double progress,
    @Nullable String progressMessage,
    @Nullable String resultJson,
    @Nullable String lastError,
    Instant createdAt,
    Instant runAt,
    @Nullable Instant startedAt,
    @Nullable Instant finishedAt) {

  private static final ObjectMapper DEFAULT_MAPPER = JsonMapper.builder().findAndAddModules().build();

  /** Checks the required components. */
  public JobStatus {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(runAt, "runAt");
    if (tenant != null && invalidTenantId != null) {
      throw new IllegalArgumentException("a job status has a valid tenant or an invalid tenant id, not both");
    }
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
   * The result read as {@code type} with a default {@code ObjectMapper} (plain Jackson plus the modules found on
   * the class path), or {@code null} if the job stored none. Use {@link #result(ObjectMapper, Class)} when the
   * result needs the mapper the worker wrote it with.
   *
   * @throws SaasException if the stored JSON cannot be read as {@code type}
   */
  public <T> @Nullable T result(Class<T> type) {
    return result(DEFAULT_MAPPER, type);
  }

  /**
   * The result read as {@code type} with {@code mapper}, or {@code null} if the job stored none.
   *
   * @throws SaasException if the stored JSON cannot be read as {@code type}
   */
  public <T> @Nullable T result(ObjectMapper mapper, Class<T> type) {
    Objects.requireNonNull(mapper, "mapper");
    Objects.requireNonNull(type, "type");
    String json = resultJson;
    if (json == null) {
      return null;
    }
    try {
      return mapper.readValue(json, type);
    } catch (JsonProcessingException e) {
      throw new SaasException("the result of job " + id + " cannot be read as " + type.getName() + ": "
          + e.getOriginalMessage(), e);
    }
  }
}
