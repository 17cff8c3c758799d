package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TransactionState;

/**
 * {@code publishAndCommit}: the invalidation's row and the COMMIT in one round trip, both committed or neither, on
 * a real PostgreSQL, in both query modes of the driver.
 */
@ExtendWith(PostgresExtension.class)
class PublishAndCommitTest {
  static BusFixture fx;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    BusFixture.migrate(db);
    fx = new BusFixture(db);
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE items (id int PRIMARY KEY, version bigint NOT NULL)");
      // checked at COMMIT: a duplicate code fails the commit, not the statement that wrote it
      st.execute("CREATE TABLE codes (code text, CONSTRAINT codes_unique UNIQUE (code) DEFERRABLE INITIALLY DEFERRED)");
      st.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON items, codes TO " + db.appRole());
    }
  }

  @BeforeEach
  void emptyTables() throws SQLException {
    try (Connection c = fx.db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("TRUNCATE items, codes, saaskit_cache.invalidation_log");
      st.execute("INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g");
    }
  }

  @AfterEach
  void closeNodes() {
    fx.close();
  }

  @AfterAll
  static void tearDown() {
    fx.close();
  }

  @Test
  void theWorkAndTheInvalidationCommitTogetherWithTheInsert() throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    PostgresInvalidationBus b = fx.node("b", x -> x.pollInterval(Duration.ofHours(1)));
    RecordingListener onB = recordedOn(b);
    Await.until("b listening", () -> b.stats().listening());
    Invalidation invalidation = Invalidation.key("items", TenantId.of("acme"), "1");
    List<TransactionState> atCommit = new CopyOnWriteArrayList<>();

    try (Connection pooled = fx.appPool(2).getConnection()) {
      Connection c = recordingCommits(pooled, atCommit);
      c.setAutoCommit(false);
      update(c, 1);
      a.publishAndCommit(c, invalidation);

      // the server had committed before the bus called commit(): the COMMIT went with the insert
      assertThat(atCommit).containsExactly(TransactionState.IDLE);
      assertThat(c.getAutoCommit()).isFalse();
      assertThat(version(fx.db.appDataSource(), 1)).isEqualTo(1);
      // the connection goes on: a new transaction, and a rollback cannot undo what was committed
      update(c, 2);
      c.rollback();
      assertThat(version(fx.db.appDataSource(), 1)).isEqualTo(1);
      assertThat(version(fx.db.appDataSource(), 2)).isZero();
      update(c, 3);
      a.publishAndCommit(c, Invalidation.tag("second"));
    }
    assertThat(version(fx.db.appDataSource(), 3)).isEqualTo(1);
    // only a's wake-up after the commit can make b read (b polls once an hour)
    Await.until("b woken and delivered both", () -> onB.has(invalidation) && onB.has(Invalidation.tag("second")));
    assertThat(onB.received).containsExactly(invalidation, Invalidation.tag("second"));
    assertThat(a.stats().published()).isEqualTo(2);
    assertThat(logRows()).isEqualTo(2);
  }

  @ParameterizedTest
  @ValueSource(strings = {"extended", "simple"})
  void aRowThatCannotBeWrittenCommitsNothing(String queryMode) throws SQLException {
    // a log that does not exist: the insert fails after the caller's update succeeded
    PostgresInvalidationBus missing = PostgresInvalidationBus.builder(fx.db.appDataSource())
        .schema(CacheSchema.builder().name("no_such_cache_schema").build()).build();
    fx.register(missing);
    try (Connection c = pool(queryMode).getConnection()) {
      c.setAutoCommit(false);
      update(c, 1);
      assertThatThrownBy(() -> missing.publishAndCommit(c, Invalidation.tag("lost")))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("no_such_cache_schema")
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42P01"));
      assertThat(version(fx.db.appDataSource(), 1)).isZero();
      c.rollback();
      // the connection is usable afterwards
      update(c, 1);
      c.commit();
    }
    assertThat(version(fx.db.appDataSource(), 1)).isEqualTo(1);
    assertThat(missing.stats().published()).isZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {"extended", "simple"})
  void aCommitThatFailsTakesTheRowWithIt(String queryMode) throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    Invalidation invalidation = Invalidation.tag("duplicate-code");
    try (Connection c = pool(queryMode).getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO codes VALUES ('x'), ('x')")) {
        ps.executeUpdate(); // accepted: the unique check is deferred to COMMIT
      }
      update(c, 1);
      assertThatThrownBy(() -> a.publishAndCommit(c, invalidation))
          .isInstanceOf(SQLException.class)
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("23505"));
      c.rollback();
    }
    assertThat(version(fx.db.appDataSource(), 1)).isZero();
    assertThat(logRows()).isZero();
    assertThat(a.stats().published()).isZero();
  }

  @Test
  void severalInvalidationsAreWrittenInOrderAndNoneJustCommits() throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    RecordingListener onB = recordedOn(fx.node("b"));
    List<Invalidation> batch = List.of(Invalidation.key("items", TenantId.of("t1"), "k'1"),
        Invalidation.tag("tag,with\"quotes{}"), Invalidation.tenant("items", TenantId.of("t2")),
        Invalidation.tenant(TenantId.of("t3")), Invalidation.all("items"), Invalidation.key("items", null, "k2"));
    try (Connection c = fx.appPool(2).getConnection()) {
      c.setAutoCommit(false);
      update(c, 1);
      a.publishAndCommit(c, batch);
      update(c, 2);
      a.publishAndCommit(c, List.of());
    }
    assertThat(version(fx.db.appDataSource(), 1)).isEqualTo(1);
    assertThat(version(fx.db.appDataSource(), 2)).isEqualTo(1);
    Await.until("the batch on b", () -> onB.hasAll(batch));
    assertThat(onB.received).containsExactlyElementsOf(batch);
    assertThat(a.stats().published()).isEqualTo(batch.size());
  }

  @Test
  void onAnAutoCommitConnectionTheRowCommitsOnItsOwn() throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    RecordingListener onB = recordedOn(fx.node("b"));
    List<Invalidation> two = List.of(Invalidation.tag("auto-1"), Invalidation.tag("auto-2"));
    try (Connection c = fx.appPool(2).getConnection()) {
      assertThat(c.getAutoCommit()).isTrue();
      a.publishAndCommit(c, Invalidation.tag("auto-0"));
      a.publishAndCommit(c, two);
      assertThat(c.getAutoCommit()).isTrue();
    }
    Await.until("all three on b", () -> onB.has(Invalidation.tag("auto-0")) && onB.hasAll(two));
    assertThat(logRows()).isEqualTo(3);
  }

  @Test
  void aClosedBusRefusesAndLeavesTheTransactionToTheCaller() throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    a.close();
    try (Connection c = fx.appPool(2).getConnection()) {
      c.setAutoCommit(false);
      update(c, 1);
      assertThatThrownBy(() -> a.publishAndCommit(c, Invalidation.tag("x")))
          .isInstanceOf(IllegalStateException.class);
      assertThat(version(fx.db.appDataSource(), 1)).isZero();
      c.commit();
    }
    assertThat(version(fx.db.appDataSource(), 1)).isEqualTo(1);
    assertThat(logRows()).isZero();
    assertThatThrownBy(() -> a.publishAndCommit(null, Invalidation.tag("x"))).isInstanceOf(NullPointerException.class);
  }

  @Test
  void concurrentTransactionsOnOnePoolLoseNothing() throws Exception {
    PostgresInvalidationBus a = fx.node("a");
    RecordingListener onB = recordedOn(fx.node("b"));
    DataSource pool = fx.appPool(6);
    int threads = 8;
    int each = 40;
    ExecutorService workers = Executors.newFixedThreadPool(threads);
    List<Future<?>> done = new ArrayList<>();
    try {
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(workers.submit(() -> {
          for (int i = 0; i < each; i++) {
            try (Connection c = pool.getConnection()) {
              c.setAutoCommit(false);
              update(c, 1 + (thread + i) % 10);
              a.publishAndCommit(c, Invalidation.tag("t" + thread + "-" + i));
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      workers.shutdownNow();
    }
    List<Invalidation> all = IntStream.range(0, threads).boxed()
        .flatMap(t -> IntStream.range(0, each).mapToObj(i -> Invalidation.tag("t" + t + "-" + i))).toList();
    Await.until("all " + all.size() + " on b", () -> onB.hasAll(all));
    assertThat(onB.received).hasSize(all.size());
    assertThat(onB.flushes).hasValue(0);
    long versions = 0;
    for (int id = 1; id <= 10; id++) {
      versions += version(fx.db.appDataSource(), id);
    }
    assertThat(versions).isEqualTo((long) threads * each);
  }

  @Test
  void sessionsKilledMidTransactionNeverCommitTheWorkWithoutItsInvalidation() throws Exception {
    PostgresInvalidationBus a = fx.node("a");
    DataSource writers = fx.appPool(4, "crash-writers");
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger attempts = new AtomicInteger();
    AtomicInteger failures = new AtomicInteger();
    ExecutorService threads = Executors.newFixedThreadPool(5);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int thread = t;
        done.add(threads.submit(() -> {
          for (int i = 0; !stop.get(); i++) {
            attempts.incrementAndGet();
            try (Connection c = writers.getConnection()) {
              c.setAutoCommit(false);
              update(c, 1 + (thread + i) % 10);
              a.publishAndCommit(c, Invalidation.tag("crash-" + thread + "-" + i));
            } catch (SQLException killed) {
              failures.incrementAndGet(); // the session died somewhere in the transaction: either outcome is fine
            }
          }
          return null;
        }));
      }
      done.add(threads.submit(() -> {
        // kill the writers' sessions at random moments until enough transactions died mid-way
        java.util.SplittableRandom random = new java.util.SplittableRandom(17);
        // between kills the pool reconnects and transactions run, so kills land at every step of one
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (int kills = 0; kills < 100 && System.nanoTime() < deadline; kills++) {
          LockSupport.parkNanos(random.nextLong(10_000_000, 30_000_000));
          fx.kill("crash-writers");
        }
        stop.set(true);
        return null;
      }));
      for (Future<?> f : done) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      stop.set(true);
      threads.shutdownNow();
    }
    assertThat(failures.get()).as("transactions cut by a killed session").isPositive();
    // every committed update has its invalidation row and every row its update: never one without the other
    long versions = 0;
    for (int id = 1; id <= 10; id++) {
      versions += version(fx.db.appDataSource(), id);
    }
    assertThat(logRows()).isEqualTo(versions).isPositive().isLessThanOrEqualTo(attempts.get());
  }

  /** A listener subscribed to {@code bus}, recording what it delivers. */
  private static RecordingListener recordedOn(PostgresInvalidationBus bus) {
    RecordingListener recorder = new RecordingListener();
    bus.subscribe(recorder);
    return recorder;
  }

  private static DataSource pool(String queryMode) {
    var pool = fx.db.newPool(fx.db.appRole(), fx.db.appPassword(), 2, Map.of("preferQueryMode", queryMode));
    fx.register(pool);
    return pool;
  }

  /** {@code connection}, recording the driver's view of the server's transaction state at each commit() call. */
  private static Connection recordingCommits(Connection connection, List<TransactionState> states) {
    return (Connection) Proxy.newProxyInstance(PublishAndCommitTest.class.getClassLoader(),
        new Class<?>[] {Connection.class}, (proxy, method, args) -> {
          if (method.getName().equals("commit")) {
            states.add(connection.unwrap(BaseConnection.class).getTransactionState());
          }
          try {
            return method.invoke(connection, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  private static void update(Connection c, int id) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE items SET version = version + 1 WHERE id = ?")) {
      ps.setInt(1, id);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  private static long version(DataSource ds, int id) throws SQLException {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT version FROM items WHERE id = ?")) {
      ps.setInt(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private static long logRows() throws SQLException {
    try (Connection c = fx.db.ownerDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM saaskit_cache.invalidation_log")) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
