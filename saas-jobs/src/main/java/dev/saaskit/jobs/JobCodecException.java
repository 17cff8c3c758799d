package dev.saaskit.jobs;

import dev.saaskit.core.SaasException;

/** A {@link JobCodec} could not write a value as JSON or read JSON as the wanted type; the message says which. */
public class JobCodecException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** An error with a message saying what could not be written or read, and why. */
  public JobCodecException(String message) {
    super(message);
  }

  /** An error with a message and the codec's own exception as the cause. */
  public JobCodecException(String message, Throwable cause) {
    super(message, cause);
  }
}
