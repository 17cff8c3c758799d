package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import dev.saaskit.jobs.CronSyntax;
import dev.saaskit.jobs.MisfirePolicy;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * For random valid 5-field expressions, zones and start instants: the occurrence math is consistent with
 * cron-utils' own matcher, and the firing rules never fire an occurrence twice nor (with FIRE_ALL and enough
 * catch-up) leave one out.
 */
class CronMathPropertyTest {
  private static final ExecutionTimeFactory MATCHER = new ExecutionTimeFactory();
  private static final List<ZoneId> ZONES = List.of(ZoneId.of("UTC"), ZoneId.of("Europe/Paris"),
      ZoneId.of("America/New_York"), ZoneId.of("Australia/Lord_Howe"), ZoneId.of("Asia/Kolkata"));

  @Property(tries = 120)
  void successiveOccurrencesIncreaseStrictlyAndMatch(@ForAll("expressions") String cron, @ForAll("zones") ZoneId zone,
      @ForAll("instants") Instant start) {
    CronSchedule schedule = CronSchedule.parse(CronSyntax.UNIX, cron, zone);
    ExecutionTime reference = MATCHER.forUnix(cron);
    WallClockMatcher wallClock = new WallClockMatcher(cron);
    boolean zoneWithoutDst = zone.getRules().isFixedOffset() || zone.equals(ZoneId.of("Asia/Kolkata"));
    Instant previous = start;
    for (int i = 0; i < 25; i++) {
      Optional<Instant> next = schedule.next(previous);
      assertThat(next).as("%s in %s after %s", cron, zone, previous).isPresent();
      Instant occurrence = next.get();
      assertThat(occurrence).isAfter(previous);
      assertThat(wallClock.matches(occurrence.atZone(zone))).as("%s matches %s in %s", occurrence, cron, zone)
          .isTrue();
      if (zoneWithoutDst) {
        // cron-utils 9.2.1's isMatch is wrong next to some DST changes (02:01 CET on 2026-10-25 in Paris for
        // '1 */2 * * *'; 00:30 on 2026-10-05 on Lord Howe Island for '30 0-2 * * *'), so there the test's own
        // wall-clock matcher is the reference; elsewhere cron-utils' must agree too
        assertThat(reference.isMatch(occurrence.atZone(zone))).as("%s isMatch %s in %s", occurrence, cron, zone)
            .isTrue();
      }
      assertThat(schedule.matches(occurrence)).isTrue();
      previous = occurrence;
    }
  }

  @Property(tries = 60)
  void previousIsTheOccurrenceWhoseNextIsNotBeforeTheInstant(@ForAll("expressions") String cron,
      @ForAll("zones") ZoneId zone, @ForAll("instants") Instant instant) {
    CronSchedule schedule = CronSchedule.parse(CronSyntax.UNIX, cron, zone);
    Instant previous = schedule.previous(instant).orElseThrow();
    assertThat(previous).isBefore(instant);
    assertThat(schedule.matches(previous)).isTrue();
    assertThat(schedule.next(previous).orElseThrow()).as("%s in %s: next after %s", cron, zone, previous)
        .isAfterOrEqualTo(instant);
    // and the catch-up list ends with it
    List<Instant> latest = schedule.latestBefore(previous.minus(Duration.ofDays(3)), instant, 5);
    assertThat(latest).isNotEmpty().isSorted().endsWith(previous).doesNotHaveDuplicates();
    for (int i = 1; i < latest.size(); i++) {
      assertThat(schedule.next(latest.get(i - 1))).contains(latest.get(i));
    }
  }

