package dev.saaskit.jobs.internal;

import dev.saaskit.core.internal.SqlNames;

/** The SQL text of the operator side ({@code JobAdmin}), for one schema. Not API. */
public final class AdminSql {
  private final String jobs;
  private final String channel;

  public AdminSql(String schema) {
    this.jobs = SqlNames.quoteIdent(schema) + ".jobs";
    this.channel = Channels.wakeup(schema);
  }

  /** The wake-up channel. */
  public String channel() {
    return channel;
  }

  /**
   * A page of jobs, newest first. {@code conditions} is a SQL boolean built from fixed fragments with {@code ?}
   * parameters (never from input text); the last parameter is the limit.
   */
  public String list(String conditions) {
    return "SELECT " + QueueSql.STATUS_COLUMNS + " FROM " + jobs + " WHERE " + conditions
        + " ORDER BY id DESC LIMIT ?";
  }

  /** One job. Parameter: id. */
  public String show() {
    return "SELECT " + QueueSql.STATUS_COLUMNS + " FROM " + jobs + " WHERE id = ?";
  }

  /** One job's payload as text. Parameter: id. */
  public String payload() {
    return "SELECT payload::text FROM " + jobs + " WHERE id = ?";
  }

  /**
   * Puts a dead or cancelled job back to pending, due now, with a fresh attempt count. The last error stays for
   * reference and the lease epoch is kept (it only ever grows, so a zombie of an earlier claim stays fenced).
   * Parameters: id, channel. Returns (id, notify).
   */
  public String retry() {
    return "UPDATE " + jobs + " SET state = 'pending', run_at = now(), attempts = 0, cancel_requested = false,"
        + " lease_expires_at = NULL, worker_id = NULL, progress = NULL, progress_message = NULL, result = NULL,"
        + " started_at = NULL, finished_at = NULL"
        + " WHERE id = ? AND state IN ('dead', 'cancelled') RETURNING id, pg_notify(?, queue)";
  }

  /** The live job holding the unique key of job {@code id}. Parameter: id. */
  public String uniqueHolderOf() {
    return "SELECT h.id FROM " + jobs + " j JOIN " + jobs + " h ON h.tenant_id IS NOT DISTINCT FROM j.tenant_id"
        + " AND h.unique_key = j.unique_key AND h.state IN ('pending', 'running') WHERE j.id = ?";
  }

  /** Deletes up to n finished jobs that finished before a cutoff. Parameters: cutoff, n. */
  public String pruneBatch() {
    return "DELETE FROM " + jobs + " WHERE id IN (SELECT id FROM " + jobs
        + " WHERE state IN ('completed', 'dead', 'cancelled') AND finished_at < ?"
        + " ORDER BY finished_at LIMIT ? FOR UPDATE SKIP LOCKED)";
  }

  /** Jobs per queue and state. */
  public String counts() {
    return "SELECT queue, state, count(*) FROM " + jobs + " GROUP BY queue, state ORDER BY queue, state";
  }
}
