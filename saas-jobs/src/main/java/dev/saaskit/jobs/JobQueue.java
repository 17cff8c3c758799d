package dev.saaskit.jobs;

import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.internal.EnqueueExecutor;
import dev.saaskit.jobs.internal.EnqueueRow;
import dev.saaskit.jobs.internal.JsonTexts;
import dev.saaskit.jobs.internal.LocalWakeups;
import dev.saaskit.jobs.internal.QueueRows;
import dev.saaskit.jobs.internal.QueueSession;
import dev.saaskit.jobs.internal.QueueSql;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The application's side of the job queue: enqueue jobs, poll their status, cancel them. Thread-safe; build one
 * per application from {@link SaasJobs#queue()} and share it.
 *
 * <pre>{@code
 * JobQueue queue = jobs.queue();   // jobs: the application's SaasJobs
 *
 * // in a request handler, inside TenantContext.run(tenant, ...)
 * JobId id = queue.enqueue(JobRequest.builder(EXPORT, new ExportReport(reportId)).build());
 * // ... later, from the browser's poll
 * Optional<JobStatus> status = queue.status(id);
 * }</pre>
 *
 * <p><b>Tenants.</b> A job belongs to the tenant of its request (by default the current {@link TenantContext}
 * tenant). Every statement runs with that tenant in the tenant setting ({@code set_config(setting, tenant, true)}
 * in the same round trip), so the jobs table's row-level security admits it whether the data source is a plain
 * pool or one that sets the tenant itself. {@link #status} and {@link #cancel} see only the current tenant's jobs;
 * without a current tenant they see none.
 *
 * <p><b>Transactions.</b> {@link #enqueue(JobRequest)} and {@link #enqueueAll(List)} take a connection from the
 * data source and commit on their own. {@link #enqueue(Connection, JobRequest)} and
 * {@link #enqueueAll(Connection, List)} join the caller's open transaction instead: the job exists if and only if
 * the caller commits, and the workers are woken (NOTIFY) only by that commit. They never commit or roll back the
 * caller's transaction, and they put the tenant setting back as it was. On a connection in auto-commit mode they
 * commit at once, like the data source variants. A failure aborts the caller's transaction, as any failed
 * statement does.
 *
 * <p><b>Unique keys.</b> Enqueueing a request with a unique key while a job of the same tenant with the same key
 * is pending or running returns that job's id and changes nothing; otherwise a new job is created. This holds
 * under concurrent enqueues from any number of nodes (a partial unique index decides). Use READ COMMITTED (the
 * default) for transactions that enqueue unique jobs.
 *
 * <p><b>Wake-up.</b> Each enqueue that creates a job sends {@code pg_notify('<schema>_wakeup', queue)} in its
 * transaction; workers listening on the channel claim at once, others find the job by polling. Workers built from
 * the same {@link SaasJobs} are also woken in process as soon as an enqueue that commits on its own has committed
 * a job due now, without waiting for the notification to come back from the server.
 */
public final class JobQueue {
  private final DataSource dataSource;
  private final JobsSchema schema;
  private final JobCodec codec;
  private final Clock clock;
  private final int maxPayloadBytes;
  private final QueueSql sql;
  private final EnqueueExecutor executor;
  private final @Nullable LocalWakeups wakeups;

  private JobQueue(Builder b) {
    this.dataSource = b.dataSource;
    this.schema = b.schema;
    this.codec = b.codec;
    this.clock = b.clock;
    this.maxPayloadBytes = b.maxPayloadBytes;
    this.sql = new QueueSql(schema.name());
    this.executor = new EnqueueExecutor(sql);
    this.wakeups = b.wakeups;
  }

  /** A builder for a queue on {@code appDataSource}; {@link SaasJobs} is the public way to make one. */
  static Builder builder(DataSource appDataSource) {
    return new Builder(Objects.requireNonNull(appDataSource, "appDataSource"));
  }

  /** The schema this queue works on. */
  public JobsSchema schema() {
    return schema;
  }

  /** The codec that writes payloads and reads results. */
  JobCodec codec() {
    return codec;
  }

  /**
   * Enqueues one job in a transaction of its own and returns its id (or, for a unique key held by a live job, that
   * job's id). With the extended protocol in auto-commit mode this is one round trip. When a started worker of the
   * same {@link SaasJobs} has an idle thread for a job due now without a unique key, and nothing else waits on its
   * queue, the job is inserted already claimed by that worker and starts once the insert commits.
   *
   * @throws MissingTenantException if the request names no tenant and none is current
   * @throws IllegalArgumentException if the payload cannot be written as JSON or exceeds the size limit
   * @throws SaasException if the database refuses or cannot be reached
   */
  public JobId enqueue(JobRequest request) {
    EnqueueRow row = resolve(request);
    String what = "enqueue job type '" + row.type() + "'";
    LocalWakeups.LocalStart start = reserveLocalStart(row);
    if (start != null) {
      long beforeInsert = System.nanoTime();
      JobId id = null;
      try {
        id = run(null, false, what, row.tenant() == null, session -> executor.oneStarted(session, row, start));
      } finally {
        if (id == null) {
          start.cancelled();
        }
      }
      start.started(id.value(), row, beforeInsert);
      return id;
    }
    JobId id = run(null, false, what, row.tenant() == null, session -> executor.one(session, row));
    wakeLocal(null, List.of(row), id);
    return id;
  }

  /**
   * An idle thread of a started worker of this process (one built from the same {@link SaasJobs}) for a job without
   * a unique key that is due now, if taking it at once is fair: the job is then inserted already claimed by that
   * worker and starts once the insert commits, without a claim statement (see docs/jobs-workers.md, "Wake-ups").
   * A job with a unique key may name a live holder instead of being inserted, so it takes the usual path.
   */
  private LocalWakeups.@Nullable LocalStart reserveLocalStart(EnqueueRow row) {
    if (wakeups == null || !wakeups.hasWorkers() || row.uniqueKey() != null
        || (row.runAt() != null && row.runAt().isAfter(clock.instant()))) {
      return null;
    }
    return wakeups.reserve(row.queue(), row.type());
  }

  /**
   * Enqueues one job on {@code connection}, inside the caller's transaction (see the class comment), and returns
   * its id.
   *
   * @throws MissingTenantException if the request names no tenant and none is current
   * @throws IllegalArgumentException if the payload cannot be written as JSON or exceeds the size limit
   * @throws SaasException if the database refuses
   */
  public JobId enqueue(Connection connection, JobRequest request) {
    Objects.requireNonNull(connection, "connection");
    EnqueueRow row = resolve(request);
    JobId id = run(connection, false, "enqueue job type '" + row.type() + "'", row.tenant() == null,
        session -> executor.one(session, row));
    wakeLocal(connection, List.of(row), id);
    return id;
  }

  /**
   * Enqueues many jobs in one transaction of its own and returns their ids in request order. The jobs of one
   * tenant go to the database in one statement (one round trip); requests for several tenants take one per
   * tenant. Requests with the same tenant and unique key share one job. All or none are enqueued. Keep batches to
   * some thousands of jobs: the whole batch travels in one message.
   *
   * @throws MissingTenantException if a request names no tenant and none is current
   * @throws IllegalArgumentException if a payload cannot be written as JSON or exceeds the size limit
   * @throws SaasException if the database refuses or cannot be reached
   */
  public List<JobId> enqueueAll(List<JobRequest> requests) {
    return enqueueAllOn(null, requests);
  }

  /**
   * Like {@link #enqueueAll(List)}, inside the caller's transaction on {@code connection} (see the class comment).
   */
  public List<JobId> enqueueAll(Connection connection, List<JobRequest> requests) {
    return enqueueAllOn(Objects.requireNonNull(connection, "connection"), requests);
  }

  /**
   * The status of job {@code id} if it belongs to the current tenant; empty for an unknown id, another tenant's
   * job, a pruned job, or when no tenant is current. One primary-key lookup in one round trip: cheap enough to
   * poll every second.
   *
   * @throws SaasException if the database cannot be reached
   */
  public Optional<JobStatus> status(JobId id) {
    Objects.requireNonNull(id, "id");
    TenantId tenant = TenantContext.current().orElse(null);
    return run(null, false, "read the status of job " + id, false, session -> {
      session.tenant(tenant);
      try (QueueSession.Statement st = session.prepare(sql.status())) {
        st.jdbc().setLong(st.firstParameter(), id.value());
        ResultSet rs = Objects.requireNonNull(st.execute());
        return rs.next() ? Optional.of(QueueRows.status(rs, codec)) : Optional.<JobStatus>empty();
      }
    });
  }

  /**
   * Cancels job {@code id} of the current tenant: a pending job becomes {@link JobState#CANCELLED} at once; a
   * running job gets {@link JobStatus#cancelRequested()} set, and its handler is expected to stop (the worker
   * ends it as cancelled). Returns false if the job is unknown, not the current tenant's, or already finished.
   *
   * @throws SaasException if the database cannot be reached
   */
  public boolean cancel(JobId id) {
    Objects.requireNonNull(id, "id");
    TenantId tenant = TenantContext.current().orElse(null);
    return run(null, false, "cancel job " + id, false, session -> {
      session.tenant(tenant);
      try (QueueSession.Statement st = session.prepare(sql.cancel())) {
        st.jdbc().setLong(st.firstParameter(), id.value());
        ResultSet rs = Objects.requireNonNull(st.execute());
        return rs.next();
      }
    });
  }

  private List<JobId> enqueueAllOn(@Nullable Connection connection, List<JobRequest> requests) {
    Objects.requireNonNull(requests, "requests");
    if (requests.isEmpty()) {
      return List.of();
    }
    List<EnqueueRow> rows = new ArrayList<>(requests.size());
    for (JobRequest request : requests) {
      rows.add(resolve(Objects.requireNonNull(request, "a request in the list is null")));
    }
    Map<Optional<TenantId>, List<Integer>> byTenant = new LinkedHashMap<>();
    boolean anyNoTenant = false;
    for (int i = 0; i < rows.size(); i++) {
      TenantId tenant = rows.get(i).tenant();
      anyNoTenant |= tenant == null;
      byTenant.computeIfAbsent(Optional.ofNullable(tenant), t -> new ArrayList<>()).add(i);
    }
    boolean oneStatement = byTenant.size() == 1 && rows.stream().allMatch(r -> r.uniqueKey() == null);
    String what = "enqueue " + rows.size() + " jobs";
    List<JobId> enqueued = run(connection, !oneStatement, what, anyNoTenant, session -> {
      JobId[] ids = new JobId[rows.size()];
      for (List<Integer> indexes : byTenant.values()) {
        List<EnqueueRow> group = new ArrayList<>(indexes.size());
        for (int i : indexes) {
          group.add(rows.get(i));
        }
        List<JobId> groupIds = executor.batch(session, group);
        for (int j = 0; j < indexes.size(); j++) {
          ids[indexes.get(j)] = groupIds.get(j);
        }
      }
      return List.of(ids);
    });
    wakeLocal(connection, rows, null);
    return enqueued;
  }

  /**
   * After an enqueue: wakes this process's workers for the queues that got jobs due now (with the job's id when
   * there is one job), if the enqueue has committed (on its own connection, or on the caller's in auto-commit
   * mode). A job enqueued inside the caller's transaction exists only once the caller commits, which this queue
   * does not see: the NOTIFY wakes workers then.
   */
  private void wakeLocal(@Nullable Connection callers, List<EnqueueRow> rows, @Nullable JobId single) {
    if (wakeups == null || !wakeups.hasWorkers()) {
      return;
    }
    if (callers != null) {
      try {
        if (!callers.getAutoCommit()) {
          return;
        }
      } catch (SQLException e) {
        return; // the enqueue itself worked on this connection; without the shortcut the NOTIFY still wakes
      }
    }
    Instant now = clock.instant();
    if (single != null) {
      EnqueueRow row = rows.get(0);
      if (row.runAt() == null || !row.runAt().isAfter(now)) {
        // the id lets an idle worker claim this job by its primary key (a unique-key hit names the live holder,
        // which the worker's claim by id then finds running and skips)
        wakeups.committed(row.queue(), single.value());
      }
      return;
    }
    Set<String> due = new LinkedHashSet<>();
    for (EnqueueRow row : rows) {
      if (row.runAt() == null || !row.runAt().isAfter(now)) {
        due.add(row.queue());
      }
    }
    wakeups.committed(due);
  }

  private EnqueueRow resolve(JobRequest request) {
    Objects.requireNonNull(request, "request");
    TenantId tenant = request.tenant().orElse(null);
    Instant runAt = request.runAt().orElse(null);
    if (runAt != null && runAt.isBefore(JobRequest.EARLIEST_RUN_AT)) {
      runAt = JobRequest.EARLIEST_RUN_AT; // as due as the instant asked for, and within what the database holds
    }
    Duration delay = request.delay().orElse(null);
    if (delay != null) {
      runAt = clock.instant().plus(delay);
    }
    Long timeoutMs = request.timeout().map(Duration::toMillis).orElse(null);
    return new EnqueueRow(tenant, request.queue(), request.type(), payloadJson(request), request.priority(), runAt,
        request.maxAttempts(), timeoutMs, request.uniqueKey().orElse(null));
  }

  private String payloadJson(JobRequest request) {
    String json = request.payloadJson().orElse(null);
    byte[] bytes;
    if (json != null) {
      bytes = json.getBytes(StandardCharsets.UTF_8);
    } else {
      try {
        json = codec.encode(request.payload().orElse(null));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("the payload of job type '" + request.type()
            + "' cannot be written as JSON by the JobCodec: " + e.getMessage(), e);
      }
      // jsonb refuses an escaped NUL and the driver turns a lone surrogate into '?': refused here, precisely,
      // rather than as a database error or a payload stored changed (JSON text given as such was checked already)
      String unstorable = JsonTexts.unstorable(json);
      if (unstorable != null) {
        throw new IllegalArgumentException("the payload of job type '" + request.type() + "' cannot be stored: "
            + unstorable);
      }
      bytes = json.getBytes(StandardCharsets.UTF_8);
    }
    if (bytes.length > maxPayloadBytes) {
      throw new IllegalArgumentException("the payload of job type '" + request.type() + "' is " + bytes.length
          + " bytes of JSON, more than the limit of " + maxPayloadBytes + " (SaasJobs.Builder.maxPayloadBytes):"
          + " store large data elsewhere and pass a reference to it");
    }
    return json;
  }

  /** Database work on a queue session. */
  @FunctionalInterface
  private interface Work<T> {
    T run(QueueSession session) throws SQLException;
  }

  /**
   * Runs {@code work} on the caller's connection (joining its transaction) or on one from the data source (in a
   * transaction of its own, which is implicit when the work is one statement sent with the extended protocol).
   */
  private <T> T run(@Nullable Connection callers, boolean severalStatements, String what, boolean noTenantJob,
      Work<T> work) {
    try {
      if (callers != null) {
        return runOn(callers, severalStatements, true, work);
      }
      try (Connection c = dataSource.getConnection()) {
        return runOn(c, severalStatements, false, work);
      }
    } catch (SQLException e) {
      throw failure(what, noTenantJob, e);
    }
  }

  private <T> T runOn(Connection c, boolean severalStatements, boolean callers, Work<T> work) throws SQLException {
    boolean autoCommit = c.getAutoCommit();
    if (!autoCommit && callers) {
      QueueSession session = new QueueSession(c, schema.tenantSetting(), true);
      T result = work.run(session);
      session.restore();
      return result;
    }
    QueueSession session = new QueueSession(c, schema.tenantSetting(), false);
    if (!severalStatements && QueueSession.pipelinesInImplicitTransaction(c)) {
      return work.run(session);
    }
    if (autoCommit) {
      c.setAutoCommit(false);
    }
    try {
      T result = work.run(session);
      c.commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      try {
        c.rollback();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    } finally {
      if (autoCommit) {
        c.setAutoCommit(true);
      }
    }
  }

  private static SaasException failure(String what, boolean noTenantJob, SQLException e) {
    String message = String.valueOf(e.getMessage());
    if ("42501".equals(e.getSQLState()) && message.contains("row-level security") && noTenantJob) {
      return new SaasException("cannot " + what + ": a job of no tenant (JobRequest.Builder.noTenant()) can only be"
          + " enqueued through a role granted JobsSchema.grantWorker, since the application role's policy admits"
          + " only jobs of its current tenant", e);
    }
    if ("42501".equals(e.getSQLState())) {
      return new SaasException("cannot " + what + ": " + message + ". Grant the role its rights with"
          + " JobsSchema.grantApp (application) or grantWorker (workers).", e);
    }
    if ("42P01".equals(e.getSQLState()) || "3F000".equals(e.getSQLState())) {
      return new SaasException("cannot " + what + ": " + message + ". Create the schema with JobsSchema.migrate.",
          e);
    }
    return new SaasException("cannot " + what + ": " + message, e);
  }

  /** Builds a {@link JobQueue} for {@link SaasJobs} and tests. Not thread-safe. */
  static final class Builder {
    private final DataSource dataSource;
    private JobsSchema schema = JobsSchema.defaults();
    private JobCodec codec = JobCodec.jackson();
    private Clock clock = Clock.systemUTC();
    private int maxPayloadBytes = SaasJobs.DEFAULT_MAX_PAYLOAD_BYTES;
    private @Nullable LocalWakeups wakeups;

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    /** The schema (names of the schema and the tenant setting); default {@link JobsSchema#defaults()}. */
    Builder schema(JobsSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The codec that writes payloads; default {@link JobCodec#jackson()}. */
    Builder codec(JobCodec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /** The clock that turns a {@link JobRequest.Builder#delay(Duration)} into a run time; default UTC system. */
    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The largest payload accepted, in bytes of JSON, at least 16; default 262144 (256 KiB). */
    Builder maxPayloadBytes(int maxPayloadBytes) {
      if (maxPayloadBytes < 16) {
        throw new IllegalArgumentException("maxPayloadBytes must be >= 16 but was " + maxPayloadBytes);
      }
      this.maxPayloadBytes = maxPayloadBytes;
      return this;
    }

    /** The in-process wake-ups shared with the workers of the same {@link SaasJobs}; default none. */
    Builder wakeups(LocalWakeups wakeups) {
      this.wakeups = Objects.requireNonNull(wakeups, "wakeups");
      return this;
    }

    /**
     * The queue.
     *
     * @throws IllegalArgumentException if the schema name is too long for its wake-up channel (over 56 bytes)
     */
    JobQueue build() {
      return new JobQueue(this);
    }
  }
}
