package dev.saaskit.auth;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Answers "may this principal do this, in this tenant?" from memory: no database query per decision.
 *
 * <p>The tenant a request targets is {@code TenantContext}'s current tenant when one is set, else the principal's
 * own; a principal acting for another tenant than the target is always denied ({@link
 * AccessDeniedException.Reason#TENANT_MISMATCH}), whatever its roles. A principal whose permission version is
 * older than its membership's current one is denied too ({@link AccessDeniedException.Reason#STALE_PERMISSIONS}).
 * Implementations are thread-safe.
 *
 * <pre>{@code
 * Authorizer authorizer = Authorizer.builder(RoleModel.defaults())
 *     .permissionVersions(versions)        // revocation: tokens older than the membership are denied
 *     .build();
 * if (!authorizer.check(principal, "invoice:read")) { ... 403 ... }
 * }</pre>
 */
public interface Authorizer {
  /** A builder of the in-process authorizer, deciding with {@code model}. */
  static Builder builder(RoleModel model) {
    return new Builder(model);
  }

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

  /**
   * Builds the in-process {@link Authorizer}: roles and permissions from a {@link RoleModel}, optional revocation
   * through {@link PermissionVersions}, resource grants, a {@link PolicyDecisionPoint} and a
   * {@link DecisionListener}. Not thread-safe; the authorizer is.
   */
  final class Builder {
    final RoleModel model;
    @Nullable PermissionVersions versions;
    @Nullable ResourceGrants grants;
    @Nullable PolicyDecisionPoint pdp;
    @Nullable DecisionListener listener;

    private Builder(RoleModel model) {
      this.model = Objects.requireNonNull(model, "model");
    }

    /**
     * Deny credentials whose permission version is absent or older than the membership's current one (or whose
     * membership is gone). API keys are exempt: their scopes are fixed at creation and they are revoked directly.
     * Default: no version check.
     */
    public Builder permissionVersions(PermissionVersions versions) {
      this.versions = Objects.requireNonNull(versions, "versions");
      return this;
    }

    /** Grants on single resources, consulted by the resource-level checks; default none. */
    public Builder resourceGrants(ResourceGrants grants) {
      this.grants = Objects.requireNonNull(grants, "grants");
      return this;
    }

    /** Where resource-level checks go when roles and grants do not allow; default none. */
    public Builder policyDecisionPoint(PolicyDecisionPoint pdp) {
      this.pdp = Objects.requireNonNull(pdp, "pdp");
      return this;
    }

    /** Told every decision; default none (and then decisions allocate nothing). */
    public Builder decisionListener(DecisionListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** The authorizer. */
    public Authorizer build() {
      return new TenantAuthorizer(this);
    }
  }
}
