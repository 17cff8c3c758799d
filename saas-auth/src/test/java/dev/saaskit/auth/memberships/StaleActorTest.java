package dev.saaskit.auth.memberships;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.AccessDeniedException;
import dev.saaskit.auth.Actor;
import dev.saaskit.auth.Invitations;
import dev.saaskit.auth.MembershipChangeListener;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.Principal;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * An actor made from a credential ({@link Actor#of(Principal)}) is re-checked in the change's transaction: a request
 * authorized before its actor was demoted or removed cannot change memberships afterwards, also when the demotion
 * is still committing while the request runs.
 */
@ExtendWith(PostgresExtension.class)
class StaleActorTest {
  private static final String IDP = "https://idp.example";

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    AuthDb.migrate(db);
  }

  /** What a verified token of ({@code IDP}, {@code subject}) in {@code tenant} at {@code version} gives. */
  private static Principal token(TenantId tenant, String subject, String role, long version) {
    return Principal.builder(IDP, subject).tenant(tenant).roles(List.of(role)).permissionVersion(version).build();
  }

  @Test
  void aDemotionCommittingMeanwhileStopsTheDemotedOwnersRequest(TestDatabase db) throws Exception {
    TenantId t = TenantId.of("t-stale-race");
    String demotedKey = Principal.userKey(IDP, "owner-b");
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean armed = new AtomicBoolean();
    // A's demotion of B holds its transaction open (row locks taken, not committed) until released
    MembershipChangeListener holdDemotionOfB = new MembershipChangeListener() {
      @Override
      public void inTransaction(Connection c, TenantId tenant, String userKey) {
        if (armed.get() && userKey.equals(demotedKey)) {
          holding.countDown();
          await(release);
        }
      }

      @Override
      public void membershipChanged(TenantId tenant, String userKey) {}
    };
    Memberships m = Memberships.builder(db.appDataSource()).changeListener(holdDemotionOfB).build();
    m.add(t, IDP, "owner-a", "owner", Actor.system());
    m.add(t, IDP, "owner-b", "owner", Actor.system());
    m.add(t, IDP, "owner-c", "owner", Actor.system());
    // B's request was authenticated (and authorized to assign roles) while B still was an owner at version 1
    Principal b = token(t, "owner-b", "owner", 1);
    Principal a = token(t, "owner-a", "owner", 1);
    armed.set(true);

    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<?> demotion = pool.submit(() -> m.changeRole(t, IDP, "owner-b", "admin", Actor.of(a)));
      assertThat(holding.await(30, TimeUnit.SECONDS)).as("A's demotion of B holds its locks").isTrue();
      Future<Object> bDemotesC = pool.submit(() -> {
        try {
          return m.changeRole(t, IDP, "owner-c", "member", Actor.of(b));
        } catch (AccessDeniedException e) {
          return e.reason();
        }
      });
      // B's change must be waiting for A's locks before A commits: the ordering is what is tested
      awaitLockWaiters(db, 1);
      release.countDown();
      demotion.get(30, TimeUnit.SECONDS);
      assertThat(bDemotesC.get(30, TimeUnit.SECONDS)).isEqualTo(AccessDeniedException.Reason.STALE_PERMISSIONS);
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
    assertThat(m.find(t, IDP, "owner-c").orElseThrow().role()).isEqualTo("owner");
    assertThat(m.history(t, IDP, "owner-c")).hasSize(1);
    assertThat(m.find(t, IDP, "owner-b").orElseThrow().role()).isEqualTo("admin");
  }

  @Test
  void staleRemovedOrForeignActorsAreRefusedAndFreshOnesAreNot(TestDatabase db) {
    TenantId t = TenantId.of("t-stale-seq");
    Memberships m = Memberships.builder(db.appDataSource()).build();
    m.add(t, IDP, "owner-a", "owner", Actor.system());
    m.add(t, IDP, "owner-b", "owner", Actor.system());
    m.add(t, IDP, "member-d", "member", Actor.system());
    Principal b1 = token(t, "owner-b", "owner", 1);
    m.changeRole(t, IDP, "owner-b", "admin", Actor.of(token(t, "owner-a", "owner", 1)));

    assertStale(() -> m.changeRole(t, IDP, "member-d", "admin", Actor.of(b1)));
    assertStale(() -> m.changeRole(t, IDP, "member-d", "member", Actor.of(b1)));   // a no-op too
    assertStale(() -> m.remove(t, IDP, "member-d", Actor.of(b1)));
    assertStale(() -> m.add(t, IDP, "newcomer", "member", Actor.of(b1)));
    assertStale(() -> m.changeRole(t, IDP, "owner-a", "admin", Actor.of(b1)));
    assertThat(m.history(t, IDP, "member-d")).hasSize(1);
    assertThat(m.find(t, IDP, "newcomer")).isEmpty();
    // nor can it invite (B's current role, admin, would include "member": the role ceiling alone lets it through)
    Invitations invitations = Invitations.builder(db.appDataSource()).sameSettingsAs(m).build();
    assertStale(() -> invitations.create(t, b1, null, "member"));
    assertStale(() -> invitations.create(t, Actor.of(b1), null, "member"));
    assertThat(invitations.list(t)).isEmpty();
    assertThat(invitations.create(t, token(t, "owner-b", "admin", 2), null, "member").role()).isEqualTo("member");

    // B's new credential (version 2) works; so do the system and a user actor without a version
    assertThat(m.changeRole(t, IDP, "member-d", "admin", Actor.of(token(t, "owner-b", "admin", 2))).role())
        .isEqualTo("admin");
    assertThat(m.changeRole(t, IDP, "member-d", "member", Actor.system()).role()).isEqualTo("member");
    assertThat(m.changeRole(t, IDP, "member-d", "admin", Actor.user(IDP, "back-office")).role())
        .isEqualTo("admin");

    // removed: even the credential of the last version is stale
    m.remove(t, IDP, "owner-b", Actor.system());
    assertStale(() -> m.remove(t, IDP, "member-d", Actor.of(token(t, "owner-b", "admin", 2))));
    assertStale(() -> m.remove(t, IDP, "member-d", Actor.of(token(t, "owner-b", "admin", 3))));
    // never a member at all
    assertStale(() -> m.remove(t, IDP, "member-d", Actor.of(token(t, "stranger", "owner", 1))));

    // a credential of another tenant
    Principal foreign = token(TenantId.of("t-elsewhere"), "owner-a", "owner", 1);
    assertThatThrownBy(() -> m.changeRole(t, IDP, "member-d", "member", Actor.of(foreign)))
        .isInstanceOf(AccessDeniedException.class)
        .extracting(e -> ((AccessDeniedException) e).reason())
        .isEqualTo(AccessDeniedException.Reason.TENANT_MISMATCH);
    assertThatThrownBy(() -> invitations.create(t, Actor.of(foreign), null, "member"))
        .isInstanceOf(AccessDeniedException.class)
        .extracting(e -> ((AccessDeniedException) e).reason())
        .isEqualTo(AccessDeniedException.Reason.TENANT_MISMATCH);
    assertThat(m.find(t, IDP, "member-d").orElseThrow().role()).isEqualTo("admin");
  }

  private static void assertStale(ThrowingCallable call) {
    assertThatThrownBy(call).isInstanceOf(AccessDeniedException.class)
        .extracting(e -> ((AccessDeniedException) e).reason())
        .isEqualTo(AccessDeniedException.Reason.STALE_PERMISSIONS);
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("not released");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Waits (bounded, generously) until {@code n} backends of this database wait for a row lock. */
  private static void awaitLockWaiters(TestDatabase db, int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (AuthDb.count(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        + " AND wait_event_type = 'Lock'") < n) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no transaction waits for the held locks");
      }
      Thread.sleep(20);
    }
  }
}
