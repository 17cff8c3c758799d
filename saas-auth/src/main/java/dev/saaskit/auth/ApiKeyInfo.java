package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/** What is known of an API key besides its secret: for listing in a settings page and for audit. Immutable. */
public final class ApiKeyInfo {
  private final long id;
  private final TenantId tenant;
  private final String publicId;
  private final String name;
  private final Set<String> scopes;
  private final String createdBy;
  private final Instant createdAt;
  private final @Nullable Instant expiresAt;
  private final @Nullable Instant revokedAt;
  private final @Nullable String revokedBy;
  private final @Nullable Instant lastUsedAt;

  ApiKeyInfo(long id, TenantId tenant, String publicId, String name, Set<String> scopes, String createdBy,
      Instant createdAt, @Nullable Instant expiresAt, @Nullable Instant revokedAt, @Nullable String revokedBy,
      @Nullable Instant lastUsedAt) {
    this.id = id;
    this.tenant = Objects.requireNonNull(tenant, "tenant");
    this.publicId = publicId;
    this.name = name;
    this.scopes = Set.copyOf(scopes);
    this.createdBy = createdBy;
    this.createdAt = createdAt;
    this.expiresAt = expiresAt;
    this.revokedAt = revokedAt;
    this.revokedBy = revokedBy;
    this.lastUsedAt = lastUsedAt;
  }

  /** The key's row id. */
  public long id() {
    return id;
  }

  /** The tenant that owns the key. */
  public TenantId tenant() {
    return tenant;
  }

  /** The public id: part of the key, safe to show ({@code sk_live_..._<publicId>_...}). */
  public String publicId() {
    return publicId;
  }

  /** The name its creator gave it. */
  public String name() {
    return name;
  }

  /** What the key may do: permissions, never more than its creator had. */
  public Set<String> scopes() {
    return scopes;
  }

  /** Who created it ({@code subject @ issuer}). */
  public String createdBy() {
    return createdBy;
  }

  /** When it was created. */
  public Instant createdAt() {
    return createdAt;
  }

  /** When it expires; empty for never. */
  public Optional<Instant> expiresAt() {
    return Optional.ofNullable(expiresAt);
  }

  /** When it was revoked; empty while active. */
  public Optional<Instant> revokedAt() {
    return Optional.ofNullable(revokedAt);
  }

  /** Who revoked it. */
  public Optional<String> revokedBy() {
    return Optional.ofNullable(revokedBy);
  }

  /** When it was last used, as of the last flush; empty if never. */
  public Optional<Instant> lastUsedAt() {
    return Optional.ofNullable(lastUsedAt);
  }

  @Override
  public String toString() {
    return "ApiKeyInfo[" + publicId + " '" + name + "' of " + tenant.value() + ", scopes=" + scopes
        + (revokedAt != null ? ", revoked" : "") + "]";
  }
}
