package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.jobs.CronSyntax;
import dev.saaskit.jobs.MisfirePolicy;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class RecurringPlanTest {
  private static final CronSchedule EVERY_MINUTE = CronSchedule.parse(CronSyntax.UNIX, "* * * * *", ZoneOffset.UTC);
  private static final CronSchedule HOURLY = CronSchedule.parse(CronSyntax.UNIX, "0 * * * *", ZoneOffset.UTC);
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final Duration MINUTE = Duration.ofMinutes(1);

  private static RecurringPlan plan(CronSchedule s, Instant next, Instant now, MisfirePolicy policy, int cap) {
    return RecurringPlan.plan(s, next, now, policy, MINUTE, cap, 10_000);
  }

  @Test
  void notDueFiresNothingAndKeepsTheNextFireTime() {
    RecurringPlan p = plan(EVERY_MINUTE, T0.plusSeconds(60), T0.plusSeconds(30), MisfirePolicy.FIRE_ONCE, 100);
    assertThat(p.fire()).isEmpty();
    assertThat(p.nextFireAt()).isEqualTo(T0.plusSeconds(60));
    assertThat(p.misfired()).isFalse();
  }

  @Test
  void onTimeOccurrencesFireWhateverThePolicy() {
    for (MisfirePolicy policy : MisfirePolicy.values()) {
      // found 59 s late: within the one-minute threshold
      RecurringPlan p = plan(HOURLY, T0, T0.plusSeconds(59), policy, 100);
      assertThat(p.fire()).as(policy.name()).containsExactly(T0);
      assertThat(p.nextFireAt()).isEqualTo(T0.plusSeconds(3600));
      assertThat(p.misfired()).isFalse();
    }
  }

  @Test
  void exactlyAtTheThresholdIsStillOnTime() {
    RecurringPlan p = plan(HOURLY, T0, T0.plus(MINUTE), MisfirePolicy.SKIP, 100);
    assertThat(p.fire()).containsExactly(T0);
    RecurringPlan late = plan(HOURLY, T0, T0.plus(MINUTE).plusMillis(1), MisfirePolicy.SKIP, 100);
    assertThat(late.fire()).isEmpty();
    assertThat(late.misfired()).isTrue();
    assertThat(late.nextFireAt()).isEqualTo(T0.plusSeconds(3600));
  }

  @Test
  void fireOnceEnqueuesTheLatestMissedOccurrenceOnly() {
    // hourly job, scheduler down from 00:00 to 05:30: 00:00 .. 05:00 missed
    RecurringPlan p = plan(HOURLY, T0, T0.plus(Duration.ofMinutes(330)), MisfirePolicy.FIRE_ONCE, 100);
    assertThat(p.fire()).containsExactly(T0.plus(Duration.ofHours(5)));
    assertThat(p.nextFireAt()).isEqualTo(T0.plus(Duration.ofHours(6)));
    assertThat(p.misfired()).isTrue();
  }

  @Test
  void fireOnceAddsNothingWhenAnOnTimeRunCoversTheGap() {
    // every minute, down two hours, back 30 s after an occurrence: that on-time run stands for the missed ones
    Instant now = T0.plus(Duration.ofHours(2)).plusSeconds(30);
    RecurringPlan p = plan(EVERY_MINUTE, T0, now, MisfirePolicy.FIRE_ONCE, 100);
    assertThat(p.fire()).containsExactly(T0.plus(Duration.ofHours(2)));
    assertThat(p.nextFireAt()).isEqualTo(T0.plus(Duration.ofHours(2)).plusSeconds(60));
  }

  @Test
  void fireAllEnqueuesEachMissedUpToTheCapKeepingTheLatest() {
    Instant now = T0.plus(Duration.ofHours(2)).plusSeconds(30);
    RecurringPlan all = plan(EVERY_MINUTE, T0, now, MisfirePolicy.FIRE_ALL, 1000);
    assertThat(all.fire()).hasSize(121).startsWith(T0).endsWith(T0.plus(Duration.ofHours(2)));
    RecurringPlan capped = plan(EVERY_MINUTE, T0, now, MisfirePolicy.FIRE_ALL, 10);
    // 10 missed (01:50 .. 01:59, the latest before the on-time window) + the on-time 02:00
    assertThat(capped.fire()).hasSize(11)
        .startsWith(T0.plus(Duration.ofMinutes(110)))
        .endsWith(T0.plus(Duration.ofMinutes(119)), T0.plus(Duration.ofMinutes(120)));
    assertThat(capped.nextFireAt()).isEqualTo(T0.plus(Duration.ofMinutes(121)));
  }

  @Test
  void skipEnqueuesOnlyOnTimeOccurrences() {
    Instant now = T0.plus(Duration.ofHours(2)).plusSeconds(30);
    assertThat(plan(EVERY_MINUTE, T0, now, MisfirePolicy.SKIP, 100).fire())
        .containsExactly(T0.plus(Duration.ofHours(2)));
    assertThat(plan(HOURLY, T0, T0.plus(Duration.ofMinutes(330)), MisfirePolicy.SKIP, 100).fire()).isEmpty();
  }

  @Test
  void aScheduleWithNoFurtherOccurrenceEndsWithoutNextFireTime() {
    CronSchedule once = CronSchedule.parse(CronSyntax.QUARTZ, "0 0 0 1 1 ? 2026", ZoneOffset.UTC);
    RecurringPlan p = plan(once, T0, T0.plusSeconds(1), MisfirePolicy.FIRE_ONCE, 100);
    assertThat(p.fire()).containsExactly(T0);
    assertThat(p.nextFireAt()).isNull();
  }

  @Test
  void theMissedLastOccurrenceOfAFinishedScheduleIsCaughtUp() {
    // cron-utils could not step back from a point after a schedule's last occurrence, so FIRE_ONCE lost it
    CronSchedule once = CronSchedule.parse(CronSyntax.QUARTZ, "0 0 0 1 1 ? 2026", ZoneOffset.UTC);
    RecurringPlan p = plan(once, T0, T0.plus(Duration.ofMinutes(5)), MisfirePolicy.FIRE_ONCE, 100);
    assertThat(p.fire()).containsExactly(T0);
    assertThat(p.misfired()).isTrue();
    assertThat(p.nextFireAt()).isNull();
    assertThat(plan(once, T0, T0.plus(Duration.ofMinutes(5)), MisfirePolicy.FIRE_ALL, 100).fire())
        .containsExactly(T0);
  }

  @Test
  void onTimeBoundLimitsAHugeThresholdOnAFastSchedule() {
    CronSchedule everySecond = CronSchedule.parse(CronSyntax.SPRING, "* * * * * *", ZoneOffset.UTC);
    RecurringPlan p = RecurringPlan.plan(everySecond, T0, T0.plus(Duration.ofHours(1)), MisfirePolicy.FIRE_ONCE,
        Duration.ofDays(1), 100, 50);
    assertThat(p.fire()).hasSize(50).startsWith(T0);
    assertThat(p.nextFireAt()).isEqualTo(T0.plus(Duration.ofHours(1)).plusSeconds(1));
  }

  @Test
  void aDailyRunInTheRepeatedHourOfFallBackIsNotFiredAgainInItsSecondPass() {
    CronSchedule daily = CronSchedule.parse(CronSyntax.UNIX, "30 2 * * *", ZoneId.of("Europe/Paris"));
    Instant firstPass = Instant.parse("2026-10-25T00:30:00Z"); // 02:30 CEST
    // found half an hour late, during the second pass of 02:00-03:00 (02:00 CET)
    RecurringPlan p = RecurringPlan.plan(daily, firstPass, Instant.parse("2026-10-25T01:00:00Z"),
        MisfirePolicy.FIRE_ONCE, Duration.ofHours(1), 100, 10_000);
    assertThat(p.fire()).containsExactly(firstPass);
    assertThat(p.nextFireAt()).isEqualTo(Instant.parse("2026-10-26T01:30:00Z"));
  }
}
