package dev.saaskit.jobs.internal;

import dev.saaskit.core.internal.SqlNames;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

/**
 * A minimal {@link RecurringEnqueuer} writing the job rows itself: one batch of inserts that skip
 * an occurrence whose job (same tenant, same unique key) is still pending or running, then one wake-up NOTIFY.
 * Stand-in until the scheduler enqueues through {@code JobQueue}. Not API.
 */
public final class RecurringJobInserter implements RecurringEnqueuer {
  private final String schema;
  private final String insert;

  /** An inserter for the job table in {@code schema}. */
  public RecurringJobInserter(String schema) {
    this.schema = SqlNames.requireIdentifier("schema", schema);
    this.insert = "INSERT INTO " + SqlNames.quoteIdent(schema) + ".jobs (tenant_id, queue, type, payload, priority,"
        + " run_at, max_attempts, timeout_ms, unique_key) VALUES (?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?)"
        + " ON CONFLICT ((coalesce(tenant_id, '')), unique_key)"
        + " WHERE unique_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING";
  }

  @Override
  public void enqueue(Connection connection, RecurringDefinition d, List<Instant> occurrences) throws SQLException {
    try (PreparedStatement ps = connection.prepareStatement(insert)) {
      for (Instant occurrence : occurrences) {
        ps.setString(1, d.tenant());
        ps.setString(2, d.queue());
        ps.setString(3, d.type());
        ps.setString(4, d.payloadJson());
        ps.setInt(5, d.priority());
        ps.setObject(6, occurrence.atOffset(ZoneOffset.UTC));
        ps.setInt(7, d.maxAttempts());
        if (d.timeout() == null) {
          ps.setNull(8, Types.BIGINT);
        } else {
          ps.setLong(8, d.timeout().toMillis());
        }
        ps.setString(9, RecurringEnqueuer.uniqueKey(d.name(), occurrence));
        ps.addBatch();
      }
      ps.executeBatch();
    }
    try (PreparedStatement ps = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
      ps.setString(1, Channels.wakeup(schema));
      ps.setString(2, d.queue());
      ps.execute();
    }
  }
}
