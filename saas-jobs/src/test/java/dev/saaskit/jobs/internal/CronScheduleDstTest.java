package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.jobs.CronSyntax;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The DST rule (docs/jobs-cron.md): a matching local time occurs at the first instant the zone's clock shows it or
 * a later time. So a time skipped by a spring-forward gap runs once, at the end of the gap, however many of the
 * gap's times match; a time repeated by a fall-back runs once, in the first pass. Transitions of 2026 (2011 for
 * Apia), as the JDK's tzdb has them.
 */
class CronScheduleDstTest {
  private static final ZoneId PARIS = ZoneId.of("Europe/Paris");
  private static final ZoneId NEW_YORK = ZoneId.of("America/New_York");
  private static final ZoneId LONDON = ZoneId.of("Europe/London");
  private static final ZoneId LORD_HOWE = ZoneId.of("Australia/Lord_Howe");
  private static final ZoneId APIA = ZoneId.of("Pacific/Apia");

  private static CronSchedule unix(String cron, ZoneId zone) {
    return CronSchedule.parse(CronSyntax.UNIX, cron, zone);
  }

  private static Instant at(String iso) {
    return Instant.parse(iso);
  }

  /**
   * Issue 10, point 9: Lord Howe Island springs forward by 30 minutes on 2026-10-04 (02:00 +10:30 becomes 02:30
   * +11:00, at 15:30Z). {@code * 2 * * *} runs at 02:30 (standing for 02:00-02:29, which do not exist) and at each
   * minute 02:31-02:59. On cron-utils, {@code next(15:29:59Z)} jumped to the next day.
   */
  @Test
  void lordHoweHalfHourSpringForwardKeepsTheRestOfTheHour() {
    CronSchedule hourTwo = unix("* 2 * * *", LORD_HOWE);
    assertThat(hourTwo.next(at("2026-10-03T14:59:59Z"))).contains(at("2026-10-03T15:30:00Z"));
    assertThat(hourTwo.next(at("2026-10-03T15:29:59Z"))).contains(at("2026-10-03T15:30:00Z"));
    assertThat(hourTwo.next(at("2026-10-03T15:30:00Z"))).contains(at("2026-10-03T15:31:00Z"));
    List<Instant> day = hourTwo.between(at("2026-10-03T12:00:00Z"), at("2026-10-04T12:00:00Z"), 100);
    assertThat(day).hasSize(30).startsWith(at("2026-10-03T15:30:00Z")).endsWith(at("2026-10-03T15:59:00Z"));
    assertThat(day).allMatch(hourTwo::matches);
    assertThat(hourTwo.matches(at("2026-10-03T15:29:00Z"))).isFalse();
    assertThat(hourTwo.next(at("2026-10-03T15:59:00Z"))).contains(at("2026-10-04T15:00:00Z"));
    assertThat(hourTwo.previous(at("2026-10-04T15:00:00Z"))).contains(at("2026-10-03T15:59:00Z"));
    assertThat(hourTwo.previous(at("2026-10-03T15:31:00Z"))).contains(at("2026-10-03T15:30:00Z"));
    // the day before is still +10:30: 02:59 there is 16:29Z
    assertThat(hourTwo.previous(at("2026-10-03T15:30:00Z"))).contains(at("2026-10-02T16:29:00Z"));
  }

  @Test
  void lordHoweHalfHourFallBackRunsTheRepeatedHalfHourOnce() {
    // 2026-04-05 02:00 +11:00 goes back to 01:30 +10:30 (at 2026-04-04T15:00Z): 01:30-01:59 happen twice
    CronSchedule daily = unix("45 1 * * *", LORD_HOWE);
    assertThat(daily.between(at("2026-04-03T00:00:00Z"), at("2026-04-06T00:00:00Z"), 10)).containsExactly(
        at("2026-04-03T14:45:00Z"), at("2026-04-04T14:45:00Z"), at("2026-04-05T15:15:00Z"));
    CronSchedule every10 = unix("*/10 * * * *", LORD_HOWE);
    assertThat(every10.between(at("2026-04-04T14:30:00Z"), at("2026-04-04T15:40:00Z"), 10)).containsExactly(
        at("2026-04-04T14:30:00Z"), at("2026-04-04T14:40:00Z"), at("2026-04-04T14:50:00Z"),
        at("2026-04-04T15:30:00Z"), at("2026-04-04T15:40:00Z"));
    // from inside the second pass (01:35 +10:30) the next new local time is 02:00 +10:30
    assertThat(every10.next(at("2026-04-04T15:05:00Z"))).contains(at("2026-04-04T15:30:00Z"));
    assertThat(every10.previous(at("2026-04-04T15:05:00Z"))).contains(at("2026-04-04T14:50:00Z"));
    assertThat(every10.matches(at("2026-04-04T15:10:00Z"))).isFalse(); // 01:40 again
  }

