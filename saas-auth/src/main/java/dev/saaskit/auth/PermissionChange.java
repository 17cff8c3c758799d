package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * One row of the append-only permission-change log: who changed whose membership, from what to what, when.
 *
 * @param id the row's id (grows with time within the database)
 * @param tenant the tenant
 * @param kind what happened
 * @param actor who did it (for an accepted invitation: the inviter, or the system)
 * @param issuer the member's issuer
 * @param subject the member's subject
 * @param beforeRole the role before, {@code null} when the user was not a member
 * @param beforeVersion the version before, {@code null} when the membership row did not exist
 * @param afterRole the role after, {@code null} after a removal
 * @param afterVersion the version after
 * @param invitationId the invitation accepted ({@link Kind#ACCEPT_INVITATION} only)
 * @param at when (the clock of the node that made the change)
 */
public record PermissionChange(long id, TenantId tenant, Kind kind, Actor actor, String issuer, String subject,
    @Nullable String beforeRole, @Nullable Long beforeVersion, @Nullable String afterRole, long afterVersion,
    @Nullable UUID invitationId, Instant at) {

  /** What happened to the membership. */
  public enum Kind {
    /** {@link Memberships#add}. */
    ADD,
    /** {@link Memberships#changeRole}. */
    CHANGE_ROLE,
    /** {@link Memberships#remove}. */
    REMOVE,
    /** {@link Invitations#accept}. */
    ACCEPT_INVITATION
  }

  /** Checks the required parts. */
  public PermissionChange {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(actor, "actor");
    Objects.requireNonNull(issuer, "issuer");
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(at, "at");
  }
}
