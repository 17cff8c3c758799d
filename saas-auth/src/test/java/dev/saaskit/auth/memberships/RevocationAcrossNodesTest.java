package dev.saaskit.auth.memberships;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.auth.Actor;
import dev.saaskit.auth.MembershipChangeListener;
import dev.saaskit.auth.MembershipException;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.PermissionVersions;
import dev.saaskit.auth.Principal;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationListener;
import dev.saaskit.cache.postgres.CacheSchema;
import dev.saaskit.cache.postgres.PostgresInvalidationBus;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Revocation across two nodes sharing one database: each node has its own pool, its own
 * {@link PostgresInvalidationBus} and its own {@link PermissionVersions}; a demotion on node A reaches node B's
 * in-memory version within the bus's bound (a NOTIFY wake-up normally; the poll interval at worst).
 */
@ExtendWith(PostgresExtension.class)
class RevocationAcrossNodesTest {
  private static final String IDP = "https://idp.example";
  private static final String ALICE = Principal.userKey(IDP, "alice");
  /**
   * The bound the docs state for the default bus settings is the poll interval (1 s) plus one read of the log;
   * the test allows five times that for a loaded build machine.
   */
  private static final Duration BOUND = Duration.ofSeconds(5);

  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    AuthDb.migrate(db);
    CacheSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      CacheSchema.defaults().grantApp(c, db.appRole());
    }
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
    open.clear();
  }

  /** One node: its pool, bus, memberships and permission versions, wired as docs/auth-memberships.md shows. */
  private final class Node {
    final PostgresInvalidationBus bus;
    final Memberships memberships;
    final PermissionVersions versions;

    Node(TestDatabase db, String name, boolean pollingOnly, Duration pollInterval) {
      HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), 4);
      open.add(pool);
      bus = PostgresInvalidationBus.builder(pool).nodeName(name).pollingOnly(pollingOnly)
          .pollInterval(pollInterval).build().start();
      open.add(bus);
      PermissionVersions[] holder = new PermissionVersions[1];
      memberships = wire(pool, bus, holder);
      versions = holder[0];
    }
  }

  /** The glue between saas-auth and saas-cache, as the docs show it. */
  private static Memberships wire(javax.sql.DataSource appDataSource, PostgresInvalidationBus bus,
      PermissionVersions[] out) {
    // snippet: bus-glue
    MembershipChangeListener publishOnBus = new MembershipChangeListener() {
      @Override
      public void inTransaction(Connection c, TenantId tenant, String userKey) {
        // committed with the change, or not at all
        bus.publish(c, Invalidation.key("permission-versions", tenant,
            MembershipChangeListener.encodeUserKey(userKey)));
      }

      @Override
      public void membershipChanged(TenantId tenant, String userKey) {}
    };
    Memberships memberships = Memberships.builder(appDataSource).changeListener(publishOnBus).build();
    PermissionVersions versions = PermissionVersions.loadingFrom(memberships::currentVersion);
    bus.subscribe(new InvalidationListener() {
      @Override
      public void onInvalidation(Invalidation i) {
        if (i.scope() == Invalidation.Scope.KEY && "permission-versions".equals(i.cacheName())
            && i.tenant() != null && i.value() != null) {
          versions.invalidate(i.tenant(), MembershipChangeListener.decodeUserKey(i.value()));
        } else if (i.scope() != Invalidation.Scope.KEY && i.appliesTo("permission-versions")) {
          versions.invalidateAll();   // a TAG, TENANT or ALL invalidation: rare, reload everything
        }
      }

      @Override
      public void onLostInvalidations() {
        versions.invalidateAll();
      }
    });
    // end snippet
    out[0] = versions;
    return memberships;
  }

  @Test
  void aDemotionOnNodeAReachesNodeBWithinTheBound(TestDatabase db) {
    Node a = new Node(db, "node-a", false, Duration.ofSeconds(1));
    Node b = new Node(db, "node-b", false, Duration.ofSeconds(1));
    TenantId t = TenantId.of("t-two-nodes");
    a.memberships.add(t, IDP, "owner", "owner", Actor.system());
    a.memberships.add(t, IDP, "alice", "admin", Actor.system());
    // alice's token says version 1; both nodes have loaded (and now cache) version 1
    Principal token = Principal.builder(IDP, "alice").tenant(t).roles(List.of("admin")).permissionVersion(1L)
        .build();
    assertThat(a.versions.current(t, ALICE)).isEqualTo(1);
    assertThat(b.versions.current(t, ALICE)).isEqualTo(1);
    assertThat(stale(b.versions, token)).isFalse();

    a.memberships.changeRole(t, IDP, "alice", "member", Actor.user(IDP, "owner"));

    Await.until("node B sees alice's new version", BOUND, () -> b.versions.current(t, ALICE) == 2);
    Await.until("node A sees alice's new version", BOUND, () -> a.versions.current(t, ALICE) == 2);
    assertThat(stale(b.versions, token)).isTrue();
    assertThat(stale(a.versions, token)).isTrue();

    // a removal made on node B reaches node A the same way
    b.memberships.remove(t, IDP, "alice", Actor.user(IDP, "owner"));
    Await.until("node A sees alice removed", BOUND,
        () -> a.versions.current(t, ALICE) == PermissionVersions.NO_MEMBERSHIP);
  }

  @Test
  void withoutNotificationsTheNextPollDelivers(TestDatabase db) {
    Duration poll = Duration.ofMillis(100);
    Node a = new Node(db, "poll-a", true, poll);
    Node b = new Node(db, "poll-b", true, poll);
    TenantId t = TenantId.of("t-polling");
    a.memberships.add(t, IDP, "owner", "owner", Actor.system());
    a.memberships.add(t, IDP, "alice", "admin", Actor.system());
    assertThat(b.versions.current(t, ALICE)).isEqualTo(1);
    a.memberships.changeRole(t, IDP, "alice", "member", Actor.system());
    Await.until("node B sees the new version by polling", BOUND, () -> b.versions.current(t, ALICE) == 2);
    assertThat(b.bus.stats().notificationsReceived()).isZero();
  }

  @Test
  void aRefusedChangePublishesNothing(TestDatabase db) {
    Node a = new Node(db, "refuse-a", false, Duration.ofSeconds(1));
    TenantId t = TenantId.of("t-refused");
    a.memberships.add(t, IDP, "owner", "owner", Actor.system());
    long published = a.bus.stats().published();
    try {
      a.memberships.remove(t, IDP, "owner", Actor.system());
    } catch (MembershipException expected) {
      assertThat(expected.reason()).isEqualTo(MembershipException.Reason.LAST_OWNER);
    }
    assertThat(a.bus.stats().published()).isEqualTo(published);
  }

  private static boolean stale(PermissionVersions versions, Principal p) {
    return p.permissionVersion().getAsLong() < versions.current(p.requireTenant(), p.userKey());
  }
}
