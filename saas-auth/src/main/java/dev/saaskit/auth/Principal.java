package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Who is calling, for which tenant, with which roles and permissions: what a verified token, an API key or an SSO
 * login turns into, so {@link Authorizer} does not care how the caller authenticated.
 *
 * <p>A user is identified by the pair ({@link #issuer()}, {@link #subject()}), never by email: several IdPs let a
 * user change their email (or let anyone claim one), so an email is informational only. The tenant is the one the
 * credential speaks for; roles, permissions and the {@link #permissionVersion() permission version} are those of
 * that tenant's membership. Immutable and thread-safe.
 */
public final class Principal {
  /** How the caller authenticated. */
  public enum Method {
    /** A JWT from a trusted issuer (an IdP, or our own {@code TokenIssuer}). */
    TOKEN,
    /** A tenant-owned API key. */
    API_KEY,
    /** An SSO login (OIDC or SAML) that the app turned into a session. */
    SSO
  }

  private final String issuer;
  private final String subject;
  private final String userKey;
  private final Optional<TenantId> tenant;
  private final Set<String> roles;
  private final Set<String> permissions;
  private final OptionalLong permissionVersion;
  private final Optional<String> email;
  private final Optional<Instant> expiresAt;
  private final Method method;
  private final Optional<String> credentialId;
  private final Map<String, Object> claims;
  /** The role bits of the last RoleModel that decided for this principal (benign race: recomputed if lost). */
  volatile @Nullable CompiledRoles compiledRoles;

  /** A principal's roles resolved through one model. */
  static final class CompiledRoles {
    final RoleModel model;
    final long[] bits;

    CompiledRoles(RoleModel model, long[] bits) {
      this.model = model;
      this.bits = bits;
    }
  }

  private Principal(Builder b) {
    this.issuer = b.issuer;
    this.subject = b.subject;
    this.userKey = userKey(b.issuer, b.subject);
    this.tenant = Optional.ofNullable(b.tenant);
    this.roles = Set.copyOf(b.roles);
    this.permissions = Set.copyOf(b.permissions);
    this.permissionVersion = b.permissionVersion == null ? OptionalLong.empty() : OptionalLong.of(b.permissionVersion);
    this.email = Optional.ofNullable(b.email);
    this.expiresAt = Optional.ofNullable(b.expiresAt);
    this.method = b.method;
    this.credentialId = Optional.ofNullable(b.credentialId);
    this.claims = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(b.claims));
  }

  /** A builder for the user ({@code issuer}, {@code subject}); the method defaults to {@link Method#TOKEN}. */
  public static Builder builder(String issuer, String subject) {
    return new Builder(issuer, subject);
  }

  /**
   * The stable key of a user: {@code issuer} and {@code subject} joined by a character neither may contain
   * (U+0000), so two different pairs never give the same key. Memberships and permission versions are keyed by it.
   */
  public static String userKey(String issuer, String subject) {
    return issuer + '\u0000' + subject;
  }

  /** The issuer that vouches for the user ({@code iss}; for API keys, {@code saaskit:api-key}). */
  public String issuer() {
    return issuer;
  }

  /** The user's id at the issuer ({@code sub}); with {@link #issuer()} it identifies the user. */
  public String subject() {
    return subject;
  }

  /** {@link #userKey(String, String)} of this principal, computed once. */
  public String userKey() {
    return userKey;
  }

  /** The tenant this credential acts for; empty for a user who has not picked a tenant (no tenant claim). */
  public Optional<TenantId> tenant() {
    return tenant;
  }

  /** The tenant, or an {@link AccessDeniedException} (reason {@code NO_TENANT}) when there is none. */
  public TenantId requireTenant() {
    return tenant.orElseThrow(() -> new AccessDeniedException(AccessDeniedException.Reason.NO_TENANT,
        "the principal " + subject + " of " + issuer + " acts for no tenant"));
  }

  /** The roles of the user in {@link #tenant()} (as the credential states them). */
  public Set<String> roles() {
    return roles;
  }

  /** Permissions granted directly by the credential (a token's {@code permissions}, an API key's scopes). */
  public Set<String> permissions() {
    return permissions;
  }

  /**
   * The membership's permission version the credential was issued at; a role change bumps the version, and
   * {@link Authorizer} denies credentials that carry an older one. Empty when the credential carries none.
   */
  public OptionalLong permissionVersion() {
    return permissionVersion;
  }

  /** The email the issuer stated, for display only: never use it to identify the user. */
  public Optional<String> email() {
    return email;
  }

  /** When the credential expires (a token's {@code exp}); empty for a credential without expiry. */
  public Optional<Instant> expiresAt() {
    return expiresAt;
  }

  /** How the caller authenticated. */
  public Method method() {
    return method;
  }

  /** The credential's id: a token's {@code jti}, an API key's public id; empty when there is none. */
  public Optional<String> credentialId() {
    return credentialId;
  }

  /** Further claims the mapping kept (unmodifiable; empty by default). */
  public Map<String, Object> claims() {
    return claims;
  }

  /** A builder holding this principal's values, to make a variant. */
  public Builder toBuilder() {
    Builder b = new Builder(issuer, subject).roles(roles).permissions(permissions).method(method).claims(claims);
    b.tenant = tenant.orElse(null);
    b.permissionVersion = permissionVersion.isPresent() ? permissionVersion.getAsLong() : null;
    b.email = email.orElse(null);
    b.expiresAt = expiresAt.orElse(null);
    b.credentialId = credentialId.orElse(null);
    return b;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Principal)) {
      return false;
    }
    Principal p = (Principal) o;
    return userKey.equals(p.userKey) && tenant.equals(p.tenant) && roles.equals(p.roles)
        && permissions.equals(p.permissions) && permissionVersion.equals(p.permissionVersion)
        && email.equals(p.email) && expiresAt.equals(p.expiresAt) && method == p.method
        && credentialId.equals(p.credentialId) && claims.equals(p.claims);
  }

  @Override
  public int hashCode() {
    return Objects.hash(userKey, tenant, roles, permissionVersion, method);
  }

  /** Names the user, tenant, method and roles; never a secret or a token. */
  @Override
  public String toString() {
    return "Principal[" + issuer + " " + subject + ", tenant=" + tenant.map(TenantId::value).orElse("-")
        + ", method=" + method + ", roles=" + roles + ", permissionVersion="
        + (permissionVersion.isPresent() ? permissionVersion.getAsLong() : "-") + "]";
  }

  /** Builds a {@link Principal}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final String issuer;
    private final String subject;
    private @Nullable TenantId tenant;
    private Set<String> roles = new LinkedHashSet<>();
    private Set<String> permissions = new LinkedHashSet<>();
    private @Nullable Long permissionVersion;
    private @Nullable String email;
    private @Nullable Instant expiresAt;
    private Method method = Method.TOKEN;
    private @Nullable String credentialId;
    private Map<String, Object> claims = new LinkedHashMap<>();

    private Builder(String issuer, String subject) {
      this.issuer = requireText("issuer", issuer);
      this.subject = requireText("subject", subject);
    }

    /** The tenant the credential acts for; {@code null} for none. */
    public Builder tenant(@Nullable TenantId tenant) {
      this.tenant = tenant;
      return this;
    }

    /** The user's roles in the tenant (replaces any set before). */
    public Builder roles(Collection<String> roles) {
      this.roles = new LinkedHashSet<>();
      for (String r : Objects.requireNonNull(roles, "roles")) {
        this.roles.add(requireText("role", r));
      }
      return this;
    }

    /** Permissions the credential grants directly (replaces any set before). */
    public Builder permissions(Collection<String> permissions) {
      this.permissions = new LinkedHashSet<>();
      for (String p : Objects.requireNonNull(permissions, "permissions")) {
        this.permissions.add(requireText("permission", p));
      }
      return this;
    }

    /** The membership's permission version the credential carries; {@code null} for none. */
    public Builder permissionVersion(@Nullable Long version) {
      if (version != null && version < 0) {
        throw new IllegalArgumentException("permissionVersion must be >= 0 but was " + version);
      }
      this.permissionVersion = version;
      return this;
    }

    /** The email the issuer stated (display only); {@code null} for none. */
    public Builder email(@Nullable String email) {
      this.email = email;
      return this;
    }

    /** When the credential expires; {@code null} for never. */
    public Builder expiresAt(@Nullable Instant expiresAt) {
      this.expiresAt = expiresAt;
      return this;
    }

    /** How the caller authenticated; default {@link Method#TOKEN}. */
    public Builder method(Method method) {
      this.method = Objects.requireNonNull(method, "method");
      return this;
    }

    /** The credential's id (a token's {@code jti}, an API key's public id); {@code null} for none. */
    public Builder credentialId(@Nullable String credentialId) {
      this.credentialId = credentialId;
      return this;
    }

    /** Further claims to keep on the principal (replaces any set before). */
    public Builder claims(Map<String, ?> claims) {
      this.claims = new LinkedHashMap<>(Objects.requireNonNull(claims, "claims"));
      return this;
    }

    /** The principal. */
    public Principal build() {
      return new Principal(this);
    }

    private static String requireText(String what, @Nullable String value) {
      Objects.requireNonNull(value, what);
      if (value.isEmpty() || value.indexOf('\u0000') >= 0) {
        throw new IllegalArgumentException(what + " must be non-empty and free of NUL characters");
      }
      return value;
    }
  }
}
