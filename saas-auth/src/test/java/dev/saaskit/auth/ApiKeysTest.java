package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** API keys against a real PostgreSQL, as the application role. */
@ExtendWith(PostgresExtension.class)
class ApiKeysTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");
  static final byte[] PEPPER_1 = "pepper-one-pepper-one-pepper-one-!".getBytes(StandardCharsets.UTF_8);
  static final byte[] PEPPER_2 = "pepper-two-pepper-two-pepper-two-!".getBytes(StandardCharsets.UTF_8);

  static DataSource app;
  static DataSource owner;
  static Authorizer authorizer = Authorizer.builder(RoleModel.defaults()).build();
  static MutableClock clock = MutableClock.at(Instant.parse("2026-12-04T10:00:00Z"));

  static Principal admin(TenantId tenant) {
    return Principal.builder("https://idp.test", "admin-" + tenant.value()).tenant(tenant).roles(List.of("admin"))
        .permissionVersion(1L).build();
  }

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    owner = db.ownerDataSource();
    app = db.appDataSource();
    AuthSchema.defaults().migrate(owner);
    try (Connection c = owner.getConnection()) {
      AuthSchema.defaults().grantApp(c, db.appRole());
    }
  }

  static ApiKeys keys() {
    return ApiKeys.builder(app, authorizer).clock(clock).pepper("p1", PEPPER_1).build();
  }

  @Test
  void aKeyVerifiesIntoAPrincipalOfItsTenantWithItsScopesAndItsSecretIsNotStored() throws SQLException {
    ApiKeys keys = keys();
    CreatedApiKey created = keys.create(ACME, admin(ACME), "CI", Set.of("project:write", "invoice:read"), null);
    String key = created.key();
    assertThat(key).startsWith("sk_live_").doesNotContain("acme"); // the tenant is encoded, not spelled out
    assertThat(created.toString()).doesNotContain(key.substring(key.length() - 20));
    Principal p = keys.verify(key);
    assertThat(p.method()).isEqualTo(Principal.Method.API_KEY);
    assertThat(p.tenant()).contains(ACME);
    assertThat(p.permissions()).containsExactlyInAnyOrder("project:write", "invoice:read");
    assertThat(p.credentialId()).contains(created.info().publicId());
    assertThat(authorizer.check(p, "project:write")).isTrue();
    assertThat(authorizer.check(p, "members:invite")).isFalse();
    // nothing in the table holds the secret: scan every column as text
    String secretPart = key.substring(key.lastIndexOf('_') + 1, key.length() - 6);
    try (Connection c = owner.getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM saaskit_auth.api_keys k WHERE k::text LIKE '%"
            + secretPart.substring(0, 20) + "%' OR encode(secret_hash, 'escape') LIKE '%" + secretPart.substring(0, 20)
            + "%'")) {
      rs.next();
      assertThat(rs.getLong(1)).isZero();
    }
  }

  @Test
  void wrongUnknownMalformedAndTamperedKeysAreAllBadKeys() {
    ApiKeys keys = keys();
    String key = keys.create(ACME, admin(ACME), "k", Set.of("invoice:read"), null).key();
    char last = key.charAt(key.length() - 10);
    String wrongSecret = key.substring(0, key.length() - 10) + (last == 'a' ? 'b' : 'a') + key.substring(key.length() - 9);
    for (String bad : List.of(wrongSecret, key + "x", key.substring(0, key.length() - 1), "sk_live_", "",
        "sk_test_" + key.substring(8), "Bearer " + key, key.replace("sk_live_", "sk_live_a"),
        "sk_live_" + "a".repeat(5000), "sk_live_\u0000_\u00e9_x", key.toUpperCase(java.util.Locale.ROOT))) {
      assertThatThrownBy(() -> keys.verify(bad)).as(bad.length() > 60 ? bad.substring(0, 60) : bad)
          .isInstanceOfSatisfying(InvalidTokenException.class, e -> assertThat(e.reason()).isEqualTo(Reason.BAD_API_KEY));
    }
  }

  @Test
  void aKeyForgedToNameAnotherTenantFindsNothing() {
    ApiKeys keys = keys();
    String acme = keys.create(ACME, admin(ACME), "k", Set.of("invoice:read"), null).key();
    // the same public id and secret, re-labelled for globex with a valid check: looked up under globex's RLS
    String body = acme.substring(0, acme.length() - 6);
    String tenant32 = body.substring("sk_live_".length(), body.indexOf('_', "sk_live_".length()));
    String globex32 = base32("globex");
    String forgedBody = body.replace("sk_live_" + tenant32 + "_", "sk_live_" + globex32 + "_");
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(forgedBody.getBytes(StandardCharsets.UTF_8));
    String forged = forgedBody + check(crc.getValue());
    assertThatThrownBy(() -> keys.verify(forged)).isInstanceOfSatisfying(InvalidTokenException.class,
        e -> assertThat(e.reason()).isEqualTo(Reason.BAD_API_KEY));
  }

  @Test
  void scopesNeverExceedTheCreatorAndTheCreatorMustActForTheTenant() {
    ApiKeys keys = keys();
    Principal member = Principal.builder("https://idp.test", "m").tenant(ACME).roles(List.of("member"))
        .permissionVersion(1L).build();
    assertThatThrownBy(() -> keys.create(ACME, member, "k", Set.of("invoice:read", "invoice:write"), null))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(AccessDeniedException.Reason.NOT_PERMITTED));
    assertThatThrownBy(() -> keys.create(GLOBEX, admin(ACME), "k", Set.of("invoice:read"), null))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(AccessDeniedException.Reason.TENANT_MISMATCH));
    assertThatThrownBy(() -> keys.create(ACME, admin(ACME), " ", Set.of("invoice:read"), null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> keys.create(ACME, admin(ACME), "k", Set.of(), null))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aNameWithControlCharactersIsAnArgumentErrorNotADatabaseFailure() {
    ApiKeys keys = keys();
    int before = keys.list(ACME).size();
    // PostgreSQL text cannot hold NUL: without a check this became a SaasException (a 500) after the scope checks
    for (String name : List.of("ci\u0000deploy", "ci\ndeploy", "\u001b[31mred")) {
      assertThatThrownBy(() -> keys.create(ACME, admin(ACME), name, Set.of("invoice:read"), null))
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThat(keys.list(ACME)).hasSize(before);
  }

  @Test
  void anExpiryBeyondWhatTheDatabaseHoldsIsAnArgumentError() {
    ApiKeys keys = keys();
    int before = keys.list(ACME).size();
    // PostgreSQL's timestamptz ends in the year 294276: later was a SaasException (a 500) from the insert
    for (Instant far : List.of(Instant.parse("+300000-01-01T00:00:00Z"), Instant.MAX)) {
      assertThatThrownBy(() -> keys.create(ACME, admin(ACME), "far", Set.of("invoice:read"), far))
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThat(keys.list(ACME)).hasSize(before);
    Instant year9999 = Instant.parse("9999-12-31T00:00:00Z");
    assertThat(keys.create(ACME, admin(ACME), "long-lived", Set.of("invoice:read"), year9999).info().expiresAt())
        .contains(year9999);
  }

  @Test
  void expiredAndRevokedKeysAreRefusedAndRevokedRowsStay() {
    ApiKeys keys = keys();
    CreatedApiKey shortLived = keys.create(ACME, admin(ACME), "short", Set.of("invoice:read"),
        clock.instant().plus(Duration.ofHours(1)));
    keys.verify(shortLived.key());
    clock.advance(Duration.ofHours(2));
    assertThatThrownBy(() -> keys.verify(shortLived.key())).isInstanceOfSatisfying(InvalidTokenException.class,
        e -> assertThat(e.reason()).isEqualTo(Reason.EXPIRED));
    CreatedApiKey revoked = keys.create(ACME, admin(ACME), "revoked", Set.of("invoice:read"), null);
    assertThat(keys.revoke(ACME, revoked.info().id(), admin(ACME))).isTrue();
    assertThat(keys.revoke(ACME, revoked.info().id(), admin(ACME))).isFalse();
    assertThatThrownBy(() -> keys.verify(revoked.key())).isInstanceOfSatisfying(InvalidTokenException.class,
        e -> assertThat(e.reason()).isEqualTo(Reason.REVOKED));
    ApiKeyInfo row = keys.list(ACME).stream().filter(k -> k.id() == revoked.info().id()).findFirst().orElseThrow();
    assertThat(row.revokedAt()).isPresent();
    assertThat(row.revokedBy()).contains("admin-acme @ https://idp.test");
  }

  @Test
  void tenantsSeeAndRevokeOnlyTheirOwnKeys() {
    ApiKeys keys = keys();
    CreatedApiKey acme = keys.create(ACME, admin(ACME), "acme-only", Set.of("invoice:read"), null);
    assertThat(keys.list(GLOBEX)).noneMatch(k -> k.publicId().equals(acme.info().publicId()));
    assertThat(keys.list(ACME)).anyMatch(k -> k.publicId().equals(acme.info().publicId()));
    assertThat(keys.revoke(GLOBEX, acme.info().id(), admin(GLOBEX))).isFalse();
    keys.verify(acme.key());
    // a principal of another tenant cannot revoke acme's key by naming acme (as it cannot create one there)
    assertThatThrownBy(() -> keys.revoke(ACME, acme.info().id(), admin(GLOBEX)))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(AccessDeniedException.Reason.TENANT_MISMATCH));
    keys.verify(acme.key());
    assertThat(keys.list(ACME)).filteredOn(k -> k.id() == acme.info().id()).allMatch(k -> k.revokedAt().isEmpty());
  }

  @Test
  void theAppRoleCannotDeleteKeysNorRewriteTheirHash() throws SQLException {
    try (Connection c = app.getConnection(); Statement st = c.createStatement()) {
      st.execute("SELECT set_config('app.tenant_id', 'acme', false)");
      assertThatThrownBy(() -> st.execute("DELETE FROM saaskit_auth.api_keys")).isInstanceOf(SQLException.class);
      assertThatThrownBy(() -> st.execute("UPDATE saaskit_auth.api_keys SET secret_hash = secret_hash"))
          .isInstanceOf(SQLException.class);
      assertThatThrownBy(() -> st.execute("UPDATE saaskit_auth.api_keys SET scopes = '{}'"))
          .isInstanceOf(SQLException.class);
    }
  }

  @Test
  void lastUseIsWrittenInOneUpdatePerFlushNotPerRequest() throws SQLException {
    ApiKeys keys = keys();
    CreatedApiKey created = keys.create(ACME, admin(ACME), "busy", Set.of("invoice:read"), null);
    keys.flush();
    long before = updates();
    for (int i = 0; i < 1000; i++) {
      keys.verify(created.key());
    }
    assertThat(updates()).isEqualTo(before);
    Instant usedAt = clock.instant();
    assertThat(keys.flush()).isEqualTo(1);
    assertThat(updates()).isEqualTo(before + 1);
    ApiKeyInfo info = keys.list(ACME).stream().filter(k -> k.id() == created.info().id()).findFirst().orElseThrow();
    assertThat(info.lastUsedAt()).contains(usedAt);
    assertThat(keys.flush()).isZero();
  }

  /** UPDATE statements run on the key table so far, counted by a statement-level trigger. */
  private static long updates() throws SQLException {
    try (Connection c = owner.getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS public.key_updates (n bigint NOT NULL)");
      st.execute("INSERT INTO public.key_updates SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM public.key_updates)");
      st.execute("CREATE OR REPLACE FUNCTION public.count_key_updates() RETURNS trigger LANGUAGE plpgsql"
          + " SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS"
          + " $$ BEGIN UPDATE public.key_updates SET n = n + 1; RETURN NULL; END $$");
      st.execute("CREATE OR REPLACE TRIGGER count_key_updates AFTER UPDATE ON saaskit_auth.api_keys"
          + " FOR EACH STATEMENT EXECUTE FUNCTION public.count_key_updates()");
      try (ResultSet rs = st.executeQuery("SELECT n FROM public.key_updates")) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  @Test
  void closeWritesPendingUseAndStartedFlusherWritesOnItsOwn() throws Exception {
    ApiKeys keys = ApiKeys.builder(app, authorizer).clock(clock).pepper("p1", PEPPER_1)
        .lastUsedFlushInterval(Duration.ofMillis(50)).build().start();
    CreatedApiKey created = keys.create(ACME, admin(ACME), "flushed", Set.of("invoice:read"), null);
    keys.verify(created.key());
    dev.saaskit.testing.Await.until("the flusher wrote the last use", () -> keys.list(ACME).stream()
        .anyMatch(k -> k.id() == created.info().id() && k.lastUsedAt().isPresent()));
    ApiKeys other = keys();
    CreatedApiKey second = other.create(ACME, admin(ACME), "closed", Set.of("invoice:read"), null);
    other.verify(second.key());
    other.close();
    assertThat(keys().list(ACME).stream().filter(k -> k.id() == second.info().id()).findFirst().orElseThrow()
        .lastUsedAt()).isPresent();
    keys.close();
    assertThatThrownBy(keys::start).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void startTwiceIsAnErrorAndCloseIsIdempotentBeforeAndAfterStart() {
    ApiKeys keys = keys().start();
    assertThatThrownBy(keys::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("already started");
    keys.close();
    keys.close();
    assertThatThrownBy(keys::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    ApiKeys neverStarted = keys();
    neverStarted.close();
    neverStarted.close();
    assertThatThrownBy(neverStarted::start).isInstanceOf(IllegalStateException.class);
    // after close() a verified use would never be written: every operation refuses clearly
    ApiKeys live = keys();
    CreatedApiKey created = live.create(ACME, admin(ACME), "before close", Set.of("invoice:read"), null);
    live.close();
    List<org.assertj.core.api.ThrowableAssert.ThrowingCallable> calls = List.of(
        () -> live.verify(created.key()),
        () -> live.create(ACME, admin(ACME), "after close", Set.of("invoice:read"), null),
        () -> live.revoke(ACME, created.info().id(), admin(ACME)),
        () -> live.list(ACME));
    for (var call : calls) {
      assertThatThrownBy(call).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }
  }

  @Test
  void closeTimeoutIsCheckedAtOnce() {
    ApiKeys.Builder b = ApiKeys.builder(app, authorizer);
    assertThatThrownBy(() -> b.closeTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("closeTimeout");
    assertThatThrownBy(() -> b.closeTimeout(Duration.ofMinutes(11))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.closeTimeout(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
    b.closeTimeout(Duration.ofMillis(1)).closeTimeout(Duration.ofMinutes(10));
  }

  @Test
  void closeGivesUpOnAStuckFlusherAfterTheCloseTimeoutAndLosesNoUse() throws Exception {
    CountDownLatch flusherInside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    // the flusher thread's connections wait until released: a flush stuck on the database
    DataSource stuckForFlusher = (DataSource) java.lang.reflect.Proxy.newProxyInstance(
        DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
          if (method.getName().equals("getConnection")
              && Thread.currentThread().getName().equals("saaskit-api-keys-last-used")) {
            flusherInside.countDown();
            release.await();
          }
          try {
            return method.invoke(app, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
    ApiKeys keys = ApiKeys.builder(stuckForFlusher, authorizer).clock(clock).pepper("p1", PEPPER_1)
        .lastUsedFlushInterval(Duration.ofMillis(10)).closeTimeout(Duration.ofMillis(50)).build().start();
    CreatedApiKey created = keys.create(ACME, admin(ACME), "stuck flush", Set.of("invoice:read"), null);
    keys.verify(created.key());
    assertThat(flusherInside.await(30, TimeUnit.SECONDS)).as("the flusher took the pending use").isTrue();
    keys.close(); // returns although the flusher is still stuck (the old close waited a fixed 10 s)
    assertThat(release.getCount()).as("close did not wait for the stuck flusher").isEqualTo(1);
    release.countDown();
    dev.saaskit.testing.Await.until("the released flusher wrote the use it held", () -> keys().list(ACME).stream()
        .anyMatch(k -> k.id() == created.info().id() && k.lastUsedAt().isPresent()));
  }

  /** Locks the keys table in another transaction: statements on it wait, as on a database that does not answer. */
  private static Connection lockKeysTable() throws SQLException {
    Connection c = owner.getConnection();
    c.setAutoCommit(false);
    try (Statement st = c.createStatement()) {
      st.execute("LOCK TABLE " + AuthSchema.defaults().name() + ".api_keys IN ACCESS EXCLUSIVE MODE");
    }
    return c;
  }

  private static long count(String sql) throws SQLException {
    try (Connection c = owner.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static boolean lastUseWritten(CreatedApiKey created) {
    return keys().list(ACME).stream().anyMatch(k -> k.id() == created.info().id() && k.lastUsedAt().isPresent());
  }

  @Test
  void closeWritingThePendingUseToADatabaseThatDoesNotAnswerReturnsWithinTheCloseTimeout() throws Exception {
    for (boolean start : new boolean[] {false, true}) {
      ApiKeys.Builder builder = ApiKeys.builder(app, authorizer).clock(clock).pepper("p1", PEPPER_1)
          .closeTimeout(Duration.ofMillis(200));
      ApiKeys keys = start ? builder.build().start() : builder.build();
      CreatedApiKey created = keys.create(ACME, admin(ACME), "close on a stuck db", Set.of("invoice:read"), null);
      keys.verify(created.key());
      Thread closer = new Thread(keys::close, "closer");
      try (Connection lock = lockKeysTable()) {
        closer.start();
        dev.saaskit.testing.Await.until("close() returns although its write waits for the database",
            () -> closer.getState() == Thread.State.TERMINATED);
        lock.rollback();
      }
      dev.saaskit.testing.Await.until("the write left to finish records the use once the database answers",
          () -> lastUseWritten(created));
    }
  }

  @Test
  void aSecondCloseReturnsOnlyOnceTheFirstHasWrittenThePendingUse() throws Exception {
    ApiKeys keys = ApiKeys.builder(app, authorizer).clock(clock).pepper("p1", PEPPER_1)
        .closeTimeout(Duration.ofMinutes(10)).build().start();
    CreatedApiKey created = keys.create(ACME, admin(ACME), "two closes", Set.of("invoice:read"), null);
    keys.verify(created.key());
    String waitingWrites = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '"
        + AuthSchema.defaults().name() + ".api_keys'::regclass";
    AtomicInteger waitingWhenSecondReturned = new AtomicInteger(-1);
    Thread first = new Thread(keys::close, "app-close");
    Thread second = new Thread(() -> {
      keys.close();
      try {
        // pg_locks, not the table: a read of the locked table would itself wait for the write
        waitingWhenSecondReturned.set((int) count(waitingWrites));
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    }, "shutdown-hook-close");
    try (Connection lock = lockKeysTable()) {
      first.start();
      dev.saaskit.testing.Await.until("the first close()'s write waits for the database",
          () -> count(waitingWrites) == 1);
      second.start();
      dev.saaskit.testing.Await.until("the second close() waits (for the first) or returned", () -> {
        Thread.State state = second.getState();
        return state == Thread.State.TIMED_WAITING || state == Thread.State.TERMINATED;
      });
      lock.rollback();
    }
    second.join(TimeUnit.SECONDS.toMillis(30));
    first.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(second.isAlive()).isFalse();
    assertThat(waitingWhenSecondReturned).as("no write was still waiting when the second close() returned")
        .hasValue(0);
    assertThat(lastUseWritten(created)).isTrue();
  }

  @Test
  void aNewPepperHashesNewKeysAndOldKeysStillVerify() {
    ApiKeys before = keys();
    String old = before.create(ACME, admin(ACME), "old", Set.of("invoice:read"), null).key();
    ApiKeys after = ApiKeys.builder(app, authorizer).clock(clock).pepper("p1", PEPPER_1).pepper("p2", PEPPER_2).build();
    String fresh = after.create(ACME, admin(ACME), "new", Set.of("invoice:read"), null).key();
    after.verify(old);
    after.verify(fresh);
    assertThatThrownBy(() -> before.verify(fresh)).isInstanceOfSatisfying(InvalidTokenException.class,
        e -> assertThat(e.reason()).isEqualTo(Reason.BAD_API_KEY));
    ApiKeys testEnv = ApiKeys.builder(app, authorizer).clock(clock).environment("test").pepper("p1", PEPPER_1).build();
    String testKey = testEnv.create(ACME, admin(ACME), "test", Set.of("invoice:read"), null).key();
    assertThat(testKey).startsWith("sk_test_");
    testEnv.verify(testKey);
    assertThatThrownBy(() -> after.verify(testKey)).isInstanceOf(InvalidTokenException.class);
  }

  @Test
  void onceRevokeReturnsNoVerifySucceeds() throws Exception {
    ApiKeys keys = keys();
    CreatedApiKey created = keys.create(ACME, admin(ACME), "race", Set.of("invoice:read"), null);
    AtomicBoolean revokedReturned = new AtomicBoolean();
    AtomicInteger lateSuccesses = new AtomicInteger();
    AtomicInteger refusals = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<?>> futures = new ArrayList<>();
    try {
      for (int t = 0; t < 8; t++) {
        futures.add(pool.submit(() -> {
          go.await();
          for (int i = 0; i < 200; i++) {
            boolean afterRevoke = revokedReturned.get();
            try {
              keys.verify(created.key());
              if (afterRevoke) {
                lateSuccesses.incrementAndGet();
              }
            } catch (InvalidTokenException e) {
              refusals.incrementAndGet();
            }
          }
          return null;
        }));
      }
      go.countDown();
      assertThat(keys.revoke(ACME, created.info().id(), admin(ACME))).isTrue();
      revokedReturned.set(true);
      for (Future<?> f : futures) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(lateSuccesses.get()).isZero();
    assertThatThrownBy(() -> keys.verify(created.key())).isInstanceOf(InvalidTokenException.class);
  }

  @Test
  void aKeyRevokedAfterItsRequestWasAuthenticatedCannotCreateAKeyThatOutlivesIt() {
    ApiKeys keys = keys();
    CreatedApiKey maker = keys.create(ACME, admin(ACME), "maker", Set.of("invoice:read"), null);
    Principal inFlight = keys.verify(maker.key());   // a request authenticated with the key ...
    assertThat(keys.revoke(ACME, maker.info().id(), admin(ACME))).isTrue();   // ... which is then revoked
    String makerSubject = inFlight.subject() + " @ " + inFlight.issuer();
    assertThatThrownBy(() -> keys.create(ACME, inFlight, "successor", Set.of("invoice:read"), null))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(AccessDeniedException.Reason.STALE_PERMISSIONS));
    assertThat(keys.list(ACME)).noneMatch(k -> k.createdBy().equals(makerSubject));
    // a live key still creates keys within its scopes
    CreatedApiKey live = keys.create(ACME, admin(ACME), "live maker", Set.of("invoice:read"), null);
    Principal livePrincipal = keys.verify(live.key());
    keys.verify(keys.create(ACME, livePrincipal, "child", Set.of("invoice:read"), null).key());
  }

  private static String base32(String s) {
    String alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    StringBuilder sb = new StringBuilder();
    int buffer = 0;
    int bits = 0;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      buffer = (buffer << 8) | (b & 0xff);
      bits += 8;
      while (bits >= 5) {
        sb.append(alphabet.charAt((buffer >> (bits - 5)) & 31));
        bits -= 5;
      }
    }
    if (bits > 0) {
      sb.append(alphabet.charAt((buffer << (5 - bits)) & 31));
    }
    return sb.toString();
  }

  private static String check(long v) {
    String base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      sb.append(base62.charAt((int) (v % 62)));
      v /= 62;
    }
    return sb.reverse().toString();
  }
}
