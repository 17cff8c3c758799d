package dev.saaskit.auth;

import static dev.saaskit.auth.internal.ClaimValues.at;
import static dev.saaskit.auth.internal.ClaimValues.nonNegativeLong;
import static dev.saaskit.auth.internal.ClaimValues.string;
import static dev.saaskit.auth.internal.ClaimValues.strings;

import dev.saaskit.auth.internal.ClaimValues;
import dev.saaskit.core.TenantId;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Claim mappings for the IdPs saaskit knows, and a {@link #generic() generic} one for the rest. Each reads the
 * active tenant, the user's roles and permissions in it, the permission version ({@value #PERMISSION_VERSION}, the
 * claim our {@code TenantClaims} helper writes where the IdP lets you add claims) and the email (display only).
 * User identity is always ({@code iss}, {@code sub}), set by the verifier, never the email.
 */
public final class ClaimMappings {
  /** The claim carrying the membership's permission version. */
  public static final String PERMISSION_VERSION = "saaskit_pv";

  private ClaimMappings() {}

  /**
   * Our own claims, as {@code TokenIssuer} and the {@code TenantClaims} helper write them: {@code tenant_id},
   * {@code role} (or {@code roles}), {@code permissions}, {@value #PERMISSION_VERSION}, {@code email}.
   */
  public static ClaimMapping standard() {
    return generic().build();
  }

  /** A mapping with configurable claim names, starting from {@link #standard()}'s names. */
  public static Generic generic() {
    return new Generic();
  }

  /**
   * Clerk session tokens: version 2 (the {@code o} claim: {@code id}, {@code rol}, and the permissions packed in
   * {@code o.per}, {@code o.fpm} and the top-level {@code fea}) and version 1
   * ({@code org_id}, {@code org_role}, {@code org_permissions}). Clerk's {@code org:} prefix is dropped, so
   * {@code org:admin} maps to the role {@code admin} and {@code org:invoices:read} to the permission
   * {@code invoices:read}. Register a Clerk issuer with {@code authorizedParties(..)} (Clerk sets {@code azp}, not
   * {@code aud}).
   */
  public static ClaimMapping clerk() {
    return (claims, p) -> {
      String tenant = string(claims, "o", "id");
      List<String> roles = new ArrayList<>();
      List<String> permissions = new ArrayList<>();
      if (tenant != null) {
        String role = string(claims, "o", "rol");
        if (role != null) {
          roles.add(stripOrg(role));
        }
        List<String> features = strings(claims, "fea");
        if (features.isEmpty()) {
          // no feature list: read o.per as full permission names (what a custom session template may write)
          for (String per : strings(claims, "o", "per")) {
            permissions.add(stripOrg(per));
          }
        } else {
          permissions.addAll(clerkV2Permissions(features, strings(claims, "o", "per"), strings(claims, "o", "fpm")));
        }
      } else {
        tenant = string(claims, "org_id");
        String role = string(claims, "org_role");
        if (role != null) {
          roles.add(stripOrg(role));
        }
        for (String per : strings(claims, "org_permissions")) {
          permissions.add(stripOrg(per));
        }
      }
      p.tenant(tenant(tenant)).roles(roles).permissions(permissions)
          .permissionVersion(nonNegativeLong(claims, PERMISSION_VERSION)).email(string(claims, "email"));
    };
  }

  /**
   * Supabase Auth access tokens. Supabase's own top-level {@code role} is the database role
   * ({@code authenticated}), not a tenant role, so it is ignored: the tenant, role(s), permissions and permission
   * version are read from {@code app_metadata} (which only the service role can write), or from the top-level
   * claims {@code tenant_id}, {@code tenant_role}, {@code permissions} and {@value #PERMISSION_VERSION} that a
   * custom access-token hook adds.
   */
  public static ClaimMapping supabase() {
    return (claims, p) -> {
      String tenant = string(claims, "app_metadata", "tenant_id");
      List<String> roles = new ArrayList<>();
      List<String> permissions;
      Long version;
      if (tenant != null) {
        roles.addAll(strings(claims, "app_metadata", "role"));
        roles.addAll(strings(claims, "app_metadata", "roles"));
        permissions = strings(claims, "app_metadata", "permissions");
        version = nonNegativeLong(claims, "app_metadata", PERMISSION_VERSION);
      } else {
        tenant = string(claims, "tenant_id");
        roles.addAll(strings(claims, "tenant_role"));
        permissions = strings(claims, "permissions");
        version = nonNegativeLong(claims, PERMISSION_VERSION);
      }
      p.tenant(tenant(tenant)).roles(roles).permissions(permissions).permissionVersion(version)
          .email(string(claims, "email"));
    };
  }

