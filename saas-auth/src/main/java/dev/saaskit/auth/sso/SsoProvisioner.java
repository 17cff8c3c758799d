package dev.saaskit.auth.sso;

import dev.saaskit.auth.Actor;
import dev.saaskit.auth.Membership;
import dev.saaskit.auth.MembershipException;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.Principal;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Just-in-time provisioning: turns a completed SSO login into the application's {@link Principal}, typically by
 * creating or updating the user's membership in {@link SsoLogin#tenant()} with {@link SsoLogin#role()} on the first
 * login. The user is identified by ({@link SsoLogin#issuer()}, {@link SsoLogin#subject()}), never by email.
 * Implementations must be thread-safe.
 */
@FunctionalInterface
public interface SsoProvisioner {
  /**
   * The principal of this login.
   *
   * @param login a login whose state, issuer, ID token and email domain were checked
   */
  Principal provision(SsoLogin login);

  /**
   * Builds the principal without storing anything: the user ({@code iss}, {@code sub}), the connection's tenant,
   * the connection's default role, the email for display, method {@link Principal.Method#SSO} and the connection id
   * as credential id.
   */
  static SsoProvisioner defaultRole() {
    return login -> Principal.builder(login.issuer(), login.subject())
        .tenant(login.tenant())
        .roles(Set.of(login.role()))
        .email(login.email().orElse(null))
        .method(Principal.Method.SSO)
        .credentialId(login.connection().id().toString())
        .build();
  }

  /**
   * Just-in-time provisioning into {@code memberships}: on a user's first login through a connection, a membership
   * of the connection's tenant with the connection's default role (actor: the system, logged in the permission
   * change log); on later logins the membership as it is now (an admin may have promoted or demoted the user since;
   * a removed user is provisioned again only if they log in again, with the default role). The principal carries
   * the membership's role and permission version, so {@code Authorizer} with {@code PermissionVersions} revokes
   * it like a token. Two first logins at once make one membership.
   */
  static SsoProvisioner memberships(Memberships memberships) {
    Objects.requireNonNull(memberships, "memberships");
    return login -> {
      Optional<Membership> existing = memberships.find(login.tenant(), login.issuer(), login.subject());
      Membership m;
      if (existing.isPresent()) {
        m = existing.get();
      } else {
        try {
          m = memberships.add(login.tenant(), login.issuer(), login.subject(), login.email().orElse(null),
              login.role(), Actor.system());
        } catch (MembershipException e) {
          if (e.reason() != MembershipException.Reason.ALREADY_MEMBER) {
            throw e;
          }
          m = memberships.find(login.tenant(), login.issuer(), login.subject()).orElseThrow(() -> e);
        }
      }
      return Principal.builder(login.issuer(), login.subject())
          .tenant(login.tenant())
          .roles(Set.of(m.role()))
          .permissionVersion(m.permissionVersion())
          .email(login.email().orElse(null))
          .method(Principal.Method.SSO)
          .credentialId(login.connection().id().toString())
          .build();
    };
  }
}
