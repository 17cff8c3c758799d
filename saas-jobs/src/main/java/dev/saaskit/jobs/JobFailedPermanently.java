package dev.saaskit.jobs;

import dev.saaskit.core.SaasException;

/**
 * Thrown by a {@link JobHandler} to say that retrying cannot help (bad input, a resource that no longer exists):
 * the job becomes {@link JobState#DEAD} at once, with this exception recorded as its last error, whatever attempts
 * it has left. It stays available for inspection and manual retry.
 */
public class JobFailedPermanently extends SaasException {
  private static final long serialVersionUID = 1L;

  /** A permanent failure with a message that says why the job cannot succeed. */
  public JobFailedPermanently(String message) {
    super(message);
  }

  /** A permanent failure with a message and its cause. */
  public JobFailedPermanently(String message, Throwable cause) {
    super(message, cause);
  }
}
