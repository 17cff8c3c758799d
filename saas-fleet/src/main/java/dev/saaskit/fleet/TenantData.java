package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.SqlNames;
import dev.saaskit.fleet.internal.Jdbc;
import dev.saaskit.fleet.internal.PlacementConnections;
import dev.saaskit.fleet.internal.TenantTables;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.postgresql.PGConnection;

/**
 * The GDPR requests every SaaS gets: export all rows of a tenant, and erase them, wherever the directory places
 * it. Both end with a report that proves completeness from counts taken in the same transaction.
 *
 * <pre>{@code
 * TenantData data = TenantData.builder(directory).build();
 * TenantData.Report export = data.export(TenantId.of("acme"), Path.of("/exports/acme"), TenantData.Format.JSON_LINES);
 * TenantData.Report erasure = data.erase(TenantId.of("acme"));   // every table 0 rows after
 * }</pre>
 *
 * <p>Tables are those of the schema with the tenant column, children erased before parents. Work runs with the
 * placement's admin credentials and the tenant set, so row-level security applies. Immutable and thread-safe.
 */
public final class TenantData {
  private final TenantDirectory directory;
  private final String schema;
  private final String tenantColumn;
  private final TenantSetting setting;

  private TenantData(Builder b) {
    this.directory = b.directory;
    this.schema = b.schema;
    this.tenantColumn = b.tenantColumn;
    this.setting = b.setting;
  }

  /** A builder over {@code directory}. */
  public static Builder builder(TenantDirectory directory) {
    return new Builder(directory);
  }

  /** File formats of an export: one file per table. */
  public enum Format {
    /** {@code <table>.jsonl}: one JSON object per row ({@code row_to_json}). */
    JSON_LINES,
    /** {@code <table>.csv}: PostgreSQL's CSV with a header line. */
    CSV
  }

  /**
   * One table's counts.
   *
   * @param table schema-qualified name
   * @param before the tenant's rows when the work began
   * @param processed rows written to the file (export) or deleted (erasure)
   * @param after the tenant's rows when it ended (export: unchanged; erasure: 0)
   */
  public record TableCount(String table, long before, long processed, long after) {
    /** Whether the table is complete: every row exported, or every row erased. */
    public boolean complete(boolean erasure) {
      return erasure ? after == 0 && processed == before : processed == before;
    }
  }

  /**
   * A completeness report.
   *
   * @param tenant the tenant
   * @param placement where its rows were
   * @param erasure true for an erasure, false for an export
   * @param tables per table, parents first
   */
  public record Report(TenantId tenant, Placement placement, boolean erasure, List<TableCount> tables) {
    /** Whether every table is complete. */
    public boolean complete() {
      return tables.stream().allMatch(t -> t.complete(erasure));
    }

    /** Rows exported or erased. */
    public long rows() {
      return tables.stream().mapToLong(TableCount::processed).sum();
    }
  }