  @Test
  void parisDailyAtTwoThirtyRunsAtThreeOnSpringForwardAndOnceOnFallBack() {
    CronSchedule daily = unix("30 2 * * *", PARIS);
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00Z; 02:30 does not exist and runs at 03:00 CEST
    assertThat(daily.between(at("2026-03-28T00:00:00Z"), at("2026-03-31T00:00:00Z"), 10)).containsExactly(
        at("2026-03-28T01:30:00Z"), at("2026-03-29T01:00:00Z"), at("2026-03-30T00:30:00Z"));
    // 2026-10-25: 03:00 CEST goes back to 02:00 CET at 01:00Z; 02:30 happens twice and runs in the first pass
    assertThat(daily.between(at("2026-10-24T00:00:00Z"), at("2026-10-27T00:00:00Z"), 10)).containsExactly(
        at("2026-10-24T00:30:00Z"), at("2026-10-25T00:30:00Z"), at("2026-10-26T01:30:00Z"));
    // asked from inside the second pass (02:10 CET), the next run is the next day's, the last the first pass's
    assertThat(daily.next(at("2026-10-25T01:10:00Z"))).contains(at("2026-10-26T01:30:00Z"));
    assertThat(daily.previous(at("2026-10-25T01:10:00Z"))).contains(at("2026-10-25T00:30:00Z"));
    assertThat(daily.latestBefore(at("2026-10-23T00:00:00Z"), at("2026-10-27T00:00:00Z"), 10)).containsExactly(
        at("2026-10-23T00:30:00Z"), at("2026-10-24T00:30:00Z"), at("2026-10-25T00:30:00Z"),
        at("2026-10-26T01:30:00Z"));
  }

  @Test
  void parisEveryQuarterHourRunsOnceForTheWholeGap() {
    CronSchedule every15 = unix("*/15 * * * *", PARIS);
    // 02:00, 02:15, 02:30, 02:45 do not exist: all of them, and 03:00 itself, are the one run at 03:00 CEST
    assertThat(every15.between(at("2026-03-29T00:30:00Z"), at("2026-03-29T01:30:00Z"), 10)).containsExactly(
        at("2026-03-29T00:30:00Z"), at("2026-03-29T00:45:00Z"), at("2026-03-29T01:00:00Z"),
        at("2026-03-29T01:15:00Z"), at("2026-03-29T01:30:00Z"));
    assertThat(every15.next(at("2026-03-29T00:59:59Z"))).contains(at("2026-03-29T01:00:00Z"));
    assertThat(every15.previous(at("2026-03-29T01:15:00Z"))).contains(at("2026-03-29T01:00:00Z"));
    assertThat(every15.previous(at("2026-03-29T01:00:00Z"))).contains(at("2026-03-29T00:45:00Z"));
  }

  @Test
  void parisHourlyAndEveryMinuteSkipTheSecondPassOfTheRepeatedHour() {
    CronSchedule hourly = unix("30 * * * *", PARIS);
    // 02:30 CEST (00:30Z) runs; 02:30 CET (01:30Z) is the same local time again and does not
    assertThat(hourly.between(at("2026-10-24T23:00:00Z"), at("2026-10-25T03:00:00Z"), 10)).containsExactly(
        at("2026-10-24T23:30:00Z"), at("2026-10-25T00:30:00Z"), at("2026-10-25T02:30:00Z"));
    assertThat(hourly.latestBefore(at("2026-10-24T23:00:00Z"), at("2026-10-25T03:00:00Z"), 10)).containsExactly(
        at("2026-10-24T23:30:00Z"), at("2026-10-25T00:30:00Z"), at("2026-10-25T02:30:00Z"));
    assertThat(hourly.matches(at("2026-10-25T01:30:00Z"))).isFalse();
    CronSchedule everyMinute = unix("* * * * *", PARIS);
    assertThat(everyMinute.next(at("2026-10-25T00:59:30Z"))).contains(at("2026-10-25T02:00:00Z"));
    assertThat(everyMinute.next(at("2026-10-25T01:00:00Z"))).contains(at("2026-10-25T02:00:00Z"));
    assertThat(everyMinute.previous(at("2026-10-25T02:00:00Z"))).contains(at("2026-10-25T00:59:00Z"));
    // the same with seconds: a repeated second runs once
    CronSchedule spring = CronSchedule.parse(CronSyntax.SPRING, "30 30 2 * * *", PARIS);
    assertThat(spring.between(at("2026-10-24T12:00:00Z"), at("2026-10-25T12:00:00Z"), 10))
        .containsExactly(at("2026-10-25T00:30:30Z"));
  }

