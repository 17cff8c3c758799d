package dev.saaskit.fleet;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.output.MigrateResult;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the application's own Flyway migrations to every database of the fleet (the shards and the dedicated
 * databases of tenants that are not deleted), a bounded number at a time.
 *
 * <pre>{@code
 * FleetMigrations migrations = FleetMigrations.builder(directory).locations("classpath:db/app").parallelism(4).build();
 * FleetMigrations.Report report = migrations.migrate();
 * report.failed();                      // each with its error; the others finished
 * migrations.migrate();                 // after a fix: only what is missing is applied
 * }</pre>
 *
 * <p>Each database runs its migrations through Flyway with the placement's <em>admin</em> credentials and keeps
 * its own Flyway history, so a run that failed on some databases is resumed by running again: databases that are
 * up to date apply nothing, the failed ones continue where they stopped (PostgreSQL runs each migration in a
 * transaction, so a failed one leaves nothing behind). Immutable and thread-safe.
 */
public final class FleetMigrations {
  private static final Logger LOG = LoggerFactory.getLogger(FleetMigrations.class);

  private final TenantDirectory directory;
  private final List<String> locations;
  private final int parallelism;
  private final Map<String, String> placeholders;
  private final @Nullable ClassLoader classLoader;

  private FleetMigrations(Builder b) {
    this.directory = b.directory;
    this.locations = List.copyOf(b.locations);
    this.parallelism = b.parallelism;
    this.placeholders = Map.copyOf(b.placeholders);
    this.classLoader = b.classLoader;
  }

  /** A builder over {@code directory}. */
  public static Builder builder(TenantDirectory directory) {
    return new Builder(directory);
  }

  /** How one database fared. */
  public enum Status {
    /** Migrations were applied. */
    MIGRATED,
    /** It was up to date. */
    UP_TO_DATE,
    /** A migration failed (see the error); run again after fixing it. */
    FAILED
  }

  /**
   * One database's outcome.
   *
   * @param placement the database
   * @param status what happened
   * @param versionBefore its schema version before (empty string: none)
   * @param versionAfter its schema version now
   * @param applied migrations applied in this run
   * @param error the failure's message, empty unless failed
   */
  public record DatabaseResult(Placement placement, Status status, String versionBefore, String versionAfter,
      int applied, String error) {}

  /**
   * The outcome of a run: one result per database, in the order of {@link TenantDirectory#placements()}.
   *
   * @param results per database
   */
  public record Report(List<DatabaseResult> results) {
    /** The databases that failed. */
    public List<DatabaseResult> failed() {
      return results.stream().filter(r -> r.status() == Status.FAILED).toList();
    }

    /** Whether every database is migrated or up to date. */
    public boolean succeeded() {
      return failed().isEmpty();
    }

    /** Which databases are on which version (version to placements, in version order of appearance). */
    public Map<String, List<Placement>> byVersion() {
      Map<String, List<Placement>> out = new LinkedHashMap<>();
      for (DatabaseResult r : results) {
        out.computeIfAbsent(r.versionAfter(), v -> new ArrayList<>()).add(r.placement());
      }
      return out;
    }
  }

  /** Migrates every database, at most {@code parallelism} at a time, and reports each. */
  public Report migrate() {
    return run(true);
  }

  /** Reports the version of every database without changing anything. */
  public Report versions() {
    return run(false);
  }

  private Report run(boolean migrate) {
    List<Placement> placements = directory.placements();
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(parallelism, placements.size())),
        r -> {
          Thread t = new Thread(r, "saaskit-fleet-migrate");
          t.setDaemon(true);
          return t;
        });
    try {
      List<Future<DatabaseResult>> futures = new ArrayList<>();
      for (Placement p : placements) {
        futures.add(pool.submit(() -> one(p, migrate)));
      }
      List<DatabaseResult> results = new ArrayList<>();
      for (int i = 0; i < futures.size(); i++) {
        try {
          results.add(futures.get(i).get());
        } catch (ExecutionException e) {
          Throwable cause = e.getCause() == null ? e : e.getCause();
          results.add(new DatabaseResult(placements.get(i), Status.FAILED, "", "", 0, String.valueOf(
              cause.getMessage())));
        }
      }
      return new Report(List.copyOf(results));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FleetException("interrupted while migrating the fleet", e);
    } finally {
      pool.shutdownNow();
    }
  }

  private DatabaseResult one(Placement placement, boolean migrate) {
    String before = "";
    try {
      Flyway flyway = flyway(placement);
      before = version(flyway);
      if (!migrate) {
        return new DatabaseResult(placement, Status.UP_TO_DATE, before, before, 0, "");
      }
      MigrateResult result = flyway.migrate();
      String after = version(flyway);
      LOG.info("{}: {} migrations applied, now at version {}", placement.describe(), result.migrationsExecuted,
          after);
      return new DatabaseResult(placement, result.migrationsExecuted > 0 ? Status.MIGRATED : Status.UP_TO_DATE,
          before, after, result.migrationsExecuted, "");
    } catch (FlywayException | FleetException e) {
      LOG.warn("{}: migration failed: {}", placement.describe(), e.getMessage());
      String now = before;
      try {
        now = version(flyway(placement));
      } catch (FlywayException | FleetException again) {
        e.addSuppressed(again);
      }
      return new DatabaseResult(placement, Status.FAILED, before, now, 0, String.valueOf(e.getMessage()));
    }
  }

  /** Flyway for one database with its admin credentials; also used by onboarding. */
  Flyway flyway(Placement placement) {
    Credentials c = directory.credentials(placement, CredentialResolver.Access.ADMIN);
    var config = classLoader == null ? Flyway.configure() : Flyway.configure(classLoader);
    return config.dataSource(directory.jdbcUrl(placement), c.user(), c.password())
        .locations(locations.toArray(String[]::new))
        .placeholders(placeholders)
        .load();
  }

  private static String version(Flyway flyway) {
    MigrationInfo current = flyway.info().current();
    return current == null || current.getVersion() == null ? "" : current.getVersion().getVersion();
  }

  /** Options of {@link FleetMigrations}. */
  public static final class Builder {
    private final TenantDirectory directory;
    private final List<String> locations = new ArrayList<>(List.of("classpath:db/migration"));
    private int parallelism = 4;
    private final Map<String, String> placeholders = new LinkedHashMap<>();
    private @Nullable ClassLoader classLoader;

    private Builder(TenantDirectory directory) {
      this.directory = Objects.requireNonNull(directory, "directory");
    }

    /** Flyway locations of the application's migrations (default {@code classpath:db/migration}). */
    public Builder locations(String... locations) {
      if (locations.length == 0) {
        throw new IllegalArgumentException("locations must name at least one location");
      }
      this.locations.clear();
      this.locations.addAll(List.of(locations));
      return this;
    }

    /** Databases migrated at once, at least 1 (default 4). */
    public Builder parallelism(int parallelism) {
      if (parallelism < 1) {
        throw new IllegalArgumentException("parallelism must be >= 1 but was " + parallelism);
      }
      this.parallelism = parallelism;
      return this;
    }

    /** A Flyway placeholder for the migrations. */
    public Builder placeholder(String name, String value) {
      placeholders.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /** The class loader Flyway finds {@code classpath:} locations with (default Flyway's). */
    public Builder classLoader(ClassLoader classLoader) {
      this.classLoader = Objects.requireNonNull(classLoader, "classLoader");
      return this;
    }

    /** The migrations. */
    public FleetMigrations build() {
      return new FleetMigrations(this);
    }
  }
}
