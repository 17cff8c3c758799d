package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * A new invitation and its token, which exists only here: the database keeps its SHA-256. Send the token to the
 * invitee (in a link) and drop it. {@link #toString()} leaves the token out.
 *
 * @param tenant the tenant
 * @param id the invitation's id (for {@link Invitations#revoke})
 * @param token the secret to hand to the invitee, once: {@code inv_} and 43 base64url characters (256 random bits)
 * @param role the role the invitee will get
 * @param expiresAt when the token stops working
 */
public record CreatedInvitation(TenantId tenant, UUID id, String token, String role, Instant expiresAt) {
  /** Checks the parts. */
  public CreatedInvitation {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(token, "token");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(expiresAt, "expiresAt");
  }

  /** Names the tenant, id, role and expiry; never the token. */
  @Override
  public String toString() {
    return "CreatedInvitation[" + tenant.value() + ", " + id + ", role=" + role + ", expiresAt=" + expiresAt + "]";
  }
}
