package dev.saaskit.auth;

import dev.saaskit.auth.internal.MembershipStore;
import dev.saaskit.auth.internal.Tx;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.LogText;
import dev.saaskit.core.internal.SqlNames;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Invitations to join a tenant with a role: a single-use token of 256 random bits, shown once and stored only as its
 * SHA-256, that expires.
 *
 * <ul>
 *   <li>{@link #create} refuses a role above the inviter's own: the inviter's current membership role (read in the
 *       same transaction, not taken from a token) must {@linkplain RoleHierarchy#includes include} it.
 *   <li>{@link #accept} finds the invitation by the token's hash (through a narrow {@code SECURITY DEFINER}
 *       function that returns only its tenant and id), then, in one transaction under that tenant, marks it
 *       accepted ({@code UPDATE ... WHERE accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now}: of
 *       concurrent accepts exactly one wins), re-checks that the inviter's CURRENT role still includes the invited
 *       one (refused otherwise: {@link InvitationException.Reason#INVITER_NO_LONGER_ALLOWED}, the invitation stays
 *       pending), creates or upgrades the membership, bumps its version and appends the log row.
 *   <li>An unknown, malformed, expired, used or revoked token gives {@link InvitationException.Reason#INVALID},
 *       without saying which.
 * </ul>
 *
 * <p>Immutable and thread-safe.
 */
public final class Invitations {
  /** The prefix of every invitation token. */
  public static final String TOKEN_PREFIX = "inv_";

  private static final Logger LOG = LoggerFactory.getLogger(Invitations.class);
  private static final int TOKEN_BYTES = 32;
  private static final int TOKEN_LENGTH = TOKEN_PREFIX.length() + 43;
  private static final Duration MIN_TTL = Duration.ofMinutes(1);
  private static final Duration MAX_TTL = Duration.ofDays(365);

  private final DataSource dataSource;
  private final AuthSchema schema;
  private final Clock clock;
  private final SecureRandom random;
  private final RoleHierarchy roleHierarchy;
  private final Duration defaultTtl;
  private final MembershipChangeListener changeListener;
  private final String quotedSchema;
  private final MembershipStore store;

  private Invitations(Builder b) {
    this.dataSource = b.dataSource;
    this.schema = b.schema;
    this.clock = b.clock;
    this.random = b.random;
    this.roleHierarchy = b.roleHierarchy;
    this.defaultTtl = b.defaultTtl;
    this.changeListener = b.changeListener;
    this.quotedSchema = SqlNames.quoteIdent(schema.name());
    this.store = new MembershipStore(quotedSchema);
  }

  /** A builder for invitations stored through {@code appDataSource}, connections of the application role. */
  public static Builder builder(DataSource appDataSource) {
    return new Builder(Objects.requireNonNull(appDataSource, "appDataSource"));
  }

  /**
   * Invites someone to {@code tenant} with {@code role}, on behalf of {@code inviter} (who must be a member whose
   * role includes {@code role}, or {@link Actor#system()}), valid for the {@linkplain Builder#defaultTtl default
   * time to live}.
   *
   * @param email where the invitation is sent (informational), or {@code null}
   * @throws InvitationException {@code INVITER_NOT_MEMBER} or {@code ROLE_ABOVE_INVITER}
   * @throws AccessDeniedException {@code TENANT_MISMATCH} or {@code STALE_PERMISSIONS} for an inviter whose
   *     credential is for another tenant or older than its membership (see {@link Actor#of(Principal)})
   * @throws SaasException if the database failed
   */
  public CreatedInvitation create(TenantId tenant, Actor inviter, @Nullable String email, String role) {
    return create(tenant, inviter, email, role, defaultTtl);
  }

  /**
   * Like {@link #create(TenantId, Actor, String, String)}, valid for {@code ttl} (1 minute to 365 days).
   *
   * @throws IllegalArgumentException if {@code ttl} is out of range
   */
  public CreatedInvitation create(TenantId tenant, Actor inviter, @Nullable String email, String role,
      Duration ttl) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(inviter, "inviter");
    MembershipsText.optionalEmail(email);
    MembershipsText.requireRole(role);
    checkTtl("ttl", ttl);
    Memberships.requireActorTenant(tenant, inviter);
    byte[] secret = new byte[TOKEN_BYTES];
    random.nextBytes(secret);
    String token = TOKEN_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
    byte[] hash = sha256(token);
    UUID id = randomUuid();
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "creating an invitation", c -> {
      Instant now = now();
      Long inviterId = null;
      if (!inviter.isSystem()) {
        String issuer = inviter.issuer().orElseThrow();
        String subject = inviter.subject().orElseThrow();
        // an inviter from a credential issued before its membership changed is refused, as for Memberships
        Memberships.requireCurrentActor(store, c, tenant, inviter, null);
        Long userId = store.userId(c, issuer, subject);
        String inviterRole = userId == null ? null : memberRole(c, tenant, userId);
        if (userId == null || inviterRole == null) {
          throw new InvitationException(InvitationException.Reason.INVITER_NOT_MEMBER, "the inviter " + inviter
              + " is not a member of tenant " + tenant.value());
        }
        if (!roleHierarchy.includes(inviterRole, role)) {
          throw new InvitationException(InvitationException.Reason.ROLE_ABOVE_INVITER, "the inviter's role "
              + inviterRole + " does not include the invited role " + role);
        }
        inviterId = userId;
      }
      Instant expiresAt = now.plus(ttl);
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + quotedSchema + ".invitations (tenant_id, id,"
          + " token_hash, email, role, invited_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
        ps.setString(1, tenant.value());
        ps.setObject(2, id);
        ps.setBytes(3, hash);
        ps.setString(4, email);
        ps.setString(5, role);
        ps.setObject(6, inviterId);
        ps.setTimestamp(7, Timestamp.from(now));
        ps.setTimestamp(8, Timestamp.from(expiresAt));
        ps.executeUpdate();
      }
      return new CreatedInvitation(tenant, id, token, role, expiresAt);
    });
  }

  /**
   * Like {@link #create(TenantId, Actor, String, String)} for the user of {@code inviter}, who must act for
   * {@code tenant} (or for no tenant).
   *
   * @throws AccessDeniedException {@code TENANT_MISMATCH} if the principal acts for another tenant
   */
  public CreatedInvitation create(TenantId tenant, Principal inviter, @Nullable String email, String role) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(inviter, "inviter");
    if (inviter.tenant().isPresent() && !inviter.tenant().get().equals(tenant)) {
      throw new AccessDeniedException(AccessDeniedException.Reason.TENANT_MISMATCH, "the inviter acts for tenant "
          + inviter.tenant().get().value() + ", not " + tenant.value());
    }
    return create(tenant, Actor.of(inviter), email, role, defaultTtl);
  }

  /**
   * Accepts an invitation for user ({@code issuer}, {@code subject}), atomically and once: the user becomes a
   * member with the invited role, or keeps their role if it already includes the invited one, or has it replaced
   * by the invited one otherwise.
   *
   * @param token the token from {@link CreatedInvitation#token()}
   * @param email the email the user's IdP stated (recorded on the user row, informational), or {@code null}
   * @return the membership after accepting
   * @throws InvitationException {@code INVALID} (unknown, expired, used or revoked: not told which), or
   *     {@code INVITER_NO_LONGER_ALLOWED}
   * @throws SaasException if the database failed
   */
  public Membership accept(String token, String issuer, String subject, @Nullable String email) {
    Objects.requireNonNull(token, "token");
    MembershipsText.requireIssuer(issuer);
    MembershipsText.requireSubject(subject);
    MembershipsText.optionalEmail(email);
    if (!wellFormed(token)) {
      throw invalid();
    }
    byte[] hash = sha256(token);
    boolean[] changed = {false};
    Membership m = Tx.run(dataSource, schema.tenantSetting(), null, "accepting an invitation", c -> {
      Instant now = now();
      TenantId tenant;
      UUID id;
      try (PreparedStatement ps = c.prepareStatement("SELECT tenant_id, invitation_id FROM " + quotedSchema
          + ".invitation_by_token_hash(?, ?)")) {
        ps.setBytes(1, hash);
        ps.setTimestamp(2, Timestamp.from(now));
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            throw invalid();
          }
          tenant = TenantId.of(rs.getString(1));
          id = rs.getObject(2, UUID.class);
        }
      }
      Tx.setTenant(c, schema.tenantSetting(), tenant);
      long userId = store.upsertUser(c, issuer, subject, email, now);
      String role;
      Long inviterId;
      try (PreparedStatement ps = c.prepareStatement("UPDATE " + quotedSchema + ".invitations SET accepted_at = ?,"
          + " accepted_by = ? WHERE tenant_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL"
          + " AND expires_at > ? RETURNING token_hash, role, invited_by")) {
        ps.setTimestamp(1, Timestamp.from(now));
        ps.setLong(2, userId);
        ps.setString(3, tenant.value());
        ps.setObject(4, id);
        ps.setTimestamp(5, Timestamp.from(now));
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next() || !MessageDigest.isEqual(hash, rs.getBytes(1))) {
            throw invalid();
          }
          role = rs.getString(2);
          long invitedBy = rs.getLong(3);
          inviterId = rs.wasNull() ? null : invitedBy;
        }
      }
      Actor actor = Actor.system();
      if (inviterId != null) {
        String inviterRole = memberRole(c, tenant, inviterId);
        if (inviterRole == null || !roleHierarchy.includes(inviterRole, role)) {
          throw new InvitationException(InvitationException.Reason.INVITER_NO_LONGER_ALLOWED, "the inviter of"
              + " invitation " + id + " in tenant " + tenant.value() + " no longer holds a role that includes "
              + role);
        }
        actor = userActor(c, inviterId);
      }
      MembershipStore.Row row = store.lockOrCreate(c, tenant, userId, now);
      String current = row.role();
      // an invitation adds a member or raises a role, never lowers or moves it sideways (in a role model where
      // neither of two roles includes the other, accepting could otherwise take the tenant's last owner away);
      // other changes go through Memberships.changeRole and its checks
      if (current != null && (roleHierarchy.includes(current, role) || !roleHierarchy.includes(role, current))) {
        return new Membership(tenant, issuer, subject, current, row.version(), row.createdAt(), row.updatedAt());
      }
      long version = store.apply(c, tenant, row, role, PermissionChange.Kind.ACCEPT_INVITATION, actor, id, now);
      changeListener.inTransaction(c, tenant, Principal.userKey(issuer, subject));
      changed[0] = true;
      return new Membership(tenant, issuer, subject, role, version, row.createdAt(), now);
    });
    if (changed[0]) {
      try {
        changeListener.membershipChanged(m.tenant(), m.userKey());
      } catch (RuntimeException e) {
        LOG.warn("the membership change listener failed for a member of tenant {} (the change is committed): {}",
            LogText.of(m.tenant().value()), LogText.of(e));
        LOG.debug("the membership change listener's failure", e);
      }
    }
    return m;
  }

  /**
   * Revokes a pending invitation: its token stops working at once.
   *
   * @return whether a pending invitation was revoked ({@code false}: unknown, accepted or already revoked)
   */
  public boolean revoke(TenantId tenant, UUID id) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(id, "id");
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "revoking an invitation", c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE " + quotedSchema + ".invitations SET revoked_at = ?"
          + " WHERE tenant_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL")) {
        ps.setTimestamp(1, Timestamp.from(now()));
        ps.setString(2, tenant.value());
        ps.setObject(3, id);
        return ps.executeUpdate() == 1;
      }
    });
  }

  /** The pending invitations of {@code tenant} (not accepted, not revoked, not expired), oldest first. */
  public List<Invitation> list(TenantId tenant) {
    Objects.requireNonNull(tenant, "tenant");
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "listing invitations", c -> {
      List<Invitation> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT i.id, i.email, i.role, u.issuer, u.subject,"
          + " i.created_at, i.expires_at FROM " + quotedSchema + ".invitations i LEFT JOIN " + quotedSchema
          + ".users u ON u.id = i.invited_by WHERE i.tenant_id = ? AND i.accepted_at IS NULL"
          + " AND i.revoked_at IS NULL AND i.expires_at > ? ORDER BY i.created_at, i.id")) {
        ps.setString(1, tenant.value());
        ps.setTimestamp(2, Timestamp.from(now()));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            String issuer = rs.getString(4);
            String subject = rs.getString(5);
            out.add(new Invitation(tenant, rs.getObject(1, UUID.class), Optional.ofNullable(rs.getString(2)),
                rs.getString(3), issuer == null || subject == null ? Actor.system() : Actor.user(issuer, subject),
                rs.getTimestamp(6).toInstant(), rs.getTimestamp(7).toInstant()));
          }
        }
      }
      return out;
    });
  }

  /**
   * Deletes the invitations of {@code tenant} that stopped being pending (accepted, revoked or expired) before
   * {@code before}. The permission-change log keeps the id of each accepted one.
   *
   * @return how many were deleted
   */
  public int deleteFinished(TenantId tenant, Instant before) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(before, "before");
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "deleting finished invitations", c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + quotedSchema + ".invitations WHERE"
          + " tenant_id = ? AND (accepted_at < ? OR revoked_at < ? OR expires_at < ?)")) {
        ps.setString(1, tenant.value());
        Timestamp t = Timestamp.from(before);
        ps.setTimestamp(2, t);
        ps.setTimestamp(3, t);
        ps.setTimestamp(4, t);
        return ps.executeUpdate();
      }
    });
  }

  private @Nullable String memberRole(Connection c, TenantId tenant, long userId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT role FROM " + quotedSchema + ".memberships"
        + " WHERE tenant_id = ? AND user_id = ? FOR SHARE")) {
      ps.setString(1, tenant.value());
      ps.setLong(2, userId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  private Actor userActor(Connection c, long userId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT issuer, subject FROM " + quotedSchema
        + ".users WHERE id = ?")) {
      ps.setLong(1, userId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return Actor.user(rs.getString(1), rs.getString(2));
      }
    }
  }

  /** The clock's time at the database's precision (microseconds), so returned values equal read ones. */
  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MICROS);
  }

  private static boolean wellFormed(String token) {
    if (token.length() != TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) {
      return false;
    }
    for (int i = TOKEN_PREFIX.length(); i < token.length(); i++) {
      char ch = token.charAt(i);
      boolean ok = ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-'
          || ch == '_';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static InvitationException invalid() {
    return new InvitationException(InvitationException.Reason.INVALID,
        "the invitation is unknown, expired, already used or revoked");
  }

  static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private UUID randomUuid() {
    byte[] b = new byte[16];
    random.nextBytes(b);
    b[6] = (byte) ((b[6] & 0x0f) | 0x40);
    b[8] = (byte) ((b[8] & 0x3f) | 0x80);
    ByteBuffer buf = ByteBuffer.wrap(b);
    return new UUID(buf.getLong(), buf.getLong());
  }

  private static Duration checkTtl(String what, @Nullable Duration ttl) {
    Objects.requireNonNull(ttl, what);
    if (ttl.compareTo(MIN_TTL) < 0 || ttl.compareTo(MAX_TTL) > 0) {
      throw new IllegalArgumentException(what + " must be between 1 minute and 365 days but was " + ttl);
    }
    return ttl;
  }

  /** Builds {@link Invitations}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final DataSource dataSource;
    private AuthSchema schema = AuthSchema.defaults();
    private Clock clock = Clock.systemUTC();
    private SecureRandom random = new SecureRandom();
    private RoleHierarchy roleHierarchy = RoleModel.defaults();
    private Duration defaultTtl = Duration.ofDays(7);
    private MembershipChangeListener changeListener = MembershipChangeListener.NONE;

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    /**
     * Takes the schema, role hierarchy and change listener of {@code memberships} (call it first, then override
     * what differs). The clock is not taken: set it with {@link #clock(Clock)}.
     */
    public Builder sameSettingsAs(Memberships memberships) {
      Objects.requireNonNull(memberships, "memberships");
      this.schema = memberships.schema();
      this.roleHierarchy = memberships.roleHierarchy();
      this.changeListener = memberships.changeListener();
      return this;
    }

    /** The schema, migrated and granted beforehand; default {@link AuthSchema#defaults()}. */
    public Builder schema(AuthSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The clock of creation, expiry and acceptance; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The randomness of tokens and ids; default {@code new SecureRandom()}. */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** Which roles include which; default {@code owner > admin > member} (any other role includes only itself). */
    public Builder roleHierarchy(RoleHierarchy roleHierarchy) {
      this.roleHierarchy = Objects.requireNonNull(roleHierarchy, "roleHierarchy");
      return this;
    }

    /** How long an invitation stays valid unless {@code create} says otherwise; default 7 days (1 min to 365 d). */
    public Builder defaultTtl(Duration defaultTtl) {
      this.defaultTtl = checkTtl("defaultTtl", defaultTtl);
      return this;
    }

    /**
     * Told after an accepted invitation changed a membership; default {@link MembershipChangeListener#NONE}. Use
     * the same listener as {@link Memberships}.
     */
    public Builder changeListener(MembershipChangeListener changeListener) {
      this.changeListener = Objects.requireNonNull(changeListener, "changeListener");
      return this;
    }

    /** The invitations. */
    public Invitations build() {
      return new Invitations(this);
    }
  }
}
