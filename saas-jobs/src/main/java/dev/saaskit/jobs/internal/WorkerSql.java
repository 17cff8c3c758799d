package dev.saaskit.jobs.internal;

import dev.saaskit.core.internal.SqlNames;
import java.sql.SQLException;

/**
 * Every statement the worker runs, for one schema. The claim query is explained in docs/jobs-workers.md; the
 * short version is in the comments below.
 */
final class WorkerSql {
  /**
   * A claim adds 1 to {@code attempts} (integer) and {@code lease_epoch} (bigint). A row written by hand with either
   * at its type's maximum made that addition fail, and with it the whole claim statement, on every poll of every
   * worker: no tenant's job in the queue ran again. Such a row is left pending (visible in the queue's depth and to
   * operators) and the claim takes the others.
   */
  private static final String COUNTERS_BELOW_MAX = "j.attempts < 2147483647 AND j.lease_epoch < 9223372036854775807";

  /**
   * How long the plain heartbeat and outcome statements wait for a row lock before they fail (SQLState 55P03) and
   * the worker sends their SKIP LOCKED variant instead. Long enough for the short transactions that touch a running
   * job's row (JobQueue.cancel, an admin action: milliseconds), short against the tick and the lease (the writer
   * and the heartbeat share a lock, so this is also the longest the other waits on a locked row).
   */
  static final long LOCK_TIMEOUT_MILLIS = 250;

  /**
   * Added to the WHERE of each UPDATE of a plain statement: sets lock_timeout for the statement's transaction. An
   * uncorrelated subquery is an InitPlan, evaluated once, before the UPDATE sees its first row and so before it
   * can wait on a row lock. It lives in the statement itself, not in a "SELECT set_config(...);" sent ahead: with
   * preferQueryMode=simple pgjdbc sends each statement of such a string as its own Query message, hence its own
   * transaction in auto-commit, and the setting would be gone by the UPDATE. Transaction-local (is_local = true):
   * it ends with the statement's implicit transaction, so the pooled session (or a PgBouncer server connection in
   * transaction mode) keeps its own lock_timeout.
   */
  private static final String LOCK_TIMEOUT_GUARD = " AND (SELECT set_config('lock_timeout', '"
      + LOCK_TIMEOUT_MILLIS + "ms', true)) IS NOT NULL";

  final WorkerStatement claim;
  final WorkerStatement claimCapped;
  final WorkerStatement claimByIds;
  final String heartbeat;
  final String heartbeatSkipLocked;
  final String write;
  final String writeSkipLocked;
  final String rescue;
  final String giveBack;
  final String sessionBusy;
  final String depth;
  final String cancelled;
  final String probe;
  final String listen;
  final String channel;

  /**
   * Whether a plain heartbeat or outcome statement failed because a row lock was not granted within
   * {@link #LOCK_TIMEOUT_MILLIS} (lock_not_available). It wrote nothing: the worker sends the SKIP LOCKED variant.
   */
  static boolean lockNotGranted(SQLException e) {
    return "55P03".equals(e.getSQLState());
  }

