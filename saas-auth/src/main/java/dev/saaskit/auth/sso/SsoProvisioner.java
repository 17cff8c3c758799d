package dev.saaskit.auth.sso;

import dev.saaskit.auth.Principal;
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
}
