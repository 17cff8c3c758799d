package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import org.jspecify.annotations.Nullable;

/**
 * Who made a membership change, as the permission-change log records it: a user ({@code issuer}, {@code subject})
 * or {@link #system()} (a migration, a back-office job, the onboarding of a new tenant). Immutable.
 *
 * <p>An actor made with {@link #of(Principal)} from a principal that carries a permission version (a token with
 * {@code saaskit_pv}) also remembers that version and its tenant: {@link Memberships} then re-checks, in the
 * change's own transaction and under a lock on the actor's membership row, that the actor still is a member at that
 * version, so a request authorized just before its actor was demoted or removed cannot change anyone's role.
 * Equality and {@link #toString()} consider only who the actor is.
 */
public final class Actor {
  private static final Actor SYSTEM = new Actor(null, null, null, null);

  private final @Nullable String issuer;
  private final @Nullable String subject;
  /** The tenant the principal acted for, when it carried a permission version. */
  private final @Nullable TenantId tenant;
  /** The permission version the principal's credential carried (checked by {@link Memberships}). */
  private final @Nullable Long permissionVersion;

  private Actor(@Nullable String issuer, @Nullable String subject, @Nullable TenantId tenant,
      @Nullable Long permissionVersion) {
    this.issuer = issuer;
    this.subject = subject;
    this.tenant = tenant;
    this.permissionVersion = permissionVersion;
  }

  /** The system: no user made the change. */
  public static Actor system() {
    return SYSTEM;
  }

  /**
   * The user ({@code issuer}, {@code subject}).
   *
   * @throws IllegalArgumentException if either is empty or holds a NUL character
   */
  public static Actor user(String issuer, String subject) {
    return new Actor(MembershipsText.requireIssuer(issuer), MembershipsText.requireSubject(subject), null, null);
  }

  /**
   * The user of {@code principal}. When the principal acts for a tenant and its credential carries a permission
   * version (not an API key), {@link Memberships} refuses a change made by this actor in another tenant
   * ({@link AccessDeniedException.Reason#TENANT_MISMATCH}) and one made after the actor's membership changed or
   * ended ({@link AccessDeniedException.Reason#STALE_PERMISSIONS}), checked in the change's transaction.
   */
  public static Actor of(Principal principal) {
    Objects.requireNonNull(principal, "principal");
    String issuer = MembershipsText.requireIssuer(principal.issuer());
    String subject = MembershipsText.requireSubject(principal.subject());
    OptionalLong version = principal.permissionVersion();
    if (principal.method() == Principal.Method.API_KEY || principal.tenant().isEmpty() || version.isEmpty()) {
      return new Actor(issuer, subject, null, null);   // nothing to re-check against (as the Authorizer)
    }
    return new Actor(issuer, subject, principal.tenant().get(), version.getAsLong());
  }

  /** The tenant of the principal this actor was made from, when its version is re-checked; else empty. */
  Optional<TenantId> checkedTenant() {
    return Optional.ofNullable(tenant);
  }

  /** The permission version {@link Memberships} re-checks; empty when there is none to check. */
  OptionalLong checkedVersion() {
    return permissionVersion == null ? OptionalLong.empty() : OptionalLong.of(permissionVersion);
  }

  /** Whether this is {@link #system()}. */
  public boolean isSystem() {
    return issuer == null;
  }

  /** The user's issuer; empty for the system. */
  public Optional<String> issuer() {
    return Optional.ofNullable(issuer);
  }

  /** The user's subject; empty for the system. */
  public Optional<String> subject() {
    return Optional.ofNullable(subject);
  }

  /** {@link Principal#userKey(String, String)} of the user; empty for the system. */
  public Optional<String> userKey() {
    return issuer == null || subject == null ? Optional.empty() : Optional.of(Principal.userKey(issuer, subject));
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Actor a && Objects.equals(issuer, a.issuer) && Objects.equals(subject, a.subject);
  }

  @Override
  public int hashCode() {
    return Objects.hash(issuer, subject);
  }

  /** {@code system}, or {@code user[issuer subject]}. */
  @Override
  public String toString() {
    return issuer == null ? "system" : "user[" + issuer + " " + subject + "]";
  }
}
