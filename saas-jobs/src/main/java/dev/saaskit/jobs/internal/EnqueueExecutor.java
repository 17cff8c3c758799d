package dev.saaskit.jobs.internal;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobId;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Inserts jobs: one at a time or many of one tenant in one statement, resolving unique keys to the live job
 * that holds them. Not API.
 *
 * <p>Unique keys are settled by the partial unique indexes of pending and running jobs, on {@code (tenant_id,
 * unique_key)} for a tenant's jobs and on {@code unique_key} for jobs of no tenant (tenant NULL): {@code INSERT ...
 * ON CONFLICT DO NOTHING} with the matching index as its arbiter either inserts or waits for a concurrent
 * inserter of the same key and then skips, and the holder's id is read afterwards. If the holder finished in
 * between (nothing is inserted and nothing is live), the insert is simply tried again: each round either inserts,
 * finds a live holder, or observes a holder that finished, which cannot repeat forever under READ COMMITTED.
 */
public final class EnqueueExecutor {
  /** Rounds before giving up on a unique key whose holders keep finishing at the wrong moment. */
  static final int MAX_UNIQUE_ROUNDS = 50;

  private final QueueSql sql;

  public EnqueueExecutor(QueueSql sql) {
    this.sql = Objects.requireNonNull(sql, "sql");
  }

  /** Inserts one job (or finds the live holder of its unique key) and returns its id. */
  public JobId one(QueueSession session, EnqueueRow row) throws SQLException {
    session.tenant(row.tenant());
    String key = row.uniqueKey();
    if (key == null) {
      try (QueueSession.Statement st = session.prepare(sql.insertOne())) {
        int i = bindRow(st.jdbc(), st.firstParameter(), row);
        st.jdbc().setString(i, sql.channel());
        return insertedId(st);
      }
    }
    TenantId tenant = row.tenant();
    try (QueueSession.Statement st = session.prepare(sql.insertOneUnique(tenant == null))) {
      int i = bindRow(st.jdbc(), st.firstParameter(), row);
      st.jdbc().setString(i++, key);
      st.jdbc().setString(i++, sql.channel());
      if (tenant != null) {
        st.jdbc().setString(i++, tenant.value());
      }
      st.jdbc().setString(i, key);
      for (int round = 0; round < MAX_UNIQUE_ROUNDS; round++) {
        ResultSet rs = requireRows(st.execute());
        if (rs.next()) {
          return JobId.of(rs.getLong(1));
        }
      }
    }
    throw uniqueKeyUnsettled(key);
  }

  /**
   * Inserts one job without a unique key already claimed by {@code start}'s worker (see
   * {@link LocalWakeups.LocalStart}) and returns its id.
   */
  public JobId oneStarted(QueueSession session, EnqueueRow row, LocalWakeups.LocalStart start) throws SQLException {
    if (row.uniqueKey() != null) {
      throw new IllegalArgumentException("a job with a unique key is enqueued pending");
    }
    session.tenant(row.tenant());
    try (QueueSession.Statement st = session.prepare(sql.insertOneStarted())) {
      int i = bindRow(st.jdbc(), st.firstParameter(), row);
      st.jdbc().setString(i++, start.workerId());
      st.jdbc().setLong(i, start.leaseMillis());
      return insertedId(st);
    }
  }

  /**
   * Inserts many jobs of one tenant in request order and returns their ids in that order. Requests with the same
   * unique key share one job (the first one's). All rows must have the same tenant.
   */
  public List<JobId> batch(QueueSession session, List<EnqueueRow> rows) throws SQLException {
    if (rows.isEmpty()) {
      return List.of();
    }
    TenantId tenant = rows.get(0).tenant();
    session.tenant(tenant);
    JobId[] ids = new JobId[rows.size()];
    Map<String, Integer> firstWithKey = new HashMap<>();
    List<Integer> toSend = new ArrayList<>(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      EnqueueRow row = rows.get(i);
      if (!Objects.equals(row.tenant(), tenant)) {
        throw new IllegalArgumentException("a batch statement holds jobs of one tenant only");
      }
      String key = row.uniqueKey();
      if (key == null || firstWithKey.putIfAbsent(key, i) == null) {
        toSend.add(i);
      }
    }
    try (QueueSession.Statement insert = session.prepare(sql.insertBatch(tenant == null))) {
      for (int round = 0; !toSend.isEmpty(); round++) {
        if (round == MAX_UNIQUE_ROUNDS) {
          throw uniqueKeyUnsettled(String.valueOf(rows.get(toSend.get(0)).uniqueKey()));
        }
        List<Integer> unsettled = insertBatch(session, insert, rows, toSend, tenant, ids);
        if (!unsettled.isEmpty()) {
          unsettled = findLiveHolders(session, rows, unsettled, ids);
        }
        toSend = unsettled;
      }
    }
    for (int i = 0; i < rows.size(); i++) {
      if (ids[i] == null) {
        // not sent: it repeats the unique key of an earlier request, whose job it shares
        String key = Objects.requireNonNull(rows.get(i).uniqueKey(), "a request left unsent has a unique key");
        Integer first = Objects.requireNonNull(firstWithKey.get(key), "an unsent key has a first request");
        ids[i] = ids[first];
      }
    }
    return List.of(ids);
  }

