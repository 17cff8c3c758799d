package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import dev.saaskit.jobs.CronSyntax;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CronScheduleTest {
  private static CronSchedule unix(String cron) {
    return CronSchedule.parse(CronSyntax.UNIX, cron, ZoneOffset.UTC);
  }

  private static Instant at(String iso) {
    return Instant.parse(iso);
  }

  @Test
  void nextIsStrictlyAfterAlsoInsideASecond() {
    CronSchedule everyMinute = unix("* * * * *");
    assertThat(everyMinute.next(at("2026-01-01T00:05:00Z"))).contains(at("2026-01-01T00:06:00Z"));
    assertThat(everyMinute.next(at("2026-01-01T00:04:59.999Z"))).contains(at("2026-01-01T00:05:00Z"));
    assertThat(everyMinute.next(at("2026-01-01T00:05:00.001Z"))).contains(at("2026-01-01T00:06:00Z"));
  }

  @Test
  void previousIsStrictlyBefore() {
    CronSchedule everyMinute = unix("* * * * *");
    assertThat(everyMinute.previous(at("2026-01-01T00:05:00Z"))).contains(at("2026-01-01T00:04:00Z"));
    assertThat(everyMinute.previous(at("2026-01-01T00:05:00.001Z"))).contains(at("2026-01-01T00:05:00Z"));
    assertThat(everyMinute.previous(at("2026-01-01T00:04:59.5Z"))).contains(at("2026-01-01T00:04:00Z"));
  }

  @Test
  void betweenIsInclusiveAndLatestBeforeIsExclusiveAtTheEnd() {
    CronSchedule every15 = unix("*/15 * * * *");
    assertThat(every15.between(at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), 100)).containsExactly(
        at("2026-01-01T00:00:00Z"), at("2026-01-01T00:15:00Z"), at("2026-01-01T00:30:00Z"),
        at("2026-01-01T00:45:00Z"), at("2026-01-01T01:00:00Z"));
    assertThat(every15.between(at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), 2))
        .containsExactly(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:15:00Z"));
    assertThat(every15.latestBefore(at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), 100)).containsExactly(
        at("2026-01-01T00:00:00Z"), at("2026-01-01T00:15:00Z"), at("2026-01-01T00:30:00Z"),
        at("2026-01-01T00:45:00Z"));
    assertThat(every15.latestBefore(at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), 2))
        .containsExactly(at("2026-01-01T00:30:00Z"), at("2026-01-01T00:45:00Z"));
  }

  @Test
  void springAndQuartzHaveSeconds() {
    CronSchedule spring = CronSchedule.parse(CronSyntax.SPRING, "*/20 * * * * *", ZoneOffset.UTC);
    assertThat(spring.between(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:01:00Z"), 10)).containsExactly(
        at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:20Z"), at("2026-01-01T00:00:40Z"),
        at("2026-01-01T00:01:00Z"));
    CronSchedule quartz = CronSchedule.parse(CronSyntax.QUARTZ, "30 0 12 ? * MON-FRI", ZoneOffset.UTC);
    // 2026-01-02 is a Friday, the 3rd and 4th a weekend
    assertThat(quartz.next(at("2026-01-02T13:00:00Z"))).contains(at("2026-01-05T12:00:30Z"));
    CronSchedule quartzYear = CronSchedule.parse(CronSyntax.QUARTZ, "0 0 0 1 1 ? 2020", ZoneOffset.UTC);
    assertThat(quartzYear.next(at("2026-01-01T00:00:00Z"))).isEmpty();
  }

  @Test
  void unixDayFieldsAreOredLikeCrontab() {
    CronSchedule fridayOr13th = unix("0 0 13 * 5");
    assertThat(fridayOr13th.between(at("2026-01-01T00:00:00Z"), at("2026-01-16T00:00:00Z"), 10)).containsExactly(
        at("2026-01-02T00:00:00Z"), at("2026-01-09T00:00:00Z"), at("2026-01-13T00:00:00Z"),
        at("2026-01-16T00:00:00Z"));
  }

  @Test
  void whiteSpaceIsNormalized() {
    assertThat(unix("  0   3 * *\t* ").expression()).isEqualTo("0 3 * * *");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "UNIX   | 61 * * * *        | minute field '61'",
      "UNIX   | * 25 * * *        | hour field '25'",
      "UNIX   | * * 32 * *        | day-of-month field '32'",
      "UNIX   | * * * 13 *        | month field '13'",
      "UNIX   | * * * * 8         | day-of-week field '8'",
      "UNIX   | 5-2 * * * *       | minute field '5-2'",
      "UNIX   | * * * JANX *      | month field 'JANX'",
      "UNIX   | */0 * * * *       | minute field '*/0'",
      "SPRING | 60 * * * * *      | second field '60'",
      "QUARTZ | 0 0 0 ? * 9       | day-of-week field '9'",
      "QUARTZ | 0 0 0 1 1 ? 1900  | year field '1900'",
  })
  void invalidFieldIsNamed(CronSyntax syntax, String cron, String expected) {
    assertThatIllegalArgumentException().isThrownBy(() -> CronSchedule.parse(syntax, cron, ZoneOffset.UTC))
        .withMessageContaining("'" + cron + "'")
        .withMessageContaining(expected);
  }

  @Test
  void wrongFieldCountSaysWhatIsExpected() {
    assertThatIllegalArgumentException().isThrownBy(() -> unix("0 0 3 * * *"))
        .withMessageContaining("'0 0 3 * * *'")
        .withMessageContaining("UNIX syntax needs 5 fields (minute hour day-of-month month day-of-week) but it has 6")
        .withMessageContaining("CronSyntax.SPRING");
    assertThatIllegalArgumentException().isThrownBy(() -> CronSchedule.parse(CronSyntax.QUARTZ, "0 3 * * *",
            ZoneOffset.UTC))
        .withMessageContaining("needs 6 or 7 fields");
    assertThatIllegalArgumentException().isThrownBy(() -> unix("   "))
        .withMessageContaining("but it has 0");
  }

  @Test
  void crossFieldProblemIsReportedWithTheFieldNames() {
    assertThatIllegalArgumentException().isThrownBy(() -> CronSchedule.parse(CronSyntax.QUARTZ, "0 0 0 1 * MON",
            ZoneOffset.UTC))
        .withMessageContaining("'0 0 0 1 * MON'")
        .withMessageContaining("day-of-month")
        .withMessageContaining("day-of-week");
  }

  @Test
  void matchesOnlyWholeSecondOccurrences() {
    CronSchedule hourly = unix("0 * * * *");
    assertThat(hourly.matches(at("2026-01-01T05:00:00Z"))).isTrue();
    assertThat(hourly.matches(at("2026-01-01T05:00:00.5Z"))).isFalse();
    assertThat(hourly.matches(at("2026-01-01T05:01:00Z"))).isFalse();
    assertThat(List.of(hourly.syntax(), hourly.zone())).containsExactly(CronSyntax.UNIX, ZoneOffset.UTC);
  }

  @Test
  void previousFindsTheLastOccurrenceOfAScheduleThatHasEnded() {
    CronSchedule once = CronSchedule.parse(CronSyntax.QUARTZ, "0 0 0 1 1 ? 2026", ZoneOffset.UTC);
    assertThat(once.next(at("2026-01-01T00:00:00Z"))).isEmpty();
    assertThat(once.previous(at("2027-06-01T00:00:00Z"))).contains(at("2026-01-01T00:00:00Z"));
    assertThat(once.latestBefore(at("2025-01-01T00:00:00Z"), at("2027-06-01T00:00:00Z"), 5))
        .containsExactly(at("2026-01-01T00:00:00Z"));
    assertThat(once.previous(at("2026-01-01T00:00:00Z"))).isEmpty();
  }

  @Test
  void anExpressionThatNeverMatchesHasNoOccurrenceEitherWay() {
    CronSchedule february30 = unix("0 0 30 2 *");
    assertThat(february30.next(at("2026-01-01T00:00:00Z"))).isEmpty();
    assertThat(february30.previous(at("2026-01-01T00:00:00Z"))).isEmpty();
    assertThat(february30.matches(at("2026-03-02T00:00:00Z"))).isFalse();
  }
}
