package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import dev.saaskit.jobs.CronSyntax;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What each construct of the three syntaxes means, in UTC (docs/jobs-cron.md, "Expression syntax"). Rows marked
 * "as before" give what cron-utils 9.2.1, which parsed these expressions until saaskit owned the occurrence math,
 * computed too; rows marked "changed" document where it now differs, and why.
 */
class CronSyntaxSemanticsTest {

  /** The first occurrences strictly after {@code from}, at most {@code n}. */
  private static List<String> occurrences(CronSyntax syntax, String cron, String from, int n) {
    CronSchedule schedule = CronSchedule.parse(syntax, cron, ZoneOffset.UTC);
    List<String> out = new ArrayList<>();
    Instant t = Instant.parse(from);
    for (int i = 0; i < n; i++) {
      Optional<Instant> next = schedule.next(t);
      if (next.isEmpty()) {
        break;
      }
      t = next.get();
      out.add(t.toString().replace(":00Z", "Z").replace("T00:00Z", ""));
    }
    return out;
  }

  // 2026-01-01 is a Thursday
  @ParameterizedTest(name = "{0} ''{1}''")
  @CsvSource(delimiter = '|', value = {
      // crontab: the day fields are ORed when both are restricted, ANDed (one is '*') otherwise; as before
      "UNIX   | 0 0 13 * 5          | 2026-01-02 2026-01-09 2026-01-13 2026-01-16",
      "UNIX   | 0 0 * * 5           | 2026-01-02 2026-01-09 2026-01-16 2026-01-23",
      // '*/1' is '*': unrestricted, so Fridays only; as before
      "UNIX   | 0 0 */1 * 5         | 2026-01-02 2026-01-09 2026-01-16 2026-01-23",
      // '*/2' restricts (unlike Vixie cron): odd days OR Fridays; as before
      "UNIX   | 0 0 */2 * 5         | 2026-01-02 2026-01-03 2026-01-05 2026-01-07",
      // 0 and 7 are Sunday, names in any case; as before
      "UNIX   | 0 0 * * 7           | 2026-01-04 2026-01-11 2026-01-18 2026-01-25",
      "UNIX   | 0 0 * * 0           | 2026-01-04 2026-01-11 2026-01-18 2026-01-25",
      "UNIX   | 0 0 * * 5-7         | 2026-01-02 2026-01-03 2026-01-04 2026-01-09",
      "UNIX   | 0 0 * * mon-fri/2   | 2026-01-02 2026-01-05 2026-01-07 2026-01-09",
      "UNIX   | 0 0 1 jan,Jul *     | 2026-07-01 2027-01-01 2027-07-01 2028-01-01",
      // a start with a step runs to the end of the field; '/n' alone is '*/n'; as before
      "UNIX   | 5/15 0 1 1 *        | 2026-01-01T00:05Z 2026-01-01T00:20Z 2026-01-01T00:35Z 2026-01-01T00:50Z",
      "UNIX   | /20 0 1 1 *         | 2026-01-01T00:20Z 2026-01-01T00:40Z 2027-01-01 2027-01-01T00:20Z",
      // changed: '7/2' (and 'SUN/2') run from Sunday to the end of the week, so Sunday only, as in Spring;
      // cron-utils read them as starting from 0 (every other day from Sunday)
      "UNIX   | 0 0 * * 7/2         | 2026-01-04 2026-01-11 2026-01-18 2026-01-25",
      // SPRING: seconds first; both day fields must match; '?' is '*'; as before
      "SPRING | 0 0 0 13 * FRI      | 2026-02-13 2026-03-13 2026-11-13 2027-08-13",
      "SPRING | 0 0 0 ? * FRI       | 2026-01-02 2026-01-09 2026-01-16 2026-01-23",
      // changed: '?' in both day fields is every day (cron-utils never fired)
      "SPRING | 0 0 0 ? * ?         | 2026-01-02 2026-01-03 2026-01-04 2026-01-05",
      // L, L-n, LW, nW in day-of-month; as before
      "SPRING | 0 0 0 L * ?         | 2026-01-31 2026-02-28 2026-03-31 2026-04-30",
      "SPRING | 0 0 0 L-3 * ?       | 2026-01-28 2026-02-25 2026-03-28 2026-04-27",
      "SPRING | 0 0 0 LW * ?        | 2026-01-30 2026-02-27 2026-03-31 2026-04-30",
      "SPRING | 0 0 0 15W * ?       | 2026-01-15 2026-02-16 2026-03-16 2026-04-15",
      "SPRING | 0 0 0 1W 8 ?        | 2026-08-03 2027-08-02 2028-08-01 2029-08-01",
      // changed: a Sunday that ends the month moves to the Friday before (Quartz's rule; cron-utils kept the
      // Sunday), and a month too short for n has no such day (cron-utils failed with an exception)
      "QUARTZ | 0 0 0 28W 2 ? 2027  | 2027-02-26",
      "SPRING | 0 0 0 31W * ?       | 2026-01-30 2026-03-31 2026-05-29 2026-07-31",
      // day-of-week: dL last, d#k k-th, L alone is day 7 (Saturday in QUARTZ, Sunday in SPRING); as before
      "SPRING | 0 0 0 ? * 5L        | 2026-01-30 2026-02-27 2026-03-27 2026-04-24",
      "SPRING | 0 0 0 ? * friL      | 2026-01-30 2026-02-27 2026-03-27 2026-04-24",
      "SPRING | 0 0 0 ? * MON#2     | 2026-01-12 2026-02-09 2026-03-09 2026-04-13",
      "SPRING | 0 0 0 ? * 0#1       | 2026-01-04 2026-02-01 2026-03-01 2026-04-05",
      "SPRING | 0 0 0 ? * L         | 2026-01-04 2026-01-11 2026-01-18 2026-01-25",
      "QUARTZ | 0 0 0 ? * L         | 2026-01-03 2026-01-10 2026-01-17 2026-01-24",
      "QUARTZ | 0 0 0 ? * 6#1       | 2026-01-02 2026-02-06 2026-03-06 2026-04-03",
      "QUARTZ | 0 0 12 ? * 2-6      | 2026-01-01T12:00Z 2026-01-02T12:00Z 2026-01-05T12:00Z 2026-01-06T12:00Z",
      // a descending day-of-week range wraps around (SPRING, QUARTZ); as before
      "SPRING | 0 0 0 * * FRI-MON   | 2026-01-02 2026-01-03 2026-01-04 2026-01-05",
      "QUARTZ | 0 0 0 ? * FRI-MON   | 2026-01-02 2026-01-03 2026-01-04 2026-01-05",
      // changed: so does one in any other field of QUARTZ but the year, and in SPRING's day-of-month and month
      // (cron-utils accepted them but ran the first value only)
      "QUARTZ | 0 0 22-2 * * ?      | 2026-01-01T01:00Z 2026-01-01T02:00Z 2026-01-01T22:00Z 2026-01-01T23:00Z",
      "SPRING | 0 0 0 1 NOV-FEB *   | 2026-02-01 2026-11-01 2026-12-01 2027-01-01",
      // changed: L, LW, nW and L-n count in a list (cron-utils dropped L and read nW as n there)
      "SPRING | 0 0 0 1,L * ?       | 2026-01-31 2026-02-01 2026-02-28 2026-03-01",
      "SPRING | 0 0 0 15W,L-1 2 ?   | 2026-02-16 2026-02-27 2027-02-15 2027-02-27",
      // QUARTZ: the year field; an expression past its last year has no occurrence; as before
      "QUARTZ | 0 0 0 1 1 ? 2027-2031/2 | 2027-01-01 2029-01-01 2031-01-01",
      "QUARTZ | 0 0 0 1 1 ? 2020    | ''",
      "UNIX   | 0 0 30 2 *          | ''",
  })
  void meaning(CronSyntax syntax, String cron, String expected) {
    List<String> want = expected.isEmpty() ? List.of() : Arrays.asList(expected.split(" "));
    assertThat(occurrences(syntax, cron, "2026-01-01T00:00:00Z", want.isEmpty() ? 1 : want.size()))
        .containsExactlyElementsOf(want);
  }

