package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;

/**
 * Told after a membership change has committed, so that every node forgets the membership's cached permission
 * version ({@link PermissionVersions#invalidate(TenantId, String)}). The usual implementation publishes an
 * invalidation on a bus that reaches every node (saas-cache's {@code PostgresInvalidationBus}; see
 * docs/auth-memberships.md); a single-node app can invalidate its {@link PermissionVersions} directly.
 *
 * <p>Two moments: {@link #inTransaction} runs inside the change's transaction, just before {@code COMMIT}, on the
 * same connection (publish the invalidation there, with saas-cache's {@code publish(Connection, Invalidation)},
 * and it commits or rolls back with the change: a node that dies right after the commit cannot lose it; an
 * exception fails the change). {@link #membershipChanged} runs on the same thread after {@code COMMIT}; an
 * exception it throws is logged and does not undo the change (which is committed).
 */
@FunctionalInterface
public interface MembershipChangeListener {
  /** Does nothing. */
  MembershipChangeListener NONE = (tenant, userKey) -> { };

  /**
   * The membership of {@code userKey} in {@code tenant} changed (added, role changed, removed, invitation accepted).
   *
   * @param tenant the tenant
   * @param userKey {@link Principal#userKey(String, String)} of the member
   */
  void membershipChanged(TenantId tenant, String userKey);

  /**
   * The membership of {@code userKey} in {@code tenant} is being changed in the transaction of {@code connection},
   * which commits right after this returns (the default does nothing). Do not commit, roll back or close it.
   *
   * @throws SQLException to fail the change (it is rolled back)
   */
  default void inTransaction(Connection connection, TenantId tenant, String userKey) throws SQLException {}

  /**
   * A user key in a form without NUL characters ({@code <length of the issuer>:<issuer><subject>}), for a bus whose
   * messages may not contain NUL (saas-cache's {@code Invalidation}). At most 772 characters for the issuers and
   * subjects that {@link Memberships} accepts. {@link #decodeUserKey(String)} reverses it.
   *
   * @throws IllegalArgumentException if {@code userKey} is not {@code issuer + '\0' + subject}
   */
  static String encodeUserKey(String userKey) {
    Objects.requireNonNull(userKey, "userKey");
    int nul = userKey.indexOf('\u0000');
    if (nul <= 0 || nul == userKey.length() - 1 || userKey.indexOf('\u0000', nul + 1) >= 0) {
      throw new IllegalArgumentException("not a user key (issuer, NUL, subject)");
    }
    return nul + ":" + userKey.substring(0, nul) + userKey.substring(nul + 1);
  }

  /**
   * The user key that {@link #encodeUserKey(String)} encoded.
   *
   * @throws IllegalArgumentException if {@code encoded} is not such a form
   */
  static String decodeUserKey(String encoded) {
    Objects.requireNonNull(encoded, "encoded");
    int colon = encoded.indexOf(':');
    if (colon <= 0 || colon > 4) {
      throw new IllegalArgumentException("not an encoded user key");
    }
    int length;
    try {
      length = Integer.parseInt(encoded.substring(0, colon));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not an encoded user key", e);
    }
    int subjectStart = colon + 1 + length;
    if (length < 1 || subjectStart >= encoded.length()) {
      throw new IllegalArgumentException("not an encoded user key");
    }
    return Principal.userKey(encoded.substring(colon + 1, subjectStart), encoded.substring(subjectStart));
  }
}
