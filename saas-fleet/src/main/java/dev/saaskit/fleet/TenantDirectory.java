package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.LogText;
import dev.saaskit.core.internal.SqlNames;
import dev.saaskit.fleet.internal.Jdbc;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where every tenant lives: a table in a control database ({@link FleetSchema}) and this API over it. Each tenant
 * has a {@link Placement} (a named shared shard or a dedicated database) and a {@link TenantState}. The table
 * holds credential <em>references</em> only; the {@link CredentialResolver} (environment variables by default)
 * turns them into credentials when a pool is opened.
 *
 * <pre>{@code
 * TenantDirectory directory = TenantDirectory.builder(controlDataSource).build();
 * directory.addShard(Shard.of("eu-1", "jdbc:postgresql://db1/app", "EU_1"));
 * directory.place(TenantId.of("acme"));                       // default policy: the shard with fewest tenants
 * directory.register(TenantId.of("bigbank"), Placement.dedicated("jdbc:postgresql://db9/bigbank", "BIGBANK"));
 * }</pre>
 *
 * <p>Every change made through this instance is announced to its {@linkplain #addListener listeners} after it
 * commits ({@link FleetDataSource} listens, so routing follows without a restart); changes made elsewhere (another
 * node, the CLI) reach a {@link FleetDataSource} through its cache time-to-live or
 * {@link FleetDataSource#invalidate(TenantId)}. Thread-safe.
 */
public final class TenantDirectory {
  private static final Logger LOG = LoggerFactory.getLogger(TenantDirectory.class);

  private final DataSource control;
  private final String schema;
  private final CredentialResolver credentials;
  private final PlacementPolicy policy;
  private final List<Consumer<TenantId>> listeners = new CopyOnWriteArrayList<>();
  private final List<Consumer<String>> shardListeners = new CopyOnWriteArrayList<>();

  private TenantDirectory(Builder b) {
    this.control = b.control;
    this.schema = SqlNames.quoteIdent(b.schema.name());
    this.credentials = b.credentials;
    this.policy = b.policy;
  }

  /** A builder over {@code control}, the control database (its tables come from {@link FleetSchema}). */
  public static Builder builder(DataSource control) {
    return new Builder(control);
  }

  /** The control database (for the move journal). */
  DataSource control() {
    return control;
  }

  /** The quoted control schema. */
  String schemaSql() {
    return schema;
  }

  /** The resolver that turns credential references into credentials. */
  public CredentialResolver credentialResolver() {
    return credentials;
  }

  /** Adds a shared shard, or updates its URL, reference and {@code acceptsNew} flag. */
  public void addShard(Shard shard) {
    Objects.requireNonNull(shard, "shard");
    Jdbc.update(control, "INSERT INTO " + schema + ".shards (name, jdbc_url, credentials_ref, accepts_new) "
        + "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET jdbc_url = excluded.jdbc_url, "
        + "credentials_ref = excluded.credentials_ref, accepts_new = excluded.accepts_new",
        shard.name(), shard.jdbcUrl(), shard.credentialsRef(), shard.acceptsNew());
    for (Consumer<String> l : shardListeners) {
      try {
        l.accept(shard.name());
      } catch (RuntimeException e) {
        LOG.warn("a shard listener failed for shard {}: {}", shard.name(), e.toString());
      }
    }
  }

  /**
   * Calls {@code listener} with the shard's name after {@link #addShard} changed it through this directory; returns
   * a handle that removes it. {@link FleetDataSource} re-reads the shard's URL and credentials reference then.
   */
  AutoCloseable addShardListener(Consumer<String> listener) {
    shardListeners.add(listener);
    return () -> shardListeners.remove(listener);
  }

  /** Every shard, by name. */
  public List<Shard> shards() {
    return Jdbc.query(control, "SELECT name, jdbc_url, credentials_ref, accepts_new FROM " + schema
        + ".shards ORDER BY name", rs -> new Shard(rs.getString(1), rs.getString(2), rs.getString(3),
        rs.getBoolean(4)));
  }

  /** The shard named {@code name}. */
  public Optional<Shard> shard(String name) {
    return shards().stream().filter(s -> s.name().equals(name)).findFirst();
  }

  /**
   * Registers {@code tenant} at {@code placement}, {@code active}.
   *
   * @throws FleetException if the tenant is registered already or the shard does not exist
   */
  public TenantEntry register(TenantId tenant, Placement placement) {
    return register(tenant, placement, TenantState.ACTIVE);
  }

  /** Like {@link #register(TenantId, Placement)}, in {@code state}. */
  public TenantEntry register(TenantId tenant, Placement placement, TenantState state) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(placement, "placement");
    Objects.requireNonNull(state, "state");
    if (placement instanceof Placement.Shared s && shard(s.shard()).isEmpty()) {
      throw new FleetException("shard '" + s.shard() + "' does not exist: add it with addShard first");
    }
    try (Connection c = control.getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO " + schema + ".tenants (tenant_id, shard, jdbc_url,"
            + " credentials_ref, state) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO NOTHING")) {
      bindPlacement(ps, tenant, placement);
      ps.setString(5, state.sqlName());
      if (ps.executeUpdate() == 0) {
        throw new FleetException("tenant '" + tenant.value() + "' is registered already: use setState or a "
            + "TenantMove to change it");
      }
    } catch (SQLException e) {
      throw new FleetException("cannot register tenant '" + tenant.value() + "': " + e.getMessage(), e);
    }
    changed(tenant);
    return require(tenant);
  }

  /** Places a new tenant with the placement policy (default: the shared shard with the fewest tenants). */
  public TenantEntry place(TenantId tenant) {
    Map<String, Long> counts = new LinkedHashMap<>();
    for (Shard s : shards()) {
      if (s.acceptsNew()) {
        counts.put(s.name(), 0L);
      }
    }
    List<Map.Entry<String, Long>> used = Jdbc.query(control, "SELECT shard, count(*) FROM " + schema
        + ".tenants WHERE shard IS NOT NULL AND state <> 'deleted' GROUP BY shard",
        rs -> Map.entry(rs.getString(1), rs.getLong(2)));
    for (Map.Entry<String, Long> e : used) {
      counts.computeIfPresent(e.getKey(), (k, v) -> e.getValue());
    }
    return register(tenant, policy.place(tenant, Map.copyOf(counts)));
  }

  /** The entry of {@code tenant}, if registered. */
  public Optional<TenantEntry> lookup(TenantId tenant) {
    Objects.requireNonNull(tenant, "tenant");
    List<TenantEntry> found = Jdbc.query(control, select() + " WHERE tenant_id = ?", TenantDirectory::entry,
        tenant.value());
    return found.stream().findFirst();
  }

  /**
   * The entry of {@code tenant} for routing, with the time since its placement last changed, measured by the
   * control database's clock (so a skewed application clock cannot shorten it).
   *
   * @throws TenantUnavailableException if it is not registered
   */
  Routed requireRouted(TenantId tenant) {
    Objects.requireNonNull(tenant, "tenant");
    List<Routed> found = Jdbc.query(control, select() + " WHERE tenant_id = ?",
        rs -> new Routed(entry(rs), Math.max(0L, rs.getLong(8))), tenant.value());
    if (found.isEmpty()) {
      throw new TenantUnavailableException(tenant, null);
    }
    return found.get(0);
  }

  /** A directory entry and how long ago, in milliseconds, its placement last changed. */
  record Routed(TenantEntry entry, long placedAgoMillis) {}

  /**
   * The entry of {@code tenant}.
   *
   * @throws TenantUnavailableException if it is not registered
   */
  public TenantEntry require(TenantId tenant) {
    return lookup(tenant).orElseThrow(() -> new TenantUnavailableException(tenant, null));
  }

  /**
   * Every entry, deleted ones included, by tenant id. A row that is not a valid entry (inserted by hand with a
   * tenant id {@link TenantId#of} refuses, or a placement it refuses) is skipped with a warning in the log naming
   * it, so one bad row does not hide the other tenants (nor their placements, from {@link #placements()}).
   */
  public List<TenantEntry> list() {
    List<Optional<TenantEntry>> rows = Jdbc.query(control, select() + " ORDER BY tenant_id",
        TenantDirectory::entryOrSkip);
    List<TenantEntry> out = new ArrayList<>(rows.size());
    for (Optional<TenantEntry> e : rows) {
      e.ifPresent(out::add);
    }
    return out;
  }

  /** The entry of the row, or empty (and a warning) if the row is not a valid entry. */
  private static Optional<TenantEntry> entryOrSkip(ResultSet rs) throws SQLException {
    try {
      return Optional.of(entry(rs));
    } catch (RuntimeException e) {
      // hand-edited rows: name the row with its control characters escaped, so the log line stays one line
      LOG.warn("skipped the directory row of tenant id '{}': it is not a valid entry ({}); fix or delete the row",
          LogText.of(rs.getString(1)), LogText.of(e.getMessage()));
      return Optional.empty();
    }
  }

  /**
   * Sets the state of {@code tenant} (suspend, reactivate, read-only). A tenant being moved changes state through
   * its {@link TenantMove} only.
   *
   * @throws FleetException if the tenant is unknown, being moved, or deleted (deletion is final)
   */
  public TenantEntry setState(TenantId tenant, TenantState state) {
    Objects.requireNonNull(state, "state");
    TenantEntry current = require(tenant);
    if (current.state() == TenantState.MOVING || state == TenantState.MOVING) {
      throw new FleetException("tenant '" + tenant.value() + "' is " + current.state().sqlName() + ": only a "
          + "TenantMove sets or leaves 'moving' (resume or roll back the move)");
    }
    if (current.state() == TenantState.DELETED && state != TenantState.DELETED) {
      throw new FleetException("tenant '" + tenant.value() + "' is deleted; the entry is kept for audit only");
    }
    if (!compareAndSet(current, current.placement(), state)) {
      throw new FleetException("tenant '" + tenant.value() + "' changed concurrently; retry");
    }
    return require(tenant);
  }

  /**
   * Changes placement and state of {@code expected.tenant()} if its entry is still at {@code expected.version()}
   * (an optimistic lock), and announces the change. Used by moves and lifecycle operations.
   *
   * @return false if the entry changed meanwhile (nothing written)
   */
  public boolean compareAndSet(TenantEntry expected, Placement placement, TenantState state) {
    TenantId tenant = expected.tenant();
    try (Connection c = control.getConnection();
        PreparedStatement ps = c.prepareStatement("UPDATE " + schema + ".tenants SET tenant_id = ?, shard = ?, "
            + "jdbc_url = ?, credentials_ref = ?, state = ?, version = version + 1, updated_at = now(), "
            // the placement's own clock: FleetDataSource keeps the tenant's reads off replicas that may not
            // have the moved rows yet (placed_at is read below, in the same column order as the SET list)
            + "placed_at = CASE WHEN shard IS NOT DISTINCT FROM ? AND jdbc_url IS NOT DISTINCT FROM ? "
            + "THEN placed_at ELSE now() END "
            + "WHERE tenant_id = ? AND version = ?")) {
      bindPlacement(ps, tenant, placement);
      ps.setString(5, state.sqlName());
      ps.setString(6, placement instanceof Placement.Shared s ? s.shard() : null);
      ps.setString(7, placement instanceof Placement.Dedicated d ? d.jdbcUrl() : null);
      ps.setString(8, tenant.value());
      ps.setLong(9, expected.version());
      if (ps.executeUpdate() == 0) {
        return false;
      }
    } catch (SQLException e) {
      throw new FleetException("cannot update tenant '" + tenant.value() + "': " + e.getMessage(), e);
    }
    LOG.info("tenant {}: {} {} -> {} {}", tenant.value(), expected.placement().describe(),
        expected.state().sqlName(), placement.describe(), state.sqlName());
    changed(tenant);
    return true;
  }

  /**
   * Every database of the fleet: the shards, then the dedicated databases of tenants that are not deleted (each
   * once). Cross-tenant work iterates these explicitly.
   */
  public List<Placement> placements() {
    Set<Placement> all = new LinkedHashSet<>();
    for (Shard s : shards()) {
      all.add(Placement.shared(s.name()));
    }
    for (TenantEntry e : list()) {
      if (e.placement() instanceof Placement.Dedicated && e.state() != TenantState.DELETED) {
        all.add(e.placement());
      }
    }
    return new ArrayList<>(all);
  }

  /** The JDBC URL of {@code placement} (a shard's from the shards table). */
  public String jdbcUrl(Placement placement) {
    if (placement instanceof Placement.Dedicated d) {
      return d.jdbcUrl();
    }
    String name = ((Placement.Shared) placement).shard();
    return shard(name).orElseThrow(() -> new FleetException("shard '" + name + "' does not exist")).jdbcUrl();
  }

  /** The credentials of {@code placement} for {@code access}, from the resolver. */
  public Credentials credentials(Placement placement, CredentialResolver.Access access) {
    String ref;
    if (placement instanceof Placement.Dedicated d) {
      ref = d.credentialsRef();
    } else {
      String name = ((Placement.Shared) placement).shard();
      ref = shard(name).orElseThrow(() -> new FleetException("shard '" + name + "' does not exist"))
          .credentialsRef();
    }
    return credentials(ref, access);
  }

  /** The credentials of the reference {@code ref} for {@code access}, from the resolver. */
  Credentials credentials(String ref, CredentialResolver.Access access) {
    // a resolver is user code: one that answers nothing fails here, naming the reference, not later in a pool
    Credentials resolved = credentials.resolve(ref, access);
    if (resolved == null) {
      throw new FleetException("credentials reference '" + ref + "' (" + access + "): the CredentialResolver "
          + "returned no credentials");
    }
    return resolved;
  }

  /**
   * Calls {@code listener} with the tenant after every change made through this directory (on the changing
   * thread, after commit). Returns a handle that removes it.
   */
  public AutoCloseable addListener(Consumer<TenantId> listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  private void changed(TenantId tenant) {
    for (Consumer<TenantId> l : listeners) {
      try {
        l.accept(tenant);
      } catch (RuntimeException e) {
        LOG.warn("a tenant directory listener failed for tenant {}: {}", tenant.value(), e.toString());
      }
    }
  }

  private String select() {
    return "SELECT tenant_id, shard, jdbc_url, credentials_ref, state, version, updated_at,"
        + " coalesce((extract(epoch FROM clock_timestamp() - placed_at) * 1000)::bigint, " + Long.MAX_VALUE + ")"
        + " FROM " + schema + ".tenants";
  }

  private static TenantEntry entry(ResultSet rs) throws SQLException {
    String shard = rs.getString(2);
    Placement placement = shard != null ? Placement.shared(shard)
        : Placement.dedicated(rs.getString(3), rs.getString(4));
    return new TenantEntry(TenantId.of(rs.getString(1)), placement, TenantState.fromSqlName(rs.getString(5)),
        rs.getLong(6), rs.getTimestamp(7).toInstant());
  }

  private static void bindPlacement(PreparedStatement ps, TenantId tenant, Placement placement)
      throws SQLException {
    ps.setString(1, tenant.value());
    @Nullable String shard = null;
    @Nullable String url = null;
    @Nullable String ref = null;
    if (placement instanceof Placement.Shared s) {
      shard = s.shard();
    } else {
      Placement.Dedicated d = (Placement.Dedicated) placement;
      url = d.jdbcUrl();
      ref = d.credentialsRef();
    }
    ps.setString(2, shard);
    ps.setString(3, url);
    ps.setString(4, ref);
  }

  /** Options of a {@link TenantDirectory}. */
  public static final class Builder {
    private final DataSource control;
    private FleetSchema schema = FleetSchema.defaults();
    private CredentialResolver credentials = CredentialResolver.environment();
    private PlacementPolicy policy = PlacementPolicy.fewestTenants();

    private Builder(DataSource control) {
      this.control = Objects.requireNonNull(control, "control data source");
    }

    /** The control schema (default {@link FleetSchema#defaults()}). */
    public Builder schema(FleetSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** Where credentials come from (default {@link CredentialResolver#environment()}). */
    public Builder credentialResolver(CredentialResolver resolver) {
      this.credentials = Objects.requireNonNull(resolver, "credentialResolver");
      return this;
    }

    /** How new tenants are placed (default {@link PlacementPolicy#fewestTenants()}). */
    public Builder placementPolicy(PlacementPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "placementPolicy");
      return this;
    }

    /** The directory. */
    public TenantDirectory build() {
      return new TenantDirectory(this);
    }
  }
}
