package dev.saaskit.jobs.internal;

import dev.saaskit.jobs.CronSyntax;
import dev.saaskit.jobs.MisfirePolicy;
import java.time.Duration;
import java.time.ZoneId;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A recurring job as stored in one {@code recurring_jobs} row, with everything resolved: the payload is JSON
 * text, the tenant a plain string. Built from the public {@code RecurringJob} when registering, and from the row
 * when firing, so a node fires what the table says, not what it was started with. Not API.
 *
 * @param tenant the tenant id, or null for a system job
 * @param timeout the run time limit of one attempt, or null for the worker's setting
 */
public record RecurringDefinition(
    String name,
    CronSchedule schedule,
    @Nullable String tenant,
    String queue,
    String type,
    String payloadJson,
    int priority,
    int maxAttempts,
    @Nullable Duration timeout,
    MisfirePolicy misfirePolicy,
    Duration misfireThreshold,
    int maxCatchUp) {

  /** Checks that no required part is missing. */
  public RecurringDefinition {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(schedule, "schedule");
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(payloadJson, "payloadJson");
    Objects.requireNonNull(misfirePolicy, "misfirePolicy");
    Objects.requireNonNull(misfireThreshold, "misfireThreshold");
  }

  /** The cron expression, normalized. */
  public String cron() {
    return schedule.expression();
  }

  /** The syntax of the cron expression. */
  public CronSyntax syntax() {
    return schedule.syntax();
  }

  /** The zone the expression is read in. */
  public ZoneId zone() {
    return schedule.zone();
  }
}