  /**
   * Auth0 access tokens: the tenant from {@code org_id} (Auth0 Organizations), permissions from
   * {@code permissions} (Auth0 RBAC), and the roles, permission version and email from claims an Action adds
   * under {@code namespace} ({@code <namespace>/roles}, {@code <namespace>/saaskit_pv},
   * {@code <namespace>/email}; Auth0 requires custom claims to be namespaced).
   *
   * @param namespace the claims namespace, such as {@code https://example.com}; a trailing slash is ignored
   */
  public static ClaimMapping auth0(String namespace) {
    Objects.requireNonNull(namespace, "namespace");
    if (namespace.isBlank()) {
      throw new IllegalArgumentException("namespace must not be blank");
    }
    String ns = namespace.endsWith("/") ? namespace : namespace + "/";
    return (claims, p) -> {
      List<String> roles = strings(claims, ns + "roles");
      String email = string(claims, ns + "email");
      p.tenant(tenant(string(claims, "org_id"))).roles(roles).permissions(strings(claims, "permissions"))
          .permissionVersion(nonNegativeLong(claims, ns + PERMISSION_VERSION))
          .email(email != null ? email : string(claims, "email"));
    };
  }

  /**
   * Keycloak access tokens: the tenant from the {@code organization} claim (Keycloak Organizations), in either of
   * its shapes: a list of organization aliases, or an object of alias to attributes (the {@code id} attribute is
   * used when present, else the alias). A token naming several organizations names no tenant (the app must ask
   * the user to pick one and issue a narrower token). Roles are the realm roles ({@code realm_access.roles}) and
   * the client's roles ({@code resource_access.<clientId>.roles}).
   *
   * @param clientId the client whose roles to read
   */
  public static ClaimMapping keycloak(String clientId) {
    Objects.requireNonNull(clientId, "clientId");
    return (claims, p) -> {
      Object org = at(claims, "organization");
      String tenant = null;
      if (org instanceof List) {
        List<String> aliases = strings(claims, "organization");
        tenant = aliases.size() == 1 ? aliases.get(0) : null;
      } else if (org instanceof Map) {
        Map<?, ?> orgs = (Map<?, ?>) org;
        if (orgs.size() == 1) {
          Map.Entry<?, ?> only = orgs.entrySet().iterator().next();
          Object attrs = only.getValue();
          Object id = attrs instanceof Map ? ((Map<?, ?>) attrs).get("id") : null;
          tenant = id instanceof String ? (String) id : String.valueOf(only.getKey());
        }
      } else if (org != null) {
        throw ClaimValues.bad("organization", "a list or an object");
      }
      Set<String> roles = new LinkedHashSet<>(strings(claims, "realm_access", "roles"));
      roles.addAll(strings(claims, "resource_access", clientId, "roles"));
      p.tenant(tenant(tenant)).roles(roles).permissionVersion(nonNegativeLong(claims, PERMISSION_VERSION))
          .email(string(claims, "email"));
    };
  }

  /**
   * WorkOS AuthKit access tokens: {@code org_id}, {@code role} (and {@code roles} where multiple roles are on),
   * {@code permissions}, and {@value #PERMISSION_VERSION} when a JWT template adds it.
   */
  public static ClaimMapping workos() {
    return (claims, p) -> {
      Set<String> roles = new LinkedHashSet<>(strings(claims, "role"));
      roles.addAll(strings(claims, "roles"));
      p.tenant(tenant(string(claims, "org_id"))).roles(roles).permissions(strings(claims, "permissions"))
          .permissionVersion(nonNegativeLong(claims, PERMISSION_VERSION)).email(string(claims, "email"));
    };
  }