  WorkerSql(String schema) {
    String jobs = SqlNames.quoteIdent(schema) + ".jobs";
    this.channel = Channels.wakeup(schema);
    this.listen = Channels.listenSql(schema);
    this.claim = WorkerStatement.of(claimSql(jobs, false));
    this.claimCapped = WorkerStatement.of(claimSql(jobs, true));
    this.claimByIds = WorkerStatement.of(claimByIdsSql(jobs));
    // reads the table (fails if it is missing or not granted at all) and tells whether the role may update it as
    // a whole: grantWorker's grant. The application's role (grantApp) may update three columns only, and its claims
    // would fail on every poll, so a worker built on it is refused at start.
    // It names the columns later schema versions added (unstarted_epoch: 4, claim_token: 6), so a worker on a schema
    // not migrated yet fails at start with "column ... does not exist" and what to do, not on every claim.
    this.probe = "SELECT (SELECT count(*) FROM (SELECT unstarted_epoch, claim_token FROM " + jobs
        + " LIMIT 1) AS one),"
        + " has_table_privilege('" + jobs.replace("'", "''") + "', 'UPDATE')";

    // One round trip for every in-flight job: extends the leases that are due (extend = true; the others keep
    // their lease_expires_at unchanged so a progress-only write stays a HOT update) and writes progress. Rows whose
    // epoch moved on (rescued, re-claimed) do not match, so their absence from the answer means the lease is lost.
    // Two variants, with the same answer (id, cancel_requested, written):
    // - heartbeat, the plain one the worker sends as a rule: a plain UPDATE, which waits at most
    //   LOCK_TIMEOUT_MILLIS for a row lock and then fails whole (55P03; one statement in its own transaction: it
    //   wrote nothing). Answers written = true for every row it updated.
    // - heartbeatSkipLocked, sent after the plain one failed on a lock, and while the latest heartbeat skipped
    //   rows: rows someone else holds locked (the application's role may lock its tenant's rows: SELECT ... FOR
    //   UPDATE in a long transaction, a transaction around JobQueue.cancel) are skipped rather than waited for (SKIP
    //   LOCKED in held): one such row made the whole statement, and so every other job's heartbeat, wait for that
    //   transaction, and their leases could expire. A skipped row is answered with written = false (it is ours by
    //   the statement's snapshot, which may be older than a rescue: the next heartbeat tells), and the worker tries
    //   it again next tick. The look for skipped rows filters the input first (u.id, not j.id), so it reads no row
    //   when none was skipped. The pre-pass costs the common case (a drain about 15% slower), hence the plain one.
    this.heartbeat = "UPDATE " + jobs + " AS j SET"
        + " lease_expires_at = CASE WHEN u.extend THEN now() + u.lease_ms * interval '1 millisecond'"
        + " ELSE j.lease_expires_at END,"
        + " progress = coalesce(u.progress, j.progress),"
        + " progress_message = CASE WHEN u.progress IS NULL THEN j.progress_message ELSE u.message END"
        + " FROM unnest(?::bigint[], ?::bigint[], ?::boolean[], ?::bigint[], ?::real[], ?::text[])"
        + " AS u(id, epoch, extend, lease_ms, progress, message)"
        + " WHERE j.id = u.id AND j.lease_epoch = u.epoch AND j.state = 'running'" + LOCK_TIMEOUT_GUARD
        + " RETURNING j.id, j.cancel_requested, true";
    String beatRows = " FROM " + jobs + " AS j JOIN u ON j.id = u.id AND j.lease_epoch = u.epoch"
        + " WHERE j.state = 'running'";
    this.heartbeatSkipLocked = "WITH u AS (SELECT * FROM"
        + " unnest(?::bigint[], ?::bigint[], ?::boolean[], ?::bigint[], ?::real[], ?::text[])"
        + " AS x(id, epoch, extend, lease_ms, progress, message)),"
        + " held AS MATERIALIZED (SELECT j.id" + beatRows + " FOR UPDATE OF j SKIP LOCKED),"
        + " beat AS (UPDATE " + jobs + " AS j SET"
        + " lease_expires_at = CASE WHEN u.extend THEN now() + u.lease_ms * interval '1 millisecond'"
        + " ELSE j.lease_expires_at END,"
        + " progress = coalesce(u.progress, j.progress),"
        + " progress_message = CASE WHEN u.progress IS NULL THEN j.progress_message ELSE u.message END"
        + " FROM u JOIN held AS h ON h.id = u.id"
        + " WHERE j.id = u.id AND j.lease_epoch = u.epoch AND j.state = 'running'"
        + " RETURNING j.id, j.cancel_requested)"
        + " SELECT id, cancel_requested, true FROM beat"
        + " UNION ALL SELECT j.id, j.cancel_requested, false" + beatRows
        + " AND u.id NOT IN (SELECT id FROM held)";

    // The outcome writer's statement, two updates of disjoint rows in one round trip:
    // - started: records that held jobs (claimed while no handler thread was free) are about to start: their
    //   attempt counts from here on. Parameters: ids, epochs. Only the claim's epoch matches, so a job rescued or
    //   re-claimed meanwhile is not marked (its absence from the answer means: do not run it). A row already marked
    //   (the statement is retried after an unknown commit) matches again without counting twice.
    // - finished: outcomes of many jobs, fenced by the lease epoch: a worker that lost its lease (and so its
    //   epoch) updates nothing. uncount = 1 (a job released at shutdown) takes back the attempt if it was counted,
    //   that is unless the job never started (unstarted_epoch = lease_epoch). A job whose cancel was requested after
    //   its outcome was decided (the worker had not seen it yet) ends cancelled instead of going back to pending (a
    //   retry, or a release): JobQueue.cancel told its caller the job would not run again, and rescue does the same.
    //   It ends cancelled instead of completed too, without the result: cancel wins over success, as when the
    //   worker had seen the request, so a caller whose cancel was acknowledged never sees "completed".
    // - already: the outcomes that match no running row but that the row shows already, written by an earlier try
    //   of this very statement whose commit was not confirmed (the connection died during COMMIT): the epoch is
    //   still the attempt's (nobody claimed the job since), the state is the one finished would have set, and the
    //   row holds what only this attempt's write leaves there: a completion (rescue never completes a job), or this
    //   attempt's error text (rescue writes its own "lease expired" text). Anything else stays a rejection.
    //   A plain read of the statement's snapshot: it sees no row that finished updates in the same statement.
    // Two variants, with the same answers:
    // - write, the plain one the worker sends as a rule: plain UPDATEs, which wait at most LOCK_TIMEOUT_MILLIS for
    //   a row lock and then fail whole (55P03; one statement in its own transaction: nothing of it is written).
    // - writeSkipLocked, sent after the plain one failed on a lock, and while rows it skipped wait to be written
    //   again: a row someone else holds locked (the application's role may lock its tenant's rows, in a long
    //   transaction) is skipped (SKIP LOCKED in s_held and u_held) rather than waited for: one such row held up
    //   every outcome and start of the worker, and the heartbeats behind them (they share a lock), so other jobs'
    //   leases could expire. A skipped row is still the attempt's by the statement's snapshot: it is answered as
    //   such and written by a later statement (or rejected by the fence then, if it was rescued meanwhile). Its
    //   pre-passes cost the common case (a drain about 15% slower), hence the plain one.
    // Answers ('s', id, NULL) per job marked started, ('f', id, state) per outcome applied, with the state the row
    // ended in (it differs from the outcome's when a late cancel won; the worker counts what happened),
    // ('a', id, state) per outcome found written already, and (writeSkipLocked only) ('k', id, NULL) per start and
    // ('l', id, NULL) per outcome skipped because its row was locked.
    String startRows = " FROM " + jobs + " AS j JOIN s ON j.id = s.id AND j.lease_epoch = s.epoch"
        + " WHERE j.state = 'running' AND (j.unstarted_epoch = s.epoch OR j.unstarted_epoch IS NULL)";
    String outcomeRows = " FROM " + jobs + " AS j JOIN u ON j.id = u.id AND j.lease_epoch = u.epoch"
        + " WHERE j.state = 'running'";
    String s = "s AS (SELECT * FROM unnest(?::bigint[], ?::bigint[]) AS x(id, epoch))";
    String startSet = " UPDATE " + jobs + " AS j SET"
        + " attempts = j.attempts + CASE WHEN j.unstarted_epoch = s.epoch THEN 1 ELSE 0 END,"
        + " unstarted_epoch = NULL";
    String startWhere = " WHERE j.id = s.id AND j.lease_epoch = s.epoch AND j.state = 'running'"
        + " AND (j.unstarted_epoch = s.epoch OR j.unstarted_epoch IS NULL)";
    String u = " u AS (SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::int[], ?::bigint[], ?::text[],"
        + " ?::text[], ?::real[], ?::text[])"
        + " AS x(id, epoch, state, uncount, run_at_us, result, error, progress, message))";
    String finishSet = " UPDATE " + jobs + " AS j SET"
        + " state = CASE WHEN u.state IN ('pending', 'completed') AND j.cancel_requested THEN 'cancelled'"
        + " ELSE u.state END,"
        + " attempts = j.attempts"
        + " - CASE WHEN u.uncount = 1 AND j.unstarted_epoch IS DISTINCT FROM j.lease_epoch THEN 1 ELSE 0 END,"
        + " run_at = coalesce(timestamptz 'epoch' + u.run_at_us * interval '1 microsecond', j.run_at),"
        + " result = CASE WHEN u.state = 'completed' AND NOT j.cancel_requested THEN u.result::jsonb"
        + " ELSE j.result END,"
        + " last_error = coalesce(u.error, j.last_error),"
        + " progress = CASE WHEN u.state = 'completed' AND NOT j.cancel_requested THEN 1"
        + " ELSE coalesce(u.progress, j.progress) END,"
        + " progress_message = coalesce(u.message, j.progress_message),"
        + " finished_at = CASE WHEN u.state IN ('completed', 'dead', 'cancelled') OR j.cancel_requested THEN now()"
        + " END,"
        + " lease_expires_at = NULL,"
        + " worker_id = CASE WHEN u.state = 'pending' THEN NULL ELSE j.worker_id END";
    String finishWhere = " WHERE j.id = u.id AND j.lease_epoch = u.epoch AND j.state = 'running'";
    String alreadyAndAnswers = " already AS ("
        + " SELECT j.id, j.state FROM " + jobs + " AS j JOIN u ON j.id = u.id AND j.lease_epoch = u.epoch"
        + " WHERE j.state = CASE WHEN u.state IN ('pending', 'completed') AND j.cancel_requested THEN 'cancelled'"
        + " ELSE u.state END"
        + " AND (j.state = 'completed' OR (u.error IS NOT NULL AND j.last_error = u.error)))"
        + " SELECT 's', id, NULL::text FROM started UNION ALL SELECT 'f', id, state FROM finished"
        + " UNION ALL SELECT 'a', id, state FROM already";
    this.write = "WITH " + s + ","
        + " started AS (" + startSet + " FROM s" + startWhere + LOCK_TIMEOUT_GUARD + " RETURNING j.id),"
        + u + ","
        + " finished AS (" + finishSet + " FROM u" + finishWhere + LOCK_TIMEOUT_GUARD + " RETURNING j.id, j.state),"
        + alreadyAndAnswers;
    this.writeSkipLocked = "WITH " + s + ","
        + " s_held AS MATERIALIZED (SELECT j.id" + startRows + " FOR UPDATE OF j SKIP LOCKED),"
        + " started AS (" + startSet + " FROM s JOIN s_held AS h ON h.id = s.id" + startWhere + " RETURNING j.id),"
        + u + ","
        + " u_held AS MATERIALIZED (SELECT j.id" + outcomeRows + " FOR UPDATE OF j SKIP LOCKED),"
        + " finished AS (" + finishSet + " FROM u JOIN u_held AS h ON h.id = u.id" + finishWhere
        + " RETURNING j.id, j.state),"
        + alreadyAndAnswers
        + " UNION ALL SELECT 'k', j.id, NULL" + startRows + " AND s.id NOT IN (SELECT id FROM s_held)"
        + " UNION ALL SELECT 'l', j.id, NULL" + outcomeRows + " AND u.id NOT IN (SELECT id FROM u_held)";

    // Jobs whose lease ran out on the database clock go back to pending (or dead when their attempts are used up,
    // or cancelled when a cancel was requested). A job the dead worker held but never started (unstarted_epoch =
    // lease_epoch) used no attempt: it goes back to pending whatever its count. Whether the worker died before or
    // after recording a start, the row is right: the start is recorded before the handler runs, so a handler that
    // may have run always counts. SKIP LOCKED: rescuers never wait for each other or for a worker that is
    // finishing the job right now; that worker's fenced update then wins or loses cleanly.
    String started = "j.unstarted_epoch IS DISTINCT FROM j.lease_epoch";
    String worker = "coalesce(e.worker_id, 'unknown')";
    this.rescue = "WITH expired AS ("
        + " SELECT id, worker_id FROM " + jobs
        + " WHERE state = 'running' AND lease_expires_at < now()"
        + " ORDER BY lease_expires_at LIMIT ? FOR UPDATE SKIP LOCKED)"
        + " UPDATE " + jobs + " AS j SET"
        + " state = CASE WHEN j.cancel_requested THEN 'cancelled'"
        + " WHEN " + started + " AND j.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END,"
        + " finished_at = CASE WHEN j.cancel_requested OR (" + started + " AND j.attempts >= j.max_attempts)"
        + " THEN now() END,"
        + " lease_expires_at = NULL,"
        + " worker_id = NULL,"
        + " last_error = CASE WHEN " + started
        + " THEN 'lease expired (worker ' || " + worker + " || ' presumed dead) during attempt ' || j.attempts"
        + " ELSE 'lease expired (worker ' || " + worker + " || ' presumed dead) before attempt ' || (j.attempts + 1)"
        + " || ' started; it was not counted' END"
        + " FROM expired AS e WHERE j.id = e.id"
        + " RETURNING j.id, j.queue, j.type, j.state, e.worker_id, " + started;

    // A claim whose answer was lost (the connection died after it committed, or maybe before: the worker cannot
    // tell) is given back: the rows still running with its token and this worker's id go back to pending, the
    // attempt the claim counted taken back (it never ran: the worker never saw the job), lease and worker cleared,
    // run_at unchanged (the job keeps its place in its tenant's order), lease_epoch left bumped (epochs only grow).
    // Every claim writes its own token and rescue moves a row out of 'running', so a row rescued or claimed again
    // meanwhile does not match. A cancel requested meanwhile wins, as in rescue. SKIP LOCKED: a row someone else
    // holds locked (the application's role may lock its tenant's rows) is not waited for; the answer says how many
    // matching rows were left, and the worker tries again. Parameters: token, worker id, token, worker id.
    // Answers (given back, left locked); the second count reads the statement's snapshot, which still shows the
    // given-back rows as running, so left = matching - given back.
    String mine = " state = 'running' AND claim_token = ? AND worker_id = ?";
    this.giveBack = "WITH mine AS (SELECT id FROM " + jobs + " WHERE" + mine + " FOR UPDATE SKIP LOCKED),"
        + " back AS (UPDATE " + jobs + " AS j SET"
        + " state = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'pending' END,"
        + " attempts = j.attempts - CASE WHEN " + started + " THEN 1 ELSE 0 END,"
        + " finished_at = CASE WHEN j.cancel_requested THEN now() END,"
        + " lease_expires_at = NULL, worker_id = NULL, claim_token = NULL"
        + " FROM mine WHERE j.id = mine.id RETURNING j.id)"
        + " SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM " + jobs + " WHERE" + mine + ")"
        + " - (SELECT count(*) FROM back)";

    // whether the session of a claim whose answer was lost still runs a statement (or a transaction): its claim may
    // still commit. A role sees the state of its own sessions; the pid comes from the driver, which through PgBouncer
    // reports one of PgBouncer's own making, so a pid that is not a session of this role (or is this one) is none.
    this.sessionBusy = "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ? AND pid <> pg_backend_pid()"
        + " AND usename = current_user AND state IS DISTINCT FROM 'idle')";

    // between heartbeats: a read-only look for cancel requests, so a cancel reaches a running job within a tick
    this.cancelled = "SELECT id FROM " + jobs + " WHERE id = ANY (?) AND cancel_requested AND state = 'running'";

    this.depth = "SELECT queue, count(*), coalesce(extract(epoch FROM now() - min(run_at)), 0)"
        + " FROM " + jobs + " WHERE state = 'pending' AND queue = ANY (?) AND run_at <= now() GROUP BY queue";
  }

