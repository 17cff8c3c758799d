package dev.saaskit.jobs;

import dev.saaskit.core.SaasException;
import dev.saaskit.jobs.internal.AdminSql;
import dev.saaskit.jobs.internal.QueueRows;
import dev.saaskit.jobs.internal.QueueSql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The operator's view of the job queue, across all tenants: list and inspect jobs, retry dead ones, cancel, prune
 * finished jobs past their retention, count jobs per queue and state. Thread-safe.
 *
 * <p>It needs a data source whose role was granted {@link JobsSchema#grantWorker} (the workers' role, or a
 * separate operator role granted the same way): that role's policy admits every tenant's rows. Through the
 * application's role it would see no job at all, since no tenant is set.
 *
 * <pre>{@code
 * JobAdmin admin = jobs.admin();   // jobs: a SaasJobs whose workerDataSource is granted grantWorker
 * for (JobStatus dead : admin.list(JobFilter.builder().states(JobState.DEAD).build())) {
 *   log.warn("dead job {} ({}): {}", dead.id(), dead.type(), dead.lastError());
 * }
 * admin.prune(Duration.ofDays(7), 1000); // e.g. hourly, from a scheduled task
 * }</pre>
 */
public final class JobAdmin {
  /** The largest prune batch. */
  public static final int MAX_PRUNE_BATCH = 100_000;

  private final DataSource dataSource;
  private final JobsSchema schema;
  private final Clock clock;
  private final JobCodec codec;
  private final AdminSql sql;

  private JobAdmin(Builder b) {
    this.dataSource = b.dataSource;
    this.schema = b.schema;
    this.clock = b.clock;
    this.codec = b.codec;
    this.sql = new AdminSql(schema.name());
  }

  /** A builder for an admin on {@code workerDataSource}; {@link SaasJobs} is the public way to make one. */
  static Builder builder(DataSource workerDataSource) {
    return new Builder(Objects.requireNonNull(workerDataSource, "workerDataSource"));
  }

  /** The schema this admin works on. */
  public JobsSchema schema() {
    return schema;
  }

