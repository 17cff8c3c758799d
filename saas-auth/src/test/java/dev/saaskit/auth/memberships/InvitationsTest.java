package dev.saaskit.auth.memberships;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.AccessDeniedException;
import dev.saaskit.auth.Actor;
import dev.saaskit.auth.CreatedInvitation;
import dev.saaskit.auth.Invitation;
import dev.saaskit.auth.InvitationException;
import dev.saaskit.auth.Invitations;
import dev.saaskit.auth.Membership;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.PermissionChange;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.RoleHierarchy;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Invitations against PostgreSQL: single use under concurrency, expiry, the inviter's role as a ceiling. */
@ExtendWith(PostgresExtension.class)
class InvitationsTest {
  private static final String IDP = "https://idp.example";
  private static int tenants;

  private final MutableClock clock = MutableClock.at(Instant.parse("2026-03-01T10:00:00Z"));
  private final List<String> notified = new CopyOnWriteArrayList<>();
  private Memberships memberships;
  private Invitations invitations;
  private TenantId tenant;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    AuthDb.migrate(db);
  }

  @BeforeEach
  void build(TestDatabase db) {
    memberships = Memberships.builder(db.appDataSource()).clock(clock)
        .changeListener((t, userKey) -> notified.add(userKey)).build();
    invitations = Invitations.builder(db.appDataSource()).sameSettingsAs(memberships).clock(clock)
        .random(new SecureRandom()).build();
    tenant = TenantId.of("t-inv-" + (++tenants));
    memberships.add(tenant, IDP, "owner", "owner", Actor.system());
    memberships.add(tenant, IDP, "admin", "admin", Actor.system());
    memberships.add(tenant, IDP, "member", "member", Actor.system());
    notified.clear();
  }

  @Test
  void anInvitationMakesAMemberOnceAndOnlyItsHashIsStored(TestDatabase db) throws Exception {
    CreatedInvitation inv = invitations.create(tenant, Actor.user(IDP, "admin"), "new@example.com", "admin");
    assertThat(inv.token()).startsWith("inv_").hasSize(47).matches("inv_[A-Za-z0-9_-]{43}");
    assertThat(inv.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofDays(7)));
    assertThat(inv.toString()).doesNotContain(inv.token().substring(4));
    byte[] hash = MessageDigest.getInstance("SHA-256").digest(inv.token().getBytes(StandardCharsets.UTF_8));
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.invitations WHERE token_hash = ?", hash))
        .isEqualTo(1);
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.invitations WHERE position(? in"
        + " encode(token_hash, 'escape')) > 0 OR email = ?", inv.token(), inv.token())).isZero();
    assertThat(invitations.list(tenant)).singleElement().satisfies(i -> {
      assertThat(i.id()).isEqualTo(inv.id());
      assertThat(i.email()).contains("new@example.com");
      assertThat(i.invitedBy()).isEqualTo(Actor.user(IDP, "admin"));
      assertThat(i.role()).isEqualTo("admin");
    });

    Membership m = invitations.accept(inv.token(), IDP, "newbie", "newbie@example.com");
    assertThat(m.role()).isEqualTo("admin");
    assertThat(m.permissionVersion()).isEqualTo(1);
    assertThat(memberships.find(tenant, IDP, "newbie")).contains(m);
    assertThat(notified).containsExactly(Principal.userKey(IDP, "newbie"));
    PermissionChange logged = memberships.history(tenant, IDP, "newbie").get(0);
    assertThat(logged.kind()).isEqualTo(PermissionChange.Kind.ACCEPT_INVITATION);
    assertThat(logged.actor()).isEqualTo(Actor.user(IDP, "admin"));
    assertThat(logged.invitationId()).isEqualTo(inv.id());
    assertThat(invitations.list(tenant)).isEmpty();

    assertInvalid(() -> invitations.accept(inv.token(), IDP, "someone-else", null));
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.invitation_routes WHERE routed_tenant_id = ?",
        tenant.value())).isZero();
  }

  @Test
  void twentyParallelAcceptsOfOneInvitationMakeOneMember(TestDatabase db) throws Exception {
    CreatedInvitation inv = invitations.create(tenant, Actor.user(IDP, "owner"), null, "member");
    int threads = 20;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<Object>> futures = new ArrayList<>();
    try {
      for (int i = 0; i < threads; i++) {
        String subject = "racer-" + i;
        futures.add(pool.submit(() -> {
          start.await();
          try {
            return invitations.accept(inv.token(), IDP, subject, null);
          } catch (InvitationException e) {
            return e.reason();
          }
        }));
      }
      start.countDown();
      List<Object> outcomes = new ArrayList<>();
      for (Future<Object> f : futures) {
        outcomes.add(f.get(60, TimeUnit.SECONDS));
      }
      assertThat(outcomes).filteredOn(o -> o instanceof Membership).hasSize(1);
      assertThat(outcomes).filteredOn(o -> o == InvitationException.Reason.INVALID).hasSize(threads - 1);
    } finally {
      pool.shutdownNow();
    }
    assertThat(memberships.list(tenant)).filteredOn(m -> m.subject().startsWith("racer-")).hasSize(1);
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.memberships WHERE tenant_id = ?"
        + " AND role IS NOT NULL", tenant.value())).isEqualTo(4);
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.permission_changes WHERE tenant_id = ?"
        + " AND change = 'ACCEPT_INVITATION'", tenant.value())).isEqualTo(1);
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.users WHERE subject LIKE 'racer-%'"))
        .as("the losers' user rows rolled back").isEqualTo(1);
  }

  @Test
  void anExpiredInvitationIsRefusedLikeAnUnknownOne() {
    CreatedInvitation inv = invitations.create(tenant, Actor.user(IDP, "admin"), null, "member",
        Duration.ofHours(1));
    clock.advance(Duration.ofHours(1));
    assertInvalid(() -> invitations.accept(inv.token(), IDP, "late", null));
    assertThat(invitations.list(tenant)).isEmpty();
    assertThat(memberships.find(tenant, IDP, "late")).isEmpty();
    // unknown, malformed, hostile
    assertInvalid(() -> invitations.accept("inv_" + "A".repeat(43), IDP, "x", null));
    assertInvalid(() -> invitations.accept(inv.token() + "x", IDP, "x", null));
    assertInvalid(() -> invitations.accept("", IDP, "x", null));
    assertInvalid(() -> invitations.accept("inv_' OR 1=1 --" + "a".repeat(29), IDP, "x", null));
    assertThat(notified).isEmpty();
  }

  @Test
  void noRoleAboveTheInvitersOwn() {
    assertRefused(() -> invitations.create(tenant, Actor.user(IDP, "admin"), null, "owner"),
        InvitationException.Reason.ROLE_ABOVE_INVITER);
    assertRefused(() -> invitations.create(tenant, Actor.user(IDP, "member"), null, "admin"),
        InvitationException.Reason.ROLE_ABOVE_INVITER);
    assertRefused(() -> invitations.create(tenant, Actor.user(IDP, "stranger"), null, "member"),
        InvitationException.Reason.INVITER_NOT_MEMBER);
    assertRefused(() -> invitations.create(tenant, Actor.user(IDP, "admin"), null, "custom-role"),
        InvitationException.Reason.ROLE_ABOVE_INVITER);
    Principal other = Principal.builder(IDP, "owner").tenant(TenantId.of("another")).roles(List.of("owner"))
        .build();
    assertThatThrownBy(() -> invitations.create(tenant, other, null, "member"))
        .isInstanceOf(AccessDeniedException.class);
    assertThat(invitations.list(tenant)).isEmpty();
    Principal owner = Principal.builder(IDP, "owner").tenant(tenant).build();
    assertThat(invitations.create(tenant, owner, null, "owner").role()).isEqualTo("owner");
    assertThat(invitations.create(tenant, Actor.system(), null, "owner").role()).isEqualTo("owner");
  }

  @Test
  void anInviterDemotedMeanwhileCannotGrantTheRoleAnyMore() {
    CreatedInvitation inv = invitations.create(tenant, Actor.user(IDP, "admin"), null, "admin");
    memberships.changeRole(tenant, IDP, "admin", "member", Actor.user(IDP, "owner"));
    assertRefused(() -> invitations.accept(inv.token(), IDP, "hopeful", null),
        InvitationException.Reason.INVITER_NO_LONGER_ALLOWED);
    assertThat(memberships.find(tenant, IDP, "hopeful")).isEmpty();
    assertThat(invitations.list(tenant)).as("still pending").hasSize(1);
    memberships.remove(tenant, IDP, "admin", Actor.user(IDP, "owner"));
    assertRefused(() -> invitations.accept(inv.token(), IDP, "hopeful", null),
        InvitationException.Reason.INVITER_NO_LONGER_ALLOWED);
    assertThat(invitations.revoke(tenant, inv.id())).isTrue();
    assertThat(invitations.revoke(tenant, inv.id())).isFalse();
    assertInvalid(() -> invitations.accept(inv.token(), IDP, "hopeful", null));
  }

  @Test
  void anExistingMemberKeepsAHigherRoleAndIsUpgradedToAHigherOne() {
    CreatedInvitation toMember = invitations.create(tenant, Actor.user(IDP, "owner"), null, "member");
    Membership kept = invitations.accept(toMember.token(), IDP, "admin", null);
    assertThat(kept.role()).isEqualTo("admin");
    assertThat(kept.permissionVersion()).isEqualTo(1);
    assertThat(notified).isEmpty();
    CreatedInvitation toAdmin = invitations.create(tenant, Actor.user(IDP, "owner"), null, "admin");
    Membership upgraded = invitations.accept(toAdmin.token(), IDP, "member", null);
    assertThat(upgraded.role()).isEqualTo("admin");
    assertThat(upgraded.permissionVersion()).isEqualTo(2);
    assertThat(notified).containsExactly(Principal.userKey(IDP, "member"));
  }

  @Test
  void anInvitationNeverMovesAnExistingRoleSideways(TestDatabase db) {
    // a role model where owner and billing both include member, but neither includes the other
    RoleHierarchy sideways = (role, other) -> role.equals(other) || other.equals("member");
    Invitations custom = Invitations.builder(db.appDataSource()).sameSettingsAs(memberships)
        .roleHierarchy(sideways).clock(clock).build();
    CreatedInvitation toBilling = custom.create(tenant, Actor.system(), null, "billing");

    Membership kept = custom.accept(toBilling.token(), IDP, "owner", null);

    assertThat(kept.role()).as("the tenant's only owner stays its owner").isEqualTo("owner");
    assertThat(memberships.find(tenant, IDP, "owner").orElseThrow().role()).isEqualTo("owner");
    assertThat(notified).isEmpty();
  }

  @Test
  void anInvitationOfOneTenantIsInvisibleToAnother() {
    CreatedInvitation inv = invitations.create(tenant, Actor.system(), null, "member");
    TenantId other = TenantId.of("t-inv-other");
    assertThat(invitations.list(other)).isEmpty();
    assertThat(invitations.revoke(other, inv.id())).isFalse();
    assertThat(invitations.list(tenant)).extracting(Invitation::id).containsExactly(inv.id());
    Membership m = invitations.accept(inv.token(), IDP, "joiner", null);
    assertThat(m.tenant()).isEqualTo(tenant);
    assertThat(memberships.find(other, IDP, "joiner")).isEmpty();
  }

  @Test
  void finishedInvitationsCanBeDeletedAndSettingsAreChecked() {
    CreatedInvitation a = invitations.create(tenant, Actor.system(), null, "member", Duration.ofMinutes(5));
    invitations.create(tenant, Actor.system(), null, "member");
    clock.advance(Duration.ofMinutes(10));
    assertThat(invitations.deleteFinished(tenant, clock.instant())).isEqualTo(1);
    assertInvalid(() -> invitations.accept(a.token(), IDP, "x", null));
    assertThat(invitations.list(tenant)).hasSize(1);
    assertThatThrownBy(() -> Invitations.builder(dataSource()).defaultTtl(
        Duration.ofSeconds(5))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("defaultTtl");
    assertThatThrownBy(() -> invitations.create(tenant, Actor.system(), null, "member", Duration.ofDays(400)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ttl must be between");
  }

  private javax.sql.DataSource dataSourceField;

  private javax.sql.DataSource dataSource() {
    return dataSourceField;
  }

  @BeforeEach
  void keep(TestDatabase db) {
    dataSourceField = db.appDataSource();
  }

  private static void assertInvalid(ThrowingCallable call) {
    assertRefused(call, InvitationException.Reason.INVALID);
  }

  private static void assertRefused(ThrowingCallable call, InvitationException.Reason reason) {
    assertThatThrownBy(call).isInstanceOf(InvitationException.class)
        .satisfies(e -> assertThat(((InvitationException) e).reason()).isEqualTo(reason));
  }
}
