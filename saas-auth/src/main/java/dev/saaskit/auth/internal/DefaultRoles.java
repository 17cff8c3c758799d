package dev.saaskit.auth.internal;

import dev.saaskit.auth.RoleHierarchy;
import java.util.List;

/** The default hierarchy: {@code owner} includes {@code admin} includes {@code member}; any role includes itself. */
public final class DefaultRoles implements RoleHierarchy {
  /** The one instance. */
  public static final DefaultRoles INSTANCE = new DefaultRoles();

  private static final List<String> ORDER = List.of("member", "admin", "owner");

  private DefaultRoles() {}

  @Override
  public boolean includes(String role, String other) {
    if (role.equals(other)) {
      return true;
    }
    int a = ORDER.indexOf(role);
    int b = ORDER.indexOf(other);
    return a >= 0 && b >= 0 && a > b;
  }

  @Override
  public String toString() {
    return "owner > admin > member";
  }
}