  /**
   * The row changes of a claim, shared by the fair claim and the claim by id so both start, lease and fence a job
   * the same way: {@code picked} (id, pos) and {@code handled} (type, lease_ms) come from the caller's CTEs, and the
   * RETURNING list ends with the caller's own ordering columns.
   */
  private static String claimUpdate(String jobs) {
    return "  UPDATE " + jobs + " AS j SET state = 'running',"
        + "   attempts = j.attempts + CASE WHEN l.pos <= {start} THEN 1 ELSE 0 END,"
        + "   unstarted_epoch = CASE WHEN l.pos <= {start} THEN NULL ELSE j.lease_epoch + 1 END,"
        + "   lease_epoch = j.lease_epoch + 1, lease_expires_at = now() + h.lease_ms * interval '1 millisecond',"
        + "   worker_id = {worker}, started_at = now(), finished_at = NULL, progress = NULL, progress_message = NULL,"
        + "   claim_token = {token}"
        + "  FROM picked AS l, handled AS h"
        + "  WHERE j.id = l.id AND h.type = j.type"
        + "  RETURNING j.id, j.tenant_id, j.type, j.payload, j.attempts, j.max_attempts, j.lease_epoch,"
        + "   j.timeout_ms, j.cancel_requested, h.lease_ms, ";
  }

