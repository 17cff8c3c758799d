package dev.saaskit.jobs;

import java.util.List;

/**
 * The dialect a {@link RecurringJob}'s cron expression is written in. Parsing and the occurrence math come from
 * <a href="https://github.com/jmrozanec/cron-utils">cron-utils</a>; this enum picks its definition.
 */
public enum CronSyntax {
  /**
   * The default: five fields, {@code minute hour day-of-month month day-of-week}, as in crontab(5). Day of week
   * is 0-7 (0 and 7 are Sunday) or {@code SUN}-{@code SAT}. When both day fields are restricted, a day matches if
   * either matches ({@code 0 0 13 * 5} runs on every Friday and on every 13th). Minute precision.
   */
  UNIX(List.of("minute", "hour", "day-of-month", "month", "day-of-week")),
  /**
   * Six fields with seconds first, {@code second minute hour day-of-month month day-of-week}, as in Spring's
   * {@code @Scheduled(cron = ...)} (5.3+): {@code L}, {@code W}, {@code #} and {@code ?} are accepted.
   */
  SPRING(List.of("second", "minute", "hour", "day-of-month", "month", "day-of-week")),
  /**
   * Quartz: six or seven fields, {@code second minute hour day-of-month month day-of-week [year]}; exactly one of
   * the day fields must be {@code ?}; day of week is 1-7 with Sunday = 1.
   */
  QUARTZ(List.of("second", "minute", "hour", "day-of-month", "month", "day-of-week", "year"));

  private final List<String> fieldNames;

  CronSyntax(List<String> fieldNames) {
    this.fieldNames = fieldNames;
  }

  /** The names of the fields in expression order (for {@link #QUARTZ}, the last one, year, is optional). */
  public List<String> fieldNames() {
    return fieldNames;
  }
}