  @Property(tries = 80)
  void firingNeverRepeatsAnOccurrence(@ForAll("expressions") String cron, @ForAll("zones") ZoneId zone,
      @ForAll("instants") Instant start, @ForAll("policies") MisfirePolicy policy,
      @ForAll("tickGaps") List<Duration> gaps) {
    CronSchedule schedule = CronSchedule.parse(CronSyntax.UNIX, cron, zone);
    Duration threshold = Duration.ofMinutes(1);
    Instant nextFireAt = schedule.next(start).orElseThrow();
    Instant now = start;
    List<Instant> fired = new ArrayList<>();
    for (Duration gap : gaps) {
      now = now.plus(gap);
      if (nextFireAt.isAfter(now)) {
        continue;
      }
      RecurringPlan plan = RecurringPlan.plan(schedule, nextFireAt, now, policy, threshold, 1_000_000, 1_000_000);
      for (Instant occurrence : plan.fire()) {
        assertThat(schedule.matches(occurrence)).isTrue();
        assertThat(occurrence).isAfterOrEqualTo(nextFireAt).isBeforeOrEqualTo(now);
      }
      fired.addAll(plan.fire());
      assertThat(plan.nextFireAt()).isAfter(now);
      nextFireAt = plan.nextFireAt();
    }
    Set<Instant> distinct = new HashSet<>(fired);
    assertThat(distinct).as("no occurrence fired twice").hasSameSizeAs(fired);
    assertThat(fired).isSorted();
    if (policy == MisfirePolicy.FIRE_ALL) {
      Instant firstNext = schedule.next(start).orElseThrow();
      List<Instant> all = schedule.between(firstNext, fired.isEmpty() ? start : fired.get(fired.size() - 1),
          1_000_000);
      assertThat(fired).as("FIRE_ALL with a large cap leaves no gap").isEqualTo(fired.isEmpty() ? List.of() : all);
    }
  }

  @Provide
  Arbitrary<ZoneId> zones() {
    return Arbitraries.of(ZONES);
  }

  @Provide
  Arbitrary<MisfirePolicy> policies() {
    return Arbitraries.of(MisfirePolicy.class);
  }

  /** DST changes of the zones above in 2026, where cron math is most fragile. */
  private static final List<Instant> DST_CHANGES = List.of(
      Instant.parse("2026-03-29T01:00:00Z"), Instant.parse("2026-10-25T01:00:00Z"), // Paris
      Instant.parse("2026-03-08T07:00:00Z"), Instant.parse("2026-11-01T06:00:00Z"), // New York
      Instant.parse("2026-04-04T15:00:00Z"), Instant.parse("2026-10-03T15:30:00Z")); // Lord Howe (30 min)

  @Provide
  Arbitrary<Instant> instants() {
    Arbitrary<Integer> nanos = Arbitraries.of(0, 0, 0, 1, 500_000_000, 999_999_999);
    // 2000-01-01 .. 2060-01-01, any second, sometimes with a fraction
    Arbitrary<Instant> anywhere = Combinators.combine(Arbitraries.longs().between(946_684_800L, 2_840_140_800L),
            nanos)
        .as(Instant::ofEpochSecond);
    // within a day and a half of a DST change
    Arbitrary<Instant> nearDst = Combinators.combine(Arbitraries.of(DST_CHANGES),
            Arbitraries.longs().between(-36 * 3600, 36 * 3600), nanos)
        .as((change, offset, nano) -> change.plusSeconds(offset).plusNanos(nano));
    return Arbitraries.frequencyOf(Tuple.of(1, anywhere), Tuple.of(1, nearDst));
  }

  @Provide
  Arbitrary<List<Duration>> tickGaps() {
    Arbitrary<Duration> small = Arbitraries.longs().between(0, 90).map(Duration::ofSeconds);
    Arbitrary<Duration> outage = Arbitraries.longs().between(2, 36 * 60).map(Duration::ofMinutes);
    return Arbitraries.frequencyOf(Tuple.of(8, small), Tuple.of(1, outage))
        .list().ofMinSize(1).ofMaxSize(40);
  }

