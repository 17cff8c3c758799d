package dev.saaskit.auth;

import static dev.saaskit.auth.internal.ClaimValues.nonNegativeLong;
import static dev.saaskit.auth.internal.ClaimValues.object;
import static dev.saaskit.auth.internal.ClaimValues.string;
import static dev.saaskit.auth.internal.ClaimValues.strings;

import dev.saaskit.auth.internal.ClaimValues;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * {@link ClaimMapping} presets for common IdPs, and {@link #generic()} for anything that puts tenant, roles and
 * permissions in top-level claims. Every preset also reads our permission version claim {@value #PERMISSION_VERSION}
 * where the IdP lets you add custom claims (see the claims helper), and none ever uses the email as an identity.
 */
public final class ClaimMappings {
  /** The name of our permission version claim, as the claims helper and {@link TokenIssuer} emit it. */
  public static final String PERMISSION_VERSION = "saaskit_pv";

  private ClaimMappings() {}

  /**
   * Clerk session tokens, version 2 and version 1. Version 2: the {@code o} claim ({@code id} is the tenant,
   * {@code rol} the role, and {@code per}/{@code fpm} with the top-level {@code fea} the permissions, expanded to
   * {@code org:<feature>:<permission>}). Version 1: {@code org_id}, {@code org_role}, {@code org_permissions}. Roles
   * lose Clerk's {@code org:} prefix ({@code org:admin} becomes {@code admin}). The permission version is the
   * top-level {@value #PERMISSION_VERSION} (a custom session claim), the email a top-level {@code email} if present.
   */
  public static ClaimMapping clerk() {
    return claims -> {
      Map<?, ?> o = object(claims, "o");
      String tenant;
      Set<String> roles = new LinkedHashSet<>();
      Set<String> permissions = new LinkedHashSet<>();
      if (o != null) {
        tenant = string(o, "id");
        String rol = string(o, "rol");
        if (rol != null) {
          roles.add(stripPrefix(rol, "org:"));
        }
        permissions.addAll(clerkV2Permissions(string(claims, "fea"), string(o, "per"), string(o, "fpm")));
      } else {
        tenant = string(claims, "org_id");
        String role = string(claims, "org_role");
        if (role != null) {
          roles.add(stripPrefix(role, "org:"));
        }
        permissions.addAll(strings(claims, "org_permissions", false));
      }
      return new ClaimMapping.Mapped(tenant, roles, permissions, nonNegativeLong(claims, PERMISSION_VERSION),
          string(claims, "email"));
    };
  }

  private static Set<String> clerkV2Permissions(@Nullable String fea, @Nullable String per, @Nullable String fpm) {
    if (fea == null || per == null || fpm == null) {
      return Set.of();
    }
    String[] features = fea.split(",", -1);
    String[] perms = per.split(",", -1);
    String[] masks = fpm.split(",", -1);
    if (masks.length != features.length) {
      throw ClaimValues.bad("o.fpm", "one mask per feature in 'fea'");
    }
    Set<String> out = new LinkedHashSet<>();
    for (int i = 0; i < features.length; i++) {
      String feature = features[i].trim();
      if (!feature.startsWith("o:")) {
        continue; // a user-level feature, not an organization permission
      }
      long mask;
      try {
        mask = Long.parseLong(masks[i].trim());
      } catch (NumberFormatException e) {
        throw ClaimValues.bad("o.fpm", "a list of integers");
      }
      for (int bit = 0; bit < perms.length && bit < 63; bit++) {
        if ((mask & (1L << bit)) != 0) {
          out.add("org:" + feature.substring(2) + ":" + perms[bit].trim());
        }
      }
    }
    return out;
  }

  /**
   * Supabase Auth. The tenant, role(s), permissions and permission version are read from {@code app_metadata}
   * ({@code tenant_id}, {@code role} or {@code roles}, {@code permissions}, {@value #PERMISSION_VERSION}: what the
   * claims helper writes there), and otherwise from top-level claims an access-token hook adds ({@code tenant_id},
   * {@code user_role} or {@code roles}, {@code permissions}, {@value #PERMISSION_VERSION}). The top-level
   * {@code role} is Supabase's PostgreSQL role ({@code authenticated}) and is never read as an app role.
   */
  public static ClaimMapping supabase() {
    return claims -> {
      Map<?, ?> app = object(claims, "app_metadata");
      String tenant = string(app, "tenant_id");
      if (tenant == null) {
        tenant = string(claims, "tenant_id");
      }
      Set<String> roles = new LinkedHashSet<>(strings(app, "role", false));
      roles.addAll(strings(app, "roles", false));
      if (roles.isEmpty()) {
        roles.addAll(strings(claims, "user_role", false));
        roles.addAll(strings(claims, "roles", false));
      }
      Set<String> permissions = new LinkedHashSet<>(strings(app, "permissions", false));
      if (permissions.isEmpty()) {
        permissions.addAll(strings(claims, "permissions", false));
      }
      Long pv = nonNegativeLong(app, PERMISSION_VERSION);
      if (pv == null) {
        pv = nonNegativeLong(claims, PERMISSION_VERSION);
      }
      return new ClaimMapping.Mapped(tenant, roles, permissions, pv, string(claims, "email"));
    };
  }

  /**
   * Auth0. Custom claims must be namespaced: the tenant, roles, permissions, permission version and email are read
   * from {@code <namespace>tenant_id}, {@code <namespace>roles}, {@code <namespace>permissions},
   * {@code <namespace>saaskit_pv} and {@code <namespace>email} (the namespace is used as given, so include its
   * trailing {@code /}). Auth0 Organizations' {@code org_id} is the tenant when the namespaced one is absent, and
   * Auth0's own RBAC {@code permissions} claim is added to the permissions.
   *
   * @param namespace the claim namespace, e.g. {@code "https://app.example.com/"}
   */
  public static ClaimMapping auth0(String namespace) {
    Objects.requireNonNull(namespace, "namespace");
    if (namespace.isEmpty()) {
      throw new IllegalArgumentException("namespace must not be empty (Auth0 requires namespaced custom claims)");
    }
    return claims -> {
      String tenant = string(claims, namespace + "tenant_id");
      if (tenant == null) {
        tenant = string(claims, "org_id");
      }
      Set<String> roles = strings(claims, namespace + "roles", false);
      Set<String> permissions = new LinkedHashSet<>(strings(claims, namespace + "permissions", false));
      permissions.addAll(strings(claims, "permissions", false));
      String email = string(claims, namespace + "email");
      return new ClaimMapping.Mapped(tenant, roles, permissions,
          nonNegativeLong(claims, namespace + PERMISSION_VERSION), email != null ? email : string(claims, "email"));
    };
  }

  /**
   * Keycloak. The tenant is a top-level {@code tenant_id} (a custom mapper), else the one organization in the
   * {@code organization} claim, in either shape Keycloak emits: a list of aliases ({@code ["acme"]}) or a map of
   * alias to attributes ({@code {"acme": {"id": "..."}}}); the tenant is the alias in both shapes, so switching the
   * mapper's "add organization id" option does not change tenant ids. A token naming several organizations names
   * no tenant. Roles are {@code realm_access.roles} plus {@code resource_access.<clientId>.roles}; permissions a
   * top-level {@code permissions} claim; the permission version {@value #PERMISSION_VERSION}.
   *
   * @param clientId the client whose {@code resource_access} roles are read
   */
  public static ClaimMapping keycloak(String clientId) {
    Objects.requireNonNull(clientId, "clientId");
    if (clientId.isEmpty()) {
      throw new IllegalArgumentException("clientId must not be empty");
    }
    return claims -> {
      String tenant = string(claims, "tenant_id");
      if (tenant == null) {
        Object org = claims.get("organization");
        Set<String> aliases = new LinkedHashSet<>();
        if (org instanceof Map) {
          for (Object k : ((Map<?, ?>) org).keySet()) {
            aliases.add(String.valueOf(k));
          }
        } else if (org != null) {
          aliases.addAll(strings(claims, "organization", false));
        }
        tenant = aliases.size() == 1 ? aliases.iterator().next() : null;
      }
      Set<String> roles = new LinkedHashSet<>(strings(object(claims, "realm_access"), "roles", false));
      Map<?, ?> client = object(object(claims, "resource_access"), clientId);
      roles.addAll(strings(client, "roles", false));
      return new ClaimMapping.Mapped(tenant, roles, strings(claims, "permissions", false),
          nonNegativeLong(claims, PERMISSION_VERSION), string(claims, "email"));
    };
  }

  /**
   * WorkOS AuthKit access tokens: {@code org_id} is the tenant, {@code role} and {@code roles} the roles,
   * {@code permissions} the permissions, {@value #PERMISSION_VERSION} the permission version (a JWT template claim).
   */
  public static ClaimMapping workos() {
    return claims -> {
      Set<String> roles = new LinkedHashSet<>(strings(claims, "role", false));
      roles.addAll(strings(claims, "roles", false));
      return new ClaimMapping.Mapped(string(claims, "org_id"), roles, strings(claims, "permissions", false),
          nonNegativeLong(claims, PERMISSION_VERSION), string(claims, "email"));
    };
  }

  /**
   * A mapping from top-level claims whose names you choose. The defaults are what the claims helper and
   * {@link TokenIssuer} emit: {@code tenant_id}, {@code role}, {@code permissions}, {@value #PERMISSION_VERSION},
   * {@code email}.
   */
  public static Generic generic() {
    return new Generic();
  }

  /**
   * Builder of a mapping from top-level claims. Claim names are used literally (a name containing dots, like an
   * Auth0 namespace, is one claim, not a path). Roles and permissions may be a list of strings or one string.
   */
  public static final class Generic {
    private String tenant = "tenant_id";
    private String roles = "role";
    private String permissions = "permissions";
    private String permissionVersion = PERMISSION_VERSION;
    private String email = "email";
    private boolean splitStrings;

    private Generic() {}

    /** The tenant claim; default {@code tenant_id}. */
    public Generic tenantClaim(String name) {
      this.tenant = requireName("tenantClaim", name);
      return this;
    }

    /** The roles claim (a string or a list of strings); default {@code role}. */
    public Generic rolesClaim(String name) {
      this.roles = requireName("rolesClaim", name);
      return this;
    }

    /** The permissions claim (a list of strings or a string); default {@code permissions}. */
    public Generic permissionsClaim(String name) {
      this.permissions = requireName("permissionsClaim", name);
      return this;
    }

    /** The permission version claim (a non-negative integer); default {@value ClaimMappings#PERMISSION_VERSION}. */
    public Generic permissionVersionClaim(String name) {
      this.permissionVersion = requireName("permissionVersionClaim", name);
      return this;
    }

    /** The email claim (display only); default {@code email}. */
    public Generic emailClaim(String name) {
      this.email = requireName("emailClaim", name);
      return this;
    }

    /**
     * Whether a single-string roles or permissions claim is split on spaces and commas (an OAuth {@code scope}
     * style string); default {@code false}.
     */
    public Generic splitStrings(boolean split) {
      this.splitStrings = split;
      return this;
    }

    /** The mapping. */
    public ClaimMapping build() {
      String t = tenant;
      String r = roles;
      String p = permissions;
      String v = permissionVersion;
      String e = email;
      boolean split = splitStrings;
      return claims -> new ClaimMapping.Mapped(string(claims, t), strings(claims, r, split),
          strings(claims, p, split), nonNegativeLong(claims, v), string(claims, e));
    }

    private static String requireName(String what, String name) {
      Objects.requireNonNull(name, what);
      if (name.isEmpty()) {
        throw new IllegalArgumentException(what + " must not be empty");
      }
      return name;
    }
  }

  private static String stripPrefix(String s, String prefix) {
    return s.startsWith(prefix) && s.length() > prefix.length() ? s.substring(prefix.length()) : s;
  }

}
