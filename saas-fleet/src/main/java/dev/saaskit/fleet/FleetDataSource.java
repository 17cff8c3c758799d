package dev.saaskit.fleet;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.fleet.internal.BudgetedConnector;
import dev.saaskit.fleet.internal.ConnectionBudget;
import dev.saaskit.fleet.internal.FleetConnection;
import dev.saaskit.fleet.internal.PlacementPool;
import dev.saaskit.tenancy.TenantDataSource;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTransientConnectionException;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/**
 * A {@link DataSource} for a whole fleet: {@link #getConnection()} hands out a connection to the database of the
 * current tenant ({@link TenantContext}), as the {@link TenantDirectory} places it.
 *
 * <pre>{@code
 * FleetDataSource fleet = FleetDataSource.builder(directory)
 *     .budget(200)                     // open connections of all pools together, never more
 *     .perTenantCap(10)                // connections one tenant may hold at once
 *     .build();
 * TenantContext.run(TenantId.of("acme"), () -> orders.findAll(fleet));
 * }</pre>
 *
 * <ul>
 *   <li><b>Isolation.</b> Every connection is a {@link TenantDataSource} connection bound to the tenant it was
 *       handed to: the tenant setting goes with each statement, transaction-locally, on shared shards and on
 *       dedicated databases alike (so the same migrations and policies serve both), and it is safe behind
 *       PgBouncer in transaction mode. Using the connection under another tenant's context throws. No tenant:
 *       {@link MissingTenantException}, before any connection is taken.</li>
 *   <li><b>Pools.</b> One HikariCP pool per shard and per dedicated database, created on first use, closed when
 *       unused for {@link Builder#poolIdleTimeout(Duration)}, and closed when the directory moves or removes its
 *       tenant (after the connections already handed out are returned: they finish on the old placement).</li>
 *   <li><b>Budget.</b> The open connections of all pools together never exceed {@link Builder#budget(int)}: a pool
 *       that needs a new connection while the budget is spent makes other pools close idle ones first. Borrowers
 *       wait in arrival order (a fair queue), and one tenant holds at most {@link Builder#perTenantCap(int)}
 *       connections, so neither a noisy tenant nor many idle ones can exhaust {@code max_connections}. Waiting is
 *       bounded by {@link Builder#acquireTimeout(Duration)}.</li>
 *   <li><b>States.</b> {@code suspended} and {@code deleted} tenants get {@link TenantUnavailableException};
 *       {@code read_only} and {@code moving} tenants get read-only transactions, and a write gets
 *       {@link TenantReadOnlyException}.</li>
 *   <li><b>Changes.</b> Directory entries are cached for {@link Builder#directoryCacheTtl(Duration)}; changes made
 *       through the same {@link TenantDirectory} instance, and {@link #invalidate(TenantId)}, take effect at
 *       once. A shard whose URL or credentials reference changed gets a new pool (the old one closes once its
 *       borrowed connections are returned, within the same budget), and credentials are resolved again for every
 *       physical connection, so a rotated password reaches new connections.</li>
 * </ul>
 *
 * <p>Cross-tenant work (operators, analytics) never goes through {@link #getConnection()}: it iterates placements
 * explicitly with {@link #forEachPlacement(PlacementWork)}.
 *
 * <p><b>Lifecycle.</b> {@link Builder#build()} starts no thread: the housekeeping thread (idle pools, and HikariCP's
 * tasks of every pool) starts with the first pool. {@link #close()} closes every pool and stops it, waiting at most
 * {@link Builder#closeTimeout(Duration)} for pools retired earlier; it is idempotent. Thread-safe.
 */
public final class FleetDataSource implements DataSource, AutoCloseable {
  private static final org.slf4j.Logger LOG = LoggerFactory.getLogger(FleetDataSource.class);

  private final TenantDirectory directory;
  private final ConnectionBudget budget;
  private final int perTenantCap;
  private final Duration acquireTimeout;
  private final Duration poolIdleTimeout;
  private final Duration cacheTtl;
  private final Clock clock;
  private final TenantSetting setting;
  private final Map<String, String> connectionProperties;
  private final @Nullable Consumer<HikariConfig> hikariCustomizer;
  private final ConcurrentHashMap<TenantId, Cached> entries = new ConcurrentHashMap<>();
  /** Moved by every {@link #invalidate(TenantId)}: an entry read from the directory across one is not cached. */
  private final java.util.concurrent.atomic.AtomicLong invalidations = new java.util.concurrent.atomic.AtomicLong();
  private final ConcurrentHashMap<TenantId, Semaphore> tenantPermits = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<TenantId, TenantDataSource> tenantSources = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<TenantId, java.util.concurrent.atomic.AtomicInteger> writers =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, PlacementPool> pools = new ConcurrentHashMap<>();
  /** The raw connection a thread is binding to its tenant (per thread, not per instance: nothing stays in it). */
  private static final ThreadLocal<Connection> HANDOFF = new ThreadLocal<>();
  private final DataSource handoffSource;
  private final ScheduledThreadPoolExecutor scheduler;
  private final ThreadPoolExecutor closer;
  private final AutoCloseable listener;
  private final AutoCloseable shardListener;
  /** The idle-pool check, scheduled with the first pool (so that {@code build()} starts no thread). */
  private java.util.concurrent.@Nullable ScheduledFuture<?> housekeeping;
  /** Guards {@link #housekeeping}; taken for nothing else (pools are created inside a map's compute). */
  private final Object housekeepingLock = new Object();
  private final Duration closeTimeout;
  private volatile boolean closed;
  private final Map<Placement, List<DataSource>> replicas;
  private final Duration maxReplicaLag;
  private final Duration readYourWrites;
  private final Duration lagCheckInterval;
  private final ReplicaLagProbe lagProbe;
  private final ConcurrentHashMap<TenantId, Long> lastWriteMillis = new ConcurrentHashMap<>();
  /**
   * Connections handed out and not yet returned, by tenant and the placement they were routed to: a move waits for
   * those on its source before it deletes the tenant's rows there (a reader would see the tenant empty).
   */
  private final ConcurrentHashMap<List<Object>, java.util.concurrent.atomic.AtomicInteger> routed =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<DataSource, long[]> replicaHealth = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicInteger replicaTurn = new java.util.concurrent.atomic.AtomicInteger();