  @Provide
  Arbitrary<String> expressions() {
    return Combinators.combine(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6))
        .as((m, h, dom, mon, dow) -> String.join(" ", m, h, dom, mon, dow));
  }

  /** One field: '*', a value, a range, a step, a stepped range or a list; days of month stop at 28 (always exist). */
  private static Arbitrary<String> field(int min, int max) {
    Arbitrary<Integer> value = Arbitraries.integers().between(min, max);
    Arbitrary<String> single = value.map(String::valueOf);
    Arbitrary<String> range = Combinators.combine(value, value)
        .as((a, b) -> Math.min(a, b) + "-" + Math.max(a, b));
    Arbitrary<String> step = Arbitraries.integers().between(1, Math.max(1, max - min)).map(s -> "*/" + s);
    // cron-utils wants a real range and a step no longer than it
    Arbitrary<String> steppedRange = Combinators.combine(Arbitraries.integers().between(min, max - 1),
            Arbitraries.integers().between(1, max - min))
        .flatAs((a, width) -> {
          int b = Math.min(max, a + width);
          return Arbitraries.integers().between(1, b - a).map(s -> a + "-" + b + "/" + s);
        });
    Arbitrary<String> list = value.list().ofMinSize(2).ofMaxSize(4).uniqueElements()
        .map(vs -> String.join(",", vs.stream().sorted().map(String::valueOf).toList()));
    return Arbitraries.oneOf(Arbitraries.just("*"), single, range, step, steppedRange, list);
  }

  /**
   * An independent reading of the generated expressions (values, ranges, steps, lists) against wall-clock time,
   * with crontab's rule that when both day fields are restricted either may match. Unlike Vixie cron, for
   * cron-utils a stepped wildcard such as '*' + '/4' is a restriction: only a bare '*' is not.
   */
  private static final class WallClockMatcher {
    private final BitSet[] allowed = new BitSet[5];
    private final boolean dayOfMonthRestricted;
    private final boolean dayOfWeekRestricted;

    WallClockMatcher(String cron) {
      String[] fields = cron.split(" ");
      int[][] bounds = {{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}};
      for (int f = 0; f < 5; f++) {
        allowed[f] = parse(fields[f], bounds[f][0], bounds[f][1]);
      }
      dayOfMonthRestricted = !fields[2].equals("*");
      dayOfWeekRestricted = !fields[4].equals("*");
    }

    private static BitSet parse(String field, int min, int max) {
      BitSet bits = new BitSet();
      for (String part : field.split(",")) {
        String[] stepped = part.split("/");
        int step = stepped.length == 2 ? Integer.parseInt(stepped[1]) : 1;
        int from;
        int to;
        if (stepped[0].equals("*")) {
          from = min;
          to = max;
        } else if (stepped[0].contains("-")) {
          String[] range = stepped[0].split("-");
          from = Integer.parseInt(range[0]);
          to = Integer.parseInt(range[1]);
        } else {
          from = Integer.parseInt(stepped[0]);
          to = stepped.length == 2 ? max : from;
        }
        for (int v = from; v <= to; v += step) {
          bits.set(v);
        }
      }
      return bits;
    }

    boolean matches(ZonedDateTime t) {
      if (t.getSecond() != 0 || t.getNano() != 0) {
        return false;
      }
      boolean dayOfMonth = allowed[2].get(t.getDayOfMonth());
      boolean dayOfWeek = allowed[4].get(t.getDayOfWeek().getValue() % 7);
      boolean day = dayOfMonthRestricted && dayOfWeekRestricted ? dayOfMonth || dayOfWeek : dayOfMonth && dayOfWeek;
      return day && allowed[0].get(t.getMinute()) && allowed[1].get(t.getHour())
          && allowed[3].get(t.getMonthValue());
    }
  }

  /** cron-utils' own matcher, straight from the library, as the reference. */
  private static final class ExecutionTimeFactory {
    private final CronParser unix = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));

    ExecutionTime forUnix(String cron) {
      return ExecutionTime.forCron(unix.parse(cron));
    }
  }
}
