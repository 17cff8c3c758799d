package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.jobs.CronSyntax;
import dev.saaskit.jobs.MisfirePolicy;
import dev.saaskit.testing.PropertySamples;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.time.zone.ZoneOffsetTransition;
import java.time.zone.ZoneRules;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The occurrence math against a brute-force oracle, for random expressions of all three syntaxes (specials
 * included), random zones of the JDK's tzdb and random windows, most of them around a change of the zone's offset.
 *
 * <p>The oracle shares no code with {@link CronFields} or {@link CronSchedule}: it reads the expression with its
 * own matcher (per value, by definition: "the last Friday" is a Friday a week before another month), and walks
 * the window instant by instant (every minute, or every second when the expression has a seconds field other
 * than {@code 0}), keeping the latest wall-clock time the zone has shown. An instant is an occurrence if the
 * clock newly reaches a matching local time there: its own, or one it skipped in a gap. Then {@code next},
 * {@code previous} and {@code matches} must agree with that set everywhere in the window.
 *
 * <p>Seeded samples ({@link PropertySamples}: a fixed seed under CI); every case a property test ever failed on,
 * here or on cron-utils, is in {@link #knownCases()}.
 */
class CronMathPropertyTest {
  /** Zones whose changes have found bugs before, or that change in unusual ways. */
  private static final List<String> NOTABLE_ZONES = List.of("UTC", "Europe/Paris", "America/New_York",
      "Australia/Lord_Howe", "Europe/London", "Pacific/Apia", "Asia/Kolkata", "Antarctica/Troll",
      "America/St_Johns", "Australia/Adelaide", "Pacific/Kwajalein", "Pacific/Chatham");
  private static final List<String> DST_ZONES = List.of("Europe/Paris", "America/New_York",
      "Australia/Lord_Howe", "Europe/London", "Antarctica/Troll", "America/St_Johns", "Australia/Adelaide",
      "Pacific/Chatham");
  private static final List<String> ALL_ZONES = List.copyOf(new TreeSet<>(ZoneId.getAvailableZoneIds()));
  private static final Instant EARLIEST = Instant.parse("1995-01-01T00:00:00Z");
  private static final Instant LATEST = Instant.parse("2055-01-01T00:00:00Z");

  /** An expression, a zone, and the window the oracle walks. */
  record Case(CronSyntax syntax, String cron, ZoneId zone, Instant center) {
    /** Minute steps when the expression only ever fires on second 0, else second steps (a shorter window). */
    long step() {
      return syntax == CronSyntax.UNIX || cron.split(" ", -1)[0].equals("0") ? 60 : 1;
    }

    Instant windowStart() {
      return center.minus(step() == 60 ? Duration.ofHours(36) : Duration.ofMinutes(90))
          .truncatedTo(ChronoUnit.MINUTES);
    }

    Instant windowEnd() {
      return center.plus(step() == 60 ? Duration.ofHours(36) : Duration.ofMinutes(90))
          .truncatedTo(ChronoUnit.MINUTES);
    }

    CronSchedule schedule() {
      return CronSchedule.parse(syntax, cron, zone);
    }

    @Override
    public String toString() {
      return syntax + " '" + cron + "' in " + zone + " around " + center;
    }
  }

  // ---- properties ----------------------------------------------------------------------------------------------

  @TestFactory
  Stream<DynamicTest> nextPreviousAndMatchesAgreeWithTheBruteForceWalk() {
    return PropertySamples.check(150, CronMathPropertyTest::randomCase, CronMathPropertyTest::agreesWithOracle);
  }

  /**
   * Cases found by property tests, here and on cron-utils (commit messages and comments of the jqwik era), plus
   * the zones' most unusual changes: each is checked against the oracle in every run.
   */
  static Stream<Case> knownCases() {
    ZoneId lordHowe = ZoneId.of("Australia/Lord_Howe");
    ZoneId paris = ZoneId.of("Europe/Paris");
    return Stream.of(
        // issue 10, point 9: cron-utils skipped 02:30-02:59 after the 30-minute spring-forward
        new Case(CronSyntax.UNIX, "* 2 * * *", lordHowe, Instant.parse("2026-10-03T15:30:00Z")),
        // cron-utils' lastExecution skipped 02:31 on that day (hence its previous() built on next())
        new Case(CronSyntax.UNIX, "31 2 * * *", lordHowe, Instant.parse("2026-10-03T15:30:00Z")),
        // cron-utils' isMatch was wrong at 02:01 CET on Paris's fall-back day ...
        new Case(CronSyntax.UNIX, "1 */2 * * *", paris, Instant.parse("2026-10-25T01:01:00Z")),
        // ... and at 00:30 on 2026-10-05 on Lord Howe Island
        new Case(CronSyntax.UNIX, "30 0-2 * * *", lordHowe, Instant.parse("2026-10-04T13:30:00Z")),
        // a daily run inside the repeated hour ran twice when the next fire time was computed from "now"
        new Case(CronSyntax.UNIX, "30 2 * * *", paris, Instant.parse("2026-10-25T01:00:00Z")),
        // an hourly schedule ran in both passes of the repeated hour (cron-utils' rule)
        new Case(CronSyntax.UNIX, "30 * * * *", paris, Instant.parse("2026-10-25T01:00:00Z")),
        new Case(CronSyntax.SPRING, "*/20 * * * * *", paris, Instant.parse("2026-10-25T01:00:00Z")),
        new Case(CronSyntax.QUARTZ, "0 0 2 ? * SUN", ZoneId.of("America/New_York"),
            Instant.parse("2026-11-01T06:00:00Z")),
        // whole days skipped: Samoa in 2011, Kwajalein in 1993
        new Case(CronSyntax.UNIX, "* * * * *", ZoneId.of("Pacific/Apia"), Instant.parse("2011-12-30T10:00:00Z")),
        new Case(CronSyntax.UNIX, "0 12 * * *", ZoneId.of("Pacific/Kwajalein"),
            Instant.parse("1993-08-20T12:00:00Z")),
        // a two-hour DST change (Troll station, Antarctica)
        new Case(CronSyntax.UNIX, "*/30 * * * *", ZoneId.of("Antarctica/Troll"),
            Instant.parse("2026-03-29T01:00:00Z")));
  }

  @ParameterizedTest
  @MethodSource("knownCases")
  void knownCasesAgreeWithTheBruteForceWalk(Case c) {
    agreesWithOracle(c);
  }

  static void agreesWithOracle(Case c) {
    CronSchedule schedule = c.schedule();
    Instant from = c.windowStart();
    Instant to = c.windowEnd();
    List<Instant> expected = new Oracle(c.syntax(), c.cron()).occurrences(c.zone(), from, to, c.step());
    TreeSet<Instant> expectedSet = new TreeSet<>(expected);

    // walking forward and walking back both list exactly the oracle's occurrences
    List<Instant> forward = new ArrayList<>();
    for (Optional<Instant> n = schedule.next(from.minusNanos(1)); n.isPresent() && !n.get().isAfter(to);
        n = schedule.next(n.get())) {
      forward.add(n.get());
    }
    assertThat(forward).as("walking forward with next()").isEqualTo(expected);
    List<Instant> backward = new ArrayList<>();
    for (Optional<Instant> p = schedule.previous(to.plusNanos(1)); p.isPresent() && !p.get().isBefore(from);
        p = schedule.previous(p.get())) {
      backward.add(0, p.get());
    }
    assertThat(backward).as("walking back with previous()").isEqualTo(expected);

    // matches() at every instant the oracle walked
    for (Instant t = from; !t.isAfter(to); t = t.plusSeconds(c.step())) {
      assertThat(schedule.matches(t)).as("matches(%s)", t).isEqualTo(expectedSet.contains(t));
    }

    // next() and previous() from in-between instants: around each occurrence and each zone change, and at
    // instants with a fraction of a second
    List<Instant> probes = new ArrayList<>();
    for (Instant o : expected.size() <= 200 ? expected : expected.subList(0, 200)) {
      probes.addAll(List.of(o.minusSeconds(1), o.minusNanos(1), o.plusNanos(1), o.plusMillis(500)));
    }
    ZoneRules rules = c.zone().getRules();
    for (ZoneOffsetTransition t = rules.nextTransition(from); t != null && t.getInstant().isBefore(to);
        t = rules.nextTransition(t.getInstant())) {
      probes.addAll(List.of(t.getInstant().minusSeconds(1), t.getInstant(), t.getInstant().plusSeconds(1),
          t.getInstant().plusNanos(1)));
    }
    long span = Duration.between(from, to).toSeconds();
    for (int i = 0; i < 20; i++) {
      probes.add(from.plusSeconds(span * i / 20).plusMillis(i * 37L));
    }
    for (Instant t : probes) {
      if (t.isBefore(from) || t.isAfter(to)) {
        continue;
      }
      Optional<Instant> wantNext = Optional.ofNullable(expectedSet.higher(t));
      Optional<Instant> next = schedule.next(t);
      if (wantNext.isPresent()) {
        assertThat(next).as("next(%s)", t).contains(wantNext.get());
      } else {
        assertThat(next.filter(n -> !n.isAfter(to))).as("next(%s) beyond the window", t).isEmpty();
      }
      Optional<Instant> wantPrevious = Optional.ofNullable(expectedSet.lower(t));
      Optional<Instant> previous = schedule.previous(t);
      if (wantPrevious.isPresent()) {
        assertThat(previous).as("previous(%s)", t).contains(wantPrevious.get());
      } else {
        assertThat(previous.filter(p -> !p.isBefore(from))).as("previous(%s) before the window", t).isEmpty();
      }
    }
  }

  /** A plan never fires an occurrence twice, and with FIRE_ALL and room enough leaves none out. */
  @TestFactory
  Stream<DynamicTest> firingNeverRepeatsAnOccurrence() {
    return PropertySamples.check(80, random -> new Firing(randomCase(random), randomPolicy(random),
        randomGaps(random)), CronMathPropertyTest::firesEachOccurrenceAtMostOnce);
  }

  record Firing(Case c, MisfirePolicy policy, List<Duration> gaps) {}

  static void firesEachOccurrenceAtMostOnce(Firing f) {
    CronSchedule schedule = f.c().schedule();
    Instant start = f.c().windowStart();
    Optional<Instant> first = schedule.next(start);
    if (first.isEmpty()) {
      return;
    }
    Instant nextFireAt = first.get();
    Instant now = start;
    List<Instant> fired = new ArrayList<>();
    for (Duration gap : f.gaps()) {
      now = now.plus(gap);
      if (nextFireAt.isAfter(now)) {
        continue;
      }
      RecurringPlan plan = RecurringPlan.plan(schedule, nextFireAt, now, f.policy(), Duration.ofMinutes(1),
          1_000_000, 1_000_000);
      for (Instant occurrence : plan.fire()) {
        assertThat(schedule.matches(occurrence)).isTrue();
        assertThat(occurrence).isAfterOrEqualTo(nextFireAt).isBeforeOrEqualTo(now);
      }
      fired.addAll(plan.fire());
      if (plan.nextFireAt() == null) {
        break;
      }
      assertThat(plan.nextFireAt()).isAfter(now);
      nextFireAt = plan.nextFireAt();
    }
    assertThat(new HashSet<>(fired)).as("no occurrence fired twice").hasSameSizeAs(fired);
    assertThat(fired).isSorted();
    if (f.policy() == MisfirePolicy.FIRE_ALL && !fired.isEmpty()) {
      assertThat(fired).as("FIRE_ALL with a large cap leaves no gap")
          .isEqualTo(schedule.between(first.get(), fired.get(fired.size() - 1), 1_000_000));
    }
  }

  // ---- generators ----------------------------------------------------------------------------------------------

  static Case randomCase(RandomGenerator r) {
    int pick = r.nextInt(4);
    CronSyntax syntax = pick < 2 ? CronSyntax.UNIX : pick == 2 ? CronSyntax.SPRING : CronSyntax.QUARTZ;
    ZoneId zone = ZoneId.of(r.nextBoolean() ? NOTABLE_ZONES.get(r.nextInt(NOTABLE_ZONES.size()))
        : ALL_ZONES.get(r.nextInt(ALL_ZONES.size())));
    Instant center = Instant.ofEpochSecond(r.nextLong(EARLIEST.getEpochSecond(), LATEST.getEpochSecond()));
    ZoneOffsetTransition change = zone.getRules().nextTransition(center);
    if ((change == null || change.getInstant().isAfter(LATEST)) && r.nextBoolean()) {
      zone = ZoneId.of(DST_ZONES.get(r.nextInt(DST_ZONES.size())));
      change = zone.getRules().nextTransition(center);
    }
    boolean nearChange = r.nextInt(3) > 0 && change != null && change.getInstant().isBefore(LATEST);
    if (nearChange) {
      center = change.getInstant();
    }
    String cron = expression(r, syntax, center.atZone(zone).toLocalDateTime());
    if (nearChange) {
      // anywhere in the window the oracle walks: three days for minute steps, three hours for second steps
      long reach = new Case(syntax, cron, zone, center).step() == 60 ? 30 * 3600 : 80 * 60;
      center = center.plusSeconds(r.nextLong(-reach, reach + 1));
    }
    return new Case(syntax, cron, zone, center);
  }

  private static MisfirePolicy randomPolicy(RandomGenerator r) {
    List<MisfirePolicy> all = List.of(MisfirePolicy.values());
    return all.get(r.nextInt(all.size()));
  }

  /** Mostly ticks of up to 90 s, sometimes an outage of up to 36 hours. */
  private static List<Duration> randomGaps(RandomGenerator r) {
    List<Duration> gaps = new ArrayList<>();
    int n = r.nextInt(1, 41);
    for (int i = 0; i < n; i++) {
      gaps.add(r.nextInt(9) == 0
          ? Duration.ofMinutes(r.nextLong(2, 36 * 60 + 1)) : Duration.ofSeconds(r.nextLong(0, 91)));
    }
    return gaps;
  }

  private static final String[] MONTHS = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
      "NOV", "DEC"};
  private static final String[] DAYS_FROM_MONDAY = {"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"};
  private static final String[] DAYS_FROM_SUNDAY = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
  /** Day names of UNIX and SPRING by value 0-7: 0 has none (SUN is 7). */
  private static final String[] DAY_NAMES = {null, "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"};

  /**
   * A valid expression, biased to fire often enough to be seen in a window of three days (or three hours, with
   * seconds) around {@code near}: months and years usually include the window's.
   */
  static String expression(RandomGenerator r, CronSyntax syntax, LocalDateTime near) {
    boolean unix = syntax == CronSyntax.UNIX;
    boolean quartz = syntax == CronSyntax.QUARTZ;
    List<String> fields = new ArrayList<>();
    String second = unix ? "0" : r.nextInt(3) == 0 ? "0" : plain(r, 0, 59, null, quartz);
    if (!unix) {
      fields.add(second);
    }
    fields.add(plain(r, 0, 59, null, quartz));
    // the window is three days, or three hours with a seconds field: often include its hour
    fields.add(withSometimes(r, plain(r, 0, 23, null, quartz), near.getHour(), second.equals("0") ? 4 : 2));
    String dom = r.nextBoolean() ? "*"
        : unix || r.nextInt(3) > 0 ? plain(r, 1, 31, null, !unix) : daySpecials(r, true, syntax);
    String dow = r.nextBoolean() ? "*"
        : unix || r.nextInt(3) > 0 ? plain(r, quartz ? 1 : 0, 7, quartz ? DAYS_FROM_SUNDAY : DAY_NAMES, !unix)
        : daySpecials(r, false, syntax);
    dom = withSometimes(r, dom, near.getDayOfMonth(), 3);
    if (quartz) {
      if (r.nextBoolean()) {
        dom = "?";
      } else {
        dow = "?";
      }
    } else if (!unix && r.nextInt(6) == 0) {
      if (r.nextBoolean()) {
        dom = "?";
      } else {
        dow = "?";
      }
    }
    fields.add(dom);
    fields.add(withSometimes(r, r.nextInt(3) > 0 ? "*" : plain(r, 1, 12, MONTHS, !unix), near.getMonthValue(), 2));
    fields.add(dow);
    if (quartz && r.nextBoolean()) {
      int year = near.getYear();
      fields.add(switch (r.nextInt(4)) {
        case 0 -> "*";
        case 1 -> String.valueOf(year);
        case 2 -> (year - r.nextInt(3)) + "-" + (year + r.nextInt(3));
        default -> (year - 1) + "/" + r.nextInt(1, 4);
      });
    }
    return String.join(" ", fields);
  }

  /** The field, with {@code value} added to its list one time in {@code oneIn} (unless it is a wildcard). */
  private static String withSometimes(RandomGenerator r, String field, int value, int oneIn) {
    return field.startsWith("*") || field.equals("?") || r.nextInt(oneIn) > 0 ? field : field + "," + value;
  }

  /** A field of plain items (values, names, ranges, steps, lists). */
  private static String plain(RandomGenerator r, int min, int max, String[] names, boolean wraps) {
    if (r.nextInt(3) == 0) {
      return r.nextInt(8) == 0 ? "*/1" : "*";
    }
    int maxStep = Math.min(max, max - min + 1);
    List<String> items = new ArrayList<>();
    int n = r.nextInt(4) == 0 ? r.nextInt(2, 4) : 1;
    for (int i = 0; i < n; i++) {
      int a = r.nextInt(min, max + 1);
      int b = r.nextInt(min, max + 1);
      if (a > b && !wraps) {
        int t = a;
        a = b;
        b = t;
      }
      String from = name(r, a, min, names);
      items.add(switch (r.nextInt(6)) {
        case 0 -> from;
        case 1 -> from + "-" + name(r, b, min, names);
        case 2 -> "*/" + r.nextInt(1, Math.min(maxStep, 12) + 1);
        case 3 -> from + "/" + r.nextInt(1, maxStep + 1);
        case 4 -> from + "-" + name(r, b, min, names) + "/" + r.nextInt(1, Math.min(maxStep, 8) + 1);
        default -> String.valueOf(a);
      });
    }
    return String.join(",", items);
  }

  /** The value, or sometimes its name (in any case) where {@code names} (indexed from the field's min) has one. */
  private static String name(RandomGenerator r, int value, int min, String[] names) {
    String name = names == null ? null : names[value - min];
    if (name == null || r.nextInt(3) > 0) {
      return String.valueOf(value);
    }
    return r.nextBoolean() ? name : name.toLowerCase(Locale.ROOT);
  }

  /** A day field with the specials of SPRING and QUARTZ, sometimes in a list. */
  private static String daySpecials(RandomGenerator r, boolean dayOfMonth, CronSyntax syntax) {
    boolean quartz = syntax == CronSyntax.QUARTZ;
    List<String> items = new ArrayList<>();
    int n = r.nextInt(4) == 0 ? 2 : 1;
    for (int i = 0; i < n; i++) {
      if (dayOfMonth) {
        items.add(switch (r.nextInt(5)) {
          case 0 -> "L";
          case 1 -> "L-" + r.nextInt(1, 31);
          case 2 -> "LW";
          case 3 -> r.nextInt(1, 32) + "W";
          default -> String.valueOf(r.nextInt(1, 32));
        });
      } else {
        int day = quartz ? r.nextInt(1, 8) : r.nextInt(0, 8);
        String d = r.nextBoolean() ? String.valueOf(day)
            : quartz ? DAYS_FROM_SUNDAY[day - 1] : DAYS_FROM_MONDAY[(day + 6) % 7];
        items.add(switch (r.nextInt(4)) {
          case 0 -> d + "L";
          case 1 -> d + "#" + r.nextInt(1, 6);
          case 2 -> "L";
          default -> d;
        });
      }
    }
    return String.join(",", items);
  }

  // ---- the oracle ----------------------------------------------------------------------------------------------

  /** An independent reading of an expression: does a local date-time match it. */
  static final class Oracle {
    private static final Map<String, Integer> MONTH_NAMES = names(MONTHS, 1);
    private final CronSyntax syntax;
    private final String[] fields;
    private final int offset;

    Oracle(CronSyntax syntax, String cron) {
      this.syntax = syntax;
      this.fields = cron.toUpperCase(Locale.ROOT).split(" ");
      this.offset = syntax == CronSyntax.UNIX ? 0 : 1;
    }

    private static Map<String, Integer> names(String[] names, int first) {
      Map<String, Integer> map = new HashMap<>();
      for (int i = 0; i < names.length; i++) {
        map.put(names[i], first + i);
      }
      return map;
    }

    /**
     * The instants in {@code [from, to]} at which the clock newly shows a matching local time, walking in steps of
     * {@code step} seconds from 27 hours before {@code from} (longer than any zone's jump, so the latest time
     * shown is known by {@code from}).
     */
    List<Instant> occurrences(ZoneId zone, Instant from, Instant to, long step) {
      List<Instant> out = new ArrayList<>();
      LocalDateTime shown = null;
      for (Instant i = from.minus(Duration.ofHours(27)); !i.isAfter(to); i = i.plusSeconds(step)) {
        LocalDateTime wall = LocalDateTime.ofInstant(i, zone);
        if (shown != null && wall.isAfter(shown)) {
          boolean occurs = false;
          for (LocalDateTime local = shown.plusSeconds(step); !local.isAfter(wall) && !occurs;
              local = local.plusSeconds(step)) {
            occurs = matches(local);
          }
          if (occurs && !i.isBefore(from)) {
            out.add(i);
          }
        }
        if (shown == null || wall.isAfter(shown)) {
          shown = wall;
        }
      }
      return out;
    }

    boolean matches(LocalDateTime t) {
      boolean second = syntax == CronSyntax.UNIX
          ? t.getSecond() == 0 : plain(fields[0], t.getSecond(), 0, 59, Map.of());
      boolean year = fields.length < 7 || plain(fields[6], t.getYear(), 1970, 2099, Map.of());
      return second && year && plain(fields[offset], t.getMinute(), 0, 59, Map.of())
          && plain(fields[offset + 1], t.getHour(), 0, 23, Map.of())
          && plain(fields[offset + 3], t.getMonthValue(), 1, 12, MONTH_NAMES)
          && day(t.toLocalDate());
    }

    private boolean day(LocalDate date) {
      String dom = fields[offset + 2];
      String dow = fields[offset + 4];
      boolean domAny = dom.equals("*") || dom.equals("*/1") || dom.equals("?");
      boolean dowAny = dow.equals("*") || dow.equals("*/1") || dow.equals("?");
      boolean domMatch = domAny || dayOfMonth(dom, date);
      boolean dowMatch = dowAny || dayOfWeek(dow, date);
      if (syntax == CronSyntax.UNIX && !domAny && !dowAny) {
        return domMatch || dowMatch; // crontab
      }
      return domMatch && dowMatch;
    }

    private boolean dayOfMonth(String field, LocalDate date) {
      int day = date.getDayOfMonth();
      int length = date.lengthOfMonth();
      for (String item : field.split(",", -1)) {
        boolean match;
        if (item.equals("L")) {
          match = day == length;
        } else if (item.startsWith("L-")) {
          match = day == length - Integer.parseInt(item.substring(2));
        } else if (item.equals("LW")) {
          // a weekday with no weekday after it in the month
          match = weekday(date) && date.plusDays(1)
              .datesUntil(date.with(TemporalAdjusters.lastDayOfMonth()).plusDays(1)).noneMatch(Oracle::weekday);
        } else if (item.endsWith("W")) {
          match = day == nearestWeekday(date, Integer.parseInt(item.substring(0, item.length() - 1)));
        } else {
          match = plain(item, day, 1, 31, Map.of());
        }
        if (match) {
          return true;
        }
      }
      return false;
    }

    private static boolean weekday(LocalDate d) {
      return d.getDayOfWeek() != DayOfWeek.SATURDAY && d.getDayOfWeek() != DayOfWeek.SUNDAY;
    }

    /** The Monday-to-Friday of the month nearest to day n (none if the month is shorter than n). */
    private static int nearestWeekday(LocalDate date, int n) {
      if (n > date.lengthOfMonth()) {
        return -1;
      }
      int best = -1;
      for (int d = 1; d <= date.lengthOfMonth(); d++) {
        if (weekday(date.withDayOfMonth(d)) && (best < 0 || Math.abs(d - n) < Math.abs(best - n))) {
          best = d;
        }
      }
      return best;
    }

    private boolean dayOfWeek(String field, LocalDate date) {
      boolean quartz = syntax == CronSyntax.QUARTZ;
      Map<String, Integer> names = quartz ? names(DAYS_FROM_SUNDAY, 1) : names(DAYS_FROM_MONDAY, 1);
      for (String item : field.split(",", -1)) {
        boolean match;
        if (item.equals("L")) {
          match = is(date, 7);
        } else if (item.contains("#")) {
          String[] parts = item.split("#", -1);
          match = is(date, value(parts[0], names)) && (date.getDayOfMonth() - 1) / 7 + 1 == Integer.parseInt(parts[1]);
        } else if (item.endsWith("L")) {
          match = is(date, value(item.substring(0, item.length() - 1), names))
              && date.plusWeeks(1).getMonth() != date.getMonth();
        } else {
          match = false;
          for (int v = quartz ? 1 : 0; v <= 7 && !match; v++) {
            match = is(date, v) && plain(item, v, quartz ? 1 : 0, 7, names);
          }
        }
        if (match) {
          return true;
        }
      }
      return false;
    }

    /** Whether {@code date} falls on the day the syntax numbers {@code v}. */
    private boolean is(LocalDate date, int v) {
      DayOfWeek day = syntax == CronSyntax.QUARTZ
          ? (v == 1 ? DayOfWeek.SUNDAY : DayOfWeek.of(v - 1))
          : (v == 0 || v == 7 ? DayOfWeek.SUNDAY : DayOfWeek.of(v));
      return date.getDayOfWeek() == day;
    }

    private static int value(String token, Map<String, Integer> names) {
      return names.containsKey(token) ? names.get(token) : Integer.parseInt(token);
    }

    /**
     * Whether {@code v} is in a list of '*', values, ranges and steps: a range from a to b (wrapping past the
     * field's end when b is less than a) with step s holds the values at a distance from a that is a multiple of
     * s and no more than b's.
     */
    private static boolean plain(String field, int v, int min, int max, Map<String, Integer> names) {
      int span = max - min + 1;
      for (String item : field.split(",", -1)) {
        String[] stepped = item.split("/", -1);
        int step = stepped.length == 2 ? Integer.parseInt(stepped[1]) : 1;
        String base = stepped[0].isEmpty() ? "*" : stepped[0];
        int a;
        int b;
        if (base.equals("*")) {
          a = min;
          b = max;
        } else if (base.contains("-")) {
          a = value(base.substring(0, base.indexOf('-')), names);
          b = value(base.substring(base.indexOf('-') + 1), names);
        } else {
          a = value(base, names);
          b = stepped.length == 2 ? max : a;
        }
        int distance = Math.floorMod(v - a, span);
        if (distance % step == 0 && distance <= Math.floorMod(b - a, span)) {
          return true;
        }
      }
      return false;
    }
  }
}