  /**
   * Writes every row of {@code tenant} to {@code outputDirectory} (created if missing; it must be empty), one file
   * per table, from one consistent snapshot. The file of a table is named after it, with characters other than
   * {@code A-Z a-z 0-9 _ -} percent-encoded; rows are in primary key order.
   *
   * @throws FleetException if the tenant is unknown, the folder is not empty, a file cannot be written or a query
   *     fails
   */
  public Report export(TenantId tenant, Path outputDirectory, Format format) {
    Objects.requireNonNull(outputDirectory, "outputDirectory");
    Objects.requireNonNull(format, "format");
    TenantEntry entry = directory.require(tenant);
    try (Connection c = PlacementConnections.admin(directory, entry.placement())) {
      Files.createDirectories(outputDirectory);
      // an export is what a tenant is handed: files left by another export (another tenant's, or an earlier one
      // that stopped half-way) must neither be overwritten unnoticed nor be mixed into this one
      try (java.util.stream.Stream<Path> present = Files.list(outputDirectory)) {
        if (present.findAny().isPresent()) {
          throw new FleetException("exporting tenant '" + tenant.value() + "': the folder " + outputDirectory
              + " is not empty; export into a new or empty folder (nothing was written)");
        }
      }
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) {
        st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      }
      TenantTables tables = TenantTables.discover(c, schema, tenantColumn);
      TenantTables.bindTenant(c, setting, tenant);
      List<TableCount> counts = new ArrayList<>();
      for (TenantTables.Table t : tables.insertOrder()) {
        long before = tables.count(c, t, tenant);
        // sorted by the primary key: not every column type can be sorted by (json, point, xml)
        List<String> key = TenantTables.primaryKey(c, t);
        String select = "SELECT " + t.columnList(t.columns()) + " FROM " + t.qualified() + tables.where(tenant)
            + (key.isEmpty() ? "" : " ORDER BY " + t.columnList(key));
        long written;
        if (format == Format.CSV) {
          try (OutputStream out = Files.newOutputStream(outputDirectory.resolve(fileName(t.name()) + ".csv"),
              StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            written = c.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (" + select
                + ") TO STDOUT WITH (FORMAT csv, HEADER)", out);
          }
        } else {
          written = 0;
          try (BufferedWriter out = Files.newBufferedWriter(outputDirectory.resolve(fileName(t.name()) + ".jsonl"),
              StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
              PreparedStatement ps = c.prepareStatement("SELECT row_to_json(x)::text FROM (" + select + ") x")) {
            ps.setFetchSize(1000);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                out.write(rs.getString(1));
                out.write('\n');
                written++;
              }
            }
          }
        }
        counts.add(new TableCount(t.label(), before, written, tables.count(c, t, tenant)));
      }
      c.commit();
      return new Report(tenant, entry.placement(), false, List.copyOf(counts));
    } catch (SQLException e) {
      throw new FleetException("exporting tenant '" + tenant.value() + "' failed: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new FleetException("exporting tenant '" + tenant.value() + "' failed writing " + outputDirectory
          + ": " + e.getMessage(), new UncheckedIOException(e));
    }
  }

  /**
   * The file name of a table's export: the table name where it is made of {@code A-Z a-z 0-9 _ -} only, else
   * with every other character percent-encoded (its UTF-8 bytes). A quoted table name may hold {@code /},
   * {@code ..} or a NUL; written as it is, it would leave the export folder or fail.
   */
  static String fileName(String table) {
    StringBuilder sb = new StringBuilder();
    for (byte b : table.getBytes(StandardCharsets.UTF_8)) {
      int u = b & 0xff;
      if (u >= 'a' && u <= 'z' || u >= 'A' && u <= 'Z' || u >= '0' && u <= '9' || u == '_' || u == '-') {
        sb.append((char) u);
      } else {
        sb.append('%').append(Character.toUpperCase(Character.forDigit(u >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(u & 0xf, 16)));
      }
    }
    return sb.toString();
  }

  /**
   * Deletes every row of {@code tenant} in its placement, children first, in one transaction, and proves it with
   * counts before and after. The directory entry is left alone (offboarding marks it {@code deleted}). A tenant
   * that is being moved is refused, also one whose move stopped anywhere (after its flip the source keeps the rows
   * until the move is resumed): its rows may be in two databases.
   *
   * @throws FleetException if the tenant is unknown or being moved, or a delete fails (then nothing is deleted)
   */
  public Report erase(TenantId tenant) {
    Objects.requireNonNull(tenant, "tenant");
    // A move copies the tenant's rows to its target and then flips to it: rows erased from the source after the
    // copy would live on there. So the erasure holds the tenant's move lock (a move, resume or roll-back running
    // now holds it; one that starts meanwhile waits, then fails before it changes anything) and refuses a tenant
    // left 'moving' by a move that stopped.
    try (Connection lock = directory.control().getConnection()) {
      if (!Jdbc.query(lock, "SELECT pg_try_advisory_lock(?, hashtext(?))", rs -> rs.getBoolean(1),
          TenantMove.LOCK_CLASS, tenant.value()).get(0)) {
        throw new FleetException("tenant '" + tenant.value() + "' is being moved right now: erase it once the move"
            + " has ended (nothing was deleted)");
      }
      try {
        return eraseUnmoved(tenant);
      } finally {
        TenantMove.unlock(lock, tenant);
      }
    } catch (SQLException e) {
      throw new FleetException("erasing tenant '" + tenant.value() + "' failed (nothing was deleted): cannot take "
          + "its move lock in the control database: " + e.getMessage(), e);
    }
  }

  private Report eraseUnmoved(TenantId tenant) {
    TenantEntry entry = directory.require(tenant);
    if (entry.state() == TenantState.MOVING) {
      throw new FleetException("tenant '" + tenant.value() + "' is being moved (a move stopped part-way): resume "
          + "or roll back the move first, then erase it; its rows may already be copied to the target, where an "
          + "erasure of the source would not reach them (nothing was deleted)");
    }
    // a move that stopped after its flip has the tenant active on the target and its rows still on the source
    // until it is resumed: erasing the target alone would report a complete erasure of a tenant whose rows remain
    Optional<MoveStep> step = TenantMove.builder(directory).build().runningStep(tenant);
    if (step.isPresent()) {
      throw new FleetException("tenant '" + tenant.value() + "' has a move that stopped after step " + step.get()
          + ": resume it (or roll it back) first, then erase it; its rows may be in two databases (nothing was "
          + "deleted)");
    }
    try (Connection c = PlacementConnections.admin(directory, entry.placement())) {
      c.setAutoCommit(false);
      TenantTables tables = TenantTables.discover(c, schema, tenantColumn);
      TenantTables.bindTenant(c, setting, tenant);
      List<TableCount> counts = new ArrayList<>();
      for (TenantTables.Table t : tables.deleteOrder()) {
        long before = tables.count(c, t, tenant);
        long deleted = tables.delete(c, t, tenant);
        counts.add(new TableCount(t.label(), before, deleted, tables.count(c, t, tenant)));
      }
      c.commit();
      // counted again after the commit, in a new transaction: what any later reader sees
      TenantTables.bindTenant(c, setting, tenant);
      List<TableCount> proven = new ArrayList<>();
      for (int i = counts.size() - 1; i >= 0; i--) {
        TableCount tc = counts.get(i);
        TenantTables.Table t = tables.deleteOrder().get(i);
        proven.add(new TableCount(tc.table(), tc.before(), tc.processed(), tables.count(c, t, tenant)));
      }
      c.commit();
      return new Report(tenant, entry.placement(), true, List.copyOf(proven));
    } catch (SQLException e) {
      throw new FleetException("erasing tenant '" + tenant.value() + "' failed (nothing was deleted): "
          + e.getMessage(), e);
    }
  }

  /** Options of {@link TenantData}. */
  public static final class Builder {
    private final TenantDirectory directory;
    private String schema = "public";
    private String tenantColumn = "tenant_id";
    private TenantSetting setting = TenantSetting.DEFAULT;

    private Builder(TenantDirectory directory) {
      this.directory = Objects.requireNonNull(directory, "directory");
    }

    /** The schema of the tenant tables (default {@code public}). */
    public Builder schema(String schema) {
      this.schema = SqlNames.requireIdentifier("schema", Objects.requireNonNull(schema, "schema"));
      return this;
    }

    /** The tenant column (default {@code tenant_id}). */
    public Builder tenantColumn(String column) {
      this.tenantColumn = SqlNames.requireIdentifier("tenantColumn", Objects.requireNonNull(column, "column"));
      return this;
    }

    /** The setting the policies read (default {@link TenantSetting#DEFAULT}). */
    public Builder tenantSetting(TenantSetting setting) {
      this.setting = Objects.requireNonNull(setting, "tenantSetting");
      return this;
    }

    /** The export and erasure service. */
    public TenantData build() {
      return new TenantData(this);
    }
  }
}
