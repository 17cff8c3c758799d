package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Produces the custom claims an IdP should put into a user's token for the active tenant: tenant, role,
 * permissions and permission version ({@link MembershipClaims}), read from {@link Memberships} (one query). For the
 * Supabase custom access-token hook (an HTTP endpoint of the app), an Auth0 post-login action (which fetches them
 * from the app), or a Keycloak mapper; see docs/auth-memberships.md.
 *
 * <p>The permissions of a role come from a plain function ({@code role -> permissions}), so any role model fits
 * (saas-auth's RBAC model, a map, the database); without one, tokens carry no {@code permissions} and checks use
 * the role alone. Immutable and thread-safe.
 */
public final class TenantClaims {
  private final Memberships memberships;
  private final Function<String, Set<String>> permissionsOfRole;

  private TenantClaims(Memberships memberships, Function<String, Set<String>> permissionsOfRole) {
    this.memberships = memberships;
    this.permissionsOfRole = permissionsOfRole;
  }

  /** Claims with roles only: {@code permissions} is always empty. */
  public static TenantClaims of(Memberships memberships) {
    return of(memberships, role -> Set.of());
  }

  /**
   * Claims whose {@code permissions} are {@code permissionsOfRole.apply(role)} (all the permissions the role grants,
   * inherited ones included; {@code null} or an empty set for none).
   */
  public static TenantClaims of(Memberships memberships, Function<String, Set<String>> permissionsOfRole) {
    return new TenantClaims(Objects.requireNonNull(memberships, "memberships"),
        Objects.requireNonNull(permissionsOfRole, "permissionsOfRole"));
  }

  /**
   * The claims of user ({@code issuer}, {@code subject}) for {@code activeTenant}; empty when the user is not a
   * member of it (then add no tenant claims: the token acts for no tenant).
   *
   * @throws dev.saaskit.core.SaasException if the database failed
   */
  public Optional<MembershipClaims> claimsFor(TenantId activeTenant, String issuer, String subject) {
    return memberships.find(activeTenant, issuer, subject).map(m -> {
      Set<String> permissions = permissionsOfRole.apply(m.role());
      return new MembershipClaims(m.tenant(), m.role(), permissions == null ? Set.of() : permissions,
          m.permissionVersion());
    });
  }
}
