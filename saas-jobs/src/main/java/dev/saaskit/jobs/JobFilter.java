package dev.saaskit.jobs;

import dev.saaskit.core.TenantId;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Which jobs {@link JobAdmin#list(JobFilter)} returns: conditions that all must hold, newest first, at most
 * {@link #limit()} jobs, before a cursor for the next page. Immutable; build with {@link #builder()}.
 *
 * <pre>{@code
 * JobFilter dead = JobFilter.builder().states(JobState.DEAD).queue("mail").limit(100).build();
 * List<JobStatus> page = admin.list(dead);
 * List<JobStatus> next = admin.list(dead.toBuilder().before(page.get(page.size() - 1).id()).build());
 * }</pre>
 */
public final class JobFilter {
  /** The page size used unless set. */
  public static final int DEFAULT_LIMIT = 50;
  /** The largest page size. */
  public static final int MAX_LIMIT = 1000;

  private final Set<JobState> states;
  private final @Nullable String queue;
  private final @Nullable String type;
  private final @Nullable TenantId tenant;
  private final boolean noTenant;
  private final int limit;
  private final @Nullable JobId before;

  private JobFilter(Builder b) {
    this.states = b.states.isEmpty() ? Set.of() : Set.copyOf(b.states);
    this.queue = b.queue;
    this.type = b.type;
    this.tenant = b.tenant;
    this.noTenant = b.noTenant;
    this.limit = b.limit;
    this.before = b.before;
  }

  /** A builder that matches every job, {@value #DEFAULT_LIMIT} per page. */
  public static Builder builder() {
    return new Builder();
  }

  /** Every job, {@value #DEFAULT_LIMIT} per page. */
  public static JobFilter all() {
    return builder().build();
  }

  /** A builder holding this filter's settings. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.states.addAll(states);
    b.queue = queue;
    b.type = type;
    b.tenant = tenant;
    b.noTenant = noTenant;
    b.limit = limit;
    b.before = before;
    return b;
  }

  /** The states to match; empty matches every state. */
  public Set<JobState> states() {
    return states;
  }

  /** The queue to match, if set. */
  public Optional<String> queue() {
    return Optional.ofNullable(queue);
  }

  /** The job type to match, if set. */
  public Optional<String> type() {
    return Optional.ofNullable(type);
  }

  /** The tenant to match, if set. */
  public Optional<TenantId> tenant() {
    return Optional.ofNullable(tenant);
  }

  /** True to match only jobs of no tenant (system jobs). */
  public boolean isNoTenant() {
    return noTenant;
  }

  /** The most jobs returned. */
  public int limit() {
    return limit;
  }

  /** The cursor: only jobs with a smaller id (older) are returned, if set. */
  public Optional<JobId> before() {
    return Optional.ofNullable(before);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof JobFilter f && f.states.equals(states) && Objects.equals(f.queue, queue)
        && Objects.equals(f.type, type) && Objects.equals(f.tenant, tenant) && f.noTenant == noTenant
        && f.limit == limit && Objects.equals(f.before, before);
  }

  @Override
  public int hashCode() {
    return Objects.hash(states, queue, type, tenant, noTenant, limit, before);
  }

  @Override
  public String toString() {
    return "JobFilter[states=" + states + ", queue=" + queue + ", type=" + type + ", tenant="
        + (noTenant ? "(none)" : tenant) + ", limit=" + limit + ", before=" + before + "]";
  }

  /** Builds a {@link JobFilter}. Not thread-safe. */
  public static final class Builder {
    private final Set<JobState> states = EnumSet.noneOf(JobState.class);
    private @Nullable String queue;
    private @Nullable String type;
    private @Nullable TenantId tenant;
    private boolean noTenant;
    private int limit = DEFAULT_LIMIT;
    private @Nullable JobId before;

    private Builder() {}

    /** Matches jobs in any of {@code states} (replacing earlier ones); none given matches every state. */
    public Builder states(JobState... states) {
      this.states.clear();
      for (JobState s : states) {
        this.states.add(Objects.requireNonNull(s, "state"));
      }
      return this;
    }

    /** Matches jobs of {@code queue}. */
    public Builder queue(String queue) {
      this.queue = JobRequest.requireName("queue", queue);
      return this;
    }

    /** Matches jobs of {@code type}. */
    public Builder type(String type) {
      this.type = JobRequest.requireName("type", type);
      return this;
    }

    /** Matches jobs of {@code tenant}; replaces {@link #noTenant()}. */
    public Builder tenant(TenantId tenant) {
      this.tenant = Objects.requireNonNull(tenant, "tenant");
      this.noTenant = false;
      return this;
    }

    /** Matches only jobs of no tenant (system jobs); replaces {@link #tenant(TenantId)}. */
    public Builder noTenant() {
      this.noTenant = true;
      this.tenant = null;
      return this;
    }

    /** The most jobs returned, 1 to {@value JobFilter#MAX_LIMIT}; default {@value JobFilter#DEFAULT_LIMIT}. */
    public Builder limit(int limit) {
      if (limit < 1 || limit > MAX_LIMIT) {
        throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT + " but was " + limit);
      }
      this.limit = limit;
      return this;
    }

    /** Returns only jobs older than {@code before} (smaller ids): pass the last id of a page for the next. */
    public Builder before(JobId before) {
      this.before = Objects.requireNonNull(before, "before");
      return this;
    }

    /** The filter. */
    public JobFilter build() {
      return new JobFilter(this);
    }
  }
}
