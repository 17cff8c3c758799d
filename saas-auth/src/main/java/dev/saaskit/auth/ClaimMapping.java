package dev.saaskit.auth;

import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Reads the tenant, roles, permissions, permission version and email out of a verified token's claims. Presets for
 * common IdPs are in {@link ClaimMappings}; implement this for anything else.
 *
 * <p>The verifier calls the mapping only after the signature, issuer, expiry and audience were checked, and builds
 * the {@link Principal} itself: the user is always ({@code iss}, {@code sub}), never the email, whatever a mapping
 * returns. The issuer's tenant binding (see {@link TrustedIssuer.Builder#fixedTenant}) is applied to the tenant the
 * mapping returns. A mapping must be thread-safe and should not block; to refuse a token whose claims have the wrong
 * shape, throw {@link InvalidTokenException} with reason {@code BAD_CLAIM}.
 */
@FunctionalInterface
public interface ClaimMapping {

  /**
   * Maps verified claims.
   *
   * @param claims the token's claims as parsed JSON: strings, {@code Long}/{@code Double} numbers, booleans,
   *     {@code List}s and {@code Map}s; {@code exp}, {@code iat} and {@code nbf} are {@code java.util.Date}s and
   *     {@code aud} a {@code List<String>}. Unmodifiable.
   * @return what the claims say about tenant, roles, permissions, permission version and email
   */
  Mapped map(Map<String, Object> claims);

  /**
   * What a mapping read from the claims.
   *
   * @param tenant the tenant id the token names, or {@code null} for none
   * @param roles the roles in that tenant
   * @param permissions the permissions the token grants directly
   * @param permissionVersion the membership's permission version the token carries, or {@code null} for none
   * @param email the email for display (never an identity), or {@code null}
   */
  record Mapped(@Nullable String tenant, Set<String> roles, Set<String> permissions,
      @Nullable Long permissionVersion, @Nullable String email) {

    /** Copies the sets; checks the permission version is not negative. */
    public Mapped {
      roles = Set.copyOf(Objects.requireNonNull(roles, "roles"));
      permissions = Set.copyOf(Objects.requireNonNull(permissions, "permissions"));
      if (permissionVersion != null && permissionVersion < 0) {
        throw new IllegalArgumentException("permissionVersion must be >= 0 but was " + permissionVersion);
      }
    }
  }
}
