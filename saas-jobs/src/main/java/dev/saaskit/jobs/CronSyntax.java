package dev.saaskit.jobs;

import java.util.List;

/**
 * The dialect a {@link RecurringJob}'s cron expression is written in. In all three a field is a comma-separated
 * list of {@code *}, values, names (months {@code JAN}-{@code DEC}, days {@code SUN}-{@code SAT}, any case) and
 * ranges {@code a-b}, each with an optional step {@code /n}. docs/jobs-cron.md lists what each accepts and how
 * times skipped or repeated by DST changes are handled.
 */
public enum CronSyntax {
  /**
   * The default: five fields, {@code minute hour day-of-month month day-of-week}, as in crontab(5). Day of week
   * is 0-7 (0 and 7 are Sunday) or {@code SUN}-{@code SAT}. When both day fields are restricted, a day matches if
   * either matches ({@code 0 0 13 * 5} runs on every Friday and on every 13th). Minute precision.
   */
  UNIX,
  /**
   * Six fields with seconds first, {@code second minute hour day-of-month month day-of-week}, as in Spring's
   * {@code @Scheduled(cron = ...)} (5.3+): day of week as in {@link #UNIX}; a day must match both day fields,
   * where {@code ?} means the same as {@code *}; day of month also takes {@code L}, {@code L-n}, {@code LW} and
   * {@code nW}, day of week {@code dL} and {@code d#k}.
   */
  SPRING,
  /**
   * Quartz: six or seven fields, {@code second minute hour day-of-month month day-of-week [year]}; exactly one of
   * the day fields must be {@code ?}; day of week is 1-7 with Sunday = 1; the specials of {@link #SPRING}; years
   * 1970-2099.
   */
  QUARTZ;

  /** The names of the fields in expression order (for {@link #QUARTZ}, the last one, year, is optional). */
  public List<String> fieldNames() {
    // a switch rather than a field: an enum's state must be deeply immutable, and a List field's type is not
    return switch (this) {
      case UNIX -> List.of("minute", "hour", "day-of-month", "month", "day-of-week");
      case SPRING -> List.of("second", "minute", "hour", "day-of-month", "month", "day-of-week");
      case QUARTZ -> List.of("second", "minute", "hour", "day-of-month", "month", "day-of-week", "year");
    };
  }
}