  /**
   * The claim of jobs this process has just enqueued, by id, for an idle worker without a backlog (see
   * {@code WorkerEngine#claimHinted}): the same row changes and answer as the fair claim, from primary-key lookups
   * instead of the walk over the tenants. A job no longer pending (taken by another worker, a unique-key hit that
   * named a running job), not due, of a type this worker lacks, or locked by another claim right now is left out.
   */
  private static String claimByIdsSql(String jobs) {
    return "WITH handled(type, lease_ms) AS (SELECT * FROM unnest({types}::text[], {leases}::bigint[])),"
        + " locked AS (SELECT j.id, j.priority, j.run_at FROM " + jobs + " AS j"
        + "  WHERE j.id = ANY ({ids}::bigint[]) AND j.state = 'pending' AND j.queue = {queue}"
        + "  AND j.run_at <= greatest(now(), {clock_now}) AND j.type = ANY ({types}) AND " + COUNTERS_BELOW_MAX
        + "  FOR UPDATE OF j SKIP LOCKED),"
        + " picked AS (SELECT id, row_number() OVER (ORDER BY priority, run_at, id) AS pos FROM locked),"
        + " claimed AS ("
        + claimUpdate(jobs) + "l.pos, j.unstarted_epoch IS NULL AS started)"
        + " SELECT true AS is_job, id, tenant_id, type, payload::text, attempts, max_attempts, lease_epoch,"
        + "  timeout_ms, cancel_requested, lease_ms, pos, pos, started FROM claimed";
  }

