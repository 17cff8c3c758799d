package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** One authorization decision, as a {@link DecisionListener} receives it. Immutable. */
public final class Decision {
  private final Principal principal;
  private final @Nullable TenantId targetTenant;
  private final String permission;
  private final @Nullable String resource;
  private final AccessDeniedException.@Nullable Reason denial;

  Decision(Principal principal, @Nullable TenantId targetTenant, String permission, @Nullable String resource,
      AccessDeniedException.@Nullable Reason denial) {
    this.principal = Objects.requireNonNull(principal, "principal");
    this.targetTenant = targetTenant;
    this.permission = Objects.requireNonNull(permission, "permission");
    this.resource = resource;
    this.denial = denial;
  }

  /** Who asked. */
  public Principal principal() {
    return principal;
  }

  /** The tenant the request targeted (the current tenant, else the principal's); empty if neither was set. */
  public Optional<TenantId> targetTenant() {
    return Optional.ofNullable(targetTenant);
  }

  /** The permission asked for. */
  public String permission() {
    return permission;
  }

  /** The resource, for resource-level checks. */
  public Optional<String> resource() {
    return Optional.ofNullable(resource);
  }

  /** Whether it was allowed. */
  public boolean allowed() {
    return denial == null;
  }

  /** Why it was denied; empty when allowed. */
  public Optional<AccessDeniedException.Reason> denial() {
    return Optional.ofNullable(denial);
  }

  @Override
  public String toString() {
    return "Decision[" + principal.issuer() + " " + principal.subject() + ", tenant="
        + (targetTenant == null ? "-" : targetTenant.value()) + ", " + permission
        + (resource == null ? "" : " on " + resource) + ", " + (denial == null ? "allowed" : "denied " + denial) + "]";
  }
}
