package dev.saaskit.fleet;

import dev.saaskit.core.SaasException;

/** A failure of the fleet module: the message says what was wrong and what to do, and carries no secret. */
public class FleetException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** An exception with a message that says what was wrong. */
  public FleetException(String message) {
    super(message);
  }

  /** An exception with a message and its cause. */
  public FleetException(String message, Throwable cause) {
    super(message, cause);
  }
}
