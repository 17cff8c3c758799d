package dev.saaskit.cache.postgres;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.InvalidationListener;
import dev.saaskit.cache.postgres.internal.PgBusMeters;
import dev.saaskit.cache.postgres.internal.PgBusSettings;
import dev.saaskit.cache.postgres.internal.PgCounters;
import dev.saaskit.cache.postgres.internal.PgListeners;
import dev.saaskit.cache.postgres.internal.PgNotifier;
import dev.saaskit.cache.postgres.internal.PgPoller;
import dev.saaskit.cache.postgres.internal.PgPruner;
import dev.saaskit.cache.postgres.internal.PgStatements;
import dev.saaskit.core.SaasException;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link InvalidationBus} for several nodes sharing one PostgreSQL database, that loses nothing across
 * reconnects and failovers: every invalidation is a row of an invalidation log, written in the publisher's
 * transaction if it likes ({@link #publish(Connection, Invalidation)}, or {@link #publishAndCommit(Connection,
 * Invalidation)} with the {@code COMMIT} in the same round trip: a rolled-back write invalidates nothing, a
 * committed one cannot be missed), and every node reads the log from where it stopped.
 *
 * <p><b>Guarantee.</b> Each subscriber receives every invalidation whose transaction committed after this bus
 * started, at least once, or is told that some may be lost ({@link InvalidationListener#onLostInvalidations()}),
 * after which it receives every later one. Invalidations arrive in commit order at the granularity of a read:
 * those that became visible between two reads are delivered in the order they were written ({@code seq}). A
 * transaction that commits after one with a higher {@code seq} is still delivered: a node's position is the
 * {@code pg_snapshot} of its last read, not a sequence number.
 *
 * <p><b>Wake-ups.</b> A dedicated listener connection {@code LISTEN}s; publishers {@code NOTIFY} at most once per
 * {@linkplain Builder#notifyInterval(Duration) notify interval}, after their commit and outside the business
 * transaction. Notifications are only a wake-up: each node also reads the log every
 * {@linkplain Builder#pollInterval(Duration) poll interval} and after reconnecting its listener connection (with
 * backoff). Behind a transaction-pooling proxy (PgBouncer) use {@link Builder#pollingOnly(boolean)}, or a direct
 * {@link Builder#listenerDataSource(DataSource)}; a listener connection that does not keep its session is
 * detected and the node falls back to polling.
 *
 * <p><b>Pruning.</b> Every node prunes rows older than the {@linkplain Builder#retention(Duration) retention} on a
 * schedule, in small batches, one node at a time. A node that has not read the log for longer than that (stopped,
 * partitioned) finds the gap and flushes.
 *
 * <pre>{@code
 * CacheSchema.defaults().migrate(ownerDataSource);     // once, as the owner; then grantApp(...) the app role
 * PostgresInvalidationBus bus = PostgresInvalidationBus.builder(appDataSource).build().start();
 * SaasCache<String, Plan> plans = SaasCache.<String, Plan>named("plans").ttl(Duration.ofMinutes(5))
 *     .invalidationBus(bus).build();                         // the cache subscribes itself
 * try (Connection c = appDataSource.getConnection()) {
 *   c.setAutoCommit(false);
 *   // ... UPDATE plans ...
 *   bus.publishAndCommit(c, Invalidation.tag("plans:" + tenant.value())); // the row and the COMMIT together
 * }                                                          // every node drops the tag after that commit
 * bus.close();                                               // at shutdown
 * }</pre>
 *
 * <p>Guide: docs/cache-invalidation.md.
 *
 * <p>Thread-safe. {@link Builder#build()} starts nothing; {@link #start()} starts up to three daemon threads
 * (reader; notifier unless polling only; pruner unless automatic pruning is off); {@link #close()} stops them
 * within the {@linkplain Builder#closeTimeout(Duration) close timeout}.
 */
public final class PostgresInvalidationBus implements InvalidationBus {
  private static final Logger LOG = LoggerFactory.getLogger(PostgresInvalidationBus.class);
  private final PgBusSettings settings;
  private final PgStatements sql;
  private final PgCounters counters = new PgCounters();
  private final PgListeners listeners = new PgListeners();
  private final @Nullable PgNotifier notifier;
  private final PgPruner pruner;
  private final Object lifecycle = new Object();
  private volatile @Nullable PgPoller poller; // set by start()
  private boolean started; // guarded by lifecycle
  private @Nullable Runnable unbindMeters; // guarded by lifecycle
  private volatile boolean closed;
  /** Opened when the first close() has stopped the threads (or given up at the close timeout). */
  private final CountDownLatch closeDone = new CountDownLatch(1);

  private PostgresInvalidationBus(PgBusSettings settings) {
    this.settings = settings;
    this.sql = new PgStatements(settings.schema());
    this.notifier = settings.pollingOnly() ? null : new PgNotifier(settings, counters);
    this.pruner = new PgPruner(settings, sql, counters);
  }

  /**
   * Starts building a bus that publishes and reads through {@code dataSource} (the application's pool is fine:
   * the bus borrows a connection per publish, per read in polling mode, and one for the listener unless
   * {@link Builder#listenerDataSource(DataSource) another source} is given).
   */
  public static Builder builder(DataSource dataSource) {
    return new Builder(Objects.requireNonNull(dataSource, "dataSource"));
  }

  /**
   * Reads the head of the log (this node receives what commits from now on), checks the server and the schema,
   * and starts the bus's threads: the reader (which holds the listener connection), the notifier unless polling
   * only, the pruner unless automatic pruning is off. Subscribe the caches before (a cache built with
   * {@code invalidationBus(bus)} subscribes itself) or after: a subscriber receives what is read after it
   * subscribed. Publishing before {@code start()} writes to the log; the wake-up is sent when the bus starts.
   *
   * @return this bus
   * @throws IllegalStateException if the bus was already started (or is starting), or closed, also when
   *     {@link #close()} is called while this reads the head (the threads it started are then stopped)
   * @throws SaasException if the database cannot be reached, is a standby or older than PostgreSQL 14, or the
   *     schema is missing or not granted to this role (the bus is then not started; fix the cause and call
   *     {@code start()} again, or close it)
   */
  public PostgresInvalidationBus start() {
    synchronized (lifecycle) {
      if (closed) {
        throw new IllegalStateException("the invalidation bus " + settings.nodeName() + " is closed: build a new"
            + " one to start again");
      }
      if (started) {
        throw new IllegalStateException("the invalidation bus " + settings.nodeName() + " is already started:"
            + " call start() once, after build()");
      }
      started = true; // a concurrent second start() throws while this one reads the head
    }
    // outside the lock: reading the head waits for the database, and a close() meanwhile (a shutdown hook) must not
    // wait for it; this start() then stops what it started
    PgPoller p;
    try {
      p = PgPoller.start(settings, sql, listeners, counters);
    } catch (RuntimeException | Error e) {
      synchronized (lifecycle) {
        started = false; // the cause can be fixed and start() called again
      }
      throw e;
    }
    synchronized (lifecycle) {
      if (closed) {
        p.close(settings.closeTimeout().toNanos());
        throw new IllegalStateException("the invalidation bus " + settings.nodeName() + " was closed while it"
            + " started: build a new one to start again");
      }
      poller = p;
      counters.lastReadNanos = System.nanoTime();
      Object registry = settings.meterRegistry();
      if (registry != null) {
        unbindMeters = PgBusMeters.bind(registry, settings, counters);
      }
      if (notifier != null) {
        notifier.start();
      }
      pruner.start();
    }
    return this;
  }

  /** Whether {@link #start()} succeeded and {@link #close()} was not called yet. */
  public boolean isRunning() {
    return poller != null && !closed;
  }

  /**
   * Publishes in a transaction of its own: when this returns, the invalidation is committed and every node will
   * receive it (or flush).
   *
   * @throws SaasException if it could not be written (the database is unreachable, the schema is missing)
   * @throws IllegalStateException if the bus is closed
   */
  @Override
  public void publish(Invalidation invalidation) {
    Objects.requireNonNull(invalidation, "invalidation");
    checkOpen();
    try (Connection c = settings.dataSource().getConnection()) {
      insert(c, invalidation);
      if (!c.getAutoCommit()) {
        c.commit();
      }
    } catch (SQLException e) {
      throw publishFailed(e);
    }
    counters.published.increment();
    afterCommit();
  }

  /**
   * Publishes in the caller's transaction on {@code connection}: the invalidation takes effect if and when that
   * transaction commits, on every node including this one, and never if it rolls back. The bus does not commit,
   * roll back or close the connection. Costs one INSERT round trip; the wake-up is sent after the commit, by the
   * bus, outside the transaction (see the class comment).
   *
   * @throws SaasException if the row could not be written (the transaction is then failed, as for any failed
   *     statement)
   * @throws IllegalStateException if the bus is closed
   */
  public void publish(Connection connection, Invalidation invalidation) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(invalidation, "invalidation");
    checkOpen();
    boolean autoCommit;
    long xid;
    try {
      xid = insert(connection, invalidation);
      autoCommit = connection.getAutoCommit();
    } catch (SQLException e) {
      throw publishFailed(e);
    }
    counters.published.increment();
    if (autoCommit) {
      afterCommit();
    } else if (notifier != null) {
      notifier.watch(xid);
    }
  }

  /**
   * Publishes in the caller's transaction on {@code connection} and commits that transaction, in one round trip:
   * the invalidation's row travels with the {@code COMMIT}. Use it instead of {@code publish(connection,
   * invalidation); connection.commit()} when the invalidation is the last thing the transaction writes: the
   * invalidation then adds no round trip to the transaction, only its insert (see docs/cache-invalidation.md).
   *
   * <p>Both commit or neither does. If the row cannot be written, the server does not commit: the transaction is
   * failed, as after any failed statement (roll it back, or close the connection); with
   * {@code preferQueryMode=simple} the server rolls it back at once. If the commit itself fails (a deferred
   * constraint, a serialization failure) the row goes with the rest. If the connection breaks during the call, the
   * outcome is unknown, as for {@link Connection#commit()}. On an auto-commit connection the row commits on its
   * own. The connection is not closed and keeps its auto-commit mode; its next statement begins a new transaction.
   * Every node, this one included, receives the invalidation as after {@code publish(connection, invalidation)}:
   * woken by this node's coalesced {@code NOTIFY} (at most one per notify interval), or by its next periodic read
   * in polling-only mode.
   *
   * @throws SQLException as {@link Connection#commit()} would, with the server's SQLState (for example
   *     {@code 40001} for a serialization failure to retry), the cause being the driver's exception
   * @throws IllegalStateException if the bus is closed
   */
  public void publishAndCommit(Connection connection, Invalidation invalidation) throws SQLException {
    Objects.requireNonNull(invalidation, "invalidation");
    publishAndCommit(connection, List.of(invalidation));
  }

  /**
   * {@link #publishAndCommit(Connection, Invalidation)} for several invalidations, written by one insert in the
   * order given, in the same round trip as the {@code COMMIT}. An empty collection just commits.
   *
   * @throws SQLException as {@link Connection#commit()} would
   * @throws IllegalStateException if the bus is closed
   */
  public void publishAndCommit(Connection connection, Collection<Invalidation> invalidations) throws SQLException {
    Objects.requireNonNull(connection, "connection");
    List<Invalidation> all = List.copyOf(Objects.requireNonNull(invalidations, "invalidations"));
    checkOpen();
    try {
      boolean autoCommit = connection.getAutoCommit();
      if (!all.isEmpty()) {
        insertAll(connection, all, autoCommit);
      }
      if (!autoCommit) {
        // The server is idle already, so the driver sends nothing; this tells a pool or wrapper the transaction
        // ended (an empty collection commits here).
        connection.commit();
      }
    } catch (SQLException e) {
      throw new SQLException("Could not commit with " + all.size() + " invalidation(s) for the log in schema "
          + settings.schema() + ": " + e.getMessage(), e.getSQLState(), e.getErrorCode(), e);
    }
    counters.published.add(all.size());
    if (notifier != null && !all.isEmpty()) {
      // every node, this one included, reads on the coalesced NOTIFY; waking this node's reader here as well
      // would cost a read of the log per transaction under load
      notifier.committed();
    }
  }

  private void insertAll(Connection c, List<Invalidation> all, boolean autoCommit) throws SQLException {
    boolean one = all.size() == 1;
    String text = one ? (autoCommit ? sql.insertOne : sql.insertOneAndCommit)
        : (autoCommit ? sql.insertMany : sql.insertManyAndCommit);
    try (PreparedStatement ps = c.prepareStatement(text)) {
      if (one) {
        bind(ps, all.get(0));
      } else {
        String[][] columns = new String[4][all.size()];
        for (int k = 0; k < all.size(); k++) {
          Invalidation i = all.get(k);
          columns[0][k] = i.scope().name();
          columns[1][k] = i.cacheName();
          columns[2][k] = i.tenant() == null ? null : i.tenant().value();
          columns[3][k] = i.value();
        }
        for (int column = 0; column < 4; column++) {
          ps.setArray(column + 1, c.createArrayOf("text", columns[column]));
        }
      }
      ps.execute();
    }
  }

  private long insert(Connection c, Invalidation invalidation) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql.insert)) {
      bind(ps, invalidation);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return Long.parseUnsignedLong(rs.getString(1));
      }
    }
  }

  /** Binds the row's four columns (scope, cache name, tenant, value), as every insert statement lists them. */
  private static void bind(PreparedStatement ps, Invalidation invalidation) throws SQLException {
    ps.setString(1, invalidation.scope().name());
    ps.setString(2, invalidation.cacheName());
    ps.setString(3, invalidation.tenant() == null ? null : invalidation.tenant().value());
    ps.setString(4, invalidation.value());
  }

  private void afterCommit() {
    if (notifier != null) {
      notifier.committed();
    }
    PgPoller p = poller;
    if (p != null) {
      p.wake();
    }
  }

  private SaasException publishFailed(SQLException e) {
    return new SaasException("Could not publish an invalidation to the log in schema " + settings.schema() + ": "
        + e.getMessage() + ". Check the database connection, that CacheSchema.migrate ran and that this role has"
        + " CacheSchema.grantApp.", e);
  }

  /**
   * Registers a listener: it receives, on the bus's reader thread, the invalidations committed from about now on.
   *
   * @throws IllegalStateException if the bus is closed
   */
  @Override
  public Subscription subscribe(InvalidationListener listener) {
    Objects.requireNonNull(listener, "listener");
    checkOpen();
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /**
   * Deletes the log rows of transactions that finished at least {@code age} ago, in batches of
   * {@link Builder#pruneBatchSize(int)}, and returns how many this call deleted (0 while another node is pruning).
   * Ages are measured with horizons that pruning runs record (the database's clock): until a run recorded one at
   * least {@code age} ago, nothing is deleted. {@link Duration#ZERO} deletes every finished transaction's rows
   * now: nodes that have not read them yet flush.
   *
   * @throws IllegalArgumentException if {@code age} is negative
   * @throws SaasException if the database refused
   */
  public long pruneOlderThan(Duration age) {
    Objects.requireNonNull(age, "age");
    if (age.isNegative()) {
      throw new IllegalArgumentException("age must be >= 0 but was " + age);
    }
    return pruner.pruneOlderThan(age);
  }

  /**
   * Deletes all but the newest {@code rows} log rows, whatever their age, and returns how many this call deleted.
   * Nodes whose position is older than what was deleted flush.
   *
   * @throws IllegalArgumentException if {@code rows} is negative
   * @throws SaasException if the database refused
   */
  public long pruneKeepingNewest(long rows) {
    if (rows < 0) {
      throw new IllegalArgumentException("rows must be >= 0 but was " + rows);
    }
    return pruner.pruneKeepingNewest(rows);
  }

  /** Counters since this bus started, for logs, health checks and metrics. */
  public Stats stats() {
    return Stats.of(counters.published.sum(), counters.notificationsSent.sum(),
        counters.notificationsReceived.sum(), counters.polls.sum(), counters.delivered.sum(),
        counters.replayed.sum(), counters.flushes.sum(), counters.reconnects.sum(), counters.pruned.sum(),
        counters.listening);
  }

  /** This node's name, as given to {@link Builder#nodeName(String)} or generated. */
  public String nodeName() {
    return settings.nodeName();
  }

  /**
   * The {@code application_name} of the listener connection ({@code "saaskit-cache-bus <nodeName>"}), to find it
   * in {@code pg_stat_activity}.
   */
  public String listenerApplicationName() {
    return settings.listenerApplicationName();
  }

  /**
   * Stops reading (after the delivery in progress), notifying and pruning, and releases the listener connection,
   * waiting at most the {@linkplain Builder#closeTimeout(Duration) close timeout} (default 10 s) in all; a thread
   * still busy then (a subscriber that does not return) is logged and left to finish on its own (the threads are
   * daemons). Safe to call more than once, and before {@link #start()}: a second call, from another thread, returns
   * when the first has stopped the threads (at most the close timeout). Safe to call from a subscriber: the reader
   * thread then stops once the subscriber returns, and the call does not wait for it. A {@code start()} in progress
   * (reading the log's head) does not delay it: that {@code start()} then stops what it started and throws.
   */
  @Override
  public void close() {
    Runnable unbind = null;
    boolean first = false;
    synchronized (lifecycle) {
      if (!closed) {
        closed = true;
        unbind = unbindMeters;
        unbindMeters = null;
        first = true;
      }
    }
    if (!first) {
      awaitFirstClose();
      return;
    }
    try {
      stop(unbind);
    } finally {
      closeDone.countDown();
    }
  }

  /**
   * A second close() (a shutdown hook racing the application's) returns when the first has stopped the threads, or
   * at the close timeout; at once when called from a subscriber, whose return the first close() is waiting for.
   */
  private void awaitFirstClose() {
    PgPoller p = poller;
    if (p != null && p.isReaderThread()) {
      return;
    }
    try {
      if (!closeDone.await(settings.closeTimeout().toNanos(), TimeUnit.NANOSECONDS)) {
        LOG.warn("invalidation bus {}: another close() did not finish within the close timeout of {}",
            settings.nodeName(), settings.closeTimeout());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void stop(@Nullable Runnable unbind) {
    if (unbind != null) {
      unbind.run();
    }
    long deadline = System.nanoTime() + settings.closeTimeout().toNanos();
    PgPoller p = poller;
    if (p != null) {
      p.signalClose(); // all three stop together; the waits below share one deadline
    }
    boolean stopped = pruner.close(deadline - System.nanoTime());
    if (notifier != null) {
      stopped &= notifier.close(deadline - System.nanoTime());
    }
    if (p != null) {
      stopped &= p.close(deadline - System.nanoTime());
    }
    listeners.clear();
    if (!stopped) {
      LOG.warn("invalidation bus {}: its threads did not stop within the close timeout of {} (a subscriber still"
          + " running?); they are daemons and end on their own", settings.nodeName(), settings.closeTimeout());
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the invalidation bus " + settings.nodeName() + " is closed");
    }
  }

  @Override
  public String toString() {
    return "PostgresInvalidationBus[" + settings.nodeName() + ", schema " + settings.schema()
        + (settings.pollingOnly() ? ", polling only" : "") + "]";
  }

  /**
   * Counters of one bus since it started, and whether it is listening. A snapshot; immutable. A final class rather
   * than a record, so that counters can be added without breaking callers.
   */
  public static final class Stats {
    private final long published;
    private final long notificationsSent;
    private final long notificationsReceived;
    private final long polls;
    private final long delivered;
    private final long replayed;
    private final long flushes;
    private final long reconnects;
    private final long pruned;
    private final boolean listening;

    private Stats(long published, long notificationsSent, long notificationsReceived, long polls, long delivered,
        long replayed, long flushes, long reconnects, long pruned, boolean listening) {
      this.published = published;
      this.notificationsSent = notificationsSent;
      this.notificationsReceived = notificationsReceived;
      this.polls = polls;
      this.delivered = delivered;
      this.replayed = replayed;
      this.flushes = flushes;
      this.reconnects = reconnects;
      this.pruned = pruned;
      this.listening = listening;
    }

    /**
     * Statistics with these values (for tests, and for adapters that report them elsewhere).
     *
     * @param published invalidations this node wrote to the log
     * @param notificationsSent coalesced NOTIFYs this node sent
     * @param notificationsReceived notifications the listener connection received
     * @param polls reads of the log
     * @param delivered invalidations delivered to the subscribers (each counted once, however many subscribers)
     * @param replayed of the deliveries, the ones found by a periodic read or the read after a reconnect, not after
     *     a wake-up: a steadily growing number means notifications do not arrive
     * @param flushes times the subscribers were told that invalidations were lost
     * @param reconnects recoveries after the database connection failed
     * @param pruned log rows this node deleted
     * @param listening whether the listener connection is listening
     * @throws IllegalArgumentException if a count is negative
     */
    public static Stats of(long published, long notificationsSent, long notificationsReceived, long polls,
        long delivered, long replayed, long flushes, long reconnects, long pruned, boolean listening) {
      long[] counts = {published, notificationsSent, notificationsReceived, polls, delivered, replayed, flushes,
          reconnects, pruned};
      String[] names = {"published", "notificationsSent", "notificationsReceived", "polls", "delivered", "replayed",
          "flushes", "reconnects", "pruned"};
      for (int i = 0; i < counts.length; i++) {
        if (counts[i] < 0) {
          throw new IllegalArgumentException(names[i] + " must be >= 0 but was " + counts[i]);
        }
      }
      return new Stats(published, notificationsSent, notificationsReceived, polls, delivered, replayed, flushes,
          reconnects, pruned, listening);
    }

    /** Invalidations this node wrote to the log. */
    public long published() {
      return published;
    }

    /** Coalesced NOTIFYs this node sent. */
    public long notificationsSent() {
      return notificationsSent;
    }

    /** Notifications the listener connection received. */
    public long notificationsReceived() {
      return notificationsReceived;
    }

    /** Reads of the log. */
    public long polls() {
      return polls;
    }

    /** Invalidations delivered to the subscribers (each counted once, however many subscribers). */
    public long delivered() {
      return delivered;
    }

    /**
     * Of the deliveries, the ones found by a periodic read or the read after a reconnect, not after a wake-
     * up: a steadily growing number means notifications do not arrive.
     */
    public long replayed() {
      return replayed;
    }

    /** Times the subscribers were told that invalidations were lost. */
    public long flushes() {
      return flushes;
    }

    /** Recoveries after the database connection failed. */
    public long reconnects() {
      return reconnects;
    }

    /** Log rows this node deleted. */
    public long pruned() {
      return pruned;
    }

    /** Whether the listener connection is currently listening (false in polling mode and while reconnecting). */
    public boolean listening() {
      return listening;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Stats s && s.published == published && s.notificationsSent == notificationsSent
          && s.notificationsReceived == notificationsReceived && s.polls == polls && s.delivered == delivered
          && s.replayed == replayed && s.flushes == flushes && s.reconnects == reconnects && s.pruned == pruned
          && s.listening == listening;
    }

    @Override
    public int hashCode() {
      return Objects.hash(published, notificationsSent, notificationsReceived, polls, delivered, replayed, flushes,
          reconnects, pruned, listening);
    }

    @Override
    public String toString() {
      return "Stats[published=" + published + ", notificationsSent=" + notificationsSent
          + ", notificationsReceived=" + notificationsReceived + ", polls=" + polls + ", delivered=" + delivered
          + ", replayed=" + replayed + ", flushes=" + flushes + ", reconnects=" + reconnects + ", pruned=" + pruned
          + ", listening=" + listening + "]";
    }
  }

  /** Builds a {@link PostgresInvalidationBus}; every setting has a default except the DataSource. */
  public static final class Builder {
    private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9._:-]{1,40}");

    private final DataSource dataSource;
    private @Nullable DataSource listenerDataSource;
    private String schema = CacheSchema.DEFAULT_NAME;
    private @Nullable String nodeName;
    private Duration pollInterval = Duration.ofSeconds(1);
    private Duration notifyInterval = Duration.ofMillis(20);
    private boolean pollingOnly;
    private Duration reconnectBackoffMin = Duration.ofMillis(100);
    private Duration reconnectBackoffMax = Duration.ofSeconds(5);
    private Duration pruneInterval = Duration.ofMinutes(1);
    private Duration retention = Duration.ofHours(1);
    private long maxRows;
    private int pruneBatchSize = 1000;
    private @Nullable RandomGenerator random;
    private Duration closeTimeout = Duration.ofSeconds(10);
    // Object, not MeterRegistry: Micrometer is optional and this class must load without it
    private @Nullable Object meterRegistry;

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    /**
     * Where the listener connection comes from (default: the main DataSource, holding one of its connections for
     * the bus's lifetime). Give a direct (not PgBouncer) source here when the main one goes through a
     * transaction-pooling proxy.
     */
    public Builder listenerDataSource(DataSource listenerDataSource) {
      this.listenerDataSource = Objects.requireNonNull(listenerDataSource, "listenerDataSource");
      return this;
    }

    /**
     * The cache schema, migrated and granted beforehand (default {@link CacheSchema#defaults()}, named
     * {@value CacheSchema#DEFAULT_NAME}).
     */
    public Builder schema(CacheSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema").name();
      return this;
    }

    /**
     * This node's name in logs and in the listener's {@code application_name} (default {@code node-} and 8
     * random hex digits): 1 to 40 characters of letters, digits, {@code .}, {@code _}, {@code :} and {@code -}.
     */
    public Builder nodeName(String nodeName) {
      if (nodeName == null || !NODE_NAME.matcher(nodeName).matches()) {
        throw new IllegalArgumentException("nodeName must be 1 to 40 characters of A-Z, a-z, 0-9, '.', '_', ':'"
            + " and '-' but was " + (nodeName == null ? "null" : "'" + nodeName + "'"));
      }
      this.nodeName = nodeName;
      return this;
    }

    /**
     * How often the node reads the log without a wake-up (default 1 s, at least 10 ms, at most 1 h): the upper
     * bound on delivery delay when notifications are lost or unavailable.
     */
    public Builder pollInterval(Duration pollInterval) {
      this.pollInterval = checkDuration("pollInterval", pollInterval, Duration.ofMillis(10), Duration.ofHours(1));
      return this;
    }

    /**
     * The coalescing window of wake-ups: this node sends at most one {@code NOTIFY} per interval, however many
     * invalidations it publishes (default 20 ms, at least 1 ms, below the poll interval).
     */
    public Builder notifyInterval(Duration notifyInterval) {
      this.notifyInterval = checkDuration("notifyInterval", notifyInterval, Duration.ofMillis(1), Duration.ofHours(1));
      return this;
    }

    /**
     * Read the log every poll interval and never {@code LISTEN} nor {@code NOTIFY} (default false). For
     * deployments where every connection goes through a transaction-pooling proxy such as PgBouncer; delivery then
     * takes up to a poll interval (a publish on this node wakes this node's reader at once).
     */
    public Builder pollingOnly(boolean pollingOnly) {
      this.pollingOnly = pollingOnly;
      return this;
    }

    /**
     * Delay before reconnecting after the connection failed: {@code min} doubling per failed attempt up to
     * {@code max}, with jitter over the upper half (defaults 100 ms and 5 s).
     */
    public Builder reconnectBackoff(Duration min, Duration max) {
      Duration lo = checkDuration("reconnectBackoff min", min, Duration.ofMillis(1), Duration.ofMinutes(10));
      Duration hi = checkDuration("reconnectBackoff max", max, Duration.ofMillis(1), Duration.ofMinutes(10));
      if (hi.compareTo(lo) < 0) {
        throw new IllegalArgumentException("reconnectBackoff max must be >= min (" + lo + ") but was " + hi);
      }
      this.reconnectBackoffMin = lo;
      this.reconnectBackoffMax = hi;
      return this;
    }

    /** How often this node runs the automatic pruning (default 1 min; {@link Duration#ZERO} turns it off). */
    public Builder pruneInterval(Duration pruneInterval) {
      Objects.requireNonNull(pruneInterval, "pruneInterval");
      this.pruneInterval = pruneInterval.isZero() ? Duration.ZERO
          : checkDuration("pruneInterval", pruneInterval, Duration.ofMillis(100), Duration.ofDays(1));
      return this;
    }

    /**
     * How long the automatic pruning keeps the rows of finished transactions (default 1 h; at least twice the poll
     * interval): a node that stops reading for longer flushes when it resumes.
     */
    public Builder retention(Duration retention) {
      this.retention = checkDuration("retention", retention, Duration.ofMillis(1), Duration.ofDays(365));
      return this;
    }

    /**
     * The automatic pruning also deletes all but the newest {@code maxRows} rows, whatever their age (default 0:
     * no cap). A cap bounds the table under a flood of invalidations; nodes further behind than the cap flush.
     */
    public Builder maxRows(long maxRows) {
      if (maxRows < 0) {
        throw new IllegalArgumentException("maxRows must be >= 0 (0: no cap) but was " + maxRows);
      }
      this.maxRows = maxRows;
      return this;
    }

    /** Rows deleted per pruning transaction (default 1000, 1 to 100,000). */
    public Builder pruneBatchSize(int pruneBatchSize) {
      if (pruneBatchSize < 1 || pruneBatchSize > 100_000) {
        throw new IllegalArgumentException("pruneBatchSize must be 1 to 100000 but was " + pruneBatchSize);
      }
      this.pruneBatchSize = pruneBatchSize;
      return this;
    }

    /** The randomness for reconnect jitter, the pruning start and the default node name (default: a new
     *  {@link SplittableRandom}). */
    public Builder random(RandomGenerator random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * Registers the bus's meters ({@code saaskit.cache.bus.*}, tagged {@code node} and {@code schema}, listed in
     * docs/cache-invalidation.md) in {@code meterRegistry} when the bus starts, and removes them when it closes.
     * Micrometer is an optional dependency: without this call the bus never touches it. Default: none.
     */
    public Builder meterRegistry(MeterRegistry meterRegistry) {
      this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
      return this;
    }

    /**
     * How long {@link PostgresInvalidationBus#close()} waits for the bus's threads to stop, in all (default 10 s,
     * 1 ms to 10 min).
     */
    public Builder closeTimeout(Duration closeTimeout) {
      this.closeTimeout = checkDuration("closeTimeout", closeTimeout, Duration.ofMillis(1), Duration.ofMinutes(10));
      return this;
    }

    /**
     * Checks the settings and makes the bus, without touching the database or starting a thread: call
     * {@link PostgresInvalidationBus#start()} next.
     *
     * @throws IllegalArgumentException if settings contradict each other
     */
    public PostgresInvalidationBus build() {
      if (notifyInterval.compareTo(pollInterval) >= 0) {
        throw new IllegalArgumentException("notifyInterval must be below pollInterval (" + pollInterval
            + ") but was " + notifyInterval);
      }
      if (!pruneInterval.isZero() && retention.compareTo(pollInterval.multipliedBy(2)) < 0) {
        throw new IllegalArgumentException("retention must be at least twice pollInterval (" + pollInterval
            + "), or live nodes would flush, but was " + retention);
      }
      RandomGenerator rnd = random != null ? random : new SplittableRandom();
      String name = nodeName != null ? nodeName : "node-" + HexFormat.of().toHexDigits((int) rnd.nextLong());
      PgBusSettings settings = new PgBusSettings(dataSource,
          listenerDataSource != null ? listenerDataSource : dataSource, schema, name, pollInterval, notifyInterval,
          pollingOnly, reconnectBackoffMin, reconnectBackoffMax, pruneInterval, retention, maxRows, pruneBatchSize,
          rnd, closeTimeout, meterRegistry);
      return new PostgresInvalidationBus(settings);
    }

    private static Duration checkDuration(String what, Duration value, Duration min, Duration max) {
      Objects.requireNonNull(value, what);
      if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
        throw new IllegalArgumentException(what + " must be " + min + " to " + max + " but was " + value);
      }
      return value;
    }
  }
}
