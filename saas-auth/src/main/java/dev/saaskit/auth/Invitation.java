package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * A pending invitation as {@link Invitations#list(TenantId)} shows it (no token: only its hash is stored).
 *
 * @param tenant the tenant
 * @param id the invitation's id
 * @param email where it was sent, if the inviter said (informational: accepting does not check it)
 * @param role the role the invitee will get
 * @param invitedBy who invited ({@link Actor#system()} for a system invitation)
 * @param createdAt when it was made
 * @param expiresAt when it stops working
 */
public record Invitation(TenantId tenant, UUID id, Optional<String> email, String role, Actor invitedBy,
    Instant createdAt, Instant expiresAt) {
  /** Checks the parts. */
  public Invitation {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(email, "email");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(invitedBy, "invitedBy");
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(expiresAt, "expiresAt");
  }
}
