package dev.saaskit.auth.memberships;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.Actor;
import dev.saaskit.auth.Membership;
import dev.saaskit.auth.MembershipChangeListener;
import dev.saaskit.auth.MembershipException;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.PermissionChange;
import dev.saaskit.auth.PermissionVersions;
import dev.saaskit.auth.Principal;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Memberships against PostgreSQL: versions, the log, the last owner, concurrency, the change listener. */
@ExtendWith(PostgresExtension.class)
class MembershipsTest {
  private static final String IDP = "https://idp.example";
  private static final Actor ADMIN = Actor.user(IDP, "the-admin");

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    AuthDb.migrate(db);
  }

  private static Memberships memberships(TestDatabase db, MembershipChangeListener listener) {
    return Memberships.builder(db.appDataSource()).changeListener(listener)
        .clock(MutableClock.at(Instant.parse("2026-01-01T00:00:00Z"))).build();
  }

  @Test
  void addChangeRemoveBumpTheVersionAndAreLogged(TestDatabase db) {
    List<String> notified = new CopyOnWriteArrayList<>();
    Memberships m = memberships(db, (tenant, userKey) -> notified.add(tenant.value() + "/"
        + MembershipChangeListener.encodeUserKey(userKey)));
    TenantId t = TenantId.of("t-basic");
    m.add(t, IDP, "owner-1", "owner", Actor.system());
    Membership added = m.add(t, IDP, "u1", "alice@example.com", "member", ADMIN);
    assertThat(added.permissionVersion()).isEqualTo(1);
    assertThat(m.find(t, IDP, "u1")).contains(added);
    assertThat(m.find(t, Principal.userKey(IDP, "u1")).orElseThrow().role()).isEqualTo("member");
    assertThat(m.currentVersion(t, Principal.userKey(IDP, "u1"))).isEqualTo(1);

    Membership admin = m.changeRole(t, IDP, "u1", "admin", ADMIN);
    assertThat(admin.permissionVersion()).isEqualTo(2);
    assertThat(m.changeRole(t, IDP, "u1", "admin", ADMIN).permissionVersion()).as("no-op").isEqualTo(2);
    assertThat(m.list(t)).extracting(Membership::subject).containsExactly("owner-1", "u1");

    assertThat(m.remove(t, IDP, "u1", ADMIN)).isTrue();
    assertThat(m.remove(t, IDP, "u1", ADMIN)).as("already removed").isFalse();
    assertThat(m.find(t, IDP, "u1")).isEmpty();
    assertThat(m.currentVersion(t, Principal.userKey(IDP, "u1"))).isEqualTo(PermissionVersions.NO_MEMBERSHIP);

    Membership back = m.add(t, IDP, "u1", "member", ADMIN);
    assertThat(back.permissionVersion()).as("a re-added member continues above every issued version").isEqualTo(4);

    List<PermissionChange> log = m.history(t, IDP, "u1");
    assertThat(log).extracting(PermissionChange::kind).containsExactly(PermissionChange.Kind.ADD,
        PermissionChange.Kind.CHANGE_ROLE, PermissionChange.Kind.REMOVE, PermissionChange.Kind.ADD);
    assertThat(log).extracting(PermissionChange::afterVersion).containsExactly(1L, 2L, 3L, 4L);
    assertThat(log.get(1).beforeRole()).isEqualTo("member");
    assertThat(log.get(1).afterRole()).isEqualTo("admin");
    assertThat(log.get(2).afterRole()).isNull();
    assertThat(log.get(0).beforeVersion()).isNull();
    assertThat(log.get(0).actor()).isEqualTo(ADMIN);
    assertThat(m.history(t, IDP, "owner-1").get(0).actor().isSystem()).isTrue();
    // a log row is a value that may grow (issue 11): a final class with a builder, not a record
    assertThat(PermissionChange.class.isRecord()).isFalse();
    PermissionChange change = log.get(1);
    assertThat(change.toBuilder().build()).isEqualTo(change).hasSameHashCodeAs(change);
    assertThat(change.toBuilder().afterRole("owner").build()).isNotEqualTo(change);
    assertThat(change.toString()).contains("CHANGE_ROLE", "member", "admin");
    // every change but the no-op told the listener, after its commit
    String u1 = "t-basic/" + MembershipChangeListener.encodeUserKey(Principal.userKey(IDP, "u1"));
    assertThat(notified).filteredOn(u1::equals).hasSize(4);
  }

  @Test
  void refusalsAreClear(TestDatabase db) {
    Memberships m = memberships(db, MembershipChangeListener.NONE);
    TenantId t = TenantId.of("t-refusals");
    m.add(t, IDP, "boss", "owner", Actor.system());
    assertThatThrownBy(() -> m.add(t, IDP, "boss", "member", ADMIN)).isInstanceOf(MembershipException.class)
        .extracting(e -> ((MembershipException) e).reason()).isEqualTo(MembershipException.Reason.ALREADY_MEMBER);
    assertThatThrownBy(() -> m.changeRole(t, IDP, "nobody", "admin", ADMIN))
        .isInstanceOf(MembershipException.class)
        .extracting(e -> ((MembershipException) e).reason()).isEqualTo(MembershipException.Reason.NOT_A_MEMBER);
    assertThatThrownBy(() -> m.changeRole(t, IDP, "boss", "admin", ADMIN)).isInstanceOf(MembershipException.class)
        .extracting(e -> ((MembershipException) e).reason()).isEqualTo(MembershipException.Reason.LAST_OWNER);
    assertThatThrownBy(() -> m.remove(t, IDP, "boss", ADMIN)).isInstanceOf(MembershipException.class)
        .extracting(e -> ((MembershipException) e).reason()).isEqualTo(MembershipException.Reason.LAST_OWNER);
    assertThat(m.find(t, IDP, "boss").orElseThrow().role()).isEqualTo("owner");
    assertThat(m.history(t, IDP, "boss")).hasSize(1);
    assertThatThrownBy(() -> m.add(t, IDP, "x\u0000y", "member", ADMIN)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> m.add(t, IDP, "x".repeat(256), "member", ADMIN))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("subject must be 1 to 255");
    // a second owner makes the first one removable; without protection, the last one is removable too
    m.add(t, IDP, "boss2", "owner", ADMIN);
    assertThat(m.remove(t, IDP, "boss", ADMIN)).isTrue();
    Memberships unprotected = m.toBuilder().protectLastOwner(false).build();
    assertThat(unprotected.remove(t, IDP, "boss2", ADMIN)).isTrue();
    assertThat(m.list(t)).isEmpty();
  }

  @Test
  void concurrentRoleChangesOfOneMembershipAreAllKept(TestDatabase db) throws Exception {
    Memberships m = memberships(db, MembershipChangeListener.NONE);
    TenantId t = TenantId.of("t-race");
    m.add(t, IDP, "boss", "owner", Actor.system());
    m.add(t, IDP, "racer", "member", Actor.system());
    int rounds = 10;
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int r = 0; r < rounds; r++) {
        CyclicBarrier start = new CyclicBarrier(2);
        String current = m.find(t, IDP, "racer").orElseThrow().role();
        // two different targets, both different from the current role: each change must happen
        List<String> targets = new ArrayList<>(List.of("member", "admin", "viewer"));
        targets.remove(current);
        List<Future<Membership>> futures = new ArrayList<>();
        for (String target : targets) {
          futures.add(pool.submit(() -> {
            start.await(10, TimeUnit.SECONDS);
            return m.changeRole(t, IDP, "racer", target, Actor.user(IDP, "thread-" + target));
          }));
        }
        for (Future<Membership> f : futures) {
          f.get(30, TimeUnit.SECONDS);
        }
      }
    } finally {
      pool.shutdownNow();
    }
    List<PermissionChange> log = m.history(t, IDP, "racer");
    assertThat(log).hasSize(1 + 2 * rounds);
    Set<Long> versions = new HashSet<>();
    for (int i = 0; i < log.size(); i++) {
      PermissionChange c = log.get(i);
      versions.add(c.afterVersion());
      assertThat(c.afterVersion()).isEqualTo(i + 1L);
      if (i > 0) {
        // each change saw the previous one: no lost update
        assertThat(c.beforeVersion()).isEqualTo((long) i);
        assertThat(c.beforeRole()).isEqualTo(log.get(i - 1).afterRole());
      }
    }
    assertThat(versions).hasSize(1 + 2 * rounds);
    assertThat(m.currentVersion(t, Principal.userKey(IDP, "racer"))).isEqualTo(1 + 2L * rounds);
  }

  @Test
  void twoOwnersDemotedConcurrentlyLeaveOneOwner(TestDatabase db) throws Exception {
    Memberships m = memberships(db, MembershipChangeListener.NONE);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int r = 0; r < 5; r++) {
        TenantId t = TenantId.of("t-owners-" + r);
        m.add(t, IDP, "o1", "owner", Actor.system());
        m.add(t, IDP, "o2", "owner", Actor.system());
        CyclicBarrier start = new CyclicBarrier(2);
        List<Future<?>> futures = new ArrayList<>();
        for (String who : List.of("o1", "o2")) {
          futures.add(pool.submit(() -> {
            start.await(10, TimeUnit.SECONDS);
            try {
              return m.changeRole(t, IDP, who, "admin", ADMIN);
            } catch (MembershipException e) {
              return e.reason();
            }
          }));
        }
        List<Object> outcomes = new ArrayList<>();
        for (Future<?> f : futures) {
          outcomes.add(f.get(30, TimeUnit.SECONDS));
        }
        assertThat(outcomes).containsOnlyOnce(MembershipException.Reason.LAST_OWNER);
        assertThat(m.list(t)).filteredOn(x -> x.role().equals("owner")).hasSize(1);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void theListenerRunsAfterTheCommit(TestDatabase db) {
    TenantId t = TenantId.of("t-after-commit");
    List<Long> seen = new CopyOnWriteArrayList<>();
    Memberships[] holder = new Memberships[1];
    // the listener reads through another connection: it sees the new version only if the change committed
    holder[0] = memberships(db, (tenant, userKey) -> seen.add(holder[0].currentVersion(tenant, userKey)));
    holder[0].add(t, IDP, "boss", "owner", Actor.system());
    holder[0].add(t, IDP, "u", "member", Actor.system());
    holder[0].changeRole(t, IDP, "u", "admin", ADMIN);
    holder[0].remove(t, IDP, "u", ADMIN);
    assertThat(seen).containsExactly(1L, 1L, 2L, PermissionVersions.NO_MEMBERSHIP);
  }

  @Test
  void aFailingListenerDoesNotUndoTheChange(TestDatabase db) {
    TenantId t = TenantId.of("t-failing-listener");
    Memberships m = memberships(db, (tenant, userKey) -> {
      throw new IllegalStateException("bus down");
    });
    m.add(t, IDP, "boss", "owner", Actor.system());
    assertThat(m.find(t, IDP, "boss")).isPresent();
  }

  @Test
  void versionsAreLoadedThroughTheLoader(TestDatabase db) {
    TenantId t = TenantId.of("t-loader");
    Memberships m = memberships(db, MembershipChangeListener.NONE);
    m.add(t, IDP, "boss", "owner", Actor.system());
    PermissionVersions versions = PermissionVersions.loadingFrom(m.versionLoader());
    String key = Principal.userKey(IDP, "boss");
    assertThat(versions.current(t, key)).isEqualTo(1);
    assertThat(versions.current(TenantId.of("elsewhere"), key)).isEqualTo(PermissionVersions.NO_MEMBERSHIP);
    m.add(t, IDP, "second", "owner", Actor.system());
    m.changeRole(t, IDP, "boss", "admin", ADMIN);
    assertThat(versions.current(t, key)).as("cached until invalidated").isEqualTo(1);
    versions.invalidate(t, key);
    assertThat(versions.current(t, key)).isEqualTo(2);
  }

  @Test
  void userKeysSurviveTheBusEncoding() {
    for (String[] pair : new String[][] {{IDP, "sub"}, {"a:b", "c:d"}, {"x", "12:y"}, {"é", "ü"}}) {
      String key = Principal.userKey(pair[0], pair[1]);
      String encoded = MembershipChangeListener.encodeUserKey(key);
      assertThat(encoded).doesNotContain("\u0000");
      assertThat(MembershipChangeListener.decodeUserKey(encoded)).isEqualTo(key);
    }
    assertThatThrownBy(() -> MembershipChangeListener.encodeUserKey("no-nul")).isInstanceOf(
        IllegalArgumentException.class);
    assertThatThrownBy(() -> MembershipChangeListener.decodeUserKey("9:short")).isInstanceOf(
        IllegalArgumentException.class);
    assertThatThrownBy(() -> MembershipChangeListener.decodeUserKey("x:abc")).isInstanceOf(
        IllegalArgumentException.class);
  }
}
