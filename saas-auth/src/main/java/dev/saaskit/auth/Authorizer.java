package dev.saaskit.auth;

/**
 * Answers "may this principal do this, in this tenant?" from memory: no database query per decision.
 *
 * <p>The tenant a request targets is {@code TenantContext}'s current tenant when one is set, else the principal's
 * own; a principal acting for another tenant than the target is always denied ({@link
 * AccessDeniedException.Reason#TENANT_MISMATCH}), whatever its roles. A principal whose permission version is
 * older than its membership's current one is denied too ({@link AccessDeniedException.Reason#STALE_PERMISSIONS}).
 * Implementations are thread-safe.
 */
public interface Authorizer {
  /** Whether {@code principal} holds {@code permission} (for example {@code invoice:read}) in the target tenant. */
  boolean check(Principal principal, String permission);

  /** Whether {@code principal} holds {@code permission} on the resource {@code resource} in the target tenant. */
  boolean check(Principal principal, String permission, String resource);

  /**
   * Like {@link #check(Principal, String)}, throwing instead of answering no.
   *
   * @throws AccessDeniedException saying why
   */
  void require(Principal principal, String permission);

  /**
   * Like {@link #check(Principal, String, String)}, throwing instead of answering no.
   *
   * @throws AccessDeniedException saying why
   */
  void require(Principal principal, String permission, String resource);
}
