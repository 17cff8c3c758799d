package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * One row of the append-only permission-change log: who changed whose membership, from what to what, when.
 *
 * <p>A final class with accessors rather than a record, so that a column added to the log later is a new accessor,
 * not a broken constructor (see docs/architecture.md, "Values"). Made with {@link #builder}; immutable.
 */
public final class PermissionChange {

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

  private final long id;
  private final TenantId tenant;
  private final Kind kind;
  private final Actor actor;
  private final String issuer;
  private final String subject;
  private final @Nullable String beforeRole;
  private final @Nullable Long beforeVersion;
  private final @Nullable String afterRole;
  private final long afterVersion;
  private final @Nullable UUID invitationId;
  private final Instant at;

  private PermissionChange(Builder b) {
    this.id = b.id;
    this.tenant = b.tenant;
    this.kind = b.kind;
    this.actor = b.actor;
    this.issuer = b.issuer;
    this.subject = b.subject;
    this.beforeRole = b.beforeRole;
    this.beforeVersion = b.beforeVersion;
    this.afterRole = b.afterRole;
    this.afterVersion = b.afterVersion;
    this.invitationId = b.invitationId;
    this.at = b.at;
  }

  /**
   * A builder with the parts every row has; the before/after roles, the version before and the invitation are
   * {@code null} unless set.
   *
   * @param id the row's id
   * @param tenant the tenant
   * @param kind what happened
   * @param actor who did it
   * @param issuer the member's issuer
   * @param subject the member's subject
   * @param afterVersion the membership's version after the change
   * @param at when
   */
  public static Builder builder(long id, TenantId tenant, Kind kind, Actor actor, String issuer, String subject,
      long afterVersion, Instant at) {
    return new Builder(id, tenant, kind, actor, issuer, subject, afterVersion, at);
  }

  /** A builder holding this row's values, to make a variant. */
  public Builder toBuilder() {
    return new Builder(id, tenant, kind, actor, issuer, subject, afterVersion, at).beforeRole(beforeRole)
        .beforeVersion(beforeVersion).afterRole(afterRole).invitationId(invitationId);
  }

  /** The row's id (grows with time within the database). */
  public long id() {
    return id;
  }

  /** The tenant. */
  public TenantId tenant() {
    return tenant;
  }

  /** What happened. */
  public Kind kind() {
    return kind;
  }

  /** Who did it (for an accepted invitation: the inviter, or the system). */
  public Actor actor() {
    return actor;
  }

  /** The member's issuer. */
  public String issuer() {
    return issuer;
  }

  /** The member's subject. */
  public String subject() {
    return subject;
  }

  /** The role before, {@code null} when the user was not a member. */
  public @Nullable String beforeRole() {
    return beforeRole;
  }

  /** The version before, {@code null} when the membership row did not exist. */
  public @Nullable Long beforeVersion() {
    return beforeVersion;
  }

  /** The role after, {@code null} after a removal. */
  public @Nullable String afterRole() {
    return afterRole;
  }

  /** The version after. */
  public long afterVersion() {
    return afterVersion;
  }

  /** The invitation accepted ({@link Kind#ACCEPT_INVITATION} only), else {@code null}. */
  public @Nullable UUID invitationId() {
    return invitationId;
  }

  /** When (the clock of the node that made the change). */
  public Instant at() {
    return at;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof PermissionChange)) {
      return false;
    }
    PermissionChange p = (PermissionChange) o;
    return id == p.id && afterVersion == p.afterVersion && tenant.equals(p.tenant) && kind == p.kind
        && actor.equals(p.actor) && issuer.equals(p.issuer) && subject.equals(p.subject)
        && Objects.equals(beforeRole, p.beforeRole) && Objects.equals(beforeVersion, p.beforeVersion)
        && Objects.equals(afterRole, p.afterRole) && Objects.equals(invitationId, p.invitationId) && at.equals(p.at);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, tenant, kind, issuer, subject, afterVersion, at);
  }

  @Override
  public String toString() {
    return "PermissionChange[id=" + id + ", tenant=" + tenant.value() + ", kind=" + kind + ", actor=" + actor
        + ", member=" + subject + " @ " + issuer + ", " + beforeRole + " v" + beforeVersion + " -> " + afterRole
        + " v" + afterVersion + (invitationId == null ? "" : ", invitation=" + invitationId) + ", at=" + at + "]";
  }

  /** Builds a {@link PermissionChange}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final long id;
    private final TenantId tenant;
    private final Kind kind;
    private final Actor actor;
    private final String issuer;
    private final String subject;
    private final long afterVersion;
    private final Instant at;
    private @Nullable String beforeRole;
    private @Nullable Long beforeVersion;
    private @Nullable String afterRole;
    private @Nullable UUID invitationId;

    private Builder(long id, TenantId tenant, Kind kind, Actor actor, String issuer, String subject,
        long afterVersion, Instant at) {
      this.id = id;
      this.tenant = Objects.requireNonNull(tenant, "tenant");
      this.kind = Objects.requireNonNull(kind, "kind");
      this.actor = Objects.requireNonNull(actor, "actor");
      this.issuer = Objects.requireNonNull(issuer, "issuer");
      this.subject = Objects.requireNonNull(subject, "subject");
      this.afterVersion = afterVersion;
      this.at = Objects.requireNonNull(at, "at");
    }

    /** The role before; {@code null} (default) when the user was not a member. */
    public Builder beforeRole(@Nullable String role) {
      this.beforeRole = role;
      return this;
    }

    /** The version before; {@code null} (default) when the membership row did not exist. */
    public Builder beforeVersion(@Nullable Long version) {
      this.beforeVersion = version;
      return this;
    }

    /** The role after; {@code null} (default) after a removal. */
    public Builder afterRole(@Nullable String role) {
      this.afterRole = role;
      return this;
    }

    /** The invitation accepted; {@code null} (default) unless the change accepted one. */
    public Builder invitationId(@Nullable UUID invitationId) {
      this.invitationId = invitationId;
      return this;
    }

    /** The row. */
    public PermissionChange build() {
      return new PermissionChange(this);
    }
  }
}
