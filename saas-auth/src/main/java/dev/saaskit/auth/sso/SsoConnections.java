package dev.saaskit.auth.sso;

import dev.saaskit.auth.AuthSchema;
import dev.saaskit.auth.internal.sso.Domains;
import dev.saaskit.auth.internal.sso.Tx;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.SqlNames;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The SSO connections of every tenant and their email domains, in the {@code sso_connections} and
 * {@code sso_domains} tables of {@link AuthSchema} (row-level security: each call sets the tenant for its own
 * transaction, on the application role's {@link DataSource}).
 *
 * <pre>{@code
 * SsoConnections connections = SsoConnections.builder(appDataSource).build();
 * SsoConnection acme = connections.create(tenant, SsoConnectionSpec.oidc("Acme Okta",
 *     OidcSettings.of("https://acme.okta.com", clientId, clientSecret)).defaultRole("member").build());
 * SsoDomain pending = connections.addDomain(tenant, acme.id(), "acme.com");  // publish pending.txtValue()
 * connections.verifyDomain(tenant, acme.id(), "acme.com");                    // looks the TXT record up
 * Optional<SsoConnection> route = connections.connectionForEmail("jane@acme.com");
 * }</pre>
 *
 * <p>A domain is verified for one tenant at most (a unique index decides races). Only verified domains route, and
 * only to an enabled connection. Thread-safe.
 */
public final class SsoConnections {
  /** The prefix of TXT verification values. */
  public static final String TXT_PREFIX = "saaskit-verification=";

  private static final String COLUMNS = "tenant_id, id, protocol, display_name, enabled, default_role,"
      + " require_email_domain, oidc_issuer, oidc_client_id, oidc_client_secret, saml_idp_entity_id, saml_sso_url,"
      + " saml_idp_cert_pem, saml_sp_entity_id, saml_acs_url, created_at, updated_at";

  private final DataSource dataSource;
  private final AuthSchema schema;
  private final Clock clock;
  private final SecureRandom random;
  private final DnsTxtResolver dns;
  private final Set<String> publicMailDomains;
  private final Tx tx;
  private final String s;

  private SsoConnections(Builder b) {
    this.dataSource = b.dataSource;
    this.schema = b.schema;
    this.clock = b.clock;
    this.random = b.random;
    this.dns = b.dns;
    this.publicMailDomains = Set.copyOf(b.publicMailDomains);
    this.tx = new Tx(dataSource, schema.tenantSetting());
    this.s = SqlNames.quoteIdent(schema.name());
  }

  /**
   * A builder over the application role's connections ({@code appDataSource}: not the owner, no
   * {@code BYPASSRLS}; the schema migrated and {@link AuthSchema#grantApp granted} to it).
   */
  public static Builder builder(DataSource appDataSource) {
    return new Builder(appDataSource);
  }

  DataSource dataSource() {
    return dataSource;
  }

  AuthSchema schema() {
    return schema;
  }

  Clock clock() {
    return clock;
  }

  SecureRandom random() {
    return random;
  }

  /**
   * Creates a connection for {@code tenant}.
   *
   * @return the stored connection (no verified domains yet)
   * @throws IllegalArgumentException if a value of {@code spec} cannot be stored or used to sign anyone in (see
   *     {@link #update})
   */
  public SsoConnection create(TenantId tenant, SsoConnectionSpec spec) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(spec, "spec");
    requireUsable(spec);
    UUID id = randomUuid();
    Instant now = now();
    try {
      return tx.inTenant(tenant, c -> {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".sso_connections (" + COLUMNS
            + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
          ps.setString(1, tenant.value());
          ps.setObject(2, id);
          bindSpec(ps, 3, spec);
          ps.setTimestamp(16, Timestamp.from(now));
          ps.setTimestamp(17, Timestamp.from(now));
          ps.executeUpdate();
        }
        return new SsoConnection(id, tenant, spec, Set.of(), now, now);
      });
    } catch (SQLException e) {
      throw Tx.failure("creating an SSO connection of tenant " + tenant, e);
    }
  }

  /**
   * Replaces the spec of a connection (protocol included; its domains stay).
   *
   * @throws SsoException {@code NOT_FOUND} when the tenant has no such connection
   * @throws IllegalArgumentException naming the value, if a value of {@code spec} cannot be stored or used to sign
   *     anyone in: a control character in the display name or a setting (a NUL in the certificate PEM), a default
   *     role that is not a membership role (1 to 100 characters, no control character), an OIDC issuer or SAML IdP
   *     entity id longer than a user's issuer (512 characters), or a SAML SSO or ACS URL that is not an absolute
   *     http(s) URL without fragment
   */
  public SsoConnection update(TenantId tenant, UUID connectionId, SsoConnectionSpec spec) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(connectionId, "connectionId");
    Objects.requireNonNull(spec, "spec");
    requireUsable(spec);
    return write(tenant, connectionId, spec);
  }

  private SsoConnection write(TenantId tenant, UUID connectionId, SsoConnectionSpec spec) {
    Instant now = now();
    try {
      return tx.inTenant(tenant, c -> {
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".sso_connections SET protocol = ?,"
            + " display_name = ?, enabled = ?, default_role = ?, require_email_domain = ?, oidc_issuer = ?,"
            + " oidc_client_id = ?, oidc_client_secret = ?, saml_idp_entity_id = ?, saml_sso_url = ?,"
            + " saml_idp_cert_pem = ?, saml_sp_entity_id = ?, saml_acs_url = ?, updated_at = ?"
            + " WHERE tenant_id = ? AND id = ?")) {
          bindSpec(ps, 1, spec);
          ps.setTimestamp(14, Timestamp.from(now));
          ps.setString(15, tenant.value());
          ps.setObject(16, connectionId);
          if (ps.executeUpdate() == 0) {
            throw notFound(tenant, connectionId);
          }
        }
        return read(c, tenant, connectionId).orElseThrow(() -> notFound(tenant, connectionId));
      });
    } catch (SQLException e) {
      throw Tx.failure("updating SSO connection " + connectionId, e);
    }
  }

  /**
   * Disables a connection: logins through it are refused and its domains no longer route. Idempotent.
   *
   * @throws SsoException {@code NOT_FOUND} when the tenant has no such connection
   */
  public SsoConnection disable(TenantId tenant, UUID connectionId) {
    SsoConnection current = get(tenant, connectionId);
    // not re-checked: a connection stored before a check existed must still be switched off
    return write(tenant, connectionId, current.spec().toBuilder().enabled(false).build());
  }

  /**
   * Deletes a connection with its domains and logins under way.
   *
   * @return whether it existed
   */
  public boolean delete(TenantId tenant, UUID connectionId) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(connectionId, "connectionId");
    try {
      return tx.inTenant(tenant, c -> {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + s + ".sso_connections"
            + " WHERE tenant_id = ? AND id = ?")) {
          ps.setString(1, tenant.value());
          ps.setObject(2, connectionId);
          return ps.executeUpdate() > 0;
        }
      });
    } catch (SQLException e) {
      throw Tx.failure("deleting SSO connection " + connectionId, e);
    }
  }

  /** The connection, if {@code tenant} has it. */
  public Optional<SsoConnection> find(TenantId tenant, UUID connectionId) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(connectionId, "connectionId");
    try {
      return tx.inTenant(tenant, c -> read(c, tenant, connectionId));
    } catch (SQLException e) {
      throw Tx.failure("reading SSO connection " + connectionId, e);
    }
  }

  /**
   * The connection.
   *
   * @throws SsoException {@code NOT_FOUND} when {@code tenant} has no such connection
   */
  public SsoConnection get(TenantId tenant, UUID connectionId) {
    return find(tenant, connectionId).orElseThrow(() -> notFound(tenant, connectionId));
  }

  /** The connections of {@code tenant}, oldest first. */
  public List<SsoConnection> list(TenantId tenant) {
    Objects.requireNonNull(tenant, "tenant");
    try {
      return tx.inTenant(tenant, c -> {
        Map<UUID, Set<String>> domains = verifiedDomains(c, tenant, null);
        List<SsoConnection> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + s + ".sso_connections"
            + " WHERE tenant_id = ? ORDER BY created_at, id")) {
          ps.setString(1, tenant.value());
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              out.add(map(rs, domains));
            }
          }
        }
        return out;
      });
    } catch (SQLException e) {
      throw Tx.failure("listing the SSO connections of tenant " + tenant, e);
    }
  }

  /**
   * Adds an email domain to a connection, pending verification, and returns its verification record: publish
   * {@link SsoDomain#txtValue()} as a TXT record of the domain, then call {@link #verifyDomain}. Adding a domain the
   * connection already has returns the existing record. The domain is normalized (trimmed, lower case, IDN to
   * {@code xn--} form).
   *
   * @throws SsoException {@code INVALID_DOMAIN}, {@code PUBLIC_MAIL_DOMAIN}, {@code NOT_FOUND} (no such connection)
   */
  public SsoDomain addDomain(TenantId tenant, UUID connectionId, String domain) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(connectionId, "connectionId");
    String d = normalizeClaimable(domain);
    byte[] token = new byte[20];
    random.nextBytes(token);
    String txt = TXT_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(token);
    Instant now = now();
    try {
      return tx.inTenant(tenant, c -> {
        if (read(c, tenant, connectionId).isEmpty()) {
          throw notFound(tenant, connectionId);
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".sso_domains (tenant_id,"
            + " connection_id, domain, txt_value, created_at) VALUES (?, ?, ?, ?, ?)"
            + " ON CONFLICT (tenant_id, connection_id, domain) DO NOTHING")) {
          ps.setString(1, tenant.value());
          ps.setObject(2, connectionId);
          ps.setString(3, d);
          ps.setString(4, txt);
          ps.setTimestamp(5, Timestamp.from(now));
          ps.executeUpdate();
        }
        return readDomain(c, tenant, connectionId, d).orElseThrow(() -> notFound(tenant, connectionId));
      });
    } catch (SQLException e) {
      throw Tx.failure("adding domain " + d + " to SSO connection " + connectionId, e);
    }
  }

  /**
   * Verifies a pending domain by DNS: one of the domain's TXT records must equal its {@link SsoDomain#txtValue()}.
   * Already verified: returned as is.
   *
   * @throws SsoException {@code DOMAIN_NOT_VERIFIED} (record not found), {@code DOMAIN_TAKEN} (verified by another
   *     tenant or connection, possibly at the same moment), {@code DNS_FAILURE}, {@code NOT_FOUND}
   */
  public SsoDomain verifyDomain(TenantId tenant, UUID connectionId, String domain) {
    SsoDomain record = domain(tenant, connectionId, domain);
    if (record.verified()) {
      return record;
    }
    List<String> records;
    try {
      records = dns.txtRecords(record.domain());
    } catch (RuntimeException e) {
      throw new SsoException(SsoException.Reason.DNS_FAILURE, "DNS TXT lookup of " + record.domain()
          + " failed: " + e.getMessage(), e);
    }
    if (records.stream().noneMatch(r -> r.strip().equals(record.txtValue()))) {
      throw new SsoException(SsoException.Reason.DOMAIN_NOT_VERIFIED, "no TXT record of " + record.domain()
          + " holds the verification value of SSO connection " + connectionId);
    }
    return markVerified(record, SsoDomain.VerifiedBy.DNS);
  }

  /**
   * Marks a domain verified without DNS, on an operator's word (the caller must have checked ownership some other
   * way). Adds the domain if the connection does not have it yet.
   *
   * @throws SsoException {@code DOMAIN_TAKEN}, {@code INVALID_DOMAIN}, {@code PUBLIC_MAIL_DOMAIN}, {@code NOT_FOUND}
   */
  public SsoDomain confirmDomainByAdmin(TenantId tenant, UUID connectionId, String domain) {
    SsoDomain record = addDomain(tenant, connectionId, domain);
    return record.verified() ? record : markVerified(record, SsoDomain.VerifiedBy.ADMIN);
  }

  /**
   * Removes a domain from a connection (verified or not); it stops routing at once.
   *
   * @return whether the connection had it
   */
  public boolean removeDomain(TenantId tenant, UUID connectionId, String domain) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(connectionId, "connectionId");
    Optional<String> d = Domains.normalize(Objects.requireNonNull(domain, "domain"));
    if (d.isEmpty()) {
      return false;
    }
    try {
      return tx.inTenant(tenant, c -> {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + s + ".sso_domains"
            + " WHERE tenant_id = ? AND connection_id = ? AND domain = ?")) {
          ps.setString(1, tenant.value());
          ps.setObject(2, connectionId);
          ps.setString(3, d.get());
          return ps.executeUpdate() > 0;
        }
      });
    } catch (SQLException e) {
      throw Tx.failure("removing domain " + d.get() + " of SSO connection " + connectionId, e);
    }
  }

  /** The domains of a connection (pending and verified), by name. */
  public List<SsoDomain> domains(TenantId tenant, UUID connectionId) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(connectionId, "connectionId");
    try {
      return tx.inTenant(tenant, c -> {
        List<SsoDomain> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT domain, txt_value, verified_at, verified_by,"
            + " created_at FROM " + s + ".sso_domains WHERE tenant_id = ? AND connection_id = ? ORDER BY domain")) {
          ps.setString(1, tenant.value());
          ps.setObject(2, connectionId);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              out.add(mapDomain(rs, tenant, connectionId));
            }
          }
        }
        return out;
      });
    } catch (SQLException e) {
      throw Tx.failure("listing the domains of SSO connection " + connectionId, e);
    }
  }

  /**
   * Routes a login before any tenant is known: the enabled connection whose VERIFIED domain is the email's
   * domain. Pending domains, disabled connections and malformed emails route nowhere. The email only routes: it
   * never identifies the user (the IdP's issuer and subject do).
   */
  public Optional<SsoConnection> connectionForEmail(String email) {
    Optional<String> d = Domains.ofEmail(Objects.requireNonNull(email, "email"));
    if (d.isEmpty()) {
      return Optional.empty();
    }
    String tenantValue;
    UUID connectionId;
    try {
      Optional<String[]> row = tx.noTenant(c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT tenant_id, connection_id FROM " + s
            + ".sso_route_domain(?)")) {
          ps.setString(1, d.get());
          try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? Optional.of(new String[] {rs.getString(1), rs.getString(2)})
                : Optional.<String[]>empty();
          }
        }
      });
      if (row.isEmpty()) {
        return Optional.empty();
      }
      String[] found = row.get();
      tenantValue = found[0];
      connectionId = UUID.fromString(found[1]);
    } catch (SQLException e) {
      throw Tx.failure("routing an email domain to its SSO connection", e);
    }
    return find(TenantId.of(tenantValue), connectionId).filter(SsoConnection::enabled)
        .filter(c -> c.verifiedDomains().contains(d.get()));
  }

  private SsoDomain domain(TenantId tenant, UUID connectionId, String domain) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(connectionId, "connectionId");
    String d = Domains.normalize(Objects.requireNonNull(domain, "domain")).orElseThrow(() -> invalid(domain));
    try {
      return tx.inTenant(tenant, c -> readDomain(c, tenant, connectionId, d)).orElseThrow(() ->
          new SsoException(SsoException.Reason.NOT_FOUND, "SSO connection " + connectionId + " of tenant " + tenant
              + " has no domain " + d + ": add it first"));
    } catch (SQLException e) {
      throw Tx.failure("reading domain " + d, e);
    }
  }

  private SsoDomain markVerified(SsoDomain record, SsoDomain.VerifiedBy by) {
    Instant now = now();
    try {
      return tx.inTenant(record.tenant(), c -> {
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".sso_domains SET verified_at = ?,"
            + " verified_by = ? WHERE tenant_id = ? AND connection_id = ? AND domain = ? AND verified_at IS NULL")) {
          ps.setTimestamp(1, Timestamp.from(now));
          ps.setString(2, by.name());
          ps.setString(3, record.tenant().value());
          ps.setObject(4, record.connectionId());
          ps.setString(5, record.domain());
          ps.executeUpdate();
        }
        return readDomain(c, record.tenant(), record.connectionId(), record.domain())
            .orElseThrow(() -> notFound(record.tenant(), record.connectionId()));
      });
    } catch (SQLException e) {
      if ("23505".equals(e.getSQLState())) {
        throw new SsoException(SsoException.Reason.DOMAIN_TAKEN, "domain " + record.domain()
            + " is already verified for another SSO connection (of this or another tenant)", e);
      }
      throw Tx.failure("verifying domain " + record.domain(), e);
    }
  }

  private String normalizeClaimable(String domain) {
    String d = Domains.normalize(Objects.requireNonNull(domain, "domain")).orElseThrow(() -> invalid(domain));
    if (publicMailDomains.contains(d)) {
      throw new SsoException(SsoException.Reason.PUBLIC_MAIL_DOMAIN, "domain " + d
          + " is a public mail domain: no tenant may claim it");
    }
    return d;
  }

  private static SsoException invalid(String domain) {
    return new SsoException(SsoException.Reason.INVALID_DOMAIN, "'" + domain + "' is not a valid domain name");
  }

  private static SsoException notFound(TenantId tenant, UUID connectionId) {
    return new SsoException(SsoException.Reason.NOT_FOUND, "tenant " + tenant + " has no SSO connection "
        + connectionId);
  }

  private Optional<SsoConnection> read(Connection c, TenantId tenant, UUID id) throws SQLException {
    Map<UUID, Set<String>> domains = verifiedDomains(c, tenant, id);
    try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + s + ".sso_connections"
        + " WHERE tenant_id = ? AND id = ?")) {
      ps.setString(1, tenant.value());
      ps.setObject(2, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(map(rs, domains)) : Optional.empty();
      }
    }
  }

  private Map<UUID, Set<String>> verifiedDomains(Connection c, TenantId tenant, @Nullable UUID id)
      throws SQLException {
    Map<UUID, Set<String>> out = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT connection_id, domain FROM " + s + ".sso_domains"
        + " WHERE tenant_id = ? AND verified_at IS NOT NULL" + (id == null ? "" : " AND connection_id = ?"))) {
      ps.setString(1, tenant.value());
      if (id != null) {
        ps.setObject(2, id);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.computeIfAbsent(rs.getObject(1, UUID.class), k -> new HashSet<>()).add(rs.getString(2));
        }
      }
    }
    return out;
  }

  private Optional<SsoDomain> readDomain(Connection c, TenantId tenant, UUID connectionId, String domain)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT domain, txt_value, verified_at, verified_by, created_at"
        + " FROM " + s + ".sso_domains WHERE tenant_id = ? AND connection_id = ? AND domain = ?")) {
      ps.setString(1, tenant.value());
      ps.setObject(2, connectionId);
      ps.setString(3, domain);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(mapDomain(rs, tenant, connectionId)) : Optional.empty();
      }
    }
  }

  private static SsoDomain mapDomain(ResultSet rs, TenantId tenant, UUID connectionId) throws SQLException {
    Timestamp verifiedAt = rs.getTimestamp(3);
    String by = rs.getString(4);
    return new SsoDomain(tenant, connectionId, rs.getString(1), rs.getString(2),
        verifiedAt == null ? null : verifiedAt.toInstant(), by == null ? null : SsoDomain.VerifiedBy.valueOf(by),
        rs.getTimestamp(5).toInstant());
  }

  private static SsoConnection map(ResultSet rs, Map<UUID, Set<String>> domains) throws SQLException {
    TenantId tenant = TenantId.of(rs.getString(1));
    UUID id = rs.getObject(2, UUID.class);
    SsoConnectionSpec.Builder b;
    if (SsoProtocol.valueOf(rs.getString(3)) == SsoProtocol.OIDC) {
      b = SsoConnectionSpec.oidc(rs.getString(4), OidcSettings.of(rs.getString(8), rs.getString(9),
          rs.getString(10)));
    } else {
      b = SsoConnectionSpec.saml(rs.getString(4), new SamlConnectionSettings(rs.getString(11), rs.getString(12),
          rs.getString(13), rs.getString(14), rs.getString(15)));
    }
    SsoConnectionSpec spec = b.enabled(rs.getBoolean(5)).defaultRole(rs.getString(6))
        .requireVerifiedEmailDomain(rs.getBoolean(7)).build();
    return new SsoConnection(id, tenant, spec, domains.getOrDefault(id, Set.of()),
        rs.getTimestamp(16).toInstant(), rs.getTimestamp(17).toInstant());
  }

  /** The longest role a membership holds (Memberships' limit): the default role is given to provisioned users. */
  private static final int MAX_ROLE = 100;
  /** The longest issuer a membership's user has: the identity of everyone a connection signs in. */
  private static final int MAX_ISSUER = 512;

  /**
   * Refuses, before anything is written, a spec whose values PostgreSQL cannot store (a NUL fails the insert as a
   * database error) or that would fail every login through the connection later: the default role and the issuer
   * go into memberships, the SAML URLs into {@code SamlSettings.forConnection}. Checked on writes only, so rows
   * stored before stay readable.
   */
  private static void requireUsable(SsoConnectionSpec spec) {
    noControl("displayName", spec.displayName());
    String role = spec.defaultRole();
    noControl("defaultRole", role);
    if (role.length() > MAX_ROLE) {
      throw new IllegalArgumentException("defaultRole must be at most " + MAX_ROLE + " characters (a membership"
          + " role) but was " + role.length());
    }
    OidcSettings o = spec.oidc().orElse(null);
    if (o != null) {
      maxIssuer("issuer", o.issuer());
      noControl("clientId", o.clientId());
      noControl("clientSecret", o.clientSecret());
    }
    SamlConnectionSettings m = spec.saml().orElse(null);
    if (m != null) {
      noControl("idpEntityId", m.idpEntityId());
      maxIssuer("idpEntityId", m.idpEntityId());
      noControl("spEntityId", m.spEntityId());
      httpUrl("ssoUrl", m.ssoUrl());
      httpUrl("acsUrl", m.acsUrl());
      if (m.idpSigningCertificatePem().indexOf('\u0000') >= 0) {   // PEM has line breaks, never a NUL
        throw new IllegalArgumentException("idpSigningCertificatePem must not contain a NUL character");
      }
    }
  }

  private static void noControl(String what, String value) {
    for (int i = 0; i < value.length(); i++) {
      if (Character.isISOControl(value.charAt(i))) {
        // the value itself is not echoed: it may be a secret, and it holds the control character
        throw new IllegalArgumentException(what + " must not contain control characters (found one at index " + i
            + ")");
      }
    }
  }

  private static void maxIssuer(String what, String value) {
    if (value.length() > MAX_ISSUER) {
      throw new IllegalArgumentException(what + " must be at most " + MAX_ISSUER + " characters (a user's issuer)"
          + " but was " + value.length());
    }
  }

  private static void httpUrl(String what, String value) {
    noControl(what, value);
    java.net.URI uri;
    try {
      uri = new java.net.URI(value);
    } catch (java.net.URISyntaxException e) {
      throw new IllegalArgumentException(what + " must be an absolute http(s) URL but is not a URL", e);
    }
    String scheme = uri.getScheme();
    if (!uri.isAbsolute() || uri.getHost() == null || uri.getRawFragment() != null
        || !("https".equalsIgnoreCase(scheme) || "http".equalsIgnoreCase(scheme))) {
      throw new IllegalArgumentException(what + " must be an absolute http(s) URL without fragment but was '"
          + value + "'");
    }
  }

  private static void bindSpec(PreparedStatement ps, int first, SsoConnectionSpec spec) throws SQLException {
    int i = first;
    ps.setString(i++, spec.protocol().name());
    ps.setString(i++, spec.displayName());
    ps.setBoolean(i++, spec.enabled());
    ps.setString(i++, spec.defaultRole());
    ps.setBoolean(i++, spec.requireVerifiedEmailDomain());
    OidcSettings o = spec.oidc().orElse(null);
    ps.setString(i++, o == null ? null : o.issuer());
    ps.setString(i++, o == null ? null : o.clientId());
    ps.setString(i++, o == null ? null : o.clientSecret());
    SamlConnectionSettings m = spec.saml().orElse(null);
    ps.setString(i++, m == null ? null : m.idpEntityId());
    ps.setString(i++, m == null ? null : m.ssoUrl());
    ps.setString(i++, m == null ? null : m.idpSigningCertificatePem());
    ps.setString(i++, m == null ? null : m.spEntityId());
    ps.setString(i, m == null ? null : m.acsUrl());
  }

  private UUID randomUuid() {
    byte[] b = new byte[16];
    random.nextBytes(b);
    b[6] = (byte) ((b[6] & 0x0f) | 0x40);
    b[8] = (byte) ((b[8] & 0x3f) | 0x80);
    long hi = 0;
    long lo = 0;
    for (int i = 0; i < 8; i++) {
      hi = (hi << 8) | (b[i] & 0xff);
      lo = (lo << 8) | (b[8 + i] & 0xff);
    }
    return new UUID(hi, lo);
  }

  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MICROS);
  }

  /** Builds {@link SsoConnections}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final DataSource dataSource;
    private AuthSchema schema = AuthSchema.defaults();
    private Clock clock = Clock.systemUTC();
    private SecureRandom random = new SecureRandom();
    private DnsTxtResolver dns = DnsTxtResolver.system();
    private Collection<String> publicMailDomains = Domains.PUBLIC_MAIL;

    private Builder(DataSource dataSource) {
      this.dataSource = Objects.requireNonNull(dataSource, "appDataSource");
    }

    /** The schema (name and tenant setting); default {@link AuthSchema#defaults()}. */
    public Builder schema(AuthSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The clock for timestamps; default the system UTC clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The randomness for ids and verification values; default a new {@link SecureRandom}. */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** How TXT records are looked up; default {@link DnsTxtResolver#system()}. */
    public Builder dnsResolver(DnsTxtResolver resolver) {
      this.dns = Objects.requireNonNull(resolver, "resolver");
      return this;
    }

    /**
     * Domains no tenant may add (public mail providers); default a built-in list of about 30 (gmail.com,
     * outlook.com, yahoo.com, icloud.com, proton.me, ...). Pass an empty collection to allow every domain.
     */
    public Builder publicMailDomains(Collection<String> domains) {
      List<String> normalized = new ArrayList<>();
      for (String d : Objects.requireNonNull(domains, "domains")) {
        normalized.add(Domains.normalize(d).orElseThrow(() -> new IllegalArgumentException(
            "publicMailDomains must hold domain names but held '" + d + "'")).toLowerCase(Locale.ROOT));
      }
      this.publicMailDomains = normalized;
      return this;
    }

    /** The store. */
    public SsoConnections build() {
      return new SsoConnections(this);
    }
  }
}