  @Test
  void newYorkGapAndOverlap() {
    // 2026-03-08 02:00 EST jumps to 03:00 EDT at 07:00Z; 2026-11-01 02:00 EDT goes back to 01:00 EST at 06:00Z
    CronSchedule twoThirty = unix("30 2 * * *", NEW_YORK);
    assertThat(twoThirty.between(at("2026-03-07T00:00:00Z"), at("2026-03-10T00:00:00Z"), 10)).containsExactly(
        at("2026-03-07T07:30:00Z"), at("2026-03-08T07:00:00Z"), at("2026-03-09T06:30:00Z"));
    CronSchedule oneThirty = unix("30 1 * * *", NEW_YORK);
    assertThat(oneThirty.between(at("2026-10-31T00:00:00Z"), at("2026-11-03T00:00:00Z"), 10)).containsExactly(
        at("2026-10-31T05:30:00Z"), at("2026-11-01T05:30:00Z"), at("2026-11-02T06:30:00Z"));
    assertThat(oneThirty.next(at("2026-11-01T06:10:00Z"))).contains(at("2026-11-02T06:30:00Z"));
  }

  @Test
  void londonGapAndOverlap() {
    // 2026-03-29 01:00 GMT jumps to 02:00 BST at 01:00Z; 2026-10-25 02:00 BST goes back to 01:00 GMT at 01:00Z
    CronSchedule quarterPastOne = unix("15 1 * * *", LONDON);
    assertThat(quarterPastOne.between(at("2026-03-28T00:00:00Z"), at("2026-03-31T00:00:00Z"), 10))
        .containsExactly(at("2026-03-28T01:15:00Z"), at("2026-03-29T01:00:00Z"), at("2026-03-30T00:15:00Z"));
    assertThat(quarterPastOne.between(at("2026-10-24T00:00:00Z"), at("2026-10-27T00:00:00Z"), 10))
        .containsExactly(at("2026-10-24T00:15:00Z"), at("2026-10-25T00:15:00Z"), at("2026-10-26T01:15:00Z"));
  }

  @Test
  void apiaSkippedAWholeDay() {
    // Samoa moved across the date line: 2011-12-29 24:00 -10:00 became 2011-12-31 00:00 +14:00 (at 10:00Z);
    // 2011-12-30 has no local times at all, so its noon runs at the first instant after the gap
    CronSchedule noon = unix("0 12 * * *", APIA);
    assertThat(noon.between(at("2011-12-29T00:00:00Z"), at("2011-12-31T00:00:00Z"), 10)).containsExactly(
        at("2011-12-29T22:00:00Z"), at("2011-12-30T10:00:00Z"), at("2011-12-30T22:00:00Z"));
    CronSchedule everyMinute = unix("* * * * *", APIA);
    // the day's 1,440 minutes and 00:00 on the 31st are one occurrence
    assertThat(everyMinute.next(at("2011-12-30T09:59:00Z"))).contains(at("2011-12-30T10:00:00Z"));
    assertThat(everyMinute.next(at("2011-12-30T10:00:00Z"))).contains(at("2011-12-30T10:01:00Z"));
    assertThat(everyMinute.previous(at("2011-12-30T10:00:00Z"))).contains(at("2011-12-30T09:59:00Z"));
    assertThat(unix("0 0 30 12 *", APIA).next(at("2011-01-01T00:00:00Z"))).contains(at("2011-12-30T10:00:00Z"));
  }

  @Test
  void aZoneWithoutDstIsPlainArithmetic() {
    CronSchedule kolkata = unix("*/25 * * * *", ZoneId.of("Asia/Kolkata"));
    assertThat(kolkata.next(at("2026-01-01T00:20:00Z"))).contains(at("2026-01-01T00:30:00Z")); // 06:00 +05:30
  }
}
