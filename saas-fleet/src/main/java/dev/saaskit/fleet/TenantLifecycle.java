package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.SqlNames;
import dev.saaskit.fleet.internal.Jdbc;
import dev.saaskit.fleet.internal.Names;
import dev.saaskit.fleet.internal.PlacementConnections;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.flywaydb.core.api.FlywayException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Onboarding and offboarding of tenants.
 *
 * <pre>{@code
 * TenantLifecycle lifecycle = TenantLifecycle.builder(directory, serverAdmin, migrations)
 *     .jdbcUrlTemplate("jdbc:postgresql://db9:5432/{database}")
 *     .build();
 * lifecycle.onboardDedicated(TenantId.of("bigbank"), "tenant_bigbank", "BIGBANK");
 * lifecycle.offboard(TenantId.of("bigbank"), Path.of("/exports/bigbank"), TenantData.Format.JSON_LINES);
 * }</pre>
 *
 * <p><b>Onboard</b> a dedicated tenant: create its database through the server admin data source (a role with
 * {@code CREATEDB}, or a superuser), owned by the reference's admin role; let the reference's app role connect and
 * use the tables the owner creates (and nothing else: {@code PUBLIC} gets nothing); apply the application's
 * migrations; register the tenant. If any step fails the database is dropped again and nothing is registered.
 *
 * <p><b>Offboard</b>: suspend the tenant (no connection from then on), export every row (the export must be
 * complete, else the tenant gets its state back), mark the entry {@code deleted} (kept for audit), then drop the dedicated database, or erase the tenant's rows from its
 * shard (or from a dedicated database that a shard or another tenant also uses, or that a move of another tenant
 * copies into or out of: that one is never dropped). A tenant with a move that stopped part-way is refused.
 * Immutable and thread-safe.
 */
public final class TenantLifecycle {
  private static final Logger LOG = LoggerFactory.getLogger(TenantLifecycle.class);
  private static final Pattern DATABASE = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  private final TenantDirectory directory;
  private final DataSource serverAdmin;
  private final FleetMigrations migrations;
  private final String urlTemplate;
  private final TenantData data;

  private TenantLifecycle(Builder b) {
    this.directory = b.directory;
    this.serverAdmin = b.serverAdmin;
    this.migrations = b.migrations;
    this.urlTemplate = Objects.requireNonNull(b.urlTemplate, "jdbcUrlTemplate must be set");
    this.data = b.data == null ? TenantData.builder(directory).build() : b.data;
  }

  /**
   * A builder: {@code serverAdmin} may create databases on the server of new dedicated databases;
   * {@code migrations} are the application's.
   */
  public static Builder builder(TenantDirectory directory, DataSource serverAdmin, FleetMigrations migrations) {
    return new Builder(directory, serverAdmin, migrations);
  }