  /**
   * Clerk v2 compresses organization permissions: {@code fea} lists features ({@code o:invoices,u:profile}),
   * {@code o.per} the permission names ({@code manage,read}) and {@code o.fpm} one bitmask per feature, bit i
   * (least significant first) granting {@code per[i]}. Only organization features ({@code o:}) count; the result is
   * {@code <feature>:<permission>}, the v1 {@code org:<feature>:<permission>} without Clerk's {@code org:} prefix.
   */
  private static List<String> clerkV2Permissions(List<String> features, List<String> perms, List<String> masks) {
    List<String> out = new ArrayList<>();
    if (features.isEmpty() || perms.isEmpty() || masks.isEmpty()) {
      return out;
    }
    if (masks.size() != features.size()) {
      throw ClaimValues.bad("o.fpm", "one bitmask per feature in fea");
    }
    for (int i = 0; i < features.size(); i++) {
      String feature = features.get(i);
      if (!feature.startsWith("o:") || feature.length() == 2) {
        continue;
      }
      long mask;
      try {
        mask = Long.parseLong(masks.get(i));
      } catch (NumberFormatException e) {
        throw ClaimValues.bad("o.fpm", "comma-separated integers");
      }
      for (int bit = 0; bit < perms.size() && bit < 63; bit++) {
        if ((mask & (1L << bit)) != 0) {
          out.add(feature.substring(2) + ":" + perms.get(bit));
        }
      }
    }
    return out;
  }

  private static String stripOrg(String value) {
    return value.startsWith("org:") ? value.substring(4) : value;
  }

  private static @Nullable TenantId tenant(@Nullable String value) {
    if (value == null) {
      return null;
    }
    try {
      return TenantId.of(value);
    } catch (IllegalArgumentException e) {
      throw ClaimValues.bad("tenant", "a valid tenant id");
    }
  }

  /**
   * A mapping with configurable claim names. Names may be paths into nested objects, with dots
   * ({@code app_metadata.tenant_id}); a claim whose own name holds a dot (Auth0 namespaces) is found by its full
   * name first. Not thread-safe; the mapping it builds is.
   */
  public static final class Generic {
    private String tenant = "tenant_id";
    private List<String> roles = List.of("role", "roles");
    private String permissions = "permissions";
    private String permissionVersion = PERMISSION_VERSION;
    private String email = "email";

    private Generic() {}

    /** The claim naming the tenant; default {@code tenant_id}. */
    public Generic tenantClaim(String name) {
      this.tenant = requireName(name);
      return this;
    }

    /** The claims holding roles (a string, a comma-separated string or an array); default {@code role, roles}. */
    public Generic roleClaims(String... names) {
      List<String> list = new ArrayList<>();
      for (String n : names) {
        list.add(requireName(n));
      }
      this.roles = List.copyOf(list);
      return this;
    }

    /** The claim holding permissions; default {@code permissions}. */
    public Generic permissionsClaim(String name) {
      this.permissions = requireName(name);
      return this;
    }

    /** The claim holding the permission version; default {@value ClaimMappings#PERMISSION_VERSION}. */
    public Generic permissionVersionClaim(String name) {
      this.permissionVersion = requireName(name);
      return this;
    }

    /** The claim holding the email (display only); default {@code email}. */
    public Generic emailClaim(String name) {
      this.email = requireName(name);
      return this;
    }

    /** The mapping. */
    public ClaimMapping build() {
      String t = tenant;
      List<String> r = roles;
      String perms = permissions;
      String pv = permissionVersion;
      String mail = email;
      return (claims, p) -> {
        Set<String> all = new LinkedHashSet<>();
        for (String name : r) {
          all.addAll(strings(claims, path(claims, name)));
        }
        p.tenant(tenant(string(claims, path(claims, t)))).roles(all)
            .permissions(strings(claims, path(claims, perms)))
            .permissionVersion(nonNegativeLong(claims, path(claims, pv))).email(string(claims, path(claims, mail)));
      };
    }

    private static String[] path(Map<String, Object> claims, String name) {
      return claims.containsKey(name) ? new String[] {name} : name.split("\\.", -1);
    }

    private static String requireName(String name) {
      Objects.requireNonNull(name, "claim name");
      if (name.isBlank() || name.startsWith(".") || name.endsWith(".") || name.contains("..")) {
        throw new IllegalArgumentException("claim name must be a name or a dotted path but was '" + name + "'");
      }
      return name;
    }
  }
}
