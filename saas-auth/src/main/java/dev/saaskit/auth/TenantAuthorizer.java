package dev.saaskit.auth;

import dev.saaskit.auth.AccessDeniedException.Reason;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.LogText;
import java.util.Optional;
import java.util.OptionalLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-process {@link Authorizer}: every decision from memory. Built by {@link Authorizer#builder(RoleModel)}.
 * Outcomes travel as ints (the denial reason's ordinal, or {@code ALLOW}) so a decision allocates nothing.
 */
@SuppressWarnings("EnumOrdinal")
final class TenantAuthorizer implements Authorizer {
  private static final Logger LOG = LoggerFactory.getLogger(Authorizer.class);
  private static final Reason[] REASONS = Reason.values();
  private static final int ALLOW = -1;

  private final RoleModel model;
  private final @Nullable PermissionVersions versions;
  private final @Nullable ResourceGrants grants;
  private final @Nullable PolicyDecisionPoint pdp;
  private final @Nullable DecisionListener listener;

  TenantAuthorizer(Authorizer.Builder b) {
    this.model = b.model;
    this.versions = b.versions;
    this.grants = b.grants;
    this.pdp = b.pdp;
    this.listener = b.listener;
  }

  @Override
  public boolean check(Principal principal, String permission) {
    TenantId target = TenantContext.currentOrNull();
    int outcome = decide(principal, target, permission);
    report(principal, target, permission, null, outcome);
    return outcome == ALLOW;
  }

  @Override
  public boolean check(Principal principal, String permission, String resource) {
    TenantId target = TenantContext.currentOrNull();
    int outcome = decideOn(principal, target, permission, resource);
    report(principal, target, permission, resource, outcome);
    return outcome == ALLOW;
  }

  @Override
  public void require(Principal principal, String permission) {
    TenantId target = TenantContext.currentOrNull();
    int outcome = decide(principal, target, permission);
    report(principal, target, permission, null, outcome);
    if (outcome != ALLOW) {
      throw denied(principal, permission, null, outcome);
    }
  }

  @Override
  public void require(Principal principal, String permission, String resource) {
    TenantId target = TenantContext.currentOrNull();
    int outcome = decideOn(principal, target, permission, resource);
    report(principal, target, permission, resource, outcome);
    if (outcome != ALLOW) {
      throw denied(principal, permission, resource, outcome);
    }
  }

  /** ALLOW, or the ordinal of the denial reason. Allocation-free. */
  private int decide(Principal principal, @Nullable TenantId target, String permission) {
    int gate = gate(principal, target);
    if (gate != ALLOW) {
      return gate;
    }
    return fromRolesAndPermissions(principal, permission);
  }

  private int decideOn(Principal principal, @Nullable TenantId target, String permission, String resource) {
    int gate = gate(principal, target);
    if (gate != ALLOW) {
      return gate;
    }
    int outcome = fromRolesAndPermissions(principal, permission);
    if (outcome == ALLOW) {
      return ALLOW;
    }
    TenantId tenant = principal.tenant().orElseThrow();
    ResourceGrants g = grants;
    if (g != null) {
      ResourceGrants.Grant grant = g.lookup(tenant, principal.userKey(), resource);
      if (grant != null && grantAllows(grant, permission)) {
        return ALLOW;
      }
    }
    PolicyDecisionPoint p = pdp;
    if (p != null) {
      try {
        return p.allows(principal, tenant, permission, resource) ? ALLOW : Reason.POLICY_DENIED.ordinal();
      } catch (Exception e) {
        LOG.warn("policy decision point failed; denied (fail closed): {}", LogText.of(e));
        return Reason.POLICY_DENIED.ordinal();
      }
    }
    return outcome;
  }

  /** The tenant and revocation checks every decision starts with. */
  private int gate(Principal principal, @Nullable TenantId target) {
    Optional<TenantId> own = principal.tenant();
    if (own.isEmpty()) {
      return Reason.NO_TENANT.ordinal();
    }
    TenantId tenant = own.get();
    if (target != null && !target.equals(tenant)) {
      return Reason.TENANT_MISMATCH.ordinal();
    }
    PermissionVersions v = versions;
    if (v != null && principal.method() != Principal.Method.API_KEY) {
      OptionalLong carried = principal.permissionVersion();
      long current;
      try {
        current = v.current(tenant, principal.userKey());
      } catch (RuntimeException e) {
        LOG.warn("permission version unavailable; denied (fail closed): {}", LogText.of(e.getMessage()));
        return Reason.STALE_PERMISSIONS.ordinal();
      }
      if (current == PermissionVersions.NO_MEMBERSHIP || carried.isEmpty() || carried.getAsLong() < current) {
        return Reason.STALE_PERMISSIONS.ordinal();
      }
    }
    return ALLOW;
  }

  private int fromRolesAndPermissions(Principal principal, String permission) {
    int id = model.permissionId(permission);
    if (id >= 0 && (bits(principal)[id >>> 6] & (1L << id)) != 0) {
      return ALLOW;
    }
    if (principal.permissions().contains(permission)) {
      return ALLOW;
    }
    return id < 0 ? Reason.UNKNOWN_PERMISSION.ordinal() : Reason.NOT_PERMITTED.ordinal();
  }

  private boolean grantAllows(ResourceGrants.Grant grant, String permission) {
    for (String p : grant.permissions) {
      if (p.equals(permission)) {
        return true;
      }
    }
    int id = model.permissionId(permission);
    if (id < 0) {
      return false;
    }
    for (String role : grant.roles) {
      long[] bits = model.bitsOf(role);
      if (bits != null && (bits[id >>> 6] & (1L << id)) != 0) {
        return true;
      }
    }
    return false;
  }

  /** The principal's roles as permission bits under this model, computed once per principal and model. */
  private long[] bits(Principal principal) {
    Principal.CompiledRoles compiled = principal.compiledRoles;
    if (compiled != null && compiled.model == model) {
      return compiled.bits;
    }
    long[] bits = new long[model.words()];
    for (String role : principal.roles()) {
      long[] roleBits = model.bitsOf(role);
      if (roleBits != null) {
        for (int i = 0; i < bits.length; i++) {
          bits[i] |= roleBits[i];
        }
      }
    }
    principal.compiledRoles = new Principal.CompiledRoles(model, bits);
    return bits;
  }

  private void report(Principal principal, @Nullable TenantId target, String permission, @Nullable String resource,
      int outcome) {
    if (outcome == Reason.TENANT_MISMATCH.ordinal()) {
      LOG.warn("denied: {} of {} acting for tenant {} asked for {} in tenant {}", LogText.of(principal.subject()),
          LogText.of(principal.issuer()), LogText.of(principal.tenant().map(TenantId::value).orElse("-")),
          LogText.of(permission), LogText.of(target == null ? "-" : target.value()));
    }
    DecisionListener l = listener;
    if (l == null) {
      return;
    }
    TenantId effective = target != null ? target : principal.tenant().orElse(null);
    try {
      l.onDecision(new Decision(principal, effective, permission, resource, outcome == ALLOW ? null : REASONS[outcome]));
    } catch (RuntimeException e) {
      LOG.warn("decision listener failed: {}", LogText.of(e));
    }
  }

  private static AccessDeniedException denied(Principal principal, String permission, @Nullable String resource,
      int outcome) {
    Reason reason = REASONS[outcome];
    return new AccessDeniedException(reason, principal.subject() + " of " + principal.issuer() + " may not "
        + permission + (resource == null ? "" : " on " + resource) + ": " + reason);
  }

  @Override
  public String toString() {
    return "Authorizer[" + model + (versions != null ? ", permission versions" : "")
        + (grants != null ? ", resource grants" : "") + (pdp != null ? ", policy decision point" : "") + "]";
  }
}
