package dev.saaskit.auth;

import dev.saaskit.core.SaasException;
import java.util.Objects;

/**
 * An invitation could not be created or accepted; {@link #reason()} says why. For {@link Reason#INVALID} the message
 * deliberately does not say whether the token was unknown, expired, already used or revoked.
 */
public final class InvitationException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** Why an invitation was refused. */
  public enum Reason {
    /** The token is unknown, malformed, expired, already accepted or revoked (which one is not told). */
    INVALID,
    /** At creation: the inviter is not a member of the tenant. */
    INVITER_NOT_MEMBER,
    /** At creation: the role is above the inviter's own (the inviter's role does not include it). */
    ROLE_ABOVE_INVITER,
    /**
     * At acceptance: the inviter no longer holds a role that includes the invited one (demoted or removed since);
     * the invitation stays pending and can be accepted if the inviter regains the role, or revoked.
     */
    INVITER_NO_LONGER_ALLOWED
  }

  private final Reason reason;

  /** A refusal for {@code reason}, with a message for logs (never containing the token). */
  public InvitationException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** Why the invitation was refused. */
  public Reason reason() {
    return reason;
  }
}
