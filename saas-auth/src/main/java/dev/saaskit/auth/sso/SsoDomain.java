package dev.saaskit.auth.sso;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * An email domain of an SSO connection and its verification record: to prove they control the domain, the tenant
 * publishes a DNS TXT record {@link #txtValue()} ({@code saaskit-verification=<random>}) at {@link #txtName()} (the
 * domain itself), then calls {@link SsoConnections#verifyDomain}; or an operator confirms it with {@link
 * SsoConnections#confirmDomainByAdmin}. Only verified domains route logins. Immutable and thread-safe.
 *
 * @param tenant the tenant
 * @param connectionId the connection
 * @param domain the domain, lower case ASCII (IDN in its {@code xn--} form)
 * @param txtValue the TXT record value that proves control
 * @param verifiedAt when it was verified; {@code null} while pending
 * @param verifiedBy how it was verified; {@code null} while pending
 * @param createdAt when it was added
 */
public record SsoDomain(TenantId tenant, UUID connectionId, String domain, String txtValue,
    @Nullable Instant verifiedAt, @Nullable VerifiedBy verifiedBy, Instant createdAt) {
  /** How a domain was verified. */
  public enum VerifiedBy {
    /** The TXT record was found in DNS. */
    DNS,
    /** An operator confirmed it (for example after checking the record some other way). */
    ADMIN
  }

  /** Checks the values. */
  public SsoDomain {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(connectionId, "connectionId");
    Objects.requireNonNull(domain, "domain");
    Objects.requireNonNull(txtValue, "txtValue");
    Objects.requireNonNull(createdAt, "createdAt");
  }

  /** Where the TXT record goes: the domain itself. */
  public String txtName() {
    return domain;
  }

  /** Whether the domain is verified. */
  public boolean verified() {
    return verifiedAt != null;
  }
}
