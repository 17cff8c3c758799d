package dev.saaskit.jobs.internal;

import dev.saaskit.jobs.MisfirePolicy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What one scheduler pass does with one due recurring job: the occurrences to enqueue and the next fire time.
 * Pure (no clock, no database), so the rules are tested exhaustively on their own. Not API.
 *
 * @param fire the occurrences to enqueue, ascending, each an occurrence of the schedule
 * @param misfired true if some due occurrence was missed (found later than the misfire threshold), so the
 *     misfire policy decided about it
 * @param nextFireAt the first occurrence after {@code now}, or null if the schedule has none
 */
public record RecurringPlan(List<Instant> fire, boolean misfired, @Nullable Instant nextFireAt) {

  /** Copies the list. */
  public RecurringPlan {
    fire = List.copyOf(fire);
  }

  /**
   * Plans a pass at {@code now} for a job whose next fire time is {@code nextFireAt}.
   *
   * <p>The due occurrences are those in {@code [nextFireAt, now]}. Those no more than {@code threshold} before
   * {@code now} are on time and always fired. Older ones are missed and handled by {@code policy}. Every due
   * occurrence is either fired here or dropped for good: the next fire time is strictly after {@code now}, so a
   * later pass can never fire one of them again.
   *
   * @param maxOnTime a safety bound on on-time occurrences fired in one pass (only reached with a threshold far
   *     longer than the schedule's period)
   */
  public static RecurringPlan plan(CronSchedule schedule, Instant nextFireAt, Instant now, MisfirePolicy policy,
      Duration threshold, int maxCatchUp, int maxOnTime) {
    Objects.requireNonNull(policy, "policy");
    if (nextFireAt.isAfter(now)) {
      return new RecurringPlan(List.of(), false, nextFireAt);
    }
    Instant onTimeFrom = now.minus(threshold);
    if (!nextFireAt.isBefore(onTimeFrom)) {
      List<Instant> fire = schedule.between(nextFireAt, now, maxOnTime);
      return new RecurringPlan(fire, false, nextAfter(schedule, now));
    }
    List<Instant> onTime = schedule.between(onTimeFrom, now, maxOnTime);
    List<Instant> missed = switch (policy) {
      case SKIP -> List.of();
      case FIRE_ONCE -> onTime.isEmpty() ? schedule.latestBefore(nextFireAt, onTimeFrom, 1) : List.of();
      case FIRE_ALL -> schedule.latestBefore(nextFireAt, onTimeFrom, maxCatchUp);
    };
    List<Instant> fire = new ArrayList<>(missed);
    fire.addAll(onTime);
    return new RecurringPlan(fire, true, nextAfter(schedule, now));
  }

  /**
   * The next fire time: the first occurrence after {@code now}. Every due occurrence up to {@code now} is fired or
   * dropped by this pass, so nothing before it is left for a later one. (This also follows the chain of
   * occurrences: {@code next(now)} and {@code next(last fired)} agree whenever the latter is after {@code now},
   * since occurrences are one set of instants, whatever side of a DST change {@code now} is on.)
   */
  private static @Nullable Instant nextAfter(CronSchedule schedule, Instant now) {
    return schedule.next(now).orElse(null);
  }
}
