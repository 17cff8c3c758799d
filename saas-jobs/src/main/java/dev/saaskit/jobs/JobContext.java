package dev.saaskit.jobs;

import dev.saaskit.core.TenantId;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link JobHandler} knows about the job it runs, and how it talks back: progress for status pollers,
 * and cooperative cancellation (the job's result is what the handler returns). Use it only from the handler's own call; it is thread-safe, so a
 * handler may also report progress from helper threads while it runs.
 */
public interface JobContext {

  /** The job's id. */
  JobId id();

  /** The job's tenant, or {@code null} for a system job; also the current {@link dev.saaskit.core.TenantContext}. */
  @Nullable
  TenantId tenant();

  /** The name of the job type the handler was registered for. */
  String type();

  /** The queue the job was claimed from. */
  String queue();

  /** This attempt's number, starting at 1. */
  int attempt();

  /** The number of attempts after which a failure makes the job dead. */
  int maxAttempts();

  /**
   * Reports progress. Calls are cheap: the latest value is written with the next progress flush (every
   * {@code progressInterval}, 1 s by default) and with the job's completion, not once per call.
   *
   * @param fraction from 0 to 1
   * @param message a short text for the UI, or {@code null}
   * @throws IllegalArgumentException if {@code fraction} is not within [0, 1]
   */
  void progress(double fraction, @Nullable String message);

  /**
   * True once someone asked to cancel this job (see {@code JobQueue.cancel}), or once this worker lost its lease
   * on the job (another worker may run it now). A long handler should check it between steps and return early:
   * after a cancellation request the job ends {@link JobState#CANCELLED} whether the handler returns or throws.
   * Requests reach a running job with the next heartbeat or progress flush.
   */
  boolean isCancellationRequested();
}