  /**
   * The fair claim. Steps, all in one statement:
   *
   * <ol>
   *   <li>walk: a loose index scan over the claim index finds the tenants with pending jobs in the queue, one index
   *       probe per tenant, starting after the worker's cursor and wrapping around, system jobs (tenant NULL)
   *       taking the turn between the last and the first tenant; at most {window} tenants; each probe also returns
   *       the key (priority, run_at, id) of the tenant's first pending job;
   *   <li>per tenant, from that key on, its first k due jobs of the handled types in (priority, run_at, id) order
   *       that it can lock with SKIP LOCKED (rows another worker is claiming are left to it, rows claimed since the
   *       snapshot fail the re-check of their state), numbered by rank (k shrinks as the window grows, so the
   *       candidate set stays about twice the request);
   *   <li>with a tenant cap: drop the ranks that would take a tenant's running count past the cap;
   *   <li>round robin: order the candidates by (rank, walk position) and keep {request};
   *   <li>mark those rows running with a new lease epoch and a lease on the database clock; the first {start} of
   *       them in that order go straight to idle handler threads, so their attempt counts now; the others wait in
   *       the worker's prefetch and get unstarted_epoch instead (their start is recorded later, before they run);
   *       the candidates not kept are unlocked when the statement commits.
   * </ol>
   * The last output row is not a job: it carries the last tenant of the walk and the window's size, so the worker
   * can move its cursor past a window that had nothing to run.
   */
  private static String claimSql(String jobs, boolean capped) {
    String pending = "j.state = 'pending' AND j.queue = {queue}";
    // One probe of the walk: the first pending row after (queue, tenant) in claim index order. Plain column
    // conditions (queue = q, then a range on tenant_id) position the B-tree scan right at (queue, tenant) and are
    // "required" keys: the first entry past the range ends the scan, and so does a leaf page whose high key lies past
    // it, even when the entries in between are dead ones it skips without looking at them. A row comparison
    // (queue, tenant_id) > (q, t) does not stop the scan on its second column: a probe with nothing to find read on
    // to the end of the queue. And only the claim index (queue, tenant_id, priority, run_at, id) can serve it:
    // through the tenant index (tenant_id, created_at) a probe would read every finished job of the tenants it
    // passes.
    String claimOrder = "j.queue, j.tenant_id, j.priority, j.run_at, j.id";
    String nextTenant = "(SELECT j.tenant_id, j.priority, j.run_at, j.id FROM " + jobs + " AS j"
        + " WHERE j.state = 'pending' AND j.queue = {queue} AND j.tenant_id > %s%s ORDER BY " + claimOrder
        + " LIMIT 1) AS n";
    // {before} is the cursor, or NULL when the walk starts at the first tenant: then there is nothing before it, and
    // the planner drops that probe instead of planning an empty range (for which PostgreSQL 15 picked the tenant
    // index and a sort)
    String upToCursor = " AND j.tenant_id <= {before}";
    String due = "j.run_at <= greatest(now(), {clock_now}) AND j.type = ANY ({types}) AND " + COUNTERS_BELOW_MAX;
    // tenant_id leads the order (constant within one tenant) so that for system jobs, found with tenant_id IS NULL,
    // the planner still reads them in index order instead of sorting all of them
    String tenantOrder = "j.tenant_id, j.priority, j.run_at, j.id";
    // Each tenant's scan locks what it takes (SKIP LOCKED under the LIMIT): rows another worker is claiming right
    // now are stepped over and the scan reads on, and a row another worker claimed since this statement's snapshot
    // fails the re-check of its state on the latest version and is stepped over too. Choosing the candidates from
    // the snapshot and locking only afterwards made every concurrent claimer pick the same heads of the same
    // tenants, so all but one came back empty while thousands of jobs waited.
    String firstJobs = " SELECT s.id, row_number() OVER (ORDER BY s.priority, s.run_at, s.id) AS rn FROM ("
        + " SELECT j.id, j.priority, j.run_at FROM " + jobs + " AS j WHERE " + pending + " AND %s AND " + due
        + " ORDER BY " + tenantOrder + " LIMIT (SELECT k FROM per_tenant) FOR UPDATE OF j SKIP LOCKED) AS s";
    // The walk's probe already stepped over the entries of jobs claimed since the last VACUUM (still in the claim
    // index until then) to reach the tenant's first pending job; its key is where the tenant's own scan starts, so a
    // claim reads those dead entries once instead of twice. Same snapshot, so nothing pending lies before it.
    String fromFirstPending = "j.tenant_id = t.tenant_id AND (j.priority, j.run_at, j.id) >= (t.priority, t.run_at,"
        + " t.id)";
    String walkColumns = "tenant_id, depth, priority, run_at, id";
    return "WITH RECURSIVE"
        + " handled(type, lease_ms) AS (SELECT * FROM unnest({types}::text[], {leases}::bigint[])),"
        + " walk_after(" + walkColumns + ") AS ("
        + "  (SELECT n.tenant_id, 1, n.priority, n.run_at, n.id FROM " + String.format(nextTenant, "{cursor}", "")
        + ")"
        + "  UNION ALL"
        + "  SELECT n.tenant_id, w.depth + 1, n.priority, n.run_at, n.id FROM walk_after AS w CROSS JOIN LATERAL "
        + String.format(nextTenant, "w.tenant_id", "") + " WHERE w.depth < {window}),"
        + " walk_before(" + walkColumns + ") AS ("
        + "  (SELECT n.tenant_id, 1, n.priority, n.run_at, n.id FROM " + String.format(nextTenant, "''", upToCursor)
        + "   WHERE (SELECT count(*) FROM walk_after) < {window})"
        + "  UNION ALL"
        + "  SELECT n.tenant_id, w.depth + 1, n.priority, n.run_at, n.id FROM walk_before AS w CROSS JOIN LATERAL "
        + String.format(nextTenant, "w.tenant_id", upToCursor) + " WHERE w.depth < {window}),"
        + " turns(tenant_id, ord, priority, run_at, id) AS MATERIALIZED ("
        + "  SELECT tenant_id, ord, priority, run_at, id FROM ("
        + "   SELECT tenant_id, depth AS ord, priority, run_at, id FROM walk_after"
        + "   UNION ALL"
        + "   SELECT NULL, {window} + 1, NULL, NULL, NULL WHERE EXISTS (SELECT 1 FROM " + jobs + " AS j WHERE "
        + pending + " AND j.tenant_id IS NULL)"
        + "   UNION ALL"
        + "   SELECT tenant_id, {window} + 1 + depth, priority, run_at, id FROM walk_before"
        + "  ) AS t ORDER BY ord LIMIT {window}),"
        + " per_tenant(k) AS MATERIALIZED ("
        + "  SELECT least({request}, greatest(1, ceil(2.0 * {request} / greatest(count(*), 1))))::int FROM turns),"
        + (capped
            ? " busy(tenant_id, n) AS (SELECT j.tenant_id, count(*) FROM " + jobs + " AS j"
                + "  WHERE j.state = 'running' AND j.queue = {queue} GROUP BY j.tenant_id),"
            : "")
        + " candidates AS ("
        + "  SELECT c.id, t.ord, c.rn FROM turns AS t CROSS JOIN LATERAL ("
        + String.format(firstJobs, fromFirstPending) + ") AS c"
        + (capped ? " LEFT JOIN busy AS b ON b.tenant_id = t.tenant_id" : "")
        + "  WHERE t.tenant_id IS NOT NULL"
        + (capped ? " AND c.rn <= {cap} - coalesce(b.n, 0)" : "")
        + "  UNION ALL"
        + "  SELECT c.id, t.ord, c.rn FROM turns AS t CROSS JOIN LATERAL ("
        + String.format(firstJobs, "j.tenant_id IS NULL") + ") AS c"
        + "  WHERE t.tenant_id IS NULL"
        + (capped ? " AND c.rn <= {cap} - coalesce((SELECT n FROM busy WHERE tenant_id IS NULL), 0)" : "")
        + " ),"
        // the candidates are locked already; those not picked are let go when the statement commits
        // pos: the order in which the worker hands the jobs to its threads when they are idle (rank, then walk
        // position), so the first {start} are those that start at once
        + " picked AS (SELECT id, ord, rn, row_number() OVER (ORDER BY rn, ord) AS pos FROM candidates"
        + "  ORDER BY rn, ord LIMIT {request}),"
        + " claimed AS ("
        + claimUpdate(jobs) + "l.ord, l.rn, j.unstarted_epoch IS NULL AS started)"
        + " SELECT true AS is_job, id, tenant_id, type, payload::text, attempts, max_attempts, lease_epoch,"
        + "  timeout_ms, cancel_requested, lease_ms, ord, rn, started FROM claimed"
        + " UNION ALL"
        + " SELECT false, NULL, t.tenant_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, t.ord,"
        + "  (SELECT count(*) FROM turns), NULL"
        + " FROM (SELECT tenant_id, ord FROM turns ORDER BY ord DESC LIMIT 1) AS t";
  }
}
