package dev.saaskit.cache.postgres.internal;

/** The SQL of one cache schema. */
public final class PgStatements {
  /** The largest {@code xid8}: an upper bound that selects every row, for the planner's sake (see fresh). */
  static final String MAX_XID8 = "18446744073709551615";

  public final String insert;
  public final String insertOne;
  public final String insertMany;
  public final String insertOneAndCommit;
  public final String insertManyAndCommit;
  public final String head;
  public final String poll;
  public final String pollNoListenCheck;
  public final String recordHorizon;
  public final String horizonBound;
  public final String trimHorizons;
  public final String lockPruneState;
  public final String deleteBelowTx;
  public final String deleteUpToSeq;
  public final String seqBeyondNewest;

  public PgStatements(String schema) {
    String s = PgSql.ident(schema);
    String log = s + ".invalidation_log";
    insert = "INSERT INTO " + log + " (scope, cache_name, tenant, value) VALUES (?, ?, ?, ?) RETURNING tx::text";
    insertOne = "INSERT INTO " + log + " (scope, cache_name, tenant, value) VALUES (?, ?, ?, ?)";
    // unnest keeps the order of the arrays, so seq follows the order of the caller's list
    insertMany = "INSERT INTO " + log + " (scope, cache_name, tenant, value)"
        + " SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[])";
    // One message batch, one round trip: if the insert fails, the server skips the COMMIT (extended protocol) or
    // turns it into a rollback (simple protocol), so the transaction never commits without its invalidations.
    insertOneAndCommit = insertOne + "; COMMIT";
    insertManyAndCommit = insertMany + "; COMMIT";
    head = "SELECT pg_current_snapshot()::text, (SELECT last_pruned_tx::text FROM " + s + ".prune_state),"
        + " pg_postmaster_start_time()::text, (SELECT max(version) FROM " + s + "." + PgMigrator.HISTORY_TABLE + ")";
    // One statement, so the snapshot it reports is the one its scans used: the new rows are those of transactions
    // the previous snapshot did not see committed, found through the tx index by two disjoint conditions.
    // The upper bound (the largest xid8) selects nothing more, but it makes the planner see a range: without
    // column statistics (a new log, or rows written faster than autovacuum analyzes) "tx >= ?" alone is estimated
    // at a third of the table, and the poll of every node turns into a sequential scan of the log under load
    // (PollPlanTest); a range is estimated small and read through the index.
    String fresh = "SELECT seq, scope, cache_name, tenant, value FROM " + log + " WHERE tx >= ?::xid8"
        + " AND tx <= '" + MAX_XID8 + "'::xid8"
        + " UNION ALL SELECT seq, scope, cache_name, tenant, value FROM " + log + " WHERE tx = ANY (?::xid8[])";
    String headColumns = "pg_current_snapshot()::text AS snap,"
        + " (SELECT last_pruned_tx::text FROM " + s + ".prune_state) AS last_pruned,"
        + " pg_postmaster_start_time()::text AS started, pg_backend_pid() AS pid";
    poll = "WITH head AS (SELECT " + headColumns + ","
        + " EXISTS (SELECT 1 FROM pg_listening_channels() ch WHERE ch = ?) AS listening),"
        + " fresh AS (" + fresh + ")"
        + " SELECT head.snap, head.last_pruned, head.started, head.pid, head.listening,"
        + " fresh.seq, fresh.scope, fresh.cache_name, fresh.tenant, fresh.value"
        + " FROM head LEFT JOIN fresh ON true ORDER BY fresh.seq";
    pollNoListenCheck = "WITH head AS (SELECT " + headColumns + ", true AS listening),"
        + " fresh AS (" + fresh + ")"
        + " SELECT head.snap, head.last_pruned, head.started, head.pid, head.listening,"
        + " fresh.seq, fresh.scope, fresh.cache_name, fresh.tenant, fresh.value"
        + " FROM head LEFT JOIN fresh ON true ORDER BY fresh.seq";
    // At most one horizon per second, whichever node prunes.
    recordHorizon = "INSERT INTO " + s + ".prune_horizon (recorded_at, horizon)"
        + " SELECT statement_timestamp(), pg_snapshot_xmin(pg_current_snapshot())"
        + " WHERE NOT EXISTS (SELECT 1 FROM " + s + ".prune_horizon"
        + " WHERE recorded_at > statement_timestamp() - interval '1 second')";
    horizonBound = "SELECT CASE WHEN ? = 0 THEN pg_snapshot_xmin(pg_current_snapshot())::text"
        + " ELSE (SELECT horizon::text FROM " + s + ".prune_horizon"
        + " WHERE recorded_at <= statement_timestamp() - ? * interval '1 millisecond'"
        + " ORDER BY recorded_at DESC LIMIT 1) END";
    trimHorizons = "DELETE FROM " + s + ".prune_horizon WHERE recorded_at < (SELECT recorded_at FROM " + s
        + ".prune_horizon WHERE recorded_at <= statement_timestamp() - ? * interval '1 millisecond'"
        + " ORDER BY recorded_at DESC LIMIT 1)";
    lockPruneState = "SELECT 1 FROM " + s + ".prune_state FOR UPDATE SKIP LOCKED";
    String record = " UPDATE " + s + ".prune_state SET"
        + " last_pruned_tx = greatest(last_pruned_tx, (SELECT tx FROM d ORDER BY tx DESC LIMIT 1)),"
        + " pruned_rows = pruned_rows + (SELECT count(*) FROM d),"
        + " pruned_at = CASE WHEN EXISTS (SELECT 1 FROM d) THEN statement_timestamp() ELSE pruned_at END"
        + " RETURNING (SELECT count(*) FROM d)";
    deleteBelowTx = "WITH d AS (DELETE FROM " + log + " WHERE seq IN (SELECT seq FROM " + log
        + " WHERE tx < ?::xid8 ORDER BY seq LIMIT ?) RETURNING tx)" + record;
    deleteUpToSeq = "WITH d AS (DELETE FROM " + log + " WHERE seq IN (SELECT seq FROM " + log
        + " WHERE seq <= ? ORDER BY seq LIMIT ?) RETURNING tx)" + record;
    seqBeyondNewest = "SELECT seq FROM " + log + " ORDER BY seq DESC OFFSET ? LIMIT 1";
  }
}
