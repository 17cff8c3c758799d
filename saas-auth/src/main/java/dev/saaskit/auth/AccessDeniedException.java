package dev.saaskit.auth;

import dev.saaskit.core.SaasException;
import java.util.Objects;

/**
 * An authenticated principal may not do what it asked. {@link #reason()} says why (for logs and metrics); answer
 * the client with a plain 403 (or 404 where existence must not leak), not with the reason.
 */
public final class AccessDeniedException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** Why access was denied. */
  public enum Reason {
    /** None of the principal's roles, permissions or grants gives the permission. */
    NOT_PERMITTED,
    /** The request targets another tenant than the principal's. */
    TENANT_MISMATCH,
    /** The principal acts for no tenant. */
    NO_TENANT,
    /** The credential's permission version is older than the membership's: its roles were changed or removed. */
    STALE_PERMISSIONS,
    /** An unknown role or permission name (a typo in code, or a role removed from the model). */
    UNKNOWN_PERMISSION,
    /** The configured {@link PolicyDecisionPoint} said no, or failed (fail closed). */
    POLICY_DENIED
  }

  private final Reason reason;

  /** A denial for {@code reason}, with a message for logs. */
  public AccessDeniedException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** Why access was denied. */
  public Reason reason() {
    return reason;
  }
}
