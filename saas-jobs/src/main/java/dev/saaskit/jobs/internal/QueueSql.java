package dev.saaskit.jobs.internal;

import dev.saaskit.core.internal.SqlNames;

/** The SQL text of the queue side (enqueue, status, cancel), for one schema. Not API. */
public final class QueueSql {
  /** The columns {@link QueueRows#status} reads, in its order. */
  public static final String STATUS_COLUMNS = "id, tenant_id, queue, type, state, priority, attempts, max_attempts,"
      + " timeout_ms, unique_key, cancel_requested, progress, progress_message, result::text, last_error,"
      + " created_at, run_at, started_at, finished_at";

  private static final String INSERT_COLUMNS =
      "(tenant_id, queue, type, payload, priority, run_at, max_attempts, timeout_ms, unique_key)";
  private static final String STARTED_INSERT_COLUMNS = "(tenant_id, queue, type, payload, priority, run_at,"
      + " max_attempts, timeout_ms, state, attempts, lease_epoch, worker_id, started_at, lease_expires_at)";
  private static final String LIVE = " unique_key IS NOT NULL AND state IN ('pending', 'running')";
  /**
   * Matches the partial unique index jobs_unique_idx (a tenant's live keys) exactly, so ON CONFLICT infers it as
   * the arbiter.
   */
  private static final String ON_TENANT_CONFLICT = " ON CONFLICT (tenant_id, unique_key)"
      + " WHERE tenant_id IS NOT NULL AND" + LIVE + " DO NOTHING";
  /** Matches jobs_system_unique_idx (the live keys of jobs of no tenant) exactly. */
  private static final String ON_SYSTEM_CONFLICT = " ON CONFLICT (unique_key)"
      + " WHERE tenant_id IS NULL AND" + LIVE + " DO NOTHING";
  /** The live holders of a tenant's keys; one parameter, the tenant. */
  private static final String LIVE_TENANT = "tenant_id = ? AND" + LIVE;
  /** The live holders of system keys; no parameter. */
  private static final String LIVE_SYSTEM = "tenant_id IS NULL AND" + LIVE;

  private final String jobs;
  private final String channel;

  public QueueSql(String schema) {
    this.jobs = SqlNames.quoteIdent(schema) + ".jobs";
    this.channel = Channels.wakeup(schema);
  }

  /** The wake-up channel. */
  public String channel() {
    return channel;
  }

  /** The schema-qualified job table. */
  public String jobs() {
    return jobs;
  }

  /**
   * One job without unique key. Parameters: tenant, queue, type, payload, priority, run_at (nullable), max
   * attempts, timeout_ms (nullable), channel. Returns (id, notify).
   */
  public String insertOne() {
    return "INSERT INTO " + jobs + " " + INSERT_COLUMNS
        + " VALUES (?, ?, ?, CAST(? AS jsonb), ?, coalesce(CAST(? AS timestamptz), now()), ?, ?, NULL)"
        + " RETURNING id, pg_notify(?, queue)";
  }

  /**
   * One job, inserted already claimed by a worker of this process that starts it once the insert commits (see
   * {@code LocalWakeups.LocalStart}): running, first attempt counted, lease epoch 1, the worker's lease. No NOTIFY:
   * nobody else needs waking. Parameters: those of {@link #insertOne()} up to timeout_ms, then the worker id and the
   * lease in milliseconds. Returns (id).
   */
  public String insertOneStarted() {
    return "INSERT INTO " + jobs + " " + STARTED_INSERT_COLUMNS
        + " VALUES (?, ?, ?, CAST(? AS jsonb), ?, coalesce(CAST(? AS timestamptz), now()), ?, ?,"
        + " 'running', 1, 1, ?, now(), now() + CAST(? AS bigint) * interval '1 millisecond')"
        + " RETURNING id";
  }

  /**
   * One job with a unique key: inserts it, or returns the id of the live job holding the key. Parameters: tenant,
   * queue, type, payload, priority, run_at, max attempts, timeout_ms, unique key, channel, then the tenant again
   * unless {@code system}, then the unique key. Returns (id, notify) or no row when the holder finished after the
   * insert saw it (run it again then).
   *
   * @param system true for a job of no tenant (tenant NULL): its key is looked up among the system jobs' keys
   */
  public String insertOneUnique(boolean system) {
    // The fallback SELECT uses the statement's snapshot: a holder committed by another transaction while the
    // INSERT waited for it is not visible to it, hence the "no row, run again" case.
    return "WITH ins AS (INSERT INTO " + jobs + " " + INSERT_COLUMNS
        + " VALUES (?, ?, ?, CAST(? AS jsonb), ?, coalesce(CAST(? AS timestamptz), now()), ?, ?, ?)"
        + onConflict(system) + " RETURNING id, queue)"
        + " SELECT id, pg_notify(?, queue) FROM ins"
        + " UNION ALL SELECT id, NULL::void FROM " + jobs + " WHERE " + live(system) + " AND unique_key = ?"
        + " AND NOT EXISTS (SELECT 1 FROM ins)";
  }

  /**
   * Many jobs of one tenant in request order (ids ascend with the order). Parameters: tenant, then arrays queue
   * text[], type text[], payload text[], priority int[], run_at text[] (ISO-8601 or null), max_attempts int[],
   * timeout_ms bigint[], unique_key text[], then channel. Returns (id, unique_key, notify) for inserted rows;
   * rows whose unique key is held by a live job are skipped.
   *
   * @param system true for jobs of no tenant (the tenant parameter is NULL)
   */
  public String insertBatch(boolean system) {
    return "INSERT INTO " + jobs + " " + INSERT_COLUMNS
        + " SELECT ?, t.queue, t.type, CAST(t.payload AS jsonb), t.priority,"
        + " coalesce(CAST(t.run_at AS timestamptz), now()), t.max_attempts, t.timeout_ms, t.unique_key"
        + " FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS int[]),"
        + " CAST(? AS text[]), CAST(? AS int[]), CAST(? AS bigint[]), CAST(? AS text[])) WITH ORDINALITY"
        + " AS t(queue, type, payload, priority, run_at, max_attempts, timeout_ms, unique_key, ord)"
        + " ORDER BY t.ord" + onConflict(system)
        + " RETURNING id, unique_key, pg_notify(?, queue)";
  }

  /**
   * The live holders of unique keys. Parameters: the tenant unless {@code system}, then keys text[]. Returns
   * (unique_key, id).
   */
  public String liveUniqueHolders(boolean system) {
    return "SELECT unique_key, id FROM " + jobs + " WHERE " + live(system)
        + " AND unique_key = ANY(CAST(? AS text[]))";
  }

  private static String onConflict(boolean system) {
    return system ? ON_SYSTEM_CONFLICT : ON_TENANT_CONFLICT;
  }

  private static String live(boolean system) {
    return system ? LIVE_SYSTEM : LIVE_TENANT;
  }

  /** One job's status by id (RLS decides visibility). Parameter: id. */
  public String status() {
    return "SELECT " + STATUS_COLUMNS + " FROM " + jobs + " WHERE id = ?";
  }

  /**
   * Cancels a pending job (it becomes cancelled) or asks a running one to stop. Parameter: id. Returns the new
   * state, or no row if the job is unknown, invisible or finished.
   */
  public String cancel() {
    return "UPDATE " + jobs + " SET cancel_requested = true,"
        + " finished_at = CASE WHEN state = 'pending' THEN now() ELSE finished_at END,"
        + " state = CASE WHEN state = 'pending' THEN 'cancelled' ELSE state END"
        + " WHERE id = ? AND state IN ('pending', 'running') RETURNING state";
  }
}