  /**
   * The jobs matching {@code filter}, newest (highest id) first, at most {@link JobFilter#limit()} of them. For
   * the next page, pass the last job's id to {@link JobFilter.Builder#before(JobId)}.
   *
   * @throws SaasException if the database cannot be reached
   */
  public List<JobStatus> list(JobFilter filter) {
    Objects.requireNonNull(filter, "filter");
    StringBuilder where = new StringBuilder("true");
    List<Object> params = new ArrayList<>();
    if (!filter.states().isEmpty()) {
      where.append(" AND state = ANY(CAST(? AS text[]))");
      params.add(filter.states().stream().map(JobState::dbValue).sorted().toArray(String[]::new));
    }
    filter.queue().ifPresent(q -> {
      where.append(" AND queue = ?");
      params.add(q);
    });
    filter.type().ifPresent(t -> {
      where.append(" AND type = ?");
      params.add(t);
    });
    if (filter.isNoTenant()) {
      where.append(" AND tenant_id IS NULL");
    }
    filter.tenant().ifPresent(t -> {
      where.append(" AND tenant_id = ?");
      params.add(t.value());
    });
    filter.before().ifPresent(b -> {
      where.append(" AND id < ?");
      params.add(b.value());
    });
    params.add(filter.limit());
    return run("list jobs", c -> {
      try (PreparedStatement ps = c.prepareStatement(sql.list(where.toString()))) {
        for (int i = 0; i < params.size(); i++) {
          Object p = params.get(i);
          if (p instanceof String[] array) {
            ps.setArray(i + 1, c.createArrayOf("text", array));
          } else {
            ps.setObject(i + 1, p);
          }
        }
        List<JobStatus> jobs = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            jobs.add(QueueRows.status(rs, codec));
          }
        }
        return jobs;
      }
    });
  }

  /**
   * Job {@code id} of any tenant, or empty if there is none (never existed or pruned).
   *
   * @throws SaasException if the database cannot be reached
   */
  public Optional<JobStatus> show(JobId id) {
    Objects.requireNonNull(id, "id");
    return run("read job " + id, c -> {
      try (PreparedStatement ps = c.prepareStatement(sql.show())) {
        ps.setLong(1, id.value());
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(QueueRows.status(rs, codec)) : Optional.<JobStatus>empty();
        }
      }
    });
  }

  /**
   * The payload of job {@code id} as JSON text, or empty if there is no such job. Payloads may hold personal
   * data: show them to operators only.
   *
   * @throws SaasException if the database cannot be reached
   */
  public Optional<String> payload(JobId id) {
    Objects.requireNonNull(id, "id");
    return run("read the payload of job " + id, c -> {
      try (PreparedStatement ps = c.prepareStatement(sql.payload())) {
        ps.setLong(1, id.value());
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.ofNullable(rs.getString(1)) : Optional.<String>empty();
        }
      }
    });
  }

  /**
   * Puts a dead or cancelled job back to pending, due now, with its attempt count reset to 0 (its attempt limit
   * unchanged, its last error kept until the next attempt replaces it), and wakes the workers. Returns false if
   * the job does not exist or is not dead or cancelled.
   *
   * @throws SaasException if the job has a unique key now held by another pending or running job (retrying it
   *     would make two), or the database cannot be reached
   */
  public boolean retry(JobId id) {
    Objects.requireNonNull(id, "id");
    return run("retry job " + id, c -> {
      try (PreparedStatement ps = c.prepareStatement(sql.retry())) {
        ps.setLong(1, id.value());
        ps.setString(2, sql.channel());
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next();
        }
      } catch (SQLException e) {
        if (!"23505".equals(e.getSQLState())) {
          throw e;
        }
        throw new SaasException("cannot retry job " + id + ": its unique key is held by job "
            + holderOf(id) + ", which is pending or running; wait for it or cancel it first", e);
      }
    });
  }

  /**
   * Cancels job {@code id} of any tenant, like {@link JobQueue#cancel(JobId)}: a pending job becomes cancelled, a
   * running one is asked to stop. Returns false if it does not exist or has finished.
   *
   * @throws SaasException if the database cannot be reached
   */
  public boolean cancel(JobId id) {
    Objects.requireNonNull(id, "id");
    String cancel = new QueueSql(schema.name()).cancel();
    return run("cancel job " + id, c -> {
      try (PreparedStatement ps = c.prepareStatement(cancel)) {
        ps.setLong(1, id.value());
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next();
        }
      }
    });
  }

  /**
   * Deletes finished jobs (completed, dead, cancelled) that finished more than {@code retention} ago by the
   * admin's clock, {@code batchSize} at a time, each batch in its own short transaction (so locks stay short and
   * autovacuum can keep up), until none is left; returns how many it deleted. Rows locked by someone else are
   * skipped and left for the next run. Safe to run on several nodes at once.
   *
   * @throws IllegalArgumentException if {@code retention} is negative or {@code batchSize} is not between 1 and
   *     {@value #MAX_PRUNE_BATCH}
   * @throws SaasException if the database cannot be reached (batches already deleted stay deleted)
   */
  public long prune(Duration retention, int batchSize) {
    Objects.requireNonNull(retention, "retention");
    if (retention.isNegative()) {
      throw new IllegalArgumentException("retention must not be negative but was " + retention);
    }
    if (batchSize < 1 || batchSize > MAX_PRUNE_BATCH) {
      throw new IllegalArgumentException("batchSize must be between 1 and " + MAX_PRUNE_BATCH + " but was "
          + batchSize);
    }
    // A retention longer than any job can have been finished means "delete nothing"; clamped, because the exact
    // value broke the call (Instant.minus past the year -1,000,000,000 throws DateTimeException)
    Duration bounded = retention.compareTo(RetryPolicy.MAX_DELAY) > 0 ? RetryPolicy.MAX_DELAY : retention;
    OffsetDateTime cutoff = OffsetDateTime.ofInstant(clock.instant().minus(bounded), ZoneOffset.UTC);
    return run("prune finished jobs", c -> {
      long total = 0;
      try (PreparedStatement ps = c.prepareStatement(sql.pruneBatch())) {
        ps.setObject(1, cutoff);
        ps.setInt(2, batchSize);
        int deleted;
        do {
          deleted = ps.executeUpdate();
          if (!c.getAutoCommit()) {
            c.commit();
          }
          total += deleted;
        } while (deleted == batchSize);
      }
      return total;
    });
  }

  /**
   * The number of jobs per queue and state (pairs without jobs are left out), ordered by queue and state. Counts
   * every row of the table: meant for operators and occasional gauges, not for every request.
   *
   * @throws SaasException if the database cannot be reached
   */
  public List<JobCount> counts() {
    return run("count jobs", c -> {
      List<JobCount> counts = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement(sql.counts()); ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          counts.add(new JobCount(rs.getString(1), JobState.fromDbValue(rs.getString(2)), rs.getLong(3)));
        }
      }
      return counts;
    });
  }

  private @Nullable String holderOf(JobId id) {
    try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql.uniqueHolderOf())) {
      ps.setLong(1, id.value());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Long.toString(rs.getLong(1)) : "(another job, finished since)";
      }
    } catch (SQLException e) {
      return "(unknown: " + e.getMessage() + ")";
    }
  }

  @FunctionalInterface
  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /** Runs {@code work} on a connection of its own; commits if the pool hands out connections in a transaction. */
  private <T> T run(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      try {
        T result = work.run(c);
        if (!c.getAutoCommit()) {
          c.commit();
        }
        return result;
      } catch (SQLException | RuntimeException e) {
        if (!c.getAutoCommit()) {
          c.rollback();
        }
        throw e;
      }
    } catch (SQLException e) {
      String hint = "42501".equals(e.getSQLState())
          ? ". Use a data source whose role was granted JobsSchema.grantWorker."
          : "42P01".equals(e.getSQLState()) || "3F000".equals(e.getSQLState())
              ? ". Create the schema with JobsSchema.migrate." : "";
      throw new SaasException("cannot " + what + ": " + e.getMessage() + hint, e);
    }
  }

  /** Builds a {@link JobAdmin} for {@link SaasJobs} and tests. Not thread-safe. */
  static final class Builder {
    private final DataSource dataSource;
    private JobsSchema schema = JobsSchema.defaults();
    private Clock clock = Clock.systemUTC();
    private JobCodec codec = JobCodec.jackson();

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    /** The schema; default {@link JobsSchema#defaults()}. */
    Builder schema(JobsSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The clock that decides which finished jobs are past their retention; default UTC system clock. */
    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The codec the statuses read results with; default {@link JobCodec#jackson()}. */
    Builder codec(JobCodec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /** The admin. */
    JobAdmin build() {
      return new JobAdmin(this);
    }
  }
}
