package dev.saaskit.auth.sso;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's SSO connection as stored by {@link SsoConnections}: its id and tenant, the administrator's {@link
 * SsoConnectionSpec}, and the email domains verified for it. Immutable and thread-safe; {@link #toString()} never
 * shows the client secret.
 */
public final class SsoConnection {
  private final UUID id;
  private final TenantId tenant;
  private final SsoConnectionSpec spec;
  private final Set<String> verifiedDomains;
  private final Instant createdAt;
  private final Instant updatedAt;

  /**
   * A connection value (as {@link SsoConnections} reads it; public for tests and custom stores).
   *
   * @param id the connection id
   * @param tenant the tenant that owns it
   * @param spec its configuration
   * @param verifiedDomains its verified email domains (lower case, ASCII)
   * @param createdAt when it was created
   * @param updatedAt when it was last changed
   */
  public SsoConnection(UUID id, TenantId tenant, SsoConnectionSpec spec, Set<String> verifiedDomains,
      Instant createdAt, Instant updatedAt) {
    this.id = Objects.requireNonNull(id, "id");
    this.tenant = Objects.requireNonNull(tenant, "tenant");
    this.spec = Objects.requireNonNull(spec, "spec");
    this.verifiedDomains = java.util.Collections.unmodifiableSet(new TreeSet<>(verifiedDomains));
    this.createdAt = Objects.requireNonNull(createdAt, "createdAt");
    this.updatedAt = Objects.requireNonNull(updatedAt, "updatedAt");
  }

  /** The connection id. */
  public UUID id() {
    return id;
  }

  /** The tenant that owns the connection. */
  public TenantId tenant() {
    return tenant;
  }

  /** The configuration. */
  public SsoConnectionSpec spec() {
    return spec;
  }

  /** The protocol. */
  public SsoProtocol protocol() {
    return spec.protocol();
  }

  /** The name shown to users. */
  public String displayName() {
    return spec.displayName();
  }

  /** Whether logins are allowed. */
  public boolean enabled() {
    return spec.enabled();
  }

  /** The role new users get (just-in-time provisioning). */
  public String defaultRole() {
    return spec.defaultRole();
  }

  /** See {@link SsoConnectionSpec#requireVerifiedEmailDomain()}. */
  public boolean requireVerifiedEmailDomain() {
    return spec.requireVerifiedEmailDomain();
  }

  /** The OIDC settings of an OIDC connection. */
  public Optional<OidcSettings> oidc() {
    return spec.oidc();
  }

  /** The SAML settings of a SAML connection. */
  public Optional<SamlConnectionSettings> saml() {
    return spec.saml();
  }

  /** The verified email domains (lower case, ASCII, sorted; unmodifiable). */
  public Set<String> verifiedDomains() {
    return verifiedDomains;
  }

  /** When the connection was created. */
  public Instant createdAt() {
    return createdAt;
  }

  /** When the connection was last changed. */
  public Instant updatedAt() {
    return updatedAt;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof SsoConnection c && id.equals(c.id) && tenant.equals(c.tenant) && spec.equals(c.spec)
        && verifiedDomains.equals(c.verifiedDomains) && createdAt.equals(c.createdAt)
        && updatedAt.equals(c.updatedAt);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, tenant, spec, verifiedDomains);
  }

  /** The values, without the client secret. */
  @Override
  public String toString() {
    return "SsoConnection[id=" + id + ", tenant=" + tenant + ", " + spec + ", verifiedDomains=" + verifiedDomains
        + "]";
  }
}
