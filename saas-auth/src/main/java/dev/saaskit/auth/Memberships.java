package dev.saaskit.auth;

import dev.saaskit.auth.internal.MembershipStore;
import dev.saaskit.auth.internal.Tx;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.LogText;
import dev.saaskit.core.internal.SqlNames;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The memberships of users in tenants, with their roles and permission versions, in the {@link AuthSchema} tables.
 *
 * <p>Every change ({@link #add}, {@link #changeRole}, {@link #remove}) runs in one transaction of the application
 * role with the tenant setting set for it: it creates the user row if needed, changes the membership under a row
 * lock, bumps its permission version (never reused: a removed membership keeps its row, so a re-added user gets a
 * version above every one issued before), and appends a row to the permission-change log. It tells the
 * {@linkplain Builder#changeListener(MembershipChangeListener) change listener} in the transaction and again after
 * the commit, which makes every node forget the cached version. Two concurrent changes of one membership both happen, one after the other: two
 * versions, two log rows, no lost update.
 *
 * <p>A tenant keeps at least one member with the {@linkplain Builder#ownerRole(String) owner role}: removing or
 * demoting the last one is refused ({@link MembershipException.Reason#LAST_OWNER}), also when two owners are
 * demoted concurrently. Who may change whose role is the application's decision ({@link Authorizer}); this class
 * stores the outcome, and re-checks the one thing that can change between that decision and the change: an actor
 * made with {@link Actor#of(Principal)} from a credential carrying a permission version must still be a member of
 * the tenant at that version, read in the change's transaction under a lock on the actor's row (so a concurrent
 * demotion of the actor either commits first and is seen, or waits); otherwise {@link AccessDeniedException}
 * {@link AccessDeniedException.Reason#STALE_PERMISSIONS}. {@link Actor#system()} and {@link Actor#user} actors are
 * not checked.
 *
 * <pre>{@code
 * Memberships memberships = Memberships.builder(appDataSource).changeListener(listener).build();
 * memberships.add(tenant, issuer, subject, "admin", Actor.of(principal));
 * PermissionVersions versions = PermissionVersions.loadingFrom(memberships.versionLoader());
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class Memberships {
  private static final Logger LOG = LoggerFactory.getLogger(Memberships.class);

  private final DataSource dataSource;
  private final AuthSchema schema;
  private final Clock clock;
  private final RoleHierarchy roleHierarchy;
  private final MembershipChangeListener changeListener;
  private final String ownerRole;
  private final boolean protectLastOwner;
  private final MembershipStore store;
  private final String quotedSchema;

  private Memberships(Builder b) {
    this.dataSource = b.dataSource;
    this.schema = b.schema;
    this.clock = b.clock;
    this.roleHierarchy = b.roleHierarchy;
    this.changeListener = b.changeListener;
    this.ownerRole = b.ownerRole;
    this.protectLastOwner = b.protectLastOwner;
    this.quotedSchema = SqlNames.quoteIdent(schema.name());
    this.store = new MembershipStore(quotedSchema);
  }

  /**
   * A builder for memberships stored through {@code appDataSource}: connections of the application role (never
   * the owner, never a role that bypasses RLS), with {@link AuthSchema#grantApp} granted.
   */
  public static Builder builder(DataSource appDataSource) {
    return new Builder(Objects.requireNonNull(appDataSource, "appDataSource"));
  }

  /** A builder holding this instance's settings. */
  public Builder toBuilder() {
    Builder b = new Builder(dataSource);
    b.schema = schema;
    b.clock = clock;
    b.roleHierarchy = roleHierarchy;
    b.changeListener = changeListener;
    b.ownerRole = ownerRole;
    b.protectLastOwner = protectLastOwner;
    return b;
  }

  /**
   * Makes user ({@code issuer}, {@code subject}) a member of {@code tenant} with {@code role}.
   *
   * @param actor who made the change (recorded in the log)
   * @return the new membership (version 1, or one above the last version of a removed membership)
   * @throws MembershipException {@code ALREADY_MEMBER} if the user is a member (use {@link #changeRole})
   * @throws AccessDeniedException {@code TENANT_MISMATCH} or {@code STALE_PERMISSIONS} for an actor whose
   *     credential is for another tenant or older than its membership (see {@link Actor#of(Principal)})
   * @throws SaasException if the database failed
   */
  public Membership add(TenantId tenant, String issuer, String subject, String role, Actor actor) {
    return add(tenant, issuer, subject, null, role, actor);
  }

  /**
   * Like {@link #add(TenantId, String, String, String, Actor)}, recording {@code email} (informational: never
   * used to identify the user) on the user row.
   */
  public Membership add(TenantId tenant, String issuer, String subject, @Nullable String email, String role,
      Actor actor) {
    Objects.requireNonNull(tenant, "tenant");
    MembershipsText.requireIssuer(issuer);
    MembershipsText.requireSubject(subject);
    MembershipsText.requireRole(role);
    MembershipsText.optionalEmail(email);
    requireActorTenant(tenant, actor);
    Membership m = Tx.run(dataSource, schema.tenantSetting(), tenant, "adding a membership", c -> {
      Instant now = now();
      long userId = store.upsertUser(c, issuer, subject, email, now);
      requireCurrentActor(c, tenant, actor, userId);
      MembershipStore.Row row = store.lockOrCreate(c, tenant, userId, now);
      if (row.role() != null) {
        throw new MembershipException(MembershipException.Reason.ALREADY_MEMBER, "user " + subject + " of "
            + issuer + " already is a member of tenant " + tenant.value() + " (role " + row.role() + ")");
      }
      long version = store.apply(c, tenant, row, role, PermissionChange.Kind.ADD, actor, null, now);
      changeListener.inTransaction(c, tenant, Principal.userKey(issuer, subject));
      return new Membership(tenant, issuer, subject, role, version, row.createdAt(), now);
    });
    notifyChanged(tenant, m.userKey());
    return m;
  }

  /**
   * Gives member ({@code issuer}, {@code subject}) of {@code tenant} the role {@code role}, bumping the permission
   * version (credentials issued before are denied from now on). Setting the role it already has changes nothing
   * (no new version, no log row, no notification).
   *
   * @return the membership after the change
   * @throws MembershipException {@code NOT_A_MEMBER}; {@code LAST_OWNER} when this demotes the last owner
   * @throws AccessDeniedException {@code TENANT_MISMATCH} or {@code STALE_PERMISSIONS} for an actor whose
   *     credential is for another tenant or older than its membership (see {@link Actor#of(Principal)})
   * @throws SaasException if the database failed
   */
  public Membership changeRole(TenantId tenant, String issuer, String subject, String role, Actor actor) {
    Objects.requireNonNull(tenant, "tenant");
    MembershipsText.requireIssuer(issuer);
    MembershipsText.requireSubject(subject);
    MembershipsText.requireRole(role);
    requireActorTenant(tenant, actor);
    boolean[] changed = {false};
    Membership m = Tx.run(dataSource, schema.tenantSetting(), tenant, "changing a role", c -> {
      Instant now = now();
      int owners = protectLastOwner ? store.lockOwners(c, tenant, ownerRole) : Integer.MAX_VALUE;
      requireCurrentActor(c, tenant, actor, store.userId(c, issuer, subject));
      MembershipStore.Row row = lockMember(c, tenant, issuer, subject);
      String current = Objects.requireNonNull(row.role());
      if (current.equals(role)) {
        return new Membership(tenant, issuer, subject, current, row.version(), row.createdAt(), row.updatedAt());
      }
      if (protectLastOwner) {
        MembershipStore.checkNotLastOwner(row, role, ownerRole, owners);
      }
      long version = store.apply(c, tenant, row, role, PermissionChange.Kind.CHANGE_ROLE, actor, null, now);
      changeListener.inTransaction(c, tenant, Principal.userKey(issuer, subject));
      changed[0] = true;
      return new Membership(tenant, issuer, subject, role, version, row.createdAt(), now);
    });
    if (changed[0]) {
      notifyChanged(tenant, m.userKey());
    }
    return m;
  }

  /**
   * Ends the membership of ({@code issuer}, {@code subject}) in {@code tenant}: its version is bumped and
   * {@link #currentVersion} answers {@link PermissionVersions#NO_MEMBERSHIP} from now on. The row is kept (role
   * cleared) so a later {@link #add} continues the version sequence.
   *
   * @return whether there was a membership to remove ({@code false}: nothing changed)
   * @throws MembershipException {@code LAST_OWNER} when this removes the last owner
   * @throws AccessDeniedException {@code TENANT_MISMATCH} or {@code STALE_PERMISSIONS} for an actor whose
   *     credential is for another tenant or older than its membership (see {@link Actor#of(Principal)})
   * @throws SaasException if the database failed
   */
  public boolean remove(TenantId tenant, String issuer, String subject, Actor actor) {
    Objects.requireNonNull(tenant, "tenant");
    MembershipsText.requireIssuer(issuer);
    MembershipsText.requireSubject(subject);
    requireActorTenant(tenant, actor);
    boolean removed = Tx.run(dataSource, schema.tenantSetting(), tenant, "removing a membership", c -> {
      int owners = protectLastOwner ? store.lockOwners(c, tenant, ownerRole) : Integer.MAX_VALUE;
      Long userId = store.userId(c, issuer, subject);
      requireCurrentActor(c, tenant, actor, userId);
      MembershipStore.Row row = userId == null ? null : store.lock(c, tenant, userId);
      if (row == null || row.role() == null) {
        return false;
      }
      if (protectLastOwner) {
        MembershipStore.checkNotLastOwner(row, null, ownerRole, owners);
      }
      store.apply(c, tenant, row, null, PermissionChange.Kind.REMOVE, actor, null, now());
      changeListener.inTransaction(c, tenant, Principal.userKey(issuer, subject));
      return true;
    });
    if (removed) {
      notifyChanged(tenant, Principal.userKey(issuer, subject));
    }
    return removed;
  }

  /** The membership of ({@code issuer}, {@code subject}) in {@code tenant}, if they are a member. */
  public Optional<Membership> find(TenantId tenant, String issuer, String subject) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(issuer, "issuer");
    Objects.requireNonNull(subject, "subject");
    List<Membership> found = query(tenant, " AND u.issuer = ? AND u.subject = ?", 0, issuer, subject);
    return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
  }

  /**
   * The membership of the user with {@code userKey} ({@link Principal#userKey(String, String)}) in
   * {@code tenant}, if they are a member.
   *
   * @throws IllegalArgumentException if {@code userKey} is not a user key
   */
  public Optional<Membership> find(TenantId tenant, String userKey) {
    String[] parts = splitUserKey(userKey);
    return find(tenant, parts[0], parts[1]);
  }

  /** Every member of {@code tenant}, ordered by issuer and subject. */
  public List<Membership> list(TenantId tenant) {
    Objects.requireNonNull(tenant, "tenant");
    return query(tenant, "", 0);
  }

  /**
   * One page of {@link #list(TenantId)}: at most {@code limit} members of {@code tenant} that come after the user
   * {@code afterUserKey} ({@link Membership#userKey()} of the last member of the previous page; {@code null} for
   * the first page) in issuer and subject order. Keyset pagination: a member added or removed between two pages
   * neither shifts nor repeats the others, and each page is one indexed query whatever its position.
   *
   * @throws IllegalArgumentException if {@code afterUserKey} is not a user key or {@code limit} is not 1 to 10000
   */
  public List<Membership> list(TenantId tenant, @Nullable String afterUserKey, int limit) {
    Objects.requireNonNull(tenant, "tenant");
    if (limit < 1 || limit > 10_000) {
      throw new IllegalArgumentException("limit must be 1 to 10000 but was " + limit);
    }
    if (afterUserKey == null) {
      return query(tenant, "", limit);
    }
    String[] after = splitUserKey(afterUserKey);
    MembershipsText.requireIssuer(after[0]);   // a NUL or an overlong value would fail as a database error
    MembershipsText.requireSubject(after[1]);
    return query(tenant, " AND (u.issuer, u.subject) > (?, ?)", limit, after[0], after[1]);
  }

  /**
   * The current permission version of the membership, or {@link PermissionVersions#NO_MEMBERSHIP} when the user is
   * not (or no longer) a member: one query. Fits {@link PermissionVersions.Loader}:
   * {@code PermissionVersions.loadingFrom(memberships::currentVersion)}.
   *
   * @throws IllegalArgumentException if {@code userKey} is not a user key
   * @throws SaasException if the database failed
   */
  public long currentVersion(TenantId tenant, String userKey) {
    Objects.requireNonNull(tenant, "tenant");
    String[] parts = splitUserKey(userKey);
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "reading a permission version",
        c -> store.currentVersion(c, tenant, parts[0], parts[1]));
  }

  /** {@link #currentVersion} as a {@link PermissionVersions.Loader}. */
  public PermissionVersions.Loader versionLoader() {
    return this::currentVersion;
  }

  /**
   * The permission-change log of ({@code issuer}, {@code subject}) in {@code tenant}, oldest first (every row,
   * also from before a removal).
   */
  public List<PermissionChange> history(TenantId tenant, String issuer, String subject) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(issuer, "issuer");
    Objects.requireNonNull(subject, "subject");
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "reading the permission-change log", c -> {
      List<PermissionChange> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT p.id, p.change, p.actor_issuer, p.actor_subject,"
          + " p.before_role, p.before_version, p.after_role, p.after_version, p.invitation_id, p.changed_at FROM "
          + quotedSchema + ".permission_changes p JOIN " + quotedSchema + ".users u ON u.id = p.user_id"
          + " WHERE p.tenant_id = ? AND u.issuer = ? AND u.subject = ? ORDER BY p.id")) {
        ps.setString(1, tenant.value());
        ps.setString(2, issuer);
        ps.setString(3, subject);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            String actorIssuer = rs.getString(3);
            String actorSubject = rs.getString(4);
            Actor actor = actorIssuer == null || actorSubject == null ? Actor.system()
                : Actor.user(actorIssuer, actorSubject);
            long beforeVersion = rs.getLong(6);
            Long before = rs.wasNull() ? null : beforeVersion;
            out.add(PermissionChange.builder(rs.getLong(1), tenant, PermissionChange.Kind.valueOf(rs.getString(2)),
                actor, issuer, subject, rs.getLong(8), rs.getTimestamp(10).toInstant()).beforeRole(rs.getString(5))
                .beforeVersion(before).afterRole(rs.getString(7)).invitationId(rs.getObject(9, UUID.class)).build());
          }
        }
      }
      return out;
    });
  }

  /** The schema these memberships live in. */
  public AuthSchema schema() {
    return schema;
  }

  /** The role hierarchy (used by {@link Invitations} and {@link TenantClaims} built from this instance). */
  public RoleHierarchy roleHierarchy() {
    return roleHierarchy;
  }

  /** The change listener. */
  MembershipChangeListener changeListener() {
    return changeListener;
  }

  /** The members matching {@code condition}, in issuer and subject order; at most {@code limit} unless 0. */
  private List<Membership> query(TenantId tenant, String condition, int limit, String... args) {
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "reading memberships", c -> {
      List<Membership> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT u.issuer, u.subject, m.role, m.permission_version,"
          + " m.created_at, m.updated_at FROM " + quotedSchema + ".memberships m JOIN " + quotedSchema
          + ".users u ON u.id = m.user_id WHERE m.tenant_id = ? AND m.role IS NOT NULL" + condition
          + " ORDER BY u.issuer, u.subject" + (limit > 0 ? " LIMIT " + limit : ""))) {
        ps.setString(1, tenant.value());
        for (int i = 0; i < args.length; i++) {
          ps.setString(i + 2, args[i]);
        }
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.add(new Membership(tenant, rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
                rs.getTimestamp(5).toInstant(), rs.getTimestamp(6).toInstant()));
          }
        }
      }
      return out;
    });
  }

  private MembershipStore.Row lockMember(Connection c, TenantId tenant, String issuer, String subject)
      throws SQLException {
    Long userId = store.userId(c, issuer, subject);
    MembershipStore.Row row = userId == null ? null : store.lock(c, tenant, userId);
    if (row == null || row.role() == null) {
      throw new MembershipException(MembershipException.Reason.NOT_A_MEMBER, "user " + subject + " of " + issuer
          + " is not a member of tenant " + tenant.value());
    }
    return row;
  }

  /** An actor whose credential was issued for another tenant cannot change this one (also for invitations). */
  static void requireActorTenant(TenantId tenant, Actor actor) {
    Objects.requireNonNull(actor, "actor");
    Optional<TenantId> own = actor.checkedTenant();
    if (own.isPresent() && !own.get().equals(tenant)) {
      throw new AccessDeniedException(AccessDeniedException.Reason.TENANT_MISMATCH, "the actor acts for tenant "
          + own.get().value() + ", not " + tenant.value());
    }
  }

  /**
   * For an actor whose credential carries a permission version: the actor must still be a member of
   * {@code tenant} whose version is not newer than that one, read under a row lock in this transaction. The
   * application decided that the actor may make the change from its credential, earlier, outside this transaction;
   * a demotion or removal of the actor committed since then makes that decision stale (with three owners, B could
   * otherwise still demote C right after A demoted B). The lock orders this change against a concurrent change of
   * the actor: that one either committed before (its new version is read here) or waits for this one. The actor's
   * and the target's rows are locked in user-id order first, as every change does, so two members changing each
   * other cannot deadlock. {@link Invitations#create} makes the same check.
   */
  private void requireCurrentActor(Connection c, TenantId tenant, Actor actor, @Nullable Long targetUserId)
      throws SQLException {
    requireCurrentActor(store, c, tenant, actor, targetUserId);
  }

  /** {@link #requireCurrentActor(Connection, TenantId, Actor, Long)} through {@code store}. */
  static void requireCurrentActor(MembershipStore store, Connection c, TenantId tenant, Actor actor,
      @Nullable Long targetUserId) throws SQLException {
    OptionalLong carried = actor.checkedVersion();
    if (carried.isEmpty()) {
      return;   // the system, or a user actor without a version: nothing to re-check
    }
    Long actorId = store.userId(c, actor.issuer().orElseThrow(), actor.subject().orElseThrow());
    if (actorId != null && targetUserId != null) {
      store.lockInOrder(c, tenant, actorId, targetUserId);
    }
    MembershipStore.Row row = actorId == null ? null : store.lock(c, tenant, actorId);
    if (row == null || row.role() == null) {
      throw new AccessDeniedException(AccessDeniedException.Reason.STALE_PERMISSIONS, "the actor is no longer a"
          + " member of tenant " + tenant.value() + ": its credential (permission version " + carried.getAsLong()
          + ") is stale");
    }
    if (carried.getAsLong() < row.version()) {
      throw new AccessDeniedException(AccessDeniedException.Reason.STALE_PERMISSIONS, "the actor's membership of"
          + " tenant " + tenant.value() + " changed since its credential was issued (permission version "
          + carried.getAsLong() + ", now " + row.version() + ")");
    }
  }

  void notifyChanged(TenantId tenant, String userKey) {
    try {
      changeListener.membershipChanged(tenant, userKey);
    } catch (RuntimeException e) {
      // the exception's text escaped (it may quote a user key); its stack trace at DEBUG, where the backend prints it
      LOG.warn("the membership change listener failed for a member of tenant {} (the change is committed; other"
          + " nodes may keep the old permission version until their next invalidation): {}",
          LogText.of(tenant.value()), LogText.of(e));
      LOG.debug("the membership change listener's failure", e);
    }
  }

  /** The clock's time at the database's precision (microseconds), so returned values equal read ones. */
  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MICROS);
  }

  static String[] splitUserKey(String userKey) {
    Objects.requireNonNull(userKey, "userKey");
    int nul = userKey.indexOf('\u0000');
    if (nul <= 0 || nul == userKey.length() - 1) {
      throw new IllegalArgumentException("not a user key: expected issuer, NUL, subject (Principal.userKey)");
    }
    return new String[] {userKey.substring(0, nul), userKey.substring(nul + 1)};
  }

  /** Builds {@link Memberships}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final DataSource dataSource;
    private AuthSchema schema = AuthSchema.defaults();
    private Clock clock = Clock.systemUTC();
    private RoleHierarchy roleHierarchy = RoleModel.defaults();
    private MembershipChangeListener changeListener = MembershipChangeListener.NONE;
    private String ownerRole = "owner";
    private boolean protectLastOwner = true;

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    /** The schema, migrated and granted beforehand; default {@link AuthSchema#defaults()}. */
    public Builder schema(AuthSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The clock of the {@code created_at}/{@code updated_at}/log times; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Which roles include which (used by {@link Invitations} built on these memberships); default
     * {@link RoleModel#defaults()} ({@code owner > admin > member}); pass your own {@link RoleModel} for custom roles.
     */
    public Builder roleHierarchy(RoleHierarchy roleHierarchy) {
      this.roleHierarchy = Objects.requireNonNull(roleHierarchy, "roleHierarchy");
      return this;
    }

    /** Told after every committed change; default {@link MembershipChangeListener#NONE}. */
    public Builder changeListener(MembershipChangeListener changeListener) {
      this.changeListener = Objects.requireNonNull(changeListener, "changeListener");
      return this;
    }

    /** The role a tenant must keep one member of; default {@code owner}. */
    public Builder ownerRole(String ownerRole) {
      this.ownerRole = MembershipsText.requireRole(ownerRole);
      return this;
    }

    /**
     * Whether removing or demoting the last member with the {@linkplain #ownerRole(String) owner role} is refused
     * (default true). Turn it off for tenants managed from a back office, where a tenant without owner is fine.
     */
    public Builder protectLastOwner(boolean protectLastOwner) {
      this.protectLastOwner = protectLastOwner;
      return this;
    }

    /** The memberships. */
    public Memberships build() {
      return new Memberships(this);
    }
  }
}
