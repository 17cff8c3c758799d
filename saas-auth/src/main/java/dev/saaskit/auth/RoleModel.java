package dev.saaskit.auth;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's roles and what they allow: roles inherit from other roles, permissions are strings such as
 * {@code invoice:read}. Declared in code or built from database rows, and compiled once into flat bit sets, so
 * that {@link Authorizer} decides with a lookup and a bit test.
 *
 * <pre>{@code
 * RoleModel model = RoleModel.builder()
 *     .role("member", "project:read", "invoice:read")
 *     .role("admin", "project:write", "members:invite").inherits("admin", "member")
 *     .role("owner", "billing:manage").inherits("owner", "admin")
 *     .build();
 * }</pre>
 *
 * <p>Role names: 1 to 64 of {@code A-Z a-z 0-9 _ . -}. Permissions: 1 to 128 characters, lower-case segments of
 * {@code a-z 0-9 _ . -} separated by colons ({@code invoice:read}, {@code reports:export:csv}); wildcards are not
 * supported, so every permission a role has is spelled out. Immutable and thread-safe.
 */
public final class RoleModel implements RoleHierarchy {
  private static final Pattern ROLE = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
  private static final Pattern PERMISSION = Pattern.compile("(?=.{1,128}$)[a-z0-9_.-]+(:[a-z0-9_.-]+)*");

  private final Map<String, Integer> permissionIds;
  private final List<String> permissions;
  private final Map<String, long[]> roleBits;
  private final Map<String, Set<String>> includes;
  private final Map<String, Set<String>> declaredParents;
  private final Map<String, Set<String>> declaredPermissions;

  private RoleModel(Builder b) {
    Map<String, Integer> ids = new HashMap<>();
    List<String> names = new ArrayList<>();
    for (String p : b.allPermissions()) {
      ids.put(p, names.size());
      names.add(p);
    }
    this.permissionIds = Map.copyOf(ids);
    this.permissions = List.copyOf(names);
    Map<String, Set<String>> closure = new HashMap<>();
    for (String role : b.roles.keySet()) {
      closure.put(role, Collections.unmodifiableSet(closure(b, role)));
    }
    this.includes = Map.copyOf(closure);
    Map<String, long[]> bits = new HashMap<>();
    int words = (names.size() + 63) / 64;
    for (Map.Entry<String, Set<String>> e : closure.entrySet()) {
      long[] set = new long[Math.max(1, words)];
      for (String r : e.getValue()) {
        for (String p : b.roles.getOrDefault(r, Set.of())) {
          int id = ids.getOrDefault(p, -1);
          set[id >>> 6] |= 1L << id;
        }
      }
      bits.put(e.getKey(), set);
    }
    this.roleBits = Map.copyOf(bits);
    Map<String, Set<String>> parents = new LinkedHashMap<>();
    Map<String, Set<String>> own = new LinkedHashMap<>();
    for (String r : b.roles.keySet()) {
      parents.put(r, Set.copyOf(b.parents.getOrDefault(r, Set.of())));
      own.put(r, Set.copyOf(b.roles.get(r)));
    }
    this.declaredParents = Collections.unmodifiableMap(parents);
    this.declaredPermissions = Collections.unmodifiableMap(own);
  }

  private static Set<String> closure(Builder b, String role) {
    Set<String> seen = new LinkedHashSet<>();
    Deque<String> todo = new ArrayDeque<>();
    todo.push(role);
    while (!todo.isEmpty()) {
      String r = todo.pop();
      if (seen.add(r)) {
        for (String parent : b.parents.getOrDefault(r, Set.of())) {
          todo.push(parent);
        }
      }
    }
    return seen;
  }

  /**
   * The default model: {@code member} ({@code project:read}, {@code invoice:read}, {@code members:read}) &lt;
   * {@code admin} (adds {@code project:write}, {@code invoice:write}, {@code members:invite}, {@code members:remove},
   * {@code roles:assign}, {@code api_keys:manage}, {@code sso:manage}) &lt; {@code owner} (adds
   * {@code billing:manage}, {@code tenant:delete}).
   */
  public static RoleModel defaults() {
    return builder()
        .role("member", "project:read", "invoice:read", "members:read")
        .role("admin", "project:write", "invoice:write", "members:invite", "members:remove", "roles:assign",
            "api_keys:manage", "sso:manage")
        .inherits("admin", "member")
        .role("owner", "billing:manage", "tenant:delete")
        .inherits("owner", "admin")
        .build();
  }

  /** An empty builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this model's declarations, to extend it. */
  public Builder toBuilder() {
    Builder b = new Builder();
    for (String r : declaredPermissions.keySet()) {
      b.role(r, declaredPermissions.get(r).toArray(new String[0]));
    }
    for (Map.Entry<String, Set<String>> e : declaredParents.entrySet()) {
      if (!e.getValue().isEmpty()) {
        b.inherits(e.getKey(), e.getValue().toArray(new String[0]));
      }
    }
    b.permissions(permissions.toArray(new String[0]));
    return b;
  }

  /** The roles, in declaration order. */
  public Set<String> roles() {
    return declaredPermissions.keySet();
  }

  /** Every permission the model knows. */
  public Set<String> permissions() {
    return permissionIds.keySet();
  }

