package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Roles and permissions granted to one user on one resource ("editor of project p-7"), held in memory for
 * {@link Authorizer#check(Principal, String, String)}. The app loads its grants at start and calls
 * {@link #grantRole}, {@link #grantPermission} and {@link #revoke} as they change (on every node: through the same
 * invalidation hook as memberships, say). Lookups allocate nothing. Thread-safe.
 */
public final class ResourceGrants {
  /** What one user holds on one resource. Immutable. */
  static final class Grant {
    static final Grant EMPTY = new Grant(new String[0], new String[0]);
    final String[] roles;
    final String[] permissions;

    Grant(String[] roles, String[] permissions) {
      this.roles = roles;
      this.permissions = permissions;
    }

    Grant withRole(String role) {
      return contains(roles, role) ? this : new Grant(append(roles, role), permissions);
    }

    Grant withPermission(String permission) {
      return contains(permissions, permission) ? this : new Grant(roles, append(permissions, permission));
    }

    private static boolean contains(String[] array, String value) {
      for (String s : array) {
        if (s.equals(value)) {
          return true;
        }
      }
      return false;
    }

    private static String[] append(String[] array, String value) {
      String[] out = Arrays.copyOf(array, array.length + 1);
      out[array.length] = value;
      return out;
    }
  }

  private final ConcurrentHashMap<TenantId, ConcurrentHashMap<String, ConcurrentHashMap<String, Grant>>> grants =
      new ConcurrentHashMap<>();

  /** An empty set of grants. */
  public ResourceGrants() {}

  /** Grants {@code role} to the user ({@link Principal#userKey()}) on {@code resource} in {@code tenant}. */
  public void grantRole(TenantId tenant, String userKey, String resource, String role) {
    Objects.requireNonNull(role, "role");
    resources(tenant, userKey).compute(require(resource), (r, g) -> (g == null ? Grant.EMPTY : g).withRole(role));
  }

  /** Grants {@code permission} to the user on {@code resource} in {@code tenant}. */
  public void grantPermission(TenantId tenant, String userKey, String resource, String permission) {
    Objects.requireNonNull(permission, "permission");
    resources(tenant, userKey).compute(require(resource),
        (r, g) -> (g == null ? Grant.EMPTY : g).withPermission(permission));
  }

  /** Removes everything granted to the user on {@code resource}. */
  public void revoke(TenantId tenant, String userKey, String resource) {
    ConcurrentHashMap<String, ConcurrentHashMap<String, Grant>> users = grants.get(tenant);
    ConcurrentHashMap<String, Grant> byResource = users == null ? null : users.get(userKey);
    if (byResource != null) {
      byResource.remove(resource);
    }
  }

  /** Removes everything granted to the user in {@code tenant} (when the membership ends). */
  public void revokeAll(TenantId tenant, String userKey) {
    ConcurrentHashMap<String, ConcurrentHashMap<String, Grant>> users = grants.get(tenant);
    if (users != null) {
      users.remove(userKey);
    }
  }

  /** Removes every grant of {@code tenant}. */
  public void revokeTenant(TenantId tenant) {
    grants.remove(tenant);
  }

  /** What the user holds on the resource, or null. Allocation-free. */
  @Nullable Grant lookup(TenantId tenant, String userKey, String resource) {
    ConcurrentHashMap<String, ConcurrentHashMap<String, Grant>> users = grants.get(tenant);
    if (users == null) {
      return null;
    }
    ConcurrentHashMap<String, Grant> byResource = users.get(userKey);
    return byResource == null ? null : byResource.get(resource);
  }

  private ConcurrentHashMap<String, Grant> resources(TenantId tenant, String userKey) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(userKey, "userKey");
    return grants.computeIfAbsent(tenant, t -> new ConcurrentHashMap<>())
        .computeIfAbsent(userKey, u -> new ConcurrentHashMap<>());
  }

  private static String require(String resource) {
    Objects.requireNonNull(resource, "resource");
    if (resource.isEmpty()) {
      throw new IllegalArgumentException("resource must not be empty");
    }
    return resource;
  }
}