  /**
   * Creates database {@code databaseName}, migrates it and registers {@code tenant} there, {@code active}.
   *
   * @param databaseName 1-63 characters of {@code a-z0-9_}, not starting with a digit
   * @param credentialsRef the reference whose admin role will own the database and whose app role serves it
   * @throws FleetException if the tenant exists, the database cannot be created or a migration fails (then the
   *     database is dropped again)
   */
  public TenantEntry onboardDedicated(TenantId tenant, String databaseName, String credentialsRef) {
    Objects.requireNonNull(tenant, "tenant");
    if (databaseName == null || !DATABASE.matcher(databaseName).matches()) {
      throw new IllegalArgumentException("databaseName must be 1-63 characters of a-z, 0-9 and '_', not starting "
          + "with a digit, but was '" + databaseName + "'");
    }
    if (directory.lookup(tenant).isPresent()) {
      throw new FleetException("tenant '" + tenant.value() + "' is registered already");
    }
    Placement.Dedicated placement = Placement.dedicated(urlTemplate.replace("{database}", databaseName),
        credentialsRef);
    Credentials owner = directory.credentials(placement, CredentialResolver.Access.ADMIN);
    Credentials app = directory.credentials(placement, CredentialResolver.Access.APP);
    if (owner.user().equals(app.user())) {
      // the owner of the tables is exempt from row-level security unless every table forces it, and may turn it
      // off: the role that serves tenant traffic must never be it
      throw new FleetException("credentials reference '" + credentialsRef + "' names role " + owner.user()
          + " both as the owner (ADMIN) and as the application role (APP): give the application its own role, "
          + "which does not own the tables");
    }
    String db = SqlNames.quoteIdent(databaseName);
    String ownerRole = SqlNames.quoteIdent(owner.user());
    String appRole = SqlNames.quoteIdent(app.user());
    boolean created = false;
    try (Connection c = serverAdmin.getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE DATABASE " + db + " OWNER " + ownerRole + " TEMPLATE template0 ENCODING 'UTF8'");
      created = true;
      st.execute("REVOKE ALL ON DATABASE " + db + " FROM PUBLIC");
      st.execute("GRANT CONNECT ON DATABASE " + db + " TO " + appRole);
    } catch (SQLException e) {
      // a database this call created (its grants failed: an app role that does not exist, say) is dropped
      // again, so a retry can create it; one that existed before (CREATE failed) is never touched
      if (created) {
        try {
          drop(databaseName);
        } catch (FleetException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw new FleetException("cannot create database " + databaseName + " for tenant '" + tenant.value() + "'"
          + (created ? " (it was dropped again)" : "") + ": " + e.getMessage(), e);
    }
    try {
      try (Connection c = PlacementConnections.admin(directory, placement); Statement st = c.createStatement()) {
        st.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC");
        st.execute("GRANT USAGE ON SCHEMA public TO " + appRole);
        st.execute("ALTER DEFAULT PRIVILEGES FOR ROLE " + ownerRole + " IN SCHEMA public GRANT SELECT, INSERT, "
            + "UPDATE, DELETE ON TABLES TO " + appRole);
        st.execute("ALTER DEFAULT PRIVILEGES FOR ROLE " + ownerRole + " IN SCHEMA public GRANT USAGE, SELECT ON "
            + "SEQUENCES TO " + appRole);
      }
      migrations.flyway(placement).migrate();
      TenantEntry entry = directory.register(tenant, placement);
      LOG.info("onboarded tenant {} on {}", tenant.value(), placement.describe());
      return entry;
    } catch (SQLException | FlywayException | FleetException e) {
      try {
        drop(databaseName);
      } catch (FleetException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw new FleetException("onboarding tenant '" + tenant.value() + "' failed and database " + databaseName
          + " was dropped again: " + e.getMessage(), e);
    }
  }

  /**
   * What offboarding did.
   *
   * @param export the completeness report of the export
   * @param erasure the completeness report of the erasure (tenants on a shard); empty for a dropped database
   * @param droppedDatabase the dropped database's name (dedicated tenants)
   */
  public record OffboardReport(TenantData.Report export, Optional<TenantData.Report> erasure,
      Optional<String> droppedDatabase) {}

  /**
   * Exports {@code tenant} to {@code exportDirectory}, marks it {@code deleted}, then drops its dedicated
   * database or erases its rows from its shard (or from a dedicated database a shard or another tenant uses).
   *
   * @throws FleetException if the export is incomplete (nothing else happens) or a later step fails
   */
  public OffboardReport offboard(TenantId tenant, Path exportDirectory, TenantData.Format format) {
    TenantEntry entry = directory.require(tenant);
    if (entry.state() == TenantState.MOVING || entry.state() == TenantState.DELETED) {
      throw new FleetException("tenant '" + tenant.value() + "' is " + entry.state().sqlName()
          + ": it cannot be offboarded now");
    }
    // a move that stopped part-way may hold the tenant's rows in two databases (after its flip, until it cleans the
    // source): a dropped database or an erasure would reach only one of them
    Optional<MoveStep> moving = TenantMove.builder(directory).build().runningStep(tenant);
    if (moving.isPresent()) {
      throw new FleetException("tenant '" + tenant.value() + "' has a move that stopped after step "
          + moving.get() + ": resume it (or roll it back) first, then offboard the tenant (nothing was changed)");
    }
    // suspended first: no connection is handed out from here on, so nothing is written after the export (it would
    // be erased unexported) or between the erasure and the end (it would survive the offboarding)
    TenantEntry held = entry;
    TenantState prior = entry.state();
    if (entry.state() != TenantState.SUSPENDED) {
      if (!directory.compareAndSet(entry, entry.placement(), TenantState.SUSPENDED)) {
        throw new FleetException("tenant '" + tenant.value() + "' changed during offboarding; retry");
      }
      held = directory.require(tenant);
    }
    TenantData.Report export;
    try {
      export = data.export(tenant, exportDirectory, format);
    } catch (RuntimeException e) {
      restore(held, entry.state());
      throw e;
    }
    if (!export.complete()) {
      restore(held, entry.state());
      throw new FleetException("the export of tenant '" + tenant.value() + "' is incomplete " + export.tables()
          + ": nothing was deleted");
    }
    entry = held;
    TenantData.@Nullable Report erasure = null;
    @Nullable String dropped = null;
    if (entry.placement() instanceof Placement.Dedicated d) {
      // the database's lock, held from the check to the drop: a move of another tenant into or out of it that
      // starts meanwhile takes it shared until its journal entry is recorded, so it either shows in the check
      // (and the database is not dropped) or finds the database gone before it records anything; without it,
      // DROP ... WITH (FORCE) ended the copy of a move that began after the check and left that tenant moving
      DatabaseLock lock;
      try {
        lock = DatabaseLock.exclusive(directory, databaseName(d.jdbcUrl()), "the offboarding of tenant '"
            + tenant.value() + "'");
      } catch (FleetException e) {
        restore(held, prior);
        throw e;
      }
      try (lock) {
        // a dedicated database that another tenant (or a shard) also uses is not the leaving tenant's to drop
        if (!usedByOthers(tenant, d) && onServerAdminsServer(d)) {
          markDeleted(entry);
          dropped = databaseName(d.jdbcUrl());
          drop(dropped);
        }
      }
    }
    if (dropped == null) {
      erasure = data.erase(tenant);
      markDeleted(entry);
    }
    LOG.info("offboarded tenant {} ({} rows exported)", tenant.value(), export.rows());
    return new OffboardReport(export, Optional.ofNullable(erasure), Optional.ofNullable(dropped));
  }

  private void markDeleted(TenantEntry entry) {
    if (!directory.compareAndSet(entry, entry.placement(), TenantState.DELETED)) {
      throw new FleetException("tenant '" + entry.tenant().value() + "' changed during offboarding; retry");
    }
  }

  /** Gives a tenant whose offboarding stopped before deleting anything its state back. */
  private void restore(TenantEntry held, TenantState prior) {
    if (held.state() != prior && !directory.compareAndSet(held, held.placement(), prior)) {
      LOG.warn("tenant {} changed while its offboarding stopped; it was left as it is now, not set back to {}",
          held.tenant().value(), prior.sqlName());
    }
  }

  /**
   * Whether a shard or a tenant other than {@code tenant} (not deleted) may live in the database of {@code d}:
   * compared by database name alone, whatever the host, because one server has many spellings
   * ({@code localhost}, {@code 127.0.0.1}, a DNS alias) and a string comparison of URLs would take a shard's
   * database for the tenant's own and drop it. A namesake on another server only costs an erasure instead.
   */
  private boolean usedByOthers(TenantId tenant, Placement.Dedicated d) {
    String database = databaseName(d.jdbcUrl());
    for (Shard s : directory.shards()) {
      if (databaseName(s.jdbcUrl()).equals(database)) {
        return true;
      }
    }
    for (TenantEntry e : directory.list()) {
      if (!e.tenant().equals(tenant) && e.state() != TenantState.DELETED
          && e.placement() instanceof Placement.Dedicated other
          && databaseName(other.jdbcUrl()).equals(database)) {
        return true;
      }
    }
    // a move of another tenant into (or out of) this database: its entry names the database only from its flip
    // on, but the copy is there already, and a resume would flip the tenant to a dropped database and then delete
    // its rows from the source
    List<String> moving = Jdbc.query(directory.control(), "SELECT source_url FROM " + directory.schemaSql()
        + ".moves WHERE status = 'running' AND tenant_id <> ? AND source_url IS NOT NULL UNION ALL SELECT "
        + "target_url FROM " + directory.schemaSql() + ".moves WHERE status = 'running' AND tenant_id <> ? AND "
        + "target_url IS NOT NULL", rs -> rs.getString(1), tenant.value(), tenant.value());
    for (String url : moving) {
      if (databaseName(url).equals(database)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether the database of {@code d} is the one of its name on the server admin's server, which drops it by
   * name: a transaction advisory lock taken through {@code d} must show in the server admin's {@code pg_locks}
   * under that database. Otherwise the admin would drop a namesake on its own server.
   */
  private boolean onServerAdminsServer(Placement.Dedicated d) {
    String database = databaseName(d.jdbcUrl());
    int k1 = java.util.concurrent.ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE);
    int k2 = java.util.concurrent.ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE);
    try (Connection tenantDb = PlacementConnections.admin(directory, d)) {
      tenantDb.setAutoCommit(false);
      try {
        try (PreparedStatement ps = tenantDb.prepareStatement("SELECT pg_advisory_xact_lock(?, ?)")) {
          ps.setInt(1, k1);
          ps.setInt(2, k2);
          ps.execute();
        }
        try (Connection admin = serverAdmin.getConnection();
            PreparedStatement ps = admin.prepareStatement("SELECT count(*) FROM pg_locks l JOIN pg_database db "
                + "ON db.oid = l.database WHERE l.locktype = 'advisory' AND l.classid = ?::oid "
                + "AND l.objid = ?::oid AND l.objsubid = 2 AND db.datname = ?")) {
          ps.setLong(1, k1);
          ps.setLong(2, k2);
          ps.setString(3, database);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            if (rs.getLong(1) > 0) {
              return true;
            }
          }
        }
      } finally {
        tenantDb.rollback();
      }
    } catch (SQLException e) {
      throw new FleetException("cannot check that database " + database + " is on the server admin's server: "
          + e.getMessage(), e);
    }
    LOG.warn("the database {} of {} is not on the server admin's server: its rows are erased, it is not dropped",
        database, d.describe());
    return false;
  }

  /** The database a PostgreSQL JDBC URL names, decoded as the driver decodes it. */
  static String databaseName(String jdbcUrl) {
    String path = Names.withoutQuery(jdbcUrl);
    String name = path.substring(path.lastIndexOf('/') + 1);
    try {
      return java.net.URLDecoder.decode(name, java.nio.charset.StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return name;
    }
  }

  private void drop(String databaseName) {
    try (Connection c = serverAdmin.getConnection(); Statement st = c.createStatement()) {
      st.execute("DROP DATABASE IF EXISTS " + SqlNames.quoteIdent(databaseName) + " WITH (FORCE)");
    } catch (SQLException e) {
      throw new FleetException("cannot drop database " + databaseName + ": " + e.getMessage(), e);
    }
  }

  /** Options of {@link TenantLifecycle}. */
  public static final class Builder {
    private final TenantDirectory directory;
    private final DataSource serverAdmin;
    private final FleetMigrations migrations;
    private @Nullable String urlTemplate;
    private @Nullable TenantData data;

    private Builder(TenantDirectory directory, DataSource serverAdmin, FleetMigrations migrations) {
      this.directory = Objects.requireNonNull(directory, "directory");
      this.serverAdmin = Objects.requireNonNull(serverAdmin, "serverAdmin");
      this.migrations = Objects.requireNonNull(migrations, "migrations");
    }

    /** The JDBC URL of a new dedicated database, with {@code {database}} for its name (required). */
    public Builder jdbcUrlTemplate(String template) {
      Objects.requireNonNull(template, "jdbcUrlTemplate");
      if (!template.contains("{database}")) {
        throw new IllegalArgumentException("jdbcUrlTemplate must contain {database} but was '" + template + "'");
      }
      Placement.dedicated(template.replace("{database}", "x"), "X");
      this.urlTemplate = template;
      return this;
    }

    /** The export and erasure service used by offboarding (default: {@code TenantData} with its defaults). */
    public Builder data(TenantData data) {
      this.data = Objects.requireNonNull(data, "data");
      return this;
    }

    /** The lifecycle service. */
    public TenantLifecycle build() {
      if (urlTemplate == null) {
        throw new IllegalStateException("jdbcUrlTemplate must be set");
      }
      return new TenantLifecycle(this);
    }
  }
}
