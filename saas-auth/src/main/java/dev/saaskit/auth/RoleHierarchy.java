package dev.saaskit.auth;

/**
 * Which roles include which: {@code owner} includes {@code admin} includes {@code member} by default. Used where a
 * role is handed on (an invitation, an API key, an SSO connection's default role), so nobody can grant a role
 * above their own.
 */
@FunctionalInterface
public interface RoleHierarchy {
  /** Whether {@code role} includes {@code other}: it is {@code other} or inherits it, directly or not. */
  boolean includes(String role, String other);
}