  /** Sends the rows at {@code indexes}; fills in the ids of those inserted; returns the indexes skipped. */
  private List<Integer> insertBatch(QueueSession session, QueueSession.Statement insert, List<EnqueueRow> rows,
      List<Integer> indexes, @Nullable TenantId tenant, JobId[] ids) throws SQLException {
    int n = indexes.size();
    String[] queues = new String[n];
    String[] types = new String[n];
    String[] payloads = new String[n];
    Integer[] priorities = new Integer[n];
    String[] runAts = new String[n];
    Integer[] maxAttempts = new Integer[n];
    Long[] timeouts = new Long[n];
    String[] keys = new String[n];
    for (int j = 0; j < n; j++) {
      EnqueueRow row = rows.get(indexes.get(j));
      queues[j] = row.queue();
      types[j] = row.type();
      payloads[j] = row.payloadJson();
      priorities[j] = row.priority();
      Instant runAt = row.runAt();
      runAts[j] = runAt == null ? null : runAt.toString();
      maxAttempts[j] = row.maxAttempts();
      timeouts[j] = row.timeoutMs();
      keys[j] = row.uniqueKey();
    }
    Connection c = session.connection();
    PreparedStatement ps = insert.jdbc();
    int p = insert.firstParameter();
    ps.setString(p++, tenant == null ? null : tenant.value());
    List<Array> arrays = List.of(c.createArrayOf("text", queues), c.createArrayOf("text", types),
        c.createArrayOf("text", payloads), c.createArrayOf("int4", priorities), c.createArrayOf("text", runAts),
        c.createArrayOf("int4", maxAttempts), c.createArrayOf("int8", timeouts), c.createArrayOf("text", keys));
    for (Array array : arrays) {
      ps.setArray(p++, array);
    }
    ps.setString(p, sql.channel());
    ResultSet rs = requireRows(insert.execute());
    List<Object[]> returned = new ArrayList<>();
    while (rs.next()) {
      returned.add(new Object[] {rs.getLong(1), rs.getString(2)});
    }
    for (Array array : arrays) {
      array.free();
    }
    // identity values are drawn in insertion order, which follows ORDER BY ord: ascending ids are in request
    // order, and skipped (conflicting) rows leave no gap in this list to confuse the walk below
    returned.sort(Comparator.comparingLong(r -> (Long) r[0]));
    List<Integer> skipped = new ArrayList<>();
    int next = 0;
    for (int index : indexes) {
      String key = rows.get(index).uniqueKey();
      boolean matches = next < returned.size() && Objects.equals(returned.get(next)[1], key);
      if (matches) {
        ids[index] = JobId.of((Long) returned.get(next)[0]);
        next++;
      } else if (key == null) {
        throw new SQLException("batch insert returned rows out of request order");
      } else {
        skipped.add(index);
      }
    }
    if (next != returned.size()) {
      throw new SQLException("batch insert returned " + returned.size() + " rows but " + next + " were matched");
    }
    return skipped;
  }

  /** Fills in the ids of live jobs holding the keys of the rows at {@code indexes}; returns those not found. */
  private List<Integer> findLiveHolders(QueueSession session, List<EnqueueRow> rows, List<Integer> indexes,
      JobId[] ids) throws SQLException {
    String[] keys = new String[indexes.size()];
    for (int j = 0; j < keys.length; j++) {
      keys[j] = rows.get(indexes.get(j)).uniqueKey();
    }
    Map<String, Long> holders = new HashMap<>();
    TenantId tenant = rows.get(indexes.get(0)).tenant();
    try (QueueSession.Statement st = session.prepare(sql.liveUniqueHolders(tenant == null))) {
      int p = st.firstParameter();
      if (tenant != null) {
        st.jdbc().setString(p++, tenant.value());
      }
      Array array = session.connection().createArrayOf("text", keys);
      st.jdbc().setArray(p, array);
      ResultSet rs = requireRows(st.execute());
      while (rs.next()) {
        holders.put(rs.getString(1), rs.getLong(2));
      }
      array.free();
    }
    List<Integer> missing = new ArrayList<>();
    for (int index : indexes) {
      Long id = holders.get(rows.get(index).uniqueKey());
      if (id == null) {
        missing.add(index);
      } else {
        ids[index] = JobId.of(id);
      }
    }
    return missing;
  }

  /** Binds tenant .. timeout_ms (and not the unique key); returns the next parameter index. */
  private static int bindRow(PreparedStatement ps, int first, EnqueueRow row) throws SQLException {
    int i = first;
    TenantId tenant = row.tenant();
    ps.setString(i++, tenant == null ? null : tenant.value());
    ps.setString(i++, row.queue());
    ps.setString(i++, row.type());
    ps.setString(i++, row.payloadJson());
    ps.setInt(i++, row.priority());
    Instant runAt = row.runAt();
    if (runAt == null) {
      ps.setNull(i++, Types.TIMESTAMP_WITH_TIMEZONE);
    } else {
      ps.setObject(i++, OffsetDateTime.ofInstant(runAt, ZoneOffset.UTC));
    }
    ps.setInt(i++, row.maxAttempts());
    Long timeoutMs = row.timeoutMs();
    if (timeoutMs == null) {
      ps.setNull(i++, Types.BIGINT);
    } else {
      ps.setLong(i++, timeoutMs);
    }
    return i;
  }

  /** The id an {@code INSERT ... RETURNING id} of one row answered. */
  private static JobId insertedId(QueueSession.Statement st) throws SQLException {
    ResultSet rs = requireRows(st.execute());
    if (!rs.next()) {
      throw new SQLException("INSERT ... RETURNING returned no row");
    }
    return JobId.of(rs.getLong(1));
  }

  private static ResultSet requireRows(@Nullable ResultSet rs) throws SQLException {
    if (rs == null) {
      throw new SQLException("expected rows from the enqueue statement but got an update count");
    }
    return rs;
  }

  private static SaasException uniqueKeyUnsettled(String key) {
    return new SaasException("could not settle unique key '" + key + "' after " + MAX_UNIQUE_ROUNDS
        + " rounds: its jobs keep finishing while being enqueued, or the transaction's isolation level hides"
        + " them (enqueue with unique keys under READ COMMITTED); try again");
  }
}
