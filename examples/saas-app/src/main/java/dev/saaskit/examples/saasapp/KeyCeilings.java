package dev.saaskit.examples.saasapp;

import dev.saaskit.auth.ApiKeyInfo;
import dev.saaskit.auth.ApiKeys;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.Membership;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.PermissionVersions;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.RoleModel;
import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Caps a verified API key at what its creator may do now: its scopes, intersected with the scopes of every key in
 * the chain that made it (each still unrevoked) and with the permissions of the user at the root's current role.
 * A creator who is no longer a member leaves the key nothing: it is refused.
 *
 * <p>Why: saas-auth keeps a key's scopes when its creator is demoted, and the app revokes such keys only after the
 * role change has committed ({@code Api#revokeKeysBeyondRole}, a separate transaction). A crash or a failed write
 * between the two, or a key made concurrently with the demotion, would otherwise leave a demoted owner a key with
 * {@code roles:assign}. With the cap the revocation is bookkeeping; no key ever acts above its creator.
 *
 * <p>Cost: who made a key and its scopes never change, so they are cached (one listing of the tenant's keys on a
 * miss). The root user's role is cached together with its permission version and re-read when
 * {@link PermissionVersions} (invalidated through the bus on every node) answers another version, so a role change
 * reaches keys as fast as it reaches tokens. Only a key made by a key reads its makers' revocation each time.
 */
final class KeyCeilings {
  private static final String KEY_MAKER = " @ " + ApiKeys.ISSUER;
  private static final String KEY_SUBJECT = "apikey:";
  /** Entries past this are dropped wholesale: a cache, not a registry. */
  private static final int MAX_ENTRIES = 50_000;

  /** Who made a key, and its scopes: fixed at creation. */
  private record Made(String createdBy, Set<String> scopes) {}

  /** A member's role as of a permission version. */
  private record RoleAt(long version, @Nullable String role) {}

  private final ApiKeys apiKeys;
  private final Memberships memberships;
  private final PermissionVersions versions;
  private final RoleModel roles;
  private final ConcurrentHashMap<String, Made> made = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, RoleAt> rolesAt = new ConcurrentHashMap<>();

  KeyCeilings(ApiKeys apiKeys, Memberships memberships, PermissionVersions versions, RoleModel roles) {
    this.apiKeys = apiKeys;
    this.memberships = memberships;
    this.versions = versions;
    this.roles = roles;
  }

  /**
   * {@code key} (from {@link ApiKeys#verify}) with its permissions capped as the class says.
   *
   * @throws InvalidTokenException {@code REVOKED} if a key in its chain was revoked or its root creator is no
   *     longer a member
   */
  Principal cap(Principal key) {
    TenantId tenant = key.requireTenant();
    String publicId = key.credentialId().orElseThrow(
        () -> new InvalidTokenException(InvalidTokenException.Reason.BAD_API_KEY, "an API key without an id"));
    Set<String> scopes = new TreeSet<>(key.permissions());
    String maker = madeBy(tenant, publicId).createdBy();
    List<ApiKeyInfo> now = null;
    for (int depth = 0; maker.startsWith(KEY_SUBJECT) && maker.endsWith(KEY_MAKER); depth++) {
      // a key made by a key: its maker's revocation can change, so it is read now, not cached
      String makerId = maker.substring(KEY_SUBJECT.length(), maker.length() - KEY_MAKER.length());
      if (now == null) {
        now = apiKeys.list(tenant);
      }
      ApiKeyInfo parent = now.stream().filter(k -> k.publicId().equals(makerId)).findFirst().orElse(null);
      if (parent == null || parent.revokedAt().isPresent() || depth > 100
          || parent.expiresAt().map(e -> !Instant.now().isBefore(e)).orElse(false)) {
        throw revoked();
      }
      scopes.retainAll(parent.scopes());
      maker = parent.createdBy();
    }
    String role = currentRole(tenant, maker);
    if (role == null) {
      throw revoked();
    }
    scopes.retainAll(roles.permissionsOf(role));
    return scopes.equals(key.permissions()) ? key : key.toBuilder().permissions(scopes).build();
  }

  private Made madeBy(TenantId tenant, String publicId) {
    String cacheKey = tenant.value() + '\0' + publicId;
    Made m = made.get(cacheKey);
    if (m != null) {
      return m;
    }
    if (made.size() > MAX_ENTRIES) {
      made.clear();
    }
    for (ApiKeyInfo k : apiKeys.list(tenant)) {
      made.putIfAbsent(tenant.value() + '\0' + k.publicId(), new Made(k.createdBy(), Set.copyOf(k.scopes())));
    }
    m = made.get(cacheKey);
    if (m == null) {
      throw revoked();   // verified a moment ago, gone now: nothing to cap it with
    }
    return m;
  }

  /** The current role of the user {@code createdBy} names ({@code subject @ issuer}); null if not a member. */
  private @Nullable String currentRole(TenantId tenant, String createdBy) {
    int at = createdBy.lastIndexOf(" @ ");   // an issuer is a URL: it has no spaces
    if (at < 0) {
      return null;
    }
    String userKey = Principal.userKey(createdBy.substring(at + 3), createdBy.substring(0, at));
    String cacheKey = tenant.value() + '\0' + userKey;
    long version = versions.current(tenant, userKey);
    RoleAt cached = rolesAt.get(cacheKey);
    if (cached != null && cached.version() == version) {
      return cached.role();
    }
    Optional<Membership> m = memberships.find(tenant, userKey);
    String role = m.map(Membership::role).orElse(null);
    if (rolesAt.size() > MAX_ENTRIES) {
      rolesAt.clear();
    }
    rolesAt.put(cacheKey, new RoleAt(m.map(Membership::permissionVersion).orElse(PermissionVersions.NO_MEMBERSHIP),
        role));
    return role;
  }

  private static InvalidTokenException revoked() {
    return new InvalidTokenException(InvalidTokenException.Reason.REVOKED,
        "the key's creator no longer holds a role in the tenant, or a key that made it was revoked");
  }
}
