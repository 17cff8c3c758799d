package dev.saaskit.jobs.internal;

import dev.saaskit.core.internal.SqlNames;
import dev.saaskit.jobs.CronSyntax;
import dev.saaskit.jobs.MisfirePolicy;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The SQL of the {@code recurring_jobs} table. Every method runs on the caller's connection and in its
 * transaction. Not API.
 */
public final class RecurringStore {
  private static final String COLUMNS = "name, cron, cron_syntax, zone, tenant_id, queue, type, payload::text,"
      + " priority, max_attempts, timeout_ms, misfire_policy, misfire_threshold_ms, max_catch_up, next_fire_at,"
      + " last_fired_at";

  private final String table;

  /** A store for the table in {@code schema}. */
  public RecurringStore(String schema) {
    this.table = SqlNames.quoteIdent(SqlNames.requireIdentifier("schema", schema)) + ".recurring_jobs";
  }

  /** A row locked by {@link #lockDue}. */
  public sealed interface LockedRow permits DueRow, BrokenRow {
    /** The definition's name. */
    String name();
  }

  /**
   * A row locked for firing: the definition as stored, its next fire time and the last occurrence enqueued (null
   * before the first).
   */
  public record DueRow(RecurringDefinition definition, Instant nextFireAt, @Nullable Instant lastFiredAt)
      implements LockedRow {
    @Override
    public String name() {
      return definition.name();
    }
  }

  /** A locked due row whose definition could not be read. */
  public record BrokenRow(String name, RuntimeException problem) implements LockedRow {}

  /**
   * Inserts or updates the definitions (in name order, so concurrent starts cannot deadlock). An existing row
   * takes the new definition; its next fire time is recomputed from {@code now} only when the schedule (cron,
   * syntax or zone) changed or it had none, so a restart does not shift or repeat an occurrence. The
   * {@code enabled} flag of an existing row is left alone: a job an operator disabled stays disabled across
   * deploys. Rows that do not change are not written.
   */
  public void upsert(Connection c, List<RecurringDefinition> definitions, Instant now) throws SQLException {
    List<RecurringDefinition> sorted = new ArrayList<>(definitions);
    sorted.sort(Comparator.comparing(RecurringDefinition::name));
    String sql = "INSERT INTO " + table + " AS r (name, cron, cron_syntax, zone, tenant_id, queue, type, payload,"
        + " priority, max_attempts, timeout_ms, misfire_policy, misfire_threshold_ms, max_catch_up, next_fire_at)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?)"
        + " ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, cron_syntax = EXCLUDED.cron_syntax,"
        + " zone = EXCLUDED.zone, tenant_id = EXCLUDED.tenant_id, queue = EXCLUDED.queue, type = EXCLUDED.type,"
        + " payload = EXCLUDED.payload, priority = EXCLUDED.priority, max_attempts = EXCLUDED.max_attempts,"
        + " timeout_ms = EXCLUDED.timeout_ms, misfire_policy = EXCLUDED.misfire_policy,"
        + " misfire_threshold_ms = EXCLUDED.misfire_threshold_ms, max_catch_up = EXCLUDED.max_catch_up,"
        + " next_fire_at = CASE WHEN (r.cron, r.cron_syntax, r.zone) IS DISTINCT FROM"
        + "   (EXCLUDED.cron, EXCLUDED.cron_syntax, EXCLUDED.zone) OR r.next_fire_at IS NULL"
        + "   THEN EXCLUDED.next_fire_at ELSE r.next_fire_at END,"
        + " updated_at = now()"
        + " WHERE (r.cron, r.cron_syntax, r.zone, r.tenant_id, r.queue, r.type, r.payload, r.priority,"
        + "   r.max_attempts, r.timeout_ms, r.misfire_policy, r.misfire_threshold_ms, r.max_catch_up)"
        + " IS DISTINCT FROM (EXCLUDED.cron, EXCLUDED.cron_syntax, EXCLUDED.zone, EXCLUDED.tenant_id,"
        + "   EXCLUDED.queue, EXCLUDED.type, EXCLUDED.payload, EXCLUDED.priority, EXCLUDED.max_attempts,"
        + "   EXCLUDED.timeout_ms, EXCLUDED.misfire_policy, EXCLUDED.misfire_threshold_ms, EXCLUDED.max_catch_up)"
        + " OR r.next_fire_at IS NULL";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (RecurringDefinition d : sorted) {
        int i = 1;
        ps.setString(i++, d.name());
        ps.setString(i++, d.cron());
        ps.setString(i++, d.syntax().name().toLowerCase(Locale.ROOT));
        ps.setString(i++, d.zone().getId());
        ps.setString(i++, d.tenant());
        ps.setString(i++, d.queue());
        ps.setString(i++, d.type());
        ps.setString(i++, d.payloadJson());
        ps.setInt(i++, d.priority());
        ps.setInt(i++, d.maxAttempts());
        if (d.timeout() == null) {
          ps.setNull(i++, Types.BIGINT);
        } else {
          ps.setLong(i++, d.timeout().toMillis());
        }
        ps.setString(i++, d.misfirePolicy().name().toLowerCase(Locale.ROOT));
        ps.setLong(i++, d.misfireThreshold().toMillis());
        ps.setInt(i++, d.maxCatchUp());
        setInstant(ps, i, d.schedule().next(now).orElse(null));
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /**
   * Locks up to {@code limit} enabled rows due at {@code now}, earliest first, skipping rows another node holds.
   * A row whose stored definition cannot be read (edited by hand into an invalid cron, say) is returned as a
   * failure and not as a due row.
   */
  public List<LockedRow> lockDue(Connection c, Instant now, int limit) throws SQLException {
    String sql = "SELECT " + COLUMNS + " FROM " + table
        + " WHERE enabled AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ? FOR UPDATE SKIP LOCKED";
    List<LockedRow> rows = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      setInstant(ps, 1, now);
      ps.setInt(2, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String name = rs.getString(1);
          try {
            OffsetDateTime lastFired = rs.getObject(16, OffsetDateTime.class);
            rows.add(new DueRow(read(rs), rs.getObject(15, OffsetDateTime.class).toInstant(),
                lastFired == null ? null : lastFired.toInstant()));
          } catch (RuntimeException e) {
            rows.add(new BrokenRow(name, e));
          }
        }
      }
    }
    return rows;
  }