  /** The permissions of {@code role}, its inherited ones included; empty for an unknown role. */
  public Set<String> permissionsOf(String role) {
    long[] bits = roleBits.get(role);
    if (bits == null) {
      return Set.of();
    }
    Set<String> out = new LinkedHashSet<>();
    for (int i = 0; i < permissions.size(); i++) {
      if ((bits[i >>> 6] & (1L << i)) != 0) {
        out.add(permissions.get(i));
      }
    }
    return Collections.unmodifiableSet(out);
  }

  /** Whether {@code role} is {@code other} or inherits it (directly or not); false if either is unknown. */
  @Override
  public boolean includes(String role, String other) {
    Set<String> all = includes.get(role);
    return all != null && all.contains(other);
  }

  /** Whether the model knows {@code role}. */
  public boolean hasRole(String role) {
    return roleBits.containsKey(role);
  }

  /** The id of a permission, or -1 if unknown. Allocation-free. */
  int permissionId(String permission) {
    Integer id = permissionIds.get(permission);
    return id == null ? -1 : id;
  }

  /** The flat permission bits of a role (inheritance resolved), or null if unknown. Do not modify. */
  long @Nullable [] bitsOf(String role) {
    return roleBits.get(role);
  }

  /** The number of 64-bit words of a permission set. */
  int words() {
    return Math.max(1, (permissions.size() + 63) / 64);
  }

  @Override
  public String toString() {
    return "RoleModel" + declaredParents.keySet() + " with " + permissions.size() + " permissions";
  }

  /**
   * Builds a {@link RoleModel}; names are checked at once, inheritance (unknown parents, cycles) at
   * {@link #build()}. Not thread-safe.
   */
  public static final class Builder {
    private final Map<String, Set<String>> roles = new LinkedHashMap<>();
    private final Map<String, Set<String>> parents = new LinkedHashMap<>();
    private final Set<String> extraPermissions = new LinkedHashSet<>();

    private Builder() {}

    /** Declares {@code role} (or adds to it) with these permissions of its own. */
    public Builder role(String role, String... permissions) {
      requireRole(role);
      Set<String> set = roles.computeIfAbsent(role, r -> new LinkedHashSet<>());
      for (String p : permissions) {
        set.add(requirePermission(p));
      }
      return this;
    }

    /** {@code role} inherits every permission of {@code parents} (which must be declared by build time). */
    public Builder inherits(String role, String... parents) {
      requireRole(role);
      roles.computeIfAbsent(role, r -> new LinkedHashSet<>());
      Set<String> set = this.parents.computeIfAbsent(role, r -> new LinkedHashSet<>());
      for (String p : parents) {
        set.add(requireRole(p));
      }
      return this;
    }

    /** Declares permissions no role has (yet): grantable directly or per resource. */
    public Builder permissions(String... permissions) {
      for (String p : permissions) {
        extraPermissions.add(requirePermission(p));
      }
      return this;
    }

    /**
     * Adds one row as a database would store the model: {@code role} with an optional parent it inherits from and
     * an optional permission. Rows of the same role add up.
     */
    public Builder row(String role, @Nullable String inherits, @Nullable String permission) {
      role(role);
      if (inherits != null) {
        inherits(role, inherits);
      }
      if (permission != null) {
        role(role, permission);
      }
      return this;
    }

    /** Adds {@link #row} for each row of {@code rows}: arrays of (role, inherits or null, permission or null). */
    public Builder rows(Collection<@Nullable String[]> rows) {
      for (@Nullable String[] r : rows) {
        if (r == null || r.length != 3 || r[0] == null) {
          throw new IllegalArgumentException("a role row is (role, inherits or null, permission or null)");
        }
        row(r[0], r[1], r[2]);
      }
      return this;
    }

    /**
     * The model.
     *
     * @throws IllegalStateException if a role inherits an undeclared role, or inheritance has a cycle
     */
    public RoleModel build() {
      for (Map.Entry<String, Set<String>> e : parents.entrySet()) {
        for (String p : e.getValue()) {
          if (!roles.containsKey(p)) {
            throw new IllegalStateException("role " + e.getKey() + " inherits the undeclared role " + p);
          }
        }
      }
      Set<String> acyclic = new java.util.HashSet<>();
      for (String role : roles.keySet()) {
        checkCycle(role, new LinkedHashSet<>(), acyclic);
      }
      return new RoleModel(this);
    }

    private void checkCycle(String role, Set<String> path, Set<String> acyclic) {
      if (acyclic.contains(role)) {
        return;
      }
      if (!path.add(role)) {
        throw new IllegalStateException("role inheritance has a cycle: " + String.join(" > ", path) + " > " + role);
      }
      for (String p : parents.getOrDefault(role, Set.of())) {
        checkCycle(p, path, acyclic);
      }
      path.remove(role);
      acyclic.add(role);
    }

    Set<String> allPermissions() {
      Set<String> all = new LinkedHashSet<>();
      for (Set<String> s : roles.values()) {
        all.addAll(s);
      }
      all.addAll(extraPermissions);
      return all;
    }

    private static String requireRole(String role) {
      Objects.requireNonNull(role, "role");
      if (!ROLE.matcher(role).matches()) {
        throw new IllegalArgumentException("role must be 1 to 64 of A-Z a-z 0-9 _ . - but was '" + role + "'");
      }
      return role;
    }

    private static String requirePermission(String permission) {
      Objects.requireNonNull(permission, "permission");
      if (!PERMISSION.matcher(permission).matches()) {
        throw new IllegalArgumentException("permission must be colon-separated segments of a-z 0-9 _ . -"
            + " (at most 128 characters) but was '" + permission + "'");
      }
      return permission;
    }
  }
}
