package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A user's membership of a tenant: the user ({@code issuer}, {@code subject}), the role, and the permission version
 * that every role change or removal bumps (credentials carrying an older version are denied). Immutable.
 */
public final class Membership {
  private final TenantId tenant;
  private final String issuer;
  private final String subject;
  private final String role;
  private final long permissionVersion;
  private final Instant createdAt;
  private final Instant updatedAt;

  /** A membership; used by {@link Memberships} and {@link Invitations}, and by tests. */
  public Membership(TenantId tenant, String issuer, String subject, String role, long permissionVersion,
      Instant createdAt, Instant updatedAt) {
    this.tenant = Objects.requireNonNull(tenant, "tenant");
    this.issuer = Objects.requireNonNull(issuer, "issuer");
    this.subject = Objects.requireNonNull(subject, "subject");
    this.role = Objects.requireNonNull(role, "role");
    if (permissionVersion < 1) {
      throw new IllegalArgumentException("permissionVersion must be >= 1 but was " + permissionVersion);
    }
    this.permissionVersion = permissionVersion;
    this.createdAt = Objects.requireNonNull(createdAt, "createdAt");
    this.updatedAt = Objects.requireNonNull(updatedAt, "updatedAt");
  }

  /** The tenant. */
  public TenantId tenant() {
    return tenant;
  }

  /** The user's issuer. */
  public String issuer() {
    return issuer;
  }

  /** The user's subject at the issuer. */
  public String subject() {
    return subject;
  }

  /** {@link Principal#userKey(String, String)} of the user. */
  public String userKey() {
    return Principal.userKey(issuer, subject);
  }

  /** The user's role in the tenant. */
  public String role() {
    return role;
  }

  /** The current permission version (1 for a new membership; grows with every change, never reused). */
  public long permissionVersion() {
    return permissionVersion;
  }

  /** When the membership row was first created (a re-added user keeps the first date). */
  public Instant createdAt() {
    return createdAt;
  }

  /** When the role or version last changed. */
  public Instant updatedAt() {
    return updatedAt;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Membership m && tenant.equals(m.tenant) && issuer.equals(m.issuer)
        && subject.equals(m.subject) && role.equals(m.role) && permissionVersion == m.permissionVersion
        && createdAt.equals(m.createdAt) && updatedAt.equals(m.updatedAt);
  }

  @Override
  public int hashCode() {
    return Objects.hash(tenant, issuer, subject, role, permissionVersion);
  }

  @Override
  public String toString() {
    return "Membership[" + tenant.value() + ", " + issuer + " " + subject + ", role=" + role + ", version="
        + permissionVersion + "]";
  }
}