  @ParameterizedTest(name = "{0} ''{1}''")
  @CsvSource(delimiter = '|', value = {
      // the specials belong to SPRING and QUARTZ, and only to the day fields
      "UNIX   | 0 0 L * *           | day-of-month field 'L' is invalid: 'L' is not a number",
      "UNIX   | 0 0 ? * *           | day-of-month field '?' is invalid: '?' is only allowed in the day fields",
      "SPRING | 0 ? * * * *         | minute field '?' is invalid",
      "SPRING | 0 0 0 * * MON#6     | the week after '#' must be 1-5",
      "QUARTZ | 0 0 0 ? * MON#0     | the week after '#' must be 1-5",
      "SPRING | 0 0 0 L-0 * ?       | the days before the last day (L-n) must be 1-31",
      // no longer accepted (cron-utils took them): '?' in a list, 'nL' in day-of-month, signs, '|' composites
      "SPRING | 0 0 0 * * ?,MON     | '?' stands alone",
      "QUARTZ | 0 0 0 ?,5W * ?      | '?' stands alone",
      "SPRING | 0 0 0 3L * ?        | day-of-month field '3L' is invalid",
      "UNIX   | +5 * * * *          | minute field '+5' is invalid: '+5' is not a number",
      "UNIX   | '0 0 1|2 * *'       | 'day-of-month field ''1|2'' is invalid'",
      // ranges go up, except where they wrap
      "UNIX   | 0 0 * * SUN-SAT     | day-of-week field 'SUN-SAT' is invalid: range SUN-SAT goes down (7 > 6)",
      "QUARTZ | 0 0 0 1 1 ? 2030-2027 | year field '2030-2027' is invalid: range 2030-2027 goes down",
      "UNIX   | */60 * * * *        | minute field '*/60' is invalid: step 60 is not in 1-59",
      "UNIX   | 1,,2 * * * *        | minute field '1,,2' is invalid: a list has an empty item",
      "UNIX   | 0 0 * FOO *         | month field 'FOO' is invalid: 'FOO' is not a number or a name (JAN-DEC)",
      "QUARTZ | 0 0 0 ? * ?         | exactly one of day-of-month and day-of-week must be '?'",
  })
  void rejected(CronSyntax syntax, String cron, String expected) {
    assertThatIllegalArgumentException().isThrownBy(() -> CronSchedule.parse(syntax, cron, ZoneOffset.UTC))
        .withMessageContaining("'" + cron + "'")
        .withMessageContaining(expected);
  }
}
