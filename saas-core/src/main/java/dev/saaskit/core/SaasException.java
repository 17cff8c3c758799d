package dev.saaskit.core;

/**
 * Root of every exception saaskit throws on purpose. Catch this to handle any saaskit failure in one place;
 * subclasses say precisely what went wrong. Messages say what was wrong and what to do, and never carry secrets.
 */
public class SaasException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** An exception with a message that says what was wrong and how to fix it. */
  public SaasException(String message) {
    super(message);
  }

  /** An exception with a message and the failure that caused it. */
  public SaasException(String message, Throwable cause) {
    super(message, cause);
  }
}
