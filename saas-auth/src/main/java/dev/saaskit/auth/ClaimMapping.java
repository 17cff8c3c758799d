package dev.saaskit.auth;

import java.util.Map;

/**
 * Turns a verified token's claims into the tenant, roles, permissions, permission version and email of a
 * {@link Principal}. The verifier has already set the user ({@code iss}, {@code sub}), {@code exp} and {@code jti};
 * a mapping must never derive the user from the email. {@link ClaimMappings} has presets for Clerk, Supabase,
 * Auth0, Keycloak and WorkOS, and a configurable generic one.
 */
@FunctionalInterface
public interface ClaimMapping {
  /**
   * Fills {@code principal} from {@code claims}.
   *
   * @param claims the verified claims, as parsed JSON: strings, numbers ({@code Long} or {@code Double}), booleans,
   *     {@code List}s and {@code Map}s; unmodifiable
   * @param principal the principal being built
   * @throws InvalidTokenException (reason {@link InvalidTokenException.Reason#BAD_CLAIM}) if a claim the mapping
   *     needs has the wrong type; throwing anything else is treated the same way
   */
  void map(Map<String, Object> claims, Principal.Builder principal);
}