  /**
   * A cached directory entry. {@code replicasFromMillis}: before this time (of {@link #clock}) the tenant's reads
   * stay on the primary, because its placement changed too recently for every usable replica to have its rows.
   */
  private record Cached(TenantEntry entry, long expiresAtMillis, long replicasFromMillis) {}

  /** Where a pool connects; its key names URL and credentials reference, so a changed shard gets a new pool. */
  private record Target(String key, String url, String credentialsRef) {}

  /**
   * A shard's {@link Target} as last read from the directory, until {@code expiresAtMillis}; {@code ticket}: taken
   * when that read began (from {@link #shardTickets}), so a borrower that queued behind it can use it.
   */
  private record ShardTarget(Target target, long expiresAtMillis, long ticket) {}

  private final ConcurrentHashMap<String, ShardTarget> shardTargets = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Object> shardReads = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicLong shardInvalidations =
      new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong shardTickets = new java.util.concurrent.atomic.AtomicLong();

  private FleetDataSource(Builder b) {
    this.directory = b.directory;
    this.budget = new ConnectionBudget(b.budget);
    this.perTenantCap = b.perTenantCap;
    this.acquireTimeout = b.acquireTimeout;
    this.poolIdleTimeout = b.poolIdleTimeout;
    this.cacheTtl = b.cacheTtl;
    this.clock = b.clock;
    this.setting = b.setting;
    this.connectionProperties = Map.copyOf(b.connectionProperties);
    this.hikariCustomizer = b.hikariCustomizer;
    this.replicas = Map.copyOf(b.replicas);
    this.maxReplicaLag = b.maxReplicaLag;
    this.readYourWrites = b.readYourWrites;
    this.lagCheckInterval = b.lagCheckInterval;
    this.lagProbe = b.lagProbe;
    this.handoffSource = new HandoffDataSource(HANDOFF);
    this.scheduler = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "saaskit-fleet-housekeeping");
      t.setDaemon(true);
      return t;
    });
    scheduler.setRemoveOnCancelPolicy(true);
    // pools are closed here, off the borrowers' and HikariCP's threads (see PlacementPool)
    this.closer = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 10, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
      Thread t = new Thread(r, "saaskit-fleet-pool-closer");
      t.setDaemon(true);
      return t;
    });
    this.closeTimeout = b.closeTimeout;
    this.listener = directory.addListener(this::invalidate);
    this.shardListener = directory.addShardListener(this::invalidateShard);
  }

  /** The shard's URL and credentials reference are read again at its next connection. */
  private void invalidateShard(String name) {
    shardInvalidations.incrementAndGet(); // before: a shard read in flight is not cached
    shardTargets.computeIfPresent(name, (n, cached) -> new ShardTarget(cached.target(), Long.MIN_VALUE,
        cached.ticket()));
  }

  /** A builder over {@code directory}. */
  public static Builder builder(TenantDirectory directory) {
    return new Builder(directory);
  }

  /** The directory this data source routes by. */
  public TenantDirectory directory() {
    return directory;
  }

  /**
   * A connection to the current tenant's database.
   *
   * @throws MissingTenantException if there is no current tenant
   * @throws TenantUnavailableException if the tenant is unknown, suspended or deleted
   * @throws SQLTransientConnectionException if no connection came within the acquire timeout (tenant cap or
   *     budget in use), SQLState {@code 53300}
   */
  @Override
  public Connection getConnection() throws SQLException {
    return open(true);
  }

  /** A connection to the primary; {@code marksWrite}: its return starts the tenant's read-your-writes window. */
  private Connection open(boolean marksWrite) throws SQLException {
    if (closed) {
      throw closedException();
    }
    TenantId tenant = TenantContext.current().orElseThrow(() -> new MissingTenantException(
        "FleetDataSource.getConnection() was called with no current tenant: run it inside "
            + "TenantContext.run(tenantId, ...); cross-tenant work goes through forEachPlacement"));
    long deadline = System.nanoTime() + acquireTimeout.toNanos();
    while (true) {
      Connection c = open(tenant, entry(tenant), deadline, marksWrite);
      if (c != null) {
        return c;
      }
      // the tenant's entry changed while this connection was being taken (a move began or flipped): route again
    }
  }

  /**
   * A connection routed by {@code entry}, or null if the tenant's entry changed meanwhile (then nothing is held).
   * A read-write connection is counted in {@link #writableConnections} before the entry is checked again, so a
   * {@link TenantMove} that made the tenant read-only either waits for it or it sees the new state: a writer that
   * routed by the old entry and then waited for a permit cannot write to the old database after the drain.
   */
  private @Nullable Connection open(TenantId tenant, TenantEntry entry, long deadline, boolean marksWrite)
      throws SQLException {
    if (!entry.state().connectable()) {
      throw new TenantUnavailableException(tenant, entry.state());
    }
    Semaphore mine = tenantPermits.computeIfAbsent(tenant, t -> new Semaphore(perTenantCap, true));
    if (!acquire(mine, deadline)) {
      throw new SQLTransientConnectionException("tenant '" + tenant.value() + "' holds its cap of " + perTenantCap
          + " connections and none was returned within " + acquireTimeout.toMillis() + " ms", "53300");
    }
    boolean budgeted;
    try {
      budgeted = acquire(budget.borrowed(), deadline);
    } catch (SQLException e) { // interrupted: the tenant's permit goes back too
      mine.release();
      throw e;
    }
    if (!budgeted) {
      mine.release();
      throw new SQLTransientConnectionException("the fleet's connection budget of " + budget.size()
          + " is in use and no connection was returned within " + acquireTimeout.toMillis() + " ms", "53300");
    }
    PlacementPool pool = null;
    Connection raw = null;
    java.util.concurrent.atomic.AtomicInteger writing = null;
    try {
      pool = enterPool(entry.placement());
      raw = pool.borrow();
      TenantState readOnly = entry.state().readOnly() ? entry.state() : null;
      if (readOnly == null) {
        writing = writers.computeIfAbsent(tenant, t -> new java.util.concurrent.atomic.AtomicInteger());
        writing.incrementAndGet();
      }
      TenantEntry now = entry(tenant);
      if (!now.placement().equals(entry.placement()) || now.state() != entry.state()) {
        giveBack(raw, pool, writing, mine, null);
        return null;
      }
      if (readOnly != null) {
        raw.setAutoCommit(false);
        raw.setReadOnly(true);
      }
      Connection tenantConnection = bind(tenant, raw);
      PlacementPool borrowedFrom = pool;
      java.util.concurrent.atomic.AtomicInteger counted = writing;
      java.util.concurrent.atomic.AtomicInteger onPlacement = routed.computeIfAbsent(
          List.of(tenant, entry.placement()), k -> new java.util.concurrent.atomic.AtomicInteger());
      onPlacement.incrementAndGet();
      return FleetConnection.wrap(tenantConnection, () -> {
        onPlacement.decrementAndGet();
        if (counted != null) {
          counted.decrementAndGet();
          if (marksWrite) {
            lastWriteMillis.put(tenant, clock.millis());
          }
        }
        borrowedFrom.leave(clock.millis());
        budget.borrowed().release();
        mine.release();
      }, tenant, readOnly);
    } catch (SQLException | RuntimeException e) {
      giveBack(raw, pool, writing, mine, e);
      throw e;
    }
  }

  /** Gives back, once, what {@link #open(TenantId, TenantEntry, long, boolean)} took for a connection it does not hand out. */
  private void giveBack(@Nullable Connection raw, @Nullable PlacementPool pool,
      java.util.concurrent.atomic.@Nullable AtomicInteger writing, Semaphore mine, @Nullable Exception failure) {
    if (writing != null) {
      writing.decrementAndGet();
    }
    if (raw != null) {
      try {
        raw.close();
      } catch (SQLException e) {
        if (failure != null) {
          failure.addSuppressed(e);
        } else {
          LOG.debug("closing a connection taken for a stale route failed", e);
        }
      }
    }
    if (pool != null) {
      pool.leave(clock.millis());
    }
    budget.borrowed().release();
    mine.release();
  }

  /**
   * A connection for read-only work of the current tenant: on one of its placement's {@linkplain
   * Builder#replicas read replicas} (taken in turn) whose lag is within {@link Builder#maxReplicaLag(Duration)},
   * unless the tenant holds a read-write connection of this data source or returned one within
   * {@link Builder#readYourWritesWindow(Duration)} (read-your-writes) or its placement changed (a move) less than
   * {@code maxReplicaLag + lagCheckInterval} ago, when a replica of the new placement may not have the copied rows
   * yet. Replicas that are down or lag too much are skipped; with none left, or none configured, this is
   * {@link #getConnection()} on the primary. Replica connections are read-only, carry the tenant like every fleet
   * connection, and come from the application's replica pools (outside the budget).
   *
   * @throws MissingTenantException if there is no current tenant
   * @throws TenantUnavailableException if the tenant is unknown, suspended or deleted
   */
  public Connection getReadOnlyConnection() throws SQLException {
    if (closed) {
      // checked here too: a tenant with replicas used to get a replica connection from a closed data source
      throw closedException();
    }
    TenantId tenant = TenantContext.current().orElseThrow(() -> new MissingTenantException(
        "FleetDataSource.getReadOnlyConnection() was called with no current tenant"));
    Cached cached = cached(tenant);
    TenantEntry entry = cached.entry();
    if (!entry.state().connectable()) {
      throw new TenantUnavailableException(tenant, entry.state());
    }
    List<DataSource> candidates = replicas.getOrDefault(entry.placement(), List.of());
    long now = clock.millis();
    Long wrote = lastWriteMillis.get(tenant);
    // a read-write connection still held may have committed already (auto-commit): its writes are not on the
    // replicas yet either, so the tenant reads from the primary until it is returned and the window has passed
    boolean recentWrite = writableConnections(tenant) > 0
        || (wrote != null && now - wrote < readYourWrites.toMillis());
    boolean recentlyPlaced = now < cached.replicasFromMillis();
    if (!candidates.isEmpty() && !recentWrite && !recentlyPlaced) {
      int start = Math.floorMod(replicaTurn.getAndIncrement(), candidates.size());
      for (int i = 0; i < candidates.size(); i++) {
        DataSource replica = candidates.get((start + i) % candidates.size());
        Connection c = tryReplica(replica);
        if (c != null) {
          Connection bound = routedToReplica(tenant, entry.placement(), c);
          if (bound != null) {
            return bound;
          }
          break; // moved meanwhile: the new placement's primary serves (its replicas may lack the rows yet)
        }
      }
    }
    return open(false);
  }

  /**
   * {@code c}, a replica connection, bound to {@code tenant} and counted as routed to {@code placement} until it is
   * returned (null, with {@code c} closed, if the tenant left {@code placement} meanwhile): a move waits for these
   * too before it deletes the tenant's rows from its source, since a replica of the source replays that delete and
   * a reader still on it would then see the tenant empty.
   */
  private @Nullable Connection routedToReplica(TenantId tenant, Placement placement, Connection c)
      throws SQLException {
    java.util.concurrent.atomic.AtomicInteger onPlacement = routed.computeIfAbsent(List.of(tenant, placement),
        k -> new java.util.concurrent.atomic.AtomicInteger());
    onPlacement.incrementAndGet();
    Connection bound;
    try {
      // counted before the entry is checked again, as for the primary: a move that flipped meanwhile either sees
      // this connection in its wait before cleaning the source, or this borrower sees the flip and routes again
      if (!entry(tenant).placement().equals(placement)) {
        onPlacement.decrementAndGet();
        closeQuietly(c);
        return null;
      }
      bound = bind(tenant, c);
    } catch (SQLException | RuntimeException e) {
      onPlacement.decrementAndGet();
      try {
        c.close();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    return FleetConnection.wrap(bound, onPlacement::decrementAndGet, tenant, null);
  }

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      LOG.debug("closing a replica connection taken for a stale route failed", e);
    }
  }

  /** A read-only connection to {@code replica} if it is up and within the lag bound, else null. */
  private @Nullable Connection tryReplica(DataSource replica) {
    long now = clock.millis();
    long[] health = replicaHealth.computeIfAbsent(replica, r -> new long[] {Long.MIN_VALUE, 0});
    synchronized (health) {
      // health[0]: when last checked; health[1]: 1 if usable then
      if (health[0] != Long.MIN_VALUE && now - health[0] < lagCheckInterval.toMillis() && health[1] == 0) {
        return null;
      }
    }
    Connection c = null;
    try {
      c = replica.getConnection();
      boolean check;
      synchronized (health) {
        check = health[0] == Long.MIN_VALUE || now - health[0] >= lagCheckInterval.toMillis();
      }
      if (check) {
        Duration lag = lagProbe.lag(c);
        boolean usable = lag.compareTo(maxReplicaLag) <= 0;
        synchronized (health) {
          health[0] = now;
          health[1] = usable ? 1 : 0;
        }
        if (!usable) {
          LOG.debug("replica {} lags {} ms: skipped", replica, lag.toMillis());
          c.close();
          return null;
        }
      }
      c.setReadOnly(true);
      return c;
    } catch (SQLException | RuntimeException e) {
      synchronized (health) {
        health[0] = now;
        health[1] = 0;
      }
      LOG.debug("replica {} is not usable: {}", replica, e.toString());
      if (c != null) {
        try {
          c.close();
        } catch (SQLException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      return null;
    }
  }

  /** Always refused: credentials come from the directory's resolver. */
  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException("FleetDataSource resolves credentials from the TenantDirectory");
  }

  /**
   * Forgets the cached directory entry of {@code tenant}, so its next connection follows the directory. If the
   * tenant left a dedicated database (moved, suspended, deleted), that database's pool is closed once the
   * connections already handed out are returned. Called by the directory for its own changes; call it for changes
   * made elsewhere (another node, the CLI), for example from a cache invalidation bus.
   */
  public void invalidate(TenantId tenant) {
    invalidations.incrementAndGet(); // before the removal: a directory read in flight will not be cached
    Cached old = entries.remove(tenant);
    if (old == null || !(old.entry().placement() instanceof Placement.Dedicated)) {
      return;
    }
    Optional<TenantEntry> now = directory.lookup(tenant);
    boolean stays = now.isPresent() && now.get().placement().equals(old.entry().placement())
        && now.get().state().connectable();
    if (!stays) {
      PlacementPool pool = pools.remove(key(old.entry().placement()));
      if (pool != null) {
        pool.retire();
        LOG.info("tenant {} left {}: its pool is closed once its connections are returned", tenant.value(),
            old.entry().placement().describe());
      }
    }
  }

  /**
   * Read-write connections of {@code tenant} handed out by this data source and not yet returned. A
   * {@link TenantMove} waits for these to end after it made the tenant read-only.
   */
  public int writableConnections(TenantId tenant) {
    java.util.concurrent.atomic.AtomicInteger n = writers.get(tenant);
    return n == null ? 0 : n.get();
  }

  /**
   * Connections of {@code tenant} handed out by this data source, routed to {@code placement} and not yet
   * returned. A {@link TenantMove} waits for those on its source to end before it deletes the rows there.
   */
  int connectionsOn(TenantId tenant, Placement placement) {
    java.util.concurrent.atomic.AtomicInteger n = routed.get(List.of(tenant, placement));
    return n == null ? 0 : n.get();
  }

  /**
   * Forgets every cached directory entry, the shards' URLs and credentials references included (a shard whose
   * URL or reference changed gets a new pool at its next connection; see {@link Builder#directoryCacheTtl}).
   */
  public void invalidateAll() {
    shardTargets.keySet().forEach(this::invalidateShard);
    for (TenantId t : entries.keySet()) {
      invalidate(t);
    }
  }

  /**
   * Closes the pools from which nothing was borrowed for the pool idle timeout; returns how many. Their
   * connections are closed on a background thread, which gives their permits back to the budget shortly after.
   * The data source does this itself periodically.
   */
  public int closeIdlePools() {
    long idleSince = clock.millis() - poolIdleTimeout.toMillis();
    int n = 0;
    for (Map.Entry<String, PlacementPool> e : pools.entrySet()) {
      if (e.getValue().closeIfIdle(idleSince)) {
        pools.remove(e.getKey(), e.getValue());
        n++;
      }
    }
    return n;
  }

  private void closeIdlePoolsQuietly() {
    try {
      closeIdlePools();
    } catch (RuntimeException e) {
      LOG.warn("closing idle fleet pools failed: {}", e.toString());
    }
  }

  /** What the data source holds now. */
  public FleetStats stats() {
    int idle = 0;
    for (PlacementPool p : pools.values()) {
      idle += p.idleConnections();
    }
    return FleetStats.of(budget.size(), budget.open(), budget.peakOpen(), budget.borrowedNow(), idle, pools.size());
  }

  /** Work on one placement, for {@link #forEachPlacement(PlacementWork)}. */
  @FunctionalInterface
  public interface PlacementWork {
    /**
     * Runs on {@code connection}, an unpooled connection to {@code placement} with its <em>admin</em>
     * credentials, no tenant set; returns a result for the map.
     */
    @Nullable Object run(Placement placement, Connection connection) throws SQLException;
  }

  /**
   * Runs {@code work} on every placement of the directory in turn (shards, then dedicated databases), outside
   * the budget and the pools, and returns each result by placement. The explicit door for cross-tenant work.
   *
   * @throws FleetException if a placement cannot be reached or {@code work} fails (naming the placement)
   */
  public Map<Placement, @Nullable Object> forEachPlacement(PlacementWork work) {
    Map<Placement, @Nullable Object> out = new LinkedHashMap<>();
    for (Placement p : directory.placements()) {
      Credentials c = directory.credentials(p, CredentialResolver.Access.ADMIN);
      try (Connection connection = DriverManager.getConnection(directory.jdbcUrl(p), c.user(), c.password())) {
        out.put(p, work.run(p, connection));
      } catch (SQLException e) {
        throw new FleetException("cross-placement work failed on " + p.describe() + ": " + e.getMessage(), e);
      }
    }
    return out;
  }

  /**
   * Closes every pool (connections still out are closed by their pools) and stops the housekeeping thread.
   * Idempotent. After it (and for a call racing it), {@link #getConnection()} and {@link #getReadOnlyConnection()}
   * throw {@link SQLException} with SQLState {@code 08003}.
   */
  @Override
  public void close() {
    synchronized (housekeepingLock) {
      if (closed) {
        return;
      }
      closed = true; // under the lock newPool() checks it with: no pool is made on the scheduler shut down below
    }
    try {
      listener.close();
      shardListener.close();
    } catch (Exception e) {
      LOG.debug("removing the directory listener failed", e);
    }
    synchronized (housekeepingLock) {
      java.util.concurrent.ScheduledFuture<?> h = housekeeping;
      if (h != null) {
        h.cancel(false);
      }
    }
    scheduler.shutdownNow();
    for (PlacementPool p : pools.values()) {
      p.forceClose();
    }
    pools.clear();
    closer.shutdown();
    try {
      if (!closer.awaitTermination(closeTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
        LOG.warn("fleet pools retired before close() were still closing after {} ms; they are daemons and end on "
            + "their own", closeTimeout.toMillis());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private TenantEntry entry(TenantId tenant) {
    return cached(tenant).entry();
  }

  private Cached cached(TenantId tenant) {
    long now = clock.millis();
    Cached cached = entries.get(tenant);
    if (cached != null && cached.expiresAtMillis() > now) {
      return cached;
    }
    long invalidationsBefore = invalidations.get();
    TenantDirectory.Routed routed = directory.requireRouted(tenant);
    TenantEntry entry = routed.entry();
    // A usable replica lagged at most maxReplicaLag when last measured, at most lagCheckInterval ago: once the
    // placement is older than both, every replica handed out has the rows a move copied before the flip.
    long settle = saturatedAdd(saturatedMillis(maxReplicaLag), saturatedMillis(lagCheckInterval));
    long replicasFrom = saturatedAdd(now, Math.max(0L, settle - routed.placedAgoMillis()));
    Cached fresh = new Cached(entry, now + cacheTtl.toMillis(), replicasFrom);
    Cached[] replaced = new Cached[1];
    // an invalidation that came after the directory read must not be overwritten by what that read saw
    entries.compute(tenant, (k, old) -> {
      if (invalidations.get() != invalidationsBefore) {
        return old;
      }
      replaced[0] = old;
      return fresh;
    });
    Cached previous = replaced[0];
    if (previous != null && !previous.entry().placement().equals(entry.placement())
        && previous.entry().placement() instanceof Placement.Dedicated) {
      PlacementPool pool = pools.remove(key(previous.entry().placement()));
      if (pool != null) {
        pool.retire();
      }
    }
    return fresh;
  }

  private static long saturatedMillis(Duration d) {
    try {
      return d.toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  private static long saturatedAdd(long a, long b) {
    long sum = a + b;
    return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
  }

  private Connection bind(TenantId tenant, Connection raw) throws SQLException {
    TenantDataSource source = tenantSources.computeIfAbsent(tenant, t -> TenantDataSource.builder(handoffSource)
        .tenantSetting(setting)
        .strict(true)
        .tenantSource(() -> {
          Optional<TenantId> current = TenantContext.current();
          if (current.isPresent() && !current.get().equals(t)) {
            throw new FleetException("a connection handed out for tenant '" + t.value() + "' was used under "
                + "tenant '" + current.get().value() + "': take a new connection from the FleetDataSource "
                + "inside each tenant's context");
          }
          return Optional.of(t);
        })
        .build());
    HANDOFF.set(raw);
    try {
      return source.getConnection();
    } finally {
      HANDOFF.remove();
    }
  }

  private PlacementPool enterPool(Placement placement) throws SQLException {
    while (true) {
      Target target = target(placement);
      PlacementPool pool;
      try {
        pool = pools.computeIfAbsent(target.key(), k -> newPool(placement, target));
      } catch (ClosedMeanwhile e) {
        throw closedException();
      }
      if (closed) {
        // close() ran while this pool was being made or found: it may have cleared the map before this pool was in
        // it, and nothing else would ever close it (HikariDataSource.close() is idempotent)
        pools.remove(target.key(), pool);
        pool.forceClose();
        throw closedException();
      }
      if (pool.enter()) {
        if (stale(placement, target)) {
          // the shard changed between the lookup and the pool: this pool may even have been made after the old
          // one was retired; retire it too (closed at once unless another borrower is in it) and look again
          pool.leave(clock.millis());
          if (pools.remove(target.key(), pool)) {
            pool.retire();
          }
          continue;
        }
        return pool;
      }
      pools.remove(target.key(), pool);
    }
  }

  /**
   * Where the pool of {@code placement} connects now. A shard's URL and credentials reference are read from the
   * directory at most once per {@link Builder#directoryCacheTtl(Duration)} (one reader per shard at a time, so a
   * later read never loses to an earlier one); when they changed, the shard's old pool is retired: no new
   * borrowers, closed once its borrowed connections are returned (they finish on the old database), its open
   * connections counted in the budget until then, and the new pool opens under the same budget.
   */
  private Target target(Placement placement) {
    if (placement instanceof Placement.Dedicated d) {
      return new Target(key(d), d.jdbcUrl(), d.credentialsRef());
    }
    String name = ((Placement.Shared) placement).shard();
    ShardTarget cached = shardTargets.get(name);
    if (cached != null && cached.expiresAtMillis() > clock.millis()) {
      return cached.target();
    }
    long arrived = shardTickets.incrementAndGet();
    synchronized (shardReads.computeIfAbsent(name, n -> new Object())) {
      long now = clock.millis();
      cached = shardTargets.get(name);
      // a read that began after this borrower arrived saw the directory as it is now for this borrower (with a
      // zero TTL, borrowers queued behind one read share the next one instead of reading one after another)
      if (cached != null && (cached.expiresAtMillis() > now || cached.ticket() > arrived)) {
        return cached.target();
      }
      long ticket = shardTickets.incrementAndGet();
      long invalidationsBefore = shardInvalidations.get();
      Shard shard = directory.shard(name).orElseThrow(() -> new FleetException("shard '" + name
          + "' does not exist"));
      Target fresh = new Target(key(placement) + "|" + shard.credentialsRef() + "@" + shard.jdbcUrl(),
          shard.jdbcUrl(), shard.credentialsRef());
      // a change announced while the row was being read may be newer than what the read saw: not cached then
      long expires = shardInvalidations.get() == invalidationsBefore ? saturatedAdd(now, cacheTtl.toMillis())
          : Long.MIN_VALUE;
      shardTargets.put(name, new ShardTarget(fresh, expires, ticket));
      if (cached != null && !cached.target().equals(fresh)) {
        PlacementPool old = pools.remove(cached.target().key());
        if (old != null) {
          old.retire();
          LOG.info("shard {} changed its URL or credentials reference: its old pool is closed once its "
              + "connections are returned, new connections go to the new settings", name);
        }
      }
      return fresh;
    }
  }

  /** Whether {@code target} is no longer the shard's current one (it changed since it was looked up). */
  private boolean stale(Placement placement, Target target) {
    if (!(placement instanceof Placement.Shared s)) {
      return false;
    }
    ShardTarget now = shardTargets.get(s.shard());
    return now != null && !now.target().equals(target);
  }

  /**
   * Starts the housekeeping thread (idle pools; HikariCP's tasks of every pool) with the first pool, not in
   * {@code build()}: a data source that never opens a pool starts no thread.
   */
  private void startHousekeeping() {
    synchronized (housekeepingLock) {
      if (closed) {
        throw new ClosedMeanwhile();
      }
      if (housekeeping != null) {
        return;
      }
      long every = Math.max(1000, poolIdleTimeout.toMillis() / 2);
      housekeeping = scheduler.scheduleWithFixedDelay(this::closeIdlePoolsQuietly, every, every,
          TimeUnit.MILLISECONDS);
    }
  }

  private PlacementPool newPool(Placement placement, Target target) {
    startHousekeeping();
    // resolved once here so that a resolver that answers nothing fails this call, naming the reference
    directory.credentials(target.credentialsRef(), CredentialResolver.Access.APP);
    Properties base = new Properties();
    base.putAll(connectionProperties);
    base.putIfAbsent("ApplicationName", "saaskit-fleet");
    String key = target.key();
    HikariConfig config = new HikariConfig();
    config.setPoolName("fleet-" + key.replaceAll("[^A-Za-z0-9_.:-]", "_"));
    // the credentials are resolved again for every physical connection: a rotated password (the resolver answers
    // the new one) reaches new connections, while those already open stay logged in
    BudgetedConnector connector = new BudgetedConnector(key, target.url(), () -> {
      Credentials credentials;
      try {
        credentials = directory.credentials(target.credentialsRef(), CredentialResolver.Access.APP);
      } catch (RuntimeException e) {
        throw new SQLException("resolving the credentials of " + placement.describe() + " failed: "
            + e.getMessage(), "28000", e);
      }
      Properties props = new Properties();
      props.putAll(base);
      props.setProperty("user", credentials.user());
      props.setProperty("password", credentials.password());
      return props;
    }, budget, this::evictIdleExcept, acquireTimeout.toNanos());
    config.setDataSource(connector);
    config.setMinimumIdle(0);
    config.setMaximumPoolSize(placement instanceof Placement.Dedicated ? perTenantCap : budget.size());
    config.setConnectionTimeout(Math.max(250, acquireTimeout.toMillis()));
    config.setInitializationFailTimeout(-1);
    config.setScheduledExecutor(scheduler);
    if (hikariCustomizer != null) {
      hikariCustomizer.accept(config);
    }
    LOG.debug("opening the pool of {}", placement.describe());
    HikariDataSource hikari;
    // under the lock close() shuts the scheduler down with: a pool made on a shut-down scheduler threw
    // RejectedExecutionException out of getConnection() (a request racing the application's shutdown). HikariCP
    // makes no connection here (initializationFailTimeout -1), so the lock is held briefly
    synchronized (housekeepingLock) {
      if (closed) {
        throw new ClosedMeanwhile();
      }
      hikari = new HikariDataSource(config);
    }
    return new PlacementPool(key, hikari, connector, closer, clock.millis());
  }

  /** close() ran while a pool was being made, which is then not made; becomes {@link #closedException()}. */
  private static final class ClosedMeanwhile extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ClosedMeanwhile() {
      super("the FleetDataSource is closed", null, false, false);
    }
  }

  private static SQLException closedException() {
    return new SQLException("the FleetDataSource is closed", "08003");
  }

  /** Gives idle connections back to the budget: whole unused pools first, then the idle connections of one pool. */
  private void evictIdleExcept(String asking) {
    PlacementPool[] candidates = pools.values().stream()
        .filter(p -> !p.key().equals(asking) && p.spareConnections() > 0)
        .sorted(Comparator.comparingLong(PlacementPool::lastUsedMillis))
        .toArray(PlacementPool[]::new);
    for (PlacementPool p : candidates) {
      if (p.closeIfUnused()) {
        pools.remove(p.key(), p);
        return;
      }
    }
    if (candidates.length > 0) {
      candidates[0].evictIdle();
    }
  }

  private static String key(Placement placement) {
    if (placement instanceof Placement.Shared s) {
      return "shard:" + s.shard();
    }
    Placement.Dedicated d = (Placement.Dedicated) placement;
    return "dedicated:" + d.credentialsRef() + "@" + d.jdbcUrl();
  }

  private static boolean acquire(Semaphore semaphore, long deadline) throws SQLException {
    try {
      return semaphore.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SQLTransientConnectionException("interrupted while waiting for a connection", "53300", e);
    }
  }

  @Override
  public @Nullable PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {
    // pools log through SLF4J
  }

  @Override
  public void setLoginTimeout(int seconds) {
    // the acquire timeout applies
  }

  @Override
  public int getLoginTimeout() {
    return (int) acquireTimeout.toSeconds();
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException("FleetDataSource logs through SLF4J");
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    if (iface.isInstance(this)) {
      return iface.cast(this);
    }
    throw new SQLException("FleetDataSource wraps no single data source");
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) {
    return iface.isInstance(this);
  }

  /** Options of a {@link FleetDataSource}; every option has a default. */
  public static final class Builder {
    private final TenantDirectory directory;
    private int budget = 100;
    private int perTenantCap = 10;
    private Duration acquireTimeout = Duration.ofSeconds(30);
    private Duration poolIdleTimeout = Duration.ofMinutes(5);
    private Duration cacheTtl = Duration.ofSeconds(5);
    private Duration closeTimeout = Duration.ofSeconds(10);
    private Clock clock = Clock.systemUTC();
    private TenantSetting setting = TenantSetting.DEFAULT;
    private final Map<String, String> connectionProperties = new LinkedHashMap<>();
    private @Nullable Consumer<HikariConfig> hikariCustomizer;
    private final Map<Placement, List<DataSource>> replicas = new LinkedHashMap<>();
    private Duration maxReplicaLag = Duration.ofSeconds(10);
    private Duration readYourWrites = Duration.ofSeconds(5);
    private Duration lagCheckInterval = Duration.ofSeconds(1);
    private ReplicaLagProbe lagProbe = ReplicaLagProbe.replayLag();

    private Builder(TenantDirectory directory) {
      this.directory = Objects.requireNonNull(directory, "directory");
    }

    /** Open connections of all pools together, at most (default 100). Keep it below {@code max_connections}. */
    public Builder budget(int connections) {
      if (connections < 1) {
        throw new IllegalArgumentException("budget must be >= 1 but was " + connections);
      }
      this.budget = connections;
      return this;
    }

    /** Connections one tenant may hold at once (default 10); also the size of a dedicated database's pool. */
    public Builder perTenantCap(int connections) {
      if (connections < 1) {
        throw new IllegalArgumentException("perTenantCap must be >= 1 but was " + connections);
      }
      this.perTenantCap = connections;
      return this;
    }

    /** How long {@link FleetDataSource#getConnection()} waits at most (default 30 s). */
    public Builder acquireTimeout(Duration timeout) {
      this.acquireTimeout = positive("acquireTimeout", timeout);
      return this;
    }

    /** A pool nothing was borrowed from for this long is closed (default 5 min). */
    public Builder poolIdleTimeout(Duration timeout) {
      this.poolIdleTimeout = positive("poolIdleTimeout", timeout);
      return this;
    }

    /**
     * How long a directory entry is cached (default 5 s): the longest a change made elsewhere takes to be
     * followed without {@link FleetDataSource#invalidate(TenantId)}. Zero: read the directory at every
     * connection.
     */
    public Builder directoryCacheTtl(Duration ttl) {
      this.cacheTtl = nonNegative("directoryCacheTtl", ttl);
      return this;
    }

    /**
     * How long {@link FleetDataSource#close()} waits at most for the pools retired before it (a shard repointed, a
     * tenant moved) to finish closing (default 10 s); a pool still closing then is logged and closes on its own.
     */
    public Builder closeTimeout(Duration timeout) {
      this.closeTimeout = positive("closeTimeout", timeout);
      return this;
    }

    /** The clock of the cache and of idle pools (default the system clock). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The setting that carries the tenant (default {@link TenantSetting#DEFAULT}); as in your policies. */
    public Builder tenantSetting(TenantSetting setting) {
      this.setting = Objects.requireNonNull(setting, "tenantSetting");
      return this;
    }

    /**
     * A PostgreSQL JDBC connection property for every pool, e.g. {@code prepareThreshold=0} behind PgBouncer in
     * transaction mode. {@code user} and {@code password} are refused: they come from the resolver.
     */
    public Builder connectionProperty(String name, String value) {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(value, "value");
      if (name.equalsIgnoreCase("user") || name.equalsIgnoreCase("password")) {
        throw new IllegalArgumentException("user and password come from the CredentialResolver");
      }
      connectionProperties.put(name, value);
      return this;
    }

    /**
     * Adjusts each pool's HikariCP configuration before it starts (timeouts, leak detection, metrics). The data
     * source, pool sizes and the housekeeping executor are the fleet's: leave them.
     */
    public Builder hikari(Consumer<HikariConfig> customizer) {
      this.hikariCustomizer = Objects.requireNonNull(customizer, "hikari");
      return this;
    }

    /**
     * Read replicas of {@code placement} for {@link FleetDataSource#getReadOnlyConnection()}: the application's
     * pools, logged in as its role, taken in turn. Their connections are outside the budget.
     */
    public Builder replicas(Placement placement, List<DataSource> replicaPools) {
      Objects.requireNonNull(placement, "placement");
      if (replicaPools.isEmpty()) {
        throw new IllegalArgumentException("replicas of " + placement.describe() + " must not be empty");
      }
      this.replicas.put(placement, List.copyOf(replicaPools));
      return this;
    }

    /** A replica lagging more than this is skipped (default 10 s). */
    public Builder maxReplicaLag(Duration lag) {
      this.maxReplicaLag = positive("maxReplicaLag", lag);
      return this;
    }

    /** After a tenant wrote, its reads go to the primary for this long (default 5 s). */
    public Builder readYourWritesWindow(Duration window) {
      this.readYourWrites = nonNegative("readYourWritesWindow", window);
      return this;
    }

    /** How often a replica's lag is measured, and how long a down replica is skipped (default 1 s). */
    public Builder lagCheckInterval(Duration interval) {
      this.lagCheckInterval = positive("lagCheckInterval", interval);
      return this;
    }

    /** How replica lag is measured (default {@link ReplicaLagProbe#replayLag()}). */
    public Builder lagProbe(ReplicaLagProbe probe) {
      this.lagProbe = Objects.requireNonNull(probe, "lagProbe");
      return this;
    }

    /** The data source. */
    public FleetDataSource build() {
      return new FleetDataSource(this);
    }

    /**
     * The longest duration accepted (about 292 years): deadlines are computed in nanoseconds, and a longer one
     * would make every {@code getConnection()} fail with an {@link ArithmeticException} instead of waiting.
     */
    private static final Duration MAX = Duration.ofNanos(Long.MAX_VALUE);

    private static Duration positive(String name, Duration d) {
      Objects.requireNonNull(d, name);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(name + " must be > 0 but was " + d);
      }
      return bounded(name, d);
    }

    private static Duration nonNegative(String name, Duration d) {
      Objects.requireNonNull(d, name);
      if (d.isNegative()) {
        throw new IllegalArgumentException(name + " must be >= 0 but was " + d);
      }
      return bounded(name, d);
    }

    private static Duration bounded(String name, Duration d) {
      if (d.compareTo(MAX) > 0) {
        throw new IllegalArgumentException(name + " must be at most " + MAX + " but was " + d);
      }
      return d;
    }
  }

  /** A data source that hands out the connection the calling thread put in {@code handoff}. */
  private static final class HandoffDataSource implements DataSource {
    private final ThreadLocal<Connection> handoff;

    HandoffDataSource(ThreadLocal<Connection> handoff) {
      this.handoff = handoff;
    }

    @Override
    public Connection getConnection() throws SQLException {
      Connection c = handoff.get();
      if (c == null) {
        throw new SQLException("no connection handed off");
      }
      return c;
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
      return getConnection();
    }

    @Override
    public @Nullable PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {
      // none
    }

    @Override
    public void setLoginTimeout(int seconds) {
      // none
    }

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
      return false;
    }
  }
}
