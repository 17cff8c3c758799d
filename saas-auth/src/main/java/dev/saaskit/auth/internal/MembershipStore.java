package dev.saaskit.auth.internal;

import dev.saaskit.auth.Actor;
import dev.saaskit.auth.MembershipException;
import dev.saaskit.auth.PermissionChange;
import dev.saaskit.auth.PermissionVersions;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * The SQL of memberships, shared by {@code Memberships} and {@code Invitations}. Every method runs on a connection
 * in a transaction whose tenant setting is set (see {@link Tx}); the caller commits.
 */
public final class MembershipStore {
  private final String users;
  private final String memberships;
  private final String changes;

  /** The store of schema {@code quotedSchema} (already quoted). */
  public MembershipStore(String quotedSchema) {
    this.users = quotedSchema + ".users";
    this.memberships = quotedSchema + ".memberships";
    this.changes = quotedSchema + ".permission_changes";
  }

  /** A membership row, locked by the transaction. {@code role} is null for a removed (or never active) one. */
  public record Row(long userId, @Nullable String role, long version, Instant createdAt, Instant updatedAt) {}

  /** The id of user ({@code issuer}, {@code subject}), created if new; updates the email when one is given. */
  public long upsertUser(Connection c, String issuer, String subject, @Nullable String email, Instant now)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + users
        + " AS u (issuer, subject, email, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (issuer, subject) DO UPDATE"
        + " SET email = coalesce(EXCLUDED.email, u.email) RETURNING u.id")) {
      ps.setString(1, issuer);
      ps.setString(2, subject);
      ps.setString(3, email);
      ps.setTimestamp(4, Timestamp.from(now));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /** The id of user ({@code issuer}, {@code subject}), or null if unknown. */
  public @Nullable Long userId(Connection c, String issuer, String subject) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT id FROM " + users + " WHERE issuer = ? AND subject = ?")) {
      ps.setString(1, issuer);
      ps.setString(2, subject);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : null;
      }
    }
  }

  /** The membership row of {@code userId}, locked {@code FOR UPDATE}; null if there is none. */
  public @Nullable Row lock(Connection c, TenantId tenant, long userId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT role, permission_version, created_at, updated_at FROM " + memberships
        + " WHERE tenant_id = ? AND user_id = ? FOR UPDATE")) {
      ps.setString(1, tenant.value());
      ps.setLong(2, userId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? new Row(userId, rs.getString(1), rs.getLong(2), rs.getTimestamp(3).toInstant(),
            rs.getTimestamp(4).toInstant()) : null;
      }
    }
  }

  /**
   * Locks the membership rows of users {@code a} and {@code b} (those that exist; {@code a} may equal {@code b}) in
   * user-id order, so two transactions that each lock the same two rows cannot deadlock (as {@link #lockOwners}).
   */
  public void lockInOrder(Connection c, TenantId tenant, long a, long b) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT user_id FROM " + memberships
        + " WHERE tenant_id = ? AND user_id IN (?, ?) ORDER BY user_id FOR UPDATE")) {
      ps.setString(1, tenant.value());
      ps.setLong(2, a);
      ps.setLong(3, b);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          // locked as read
        }
      }
    }
  }

  /** The membership row of {@code userId}, created as "not a member, version 0" if missing, locked. */
  public Row lockOrCreate(Connection c, TenantId tenant, long userId, Instant now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + memberships
        + " (tenant_id, user_id, role, permission_version, created_at, updated_at) VALUES (?, ?, NULL, 0, ?, ?)"
        + " ON CONFLICT (tenant_id, user_id) DO NOTHING")) {
      ps.setString(1, tenant.value());
      ps.setLong(2, userId);
      ps.setTimestamp(3, Timestamp.from(now));
      ps.setTimestamp(4, Timestamp.from(now));
      ps.executeUpdate();
    }
    Row row = lock(c, tenant, userId);
    if (row == null) {
      throw new IllegalStateException("membership row vanished after insert");
    }
    return row;
  }

  /**
   * Locks the rows of every member holding {@code ownerRole}, in one order, so that two concurrent changes of two
   * owners cannot both see the other one still owner (and cannot deadlock on each other). Returns how many there
   * are.
   */
  public int lockOwners(Connection c, TenantId tenant, String ownerRole) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT user_id FROM " + memberships
        + " WHERE tenant_id = ? AND role = ? ORDER BY user_id FOR UPDATE")) {
      ps.setString(1, tenant.value());
      ps.setString(2, ownerRole);
      int n = 0;
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          n++;
        }
      }
      return n;
    }
  }

  /**
   * Refuses, with {@link MembershipException.Reason#LAST_OWNER}, a change that takes the owner role away from
   * {@code row} when it is the last owner. Call {@link #lockOwners} first, in the same transaction.
   */
  public static void checkNotLastOwner(Row row, @Nullable String newRole, String ownerRole, int owners) {
    if (ownerRole.equals(row.role()) && !ownerRole.equals(newRole) && owners <= 1) {
      throw new MembershipException(MembershipException.Reason.LAST_OWNER, "the tenant must keep a member with"
          + " role " + ownerRole + ": make someone else " + ownerRole + " first");
    }
  }

  /**
   * Sets the role of the locked {@code row} to {@code newRole} ({@code null}: removed), bumps its version and
   * appends the log row. Returns the new version.
   */
  public long apply(Connection c, TenantId tenant, Row row, @Nullable String newRole, PermissionChange.Kind kind,
      Actor actor, @Nullable UUID invitationId, Instant now) throws SQLException {
    long version;
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + memberships
        + " SET role = ?, permission_version = permission_version + 1, updated_at = ?"
        + " WHERE tenant_id = ? AND user_id = ? RETURNING permission_version")) {
      ps.setString(1, newRole);
      ps.setTimestamp(2, Timestamp.from(now));
      ps.setString(3, tenant.value());
      ps.setLong(4, row.userId());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        version = rs.getLong(1);
      }
    }
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + changes
        + " (tenant_id, change, actor_issuer, actor_subject, user_id, before_role, before_version, after_role,"
        + " after_version, invitation_id, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, tenant.value());
      ps.setString(2, kind.name());
      ps.setString(3, actor.issuer().orElse(null));
      ps.setString(4, actor.subject().orElse(null));
      ps.setLong(5, row.userId());
      ps.setString(6, row.role());
      if (row.version() == 0) {
        ps.setNull(7, Types.BIGINT);
      } else {
        ps.setLong(7, row.version());
      }
      ps.setString(8, newRole);
      ps.setLong(9, version);
      ps.setObject(10, invitationId);
      ps.setTimestamp(11, Timestamp.from(now));
      ps.executeUpdate();
    }
    return version;
  }

  /** The current version of the membership, or {@link PermissionVersions#NO_MEMBERSHIP}. */
  public long currentVersion(Connection c, TenantId tenant, String issuer, String subject) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT m.permission_version FROM " + memberships + " m JOIN "
        + users + " u ON u.id = m.user_id WHERE m.tenant_id = ? AND u.issuer = ? AND u.subject = ?"
        + " AND m.role IS NOT NULL")) {
      ps.setString(1, tenant.value());
      ps.setString(2, issuer);
      ps.setString(3, subject);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : PermissionVersions.NO_MEMBERSHIP;
      }
    }
  }
}
