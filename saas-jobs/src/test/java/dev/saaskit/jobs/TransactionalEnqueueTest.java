package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.GLOBEX;
import static dev.saaskit.jobs.QueueFixtures.as;
import static dev.saaskit.jobs.QueueFixtures.count;
import static dev.saaskit.jobs.QueueFixtures.job;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.jobs.internal.Channels;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/** Enqueue inside the caller's transaction: the job and its wake-up exist if and only if the caller commits. */
@ExtendWith(PostgresExtension.class)
class TransactionalEnqueueTest {
  private static TestDatabase db;
  private static JobQueue queue;
  private static HikariDataSource listenerPool;
  private Connection listener;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    String worker = QueueFixtures.setUp(db);
    listenerPool = db.newPool(worker, db.rolePassword(worker), 1);
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE orders (id bigint PRIMARY KEY, tenant_id text NOT NULL)");
    }
    queue = JobQueue.builder(db.appDataSource()).build();
  }

  @AfterAll
  static void tearDown() {
    listenerPool.close();
  }

  @BeforeEach
  void listen() throws SQLException {
    listener = listenerPool.getConnection();
    try (Statement st = listener.createStatement()) {
      st.execute(Channels.listenSql(JobsSchema.DEFAULT_SCHEMA));
    }
  }

  @AfterEach
  void unlisten() throws SQLException {
    try (Statement st = listener.createStatement()) {
      st.execute("UNLISTEN *");
    }
    listener.close();
  }

  @Test
  void commitKeepsTheJobWithTheBusinessWriteAndWakesWorkersOnCommit() throws SQLException {
    JobId id;
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      insertOrder(c, 1);
      id = as(ACME, () -> queue.enqueue(c, JobRequest.builder("order.confirm", 1).queue("orders").build()));
      assertThat(notifications(0)).as("NOTIFY waits for the commit").isEmpty();
      assertThat(count(db, "id = ?", id.value())).as("invisible before commit").isZero();
      c.commit();
    }
    assertThat(job(db, id).get("queue")).isEqualTo("orders");
    assertThat(awaitNotifications(1)).containsExactly("orders");
  }

  @Test
  void rollbackLeavesNoJobAndSendsNoWakeUp() throws SQLException {
    long before = count(db, "true");
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      insertOrder(c, 2);
      as(ACME, () -> queue.enqueue(c, JobRequest.builder("order.confirm", 2).queue("rolled-back").build()));
      as(ACME, () -> queue.enqueueAll(c, List.of(JobRequest.builder("order.confirm", 3).queue("rolled-back").build(),
          JobRequest.builder("order.confirm", 4).queue("rolled-back").uniqueKey("u").build())));
      c.rollback();
    }
    assertThat(count(db, "true")).isEqualTo(before);
    assertThat(QueueFixtures.rows(db.adminDataSource(), "SELECT 1 FROM orders WHERE id = 2")).isEmpty();
    // a later committed enqueue is delivered; nothing from the rolled-back transaction comes before it
    as(ACME, () -> queue.enqueue(JobRequest.builder("order.confirm", 5).queue("sentinel").build()));
    assertThat(awaitNotifications(1)).containsExactly("sentinel");
  }

  @Test
  void theCallersTenantSettingIsPutBack() throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      setTenant(c, "acme");
      JobId other = queue.enqueue(c, JobRequest.builder("t", 1).tenant(GLOBEX).build());
      assertThat(currentTenant(c)).isEqualTo("acme");
      as(GLOBEX, () -> queue.enqueueAll(c, List.of(JobRequest.builder("t", 1).build(),
          JobRequest.builder("t", 1).tenant(ACME).build())));
      assertThat(currentTenant(c)).isEqualTo("acme");
      // the caller's own statements still see the caller's tenant only
      insertOrder(c, 10);
      c.commit();
      assertThat(job(db, other).get("tenant_id")).isEqualTo("globex");
    }
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      queue.enqueue(c, JobRequest.builder("t", 1).tenant(GLOBEX).build());
      assertThat(currentTenant(c)).as("unset before, so empty after").isEmpty();
      c.rollback();
    }
  }

  @Test
  void autoCommitConnectionCommitsAtOnce() throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      assertThat(c.getAutoCommit()).isTrue();
      JobId id = as(ACME, () -> queue.enqueue(c, JobRequest.builder("t", 1).build()));
      List<JobId> ids = as(ACME, () -> queue.enqueueAll(c, List.of(JobRequest.builder("t", 1).uniqueKey("a").build(),
          JobRequest.builder("t", 1).tenant(GLOBEX).build())));
      assertThat(c.getAutoCommit()).isTrue();
      assertThat(count(db, "id = ANY(?)", (Object) new Long[] {id.value(), ids.get(0).value(), ids.get(1).value()}))
          .isEqualTo(3);
    }
    assertThat(awaitNotifications(1)).containsOnly("default");
  }

  @Test
  void aFailedEnqueueLeavesTheCallersTransactionToTheCaller() throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      insertOrder(c, 20);
      assertThatThrownBy(() -> queue.enqueue(c, JobRequest.builder("t", 1).noTenant().build()))
          .hasMessageContaining("grantWorker");
      assertThat(c.getAutoCommit()).isFalse();
      c.rollback();
    }
  }

  private static void insertOrder(Connection c, long id) throws SQLException {
    setTenant(c, "acme");
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO orders VALUES (?, 'acme')")) {
      ps.setLong(1, id);
      ps.executeUpdate();
    }
  }

  private static void setTenant(Connection c, String tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT set_config('app.tenant_id', ?, true)")) {
      ps.setString(1, tenant);
      ps.execute();
    }
  }

  private static String currentTenant(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT coalesce(current_setting('app.tenant_id', true), '')")) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** Payloads received within {@code timeoutMillis} (0: only those already there). */
  private List<String> notifications(int timeoutMillis) throws SQLException {
    List<String> payloads = new ArrayList<>();
    PGConnection pg = listener.unwrap(PGConnection.class);
    // getNotifications(0) would block for ever; the no-argument form only polls the socket
    PGNotification[] received = timeoutMillis == 0 ? pg.getNotifications() : pg.getNotifications(timeoutMillis);
    if (received != null) {
      for (PGNotification n : received) {
        assertThat(n.getName()).isEqualTo("saaskit_jobs_wakeup");
        payloads.add(n.getParameter());
      }
    }
    return payloads;
  }

  /** Waits (bounded) until at least {@code n} notifications arrived, then returns all received so far. */
  private List<String> awaitNotifications(int n) throws SQLException {
    List<String> payloads = new ArrayList<>();
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (payloads.size() < n && System.nanoTime() < deadline) {
      payloads.addAll(notifications(200));
    }
    payloads.addAll(notifications(0));
    return payloads;
  }
}