  private static RecurringDefinition read(ResultSet rs) throws SQLException {
    CronSyntax syntax = CronSyntax.valueOf(rs.getString(3).toUpperCase(Locale.ROOT));
    CronSchedule schedule = CronSchedule.parse(syntax, rs.getString(2), ZoneId.of(rs.getString(4)));
    String tenant = rs.getString(5);
    if (tenant != null) {
      TenantId.of(tenant); // a tenant id edited by hand into an invalid one makes the row unreadable, not a failing tick
    }
    long timeoutMs = rs.getLong(11);
    Duration timeout = rs.wasNull() ? null : Duration.ofMillis(timeoutMs);
    return new RecurringDefinition(rs.getString(1), schedule, rs.getString(5), rs.getString(6), rs.getString(7),
        rs.getString(8), rs.getInt(9), rs.getInt(10), timeout,
        MisfirePolicy.valueOf(rs.getString(12).toUpperCase(Locale.ROOT)), Duration.ofMillis(rs.getLong(13)),
        rs.getInt(14));
  }

  /** Sets a locked row's next fire time and, if something was enqueued, its last fired occurrence. */
  public void advance(Connection c, String name, @Nullable Instant nextFireAt, @Nullable Instant lastFired)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + table + " SET next_fire_at = ?,"
        + " last_fired_at = coalesce(?, last_fired_at), updated_at = now() WHERE name = ?")) {
      setInstant(ps, 1, nextFireAt);
      setInstant(ps, 2, lastFired);
      ps.setString(3, name);
      ps.executeUpdate();
    }
  }

  /** Deletes a definition; true if it existed. */
  public boolean delete(Connection c, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE name = ?")) {
      ps.setString(1, name);
      return ps.executeUpdate() > 0;
    }
  }

  /** Disables a definition; true if it existed. */
  public boolean disable(Connection c, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "UPDATE " + table + " SET enabled = false, updated_at = now() WHERE name = ?")) {
      ps.setString(1, name);
      return ps.executeUpdate() > 0;
    }
  }

  /**
   * Enables a definition and, if it was disabled, restarts its schedule from {@code now} (the occurrences while it
   * was disabled are not missed, they were not wanted); true if it existed.
   */
  public boolean enable(Connection c, String name, Instant now) throws SQLException {
    String select = "SELECT cron, cron_syntax, zone, enabled FROM " + table + " WHERE name = ? FOR UPDATE";
    CronSchedule schedule;
    try (PreparedStatement ps = c.prepareStatement(select)) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return false;
        }
        if (rs.getBoolean(4)) {
          return true;
        }
        schedule = CronSchedule.parse(CronSyntax.valueOf(rs.getString(2).toUpperCase(Locale.ROOT)),
            rs.getString(1), ZoneId.of(rs.getString(3)));
      }
    }
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + table
        + " SET enabled = true, next_fire_at = ?, updated_at = now() WHERE name = ?")) {
      setInstant(ps, 1, schedule.next(now).orElse(null));
      ps.setString(2, name);
      ps.executeUpdate();
    }
    return true;
  }

  /** The next fire time of a definition: empty if it does not exist or has no further occurrence. */
  public Optional<Instant> nextFireAt(Connection c, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT next_fire_at FROM " + table + " WHERE name = ?")) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.ofNullable(rs.getObject(1, OffsetDateTime.class)).map(OffsetDateTime::toInstant);
      }
    }
  }

  private static void setInstant(PreparedStatement ps, int index, @Nullable Instant instant) throws SQLException {
    if (instant == null) {
      ps.setNull(index, Types.TIMESTAMP_WITH_TIMEZONE);
    } else {
      ps.setObject(index, instant.atOffset(ZoneOffset.UTC));
    }
  }
}
