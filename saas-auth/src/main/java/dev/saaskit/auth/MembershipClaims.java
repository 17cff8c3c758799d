package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The claims of one user's membership of the active tenant, for an IdP that adds custom claims to its tokens
 * (Supabase access-token hook, Auth0 action, Keycloak mapper). Only the active tenant, to keep tokens small.
 * Immutable.
 *
 * @param tenant the active tenant
 * @param role the user's role in it
 * @param permissions the role's permissions (sorted; empty when no permission source was configured)
 * @param permissionVersion the membership's current permission version
 */
public record MembershipClaims(TenantId tenant, String role, Set<String> permissions, long permissionVersion) {
  /** Claim name of the tenant id. */
  public static final String TENANT_ID = "tenant_id";
  /** Claim name of the role. */
  public static final String ROLE = "role";
  /** Claim name of the permissions (an array of strings). */
  public static final String PERMISSIONS = "permissions";
  /** Claim name of the permission version (a number); the generic claim mapping reads it. */
  public static final String PERMISSION_VERSION = "saaskit_pv";

  /** Checks and copies the parts. */
  public MembershipClaims {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(role, "role");
    permissions = Collections.unmodifiableSet(new TreeSet<>(Objects.requireNonNull(permissions, "permissions")));
    if (permissionVersion < 1) {
      throw new IllegalArgumentException("permissionVersion must be >= 1 but was " + permissionVersion);
    }
  }

  /**
   * The claims as JSON-able values: {@code tenant_id} (string), {@code role} (string), {@code permissions} (list of
   * strings), {@code saaskit_pv} (number). Unmodifiable, in that order.
   */
  public Map<String, Object> asMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put(TENANT_ID, tenant.value());
    m.put(ROLE, role);
    m.put(PERMISSIONS, List.copyOf(permissions));
    m.put(PERMISSION_VERSION, permissionVersion);
    return Collections.unmodifiableMap(m);
  }

  /** {@link #asMap()} as a JSON object, for an endpoint that answers an IdP's hook without a JSON library. */
  public String toJson() {
    List<String> quoted = new ArrayList<>();
    for (String p : permissions) {
      quoted.add(quote(p));
    }
    return "{" + quote(TENANT_ID) + ":" + quote(tenant.value()) + "," + quote(ROLE) + ":" + quote(role) + ","
        + quote(PERMISSIONS) + ":[" + String.join(",", quoted) + "]," + quote(PERMISSION_VERSION) + ":"
        + permissionVersion + "}";
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            b.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
