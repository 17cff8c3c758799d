package dev.saaskit.auth;

import dev.saaskit.core.SaasException;
import java.util.Objects;

/** A membership change was refused; {@link #reason()} says why. Nothing was changed. */
public final class MembershipException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** Why a membership change was refused. */
  public enum Reason {
    /** {@link Memberships#add} for a user who already is a member (use {@link Memberships#changeRole}). */
    ALREADY_MEMBER,
    /** A change or removal of a user who is not a member. */
    NOT_A_MEMBER,
    /** The change would leave the tenant without a member holding the owner role. */
    LAST_OWNER
  }

  private final Reason reason;

  /** A refusal for {@code reason}, with a message for logs. */
  public MembershipException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** Why the change was refused. */
  public Reason reason() {
    return reason;
  }
}
