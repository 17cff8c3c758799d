package dev.saaskit.auth;

import dev.saaskit.core.TenantId;

/**
 * Where resource-level decisions can be delegated (an OpenFGA or Cerbos adapter, or the app's own rules): asked by
 * {@link Authorizer#check(Principal, String, String)} when neither the principal's roles and permissions nor a
 * {@link ResourceGrants resource grant} allow. Only ever asked for the principal's own tenant (a tenant mismatch is
 * denied before). Exceptions deny (fail closed). Implementations must be thread-safe.
 */
@FunctionalInterface
public interface PolicyDecisionPoint {
  /** Whether {@code principal} may do {@code permission} on {@code resource} in {@code tenant}. */
  boolean allows(Principal principal, TenantId tenant, String permission, String resource) throws Exception;
}
