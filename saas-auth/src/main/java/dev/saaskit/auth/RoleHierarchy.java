package dev.saaskit.auth;

/**
 * Which roles include which: {@code owner} includes {@code admin} includes {@code member} by default. Used where a
 * role is handed on by someone (an invitation, an API key), so nobody can grant a role above their own.
 *
 * <p>An SSO connection's default role is handed to every user its IdP signs in, but {@code SsoConnections} does
 * not know who configures the connection: before {@code create} or {@code update}, check
 * {@code includes(actorsRole, spec.defaultRole())} yourself (docs/auth-sso.md, "Who may configure a connection").
 */
@FunctionalInterface
public interface RoleHierarchy {
  /** Whether {@code role} includes {@code other}: it is {@code other} or inherits it, directly or not. */
  boolean includes(String role, String other);
}
