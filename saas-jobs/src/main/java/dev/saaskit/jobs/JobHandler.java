package dev.saaskit.jobs;

import org.jspecify.annotations.Nullable;

/**
 * The code that runs one job type. A {@link JobWorker} calls it on one of its queue's threads, inside
 * {@link dev.saaskit.core.TenantContext} of the job's tenant (no tenant for a system job), so tenant-scoped data
 * access and caches behave as they do in a request.
 *
 * <p>Execution is at least once: a job whose worker died is run again after its lease expires, so a handler must
 * be idempotent (or use the job id as an idempotency key). Throwing fails the attempt, which is retried with
 * backoff until the job's attempts run out; throw {@link JobFailedPermanently} to stop retrying at once.
 *
 * <pre>{@code
 * JobHandler<Invoice> send = (invoice, ctx) -> {
 *   ctx.progress(0.5, "rendering");
 *   return mailer.send(invoice);   // the job's result, stored as JSON
 * };
 * }</pre>
 *
 * <p>The value the handler returns is the job's result: the only way to set one. It is written as JSON with the
 * {@link JobCodec} of the {@link SaasJobs} and read back with {@link JobStatus#result(Class)}.
 *
 * @param <P> the payload type, read from the job's JSON payload with the {@link JobCodec} (see {@link JobType})
 */
@FunctionalInterface
public interface JobHandler<P> {

  /**
   * Runs the job.
   *
   * @param payload the job's payload; {@code null} if the job was enqueued with a {@code null} payload (the JSON
   *     {@code null}), which {@link JobRequest#builder(JobType, Object)} allows
   * @param context the job's id, tenant and attempt, progress reporting and cancellation
   * @return a small value stored as the job's JSON result (see {@code maxResultBytes}), or {@code null} for none
   * @throws Exception to fail this attempt
   */
  @Nullable
  Object handle(P payload, JobContext context) throws Exception;
}
