package dev.saaskit.jobs.internal;

import dev.saaskit.jobs.CronSyntax;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.Year;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The wall-clock half of a cron expression: which local date-times match it, and the search for the next and the
 * previous match. Parsing turns each field into the set of values it allows (a bit mask), and the day fields into
 * rules evaluated per month ({@code L}, {@code W}, {@code #} depend on the month's length and first weekday), so
 * the search moves field by field (next allowed month, day, hour...) rather than second by second. Knows nothing
 * of time zones: {@link CronSchedule} maps local times to instants. Immutable and thread-safe. Not API.
 */
final class CronFields {
  /** The first and last year a Quartz year field may name. */
  static final int MIN_YEAR = 1970;
  static final int MAX_YEAR = 2099;
  /**
   * How far a search looks: the Gregorian calendar repeats every 400 years (146,097 days, a whole number of
   * weeks), so an expression with no match in 400 consecutive years never matches.
   */
  private static final int SEARCH_YEARS = 401;

  private final long seconds;
  private final long minutes;
  private final long hours;
  private final long months;
  private final DayField daysOfMonth;
  private final DayField daysOfWeek;
  /** crontab's rule: when both day fields are restricted, a day matches if either does. */
  private final boolean eitherDay;
  /** Allowed years as offsets from {@link #MIN_YEAR}, or null for any year. */
  private final @Nullable BitSet years;

  private CronFields(long seconds, long minutes, long hours, long months, DayField daysOfMonth,
      DayField daysOfWeek, boolean eitherDay, @Nullable BitSet years) {
    this.seconds = seconds;
    this.minutes = minutes;
    this.hours = hours;
    this.months = months;
    this.daysOfMonth = daysOfMonth;
    this.daysOfWeek = daysOfWeek;
    this.eitherDay = eitherDay;
    this.years = years;
  }

  /** A field (index into the syntax's field names, or -1 for a rule between fields) and what is wrong with it. */
  static final class Invalid extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    final int field;

    Invalid(int field, String reason) {
      super(reason);
      this.field = field;
    }
  }

  // ---- searching --------------------------------------------------------------------------------------------

  /**
   * The first matching date-time at or after {@code from} (whole seconds; nanoseconds ignored), or null if there
   * is none within 400 years (then there is none at all).
   */
  @Nullable LocalDateTime nextOrSame(LocalDateTime from) {
    int y = from.getYear();
    int mo = from.getMonthValue();
    int d = from.getDayOfMonth();
    int h = from.getHour();
    int mi = from.getMinute();
    int s = from.getSecond();
    int lastYear = from.getYear() + SEARCH_YEARS;
    while (true) {
      // carry an overflowing field into the next one up, so each step below may simply add one
      if (s > 59) {
        s = 0;
        mi++;
      }
      if (mi > 59) {
        mi = 0;
        h++;
      }
      if (h > 23) {
        h = 0;
        d++;
      }
      if (mo <= 12 && d > lengthOfMonth(y, mo)) {
        d = 1;
        mo++;
      }
      if (mo > 12) {
        mo = 1;
        y++;
      }
      if (y > lastYear) {
        return null;
      }
      int year = nextYear(y);
      if (year < 0) {
        return null;
      }
      if (year != y) {
        y = year;
        mo = 1;
        d = 1;
        h = mi = s = 0;
      }
      int month = nextBit(months, mo);
      if (month < 0) {
        y++;
        mo = 1;
        d = 1;
        h = mi = s = 0;
        continue;
      }
      if (month != mo) {
        mo = month;
        d = 1;
        h = mi = s = 0;
      }
      int day = nextBit(days(y, mo), d);
      if (day < 0) {
        mo++;
        d = 1;
        h = mi = s = 0;
        continue;
      }
      if (day != d) {
        d = day;
        h = mi = s = 0;
      }
      int hour = nextBit(hours, h);
      if (hour < 0) {
        d++;
        h = mi = s = 0;
        continue;
      }
      if (hour != h) {
        h = hour;
        mi = s = 0;
      }
      int minute = nextBit(minutes, mi);
      if (minute < 0) {
        h++;
        mi = s = 0;
        continue;
      }
      if (minute != mi) {
        mi = minute;
        s = 0;
      }
      int second = nextBit(seconds, s);
      if (second < 0) {
        mi++;
        s = 0;
        continue;
      }
      return LocalDateTime.of(y, mo, d, h, mi, second);
    }
  }

  /**
   * The last matching date-time at or before {@code from} (whole seconds; nanoseconds ignored), or null if there
   * is none within 400 years before it.
   */
  @Nullable LocalDateTime previousOrSame(LocalDateTime from) {
    int y = from.getYear();
    int mo = from.getMonthValue();
    int d = from.getDayOfMonth();
    int h = from.getHour();
    int mi = from.getMinute();
    int s = from.getSecond();
    int firstYear = from.getYear() - SEARCH_YEARS;
    while (true) {
      if (s < 0) {
        s = 59;
        mi--;
      }
      if (mi < 0) {
        mi = 59;
        h--;
      }
      if (h < 0) {
        h = 23;
        d--;
      }
      if (d < 1) {
        d = 31; // clamped to the month's length below
        mo--;
      }
      if (mo < 1) {
        mo = 12;
        y--;
      }
      if (y < firstYear) {
        return null;
      }
      d = Math.min(d, lengthOfMonth(y, mo));
      int year = previousYear(y);
      if (year < 0) {
        return null;
      }
      if (year != y) {
        y = year;
        mo = 12;
        d = 31;
        h = 23;
        mi = s = 59;
        continue;
      }
      int month = previousBit(months, mo);
      if (month < 0) {
        y--;
        mo = 12;
        d = 31;
        h = 23;
        mi = s = 59;
        continue;
      }
      if (month != mo) {
        mo = month;
        d = 31;
        h = 23;
        mi = s = 59;
        continue;
      }
      int day = previousBit(days(y, mo), d);
      if (day < 0) {
        d = 0;
        h = 23;
        mi = s = 59;
        continue;
      }
      if (day != d) {
        d = day;
        h = 23;
        mi = s = 59;
      }
      int hour = previousBit(hours, h);
      if (hour < 0) {
        d--;
        h = 23;
        mi = s = 59;
        continue;
      }
      if (hour != h) {
        h = hour;
        mi = s = 59;
      }
      int minute = previousBit(minutes, mi);
      if (minute < 0) {
        h--;
        mi = s = 59;
        continue;
      }
      if (minute != mi) {
        mi = minute;
        s = 59;
      }
      int second = previousBit(seconds, s);
      if (second < 0) {
        mi--;
        s = 59;
        continue;
      }
      return LocalDateTime.of(y, mo, d, h, mi, second);
    }
  }

  /** The days of {@code month} in {@code year} that match both day fields (or either, by crontab's rule), bit d. */
  private long days(int year, int month) {
    int length = lengthOfMonth(year, month);
    int firstWeekday = LocalDate.of(year, month, 1).getDayOfWeek().getValue() % 7;
    long dom = daysOfMonth.days(length, firstWeekday);
    long dow = daysOfWeek.days(length, firstWeekday);
    return eitherDay ? dom | dow : dom & dow;
  }

  /** The first allowed year at or after {@code year}, or -1. */
  private int nextYear(int year) {
    if (years == null) {
      return year;
    }
    if (year > MAX_YEAR) {
      return -1;
    }
    int next = years.nextSetBit(Math.max(0, year - MIN_YEAR));
    return next < 0 ? -1 : MIN_YEAR + next;
  }

  /** The last allowed year at or before {@code year}, or -1. */
  private int previousYear(int year) {
    if (years == null) {
      return year;
    }
    if (year < MIN_YEAR) {
      return -1;
    }
    int previous = years.previousSetBit(Math.min(MAX_YEAR, year) - MIN_YEAR);
    return previous < 0 ? -1 : MIN_YEAR + previous;
  }

  private static int lengthOfMonth(int year, int month) {
    return month == 2 ? (Year.isLeap(year) ? 29 : 28) : month == 4 || month == 6 || month == 9 || month == 11 ? 30 : 31;
  }

  /** The lowest set bit at or above {@code from}, or -1. */
  private static int nextBit(long mask, int from) {
    if (from > 63) {
      return -1;
    }
    long m = mask & (-1L << from);
    return m == 0 ? -1 : Long.numberOfTrailingZeros(m);
  }

  /** The highest set bit at or below {@code from}, or -1. */
  private static int previousBit(long mask, int from) {
    if (from < 0) {
      return -1;
    }
    long m = from >= 63 ? mask : mask & ((1L << (from + 1)) - 1);
    return m == 0 ? -1 : 63 - Long.numberOfLeadingZeros(m);
  }

  // ---- day fields --------------------------------------------------------------------------------------------

  /** Which days of a month one term of a day field allows: bit d for day d. */
  @FunctionalInterface
  private interface DayTerm {
    /**
     * @param length the month's length, 28-31
     * @param firstWeekday the weekday of its first day, 0 = Sunday .. 6 = Saturday
     */
    long days(int length, int firstWeekday);
  }

  /** One day field: the union of its terms, limited to the days the month has. */
  private static final class DayField {
    private final List<DayTerm> terms;

    DayField(List<DayTerm> terms) {
      this.terms = List.copyOf(terms);
    }

    long days(int length, int firstWeekday) {
      long days = 0;
      for (DayTerm term : terms) {
        days |= term.days(length, firstWeekday);
      }
      return days & monthMask(length);
    }
  }

  private static long monthMask(int length) {
    return ((1L << (length + 1)) - 1) & ~1L;
  }

  private static int weekdayOf(int day, int firstWeekday) {
    return (firstWeekday + day - 1) % 7;
  }

  /** Days whose weekday (0 = Sunday) is in {@code weekdays} (bit w). */
  private static DayTerm weekdays(int weekdays) {
    long[] byFirstWeekday = new long[7];
    for (int first = 0; first < 7; first++) {
      for (int day = 1; day <= 31; day++) {
        if ((weekdays & (1 << weekdayOf(day, first))) != 0) {
          byFirstWeekday[first] |= 1L << day;
        }
      }
    }
    return (length, firstWeekday) -> byFirstWeekday[firstWeekday];
  }

  /** {@code L-n} (n = 0 for plain {@code L}): the n-th day before the month's last. */
  private static DayTerm lastDayMinus(int n) {
    return (length, firstWeekday) -> length - n >= 1 ? 1L << (length - n) : 0;
  }

  /** {@code LW}: the last Monday-to-Friday of the month. */
  private static DayTerm lastWeekday() {
    return (length, firstWeekday) -> {
      int weekday = weekdayOf(length, firstWeekday);
      return 1L << (weekday == 6 ? length - 1 : weekday == 0 ? length - 2 : length);
    };
  }

  /**
   * {@code nW}: the Monday-to-Friday nearest to day n, without leaving the month (Quartz's rule): a Saturday moves
   * to the Friday before, or to Monday the 3rd when n is the 1st; a Sunday to the Monday after, or to the Friday
   * before when n is the month's last day. Nothing in a month shorter than n.
   */
  private static DayTerm nearestWeekday(int n) {
    return (length, firstWeekday) -> {
      if (n > length) {
        return 0;
      }
      int weekday = weekdayOf(n, firstWeekday);
      int day = weekday == 6 ? (n == 1 ? 3 : n - 1) : weekday == 0 ? (n == length ? n - 2 : n + 1) : n;
      return 1L << day;
    };
  }

  /** {@code dL}: the last day of the month that is weekday w (0 = Sunday). */
  private static DayTerm lastOfWeekday(int w) {
    return (length, firstWeekday) -> 1L << (length - (weekdayOf(length, firstWeekday) - w + 7) % 7);
  }

  /** {@code d#k}: the k-th day of the month that is weekday w (0 = Sunday), if the month has one. */
  private static DayTerm nthWeekday(int w, int k) {
    return (length, firstWeekday) -> {
      int day = 1 + (w - firstWeekday + 7) % 7 + 7 * (k - 1);
      return day <= length ? 1L << day : 0;
    };
  }

  // ---- parsing -----------------------------------------------------------------------------------------------

  private static final Map<String, Integer> MONTH_NAMES = Map.ofEntries(Map.entry("JAN", 1), Map.entry("FEB", 2),
      Map.entry("MAR", 3), Map.entry("APR", 4), Map.entry("MAY", 5), Map.entry("JUN", 6), Map.entry("JUL", 7),
      Map.entry("AUG", 8), Map.entry("SEP", 9), Map.entry("OCT", 10), Map.entry("NOV", 11), Map.entry("DEC", 12));
  /** Day names as UNIX and SPRING number them (Monday = 1; Sunday is 7, and 0 too). */
  private static final Map<String, Integer> DAY_NAMES = Map.of("MON", 1, "TUE", 2, "WED", 3, "THU", 4, "FRI", 5,
      "SAT", 6, "SUN", 7);
  /** Day names as Quartz numbers them (Sunday = 1 .. Saturday = 7). */
  private static final Map<String, Integer> QUARTZ_DAY_NAMES = Map.of("SUN", 1, "MON", 2, "TUE", 3, "WED", 4,
      "THU", 5, "FRI", 6, "SAT", 7);

  /**
   * One field of one syntax.
   *
   * @param wraps whether a descending range wraps around ({@code 22-2} = 22, 23, 0, 1, 2); otherwise it is an error
   * @param special whether the Quartz specials ({@code ? L W #}) are allowed (day fields of SPRING and QUARTZ)
   */
  private record Spec(int index, String name, int min, int max, Map<String, Integer> names, boolean wraps,
      boolean special) {
    /** The longest step: the field's span, and no more than its largest value (so minutes stop at 59). */
    int maxStep() {
      return Math.min(max, max - min + 1);
    }

    Invalid invalid(String reason) {
      return new Invalid(index, reason);
    }
  }

  /**
   * Parses the fields of an expression already split and counted (5 for UNIX, 6 for SPRING, 6 or 7 for QUARTZ).
   *
   * @throws Invalid naming the field at fault (or -1 for a rule that involves both day fields) and why
   */
  static CronFields parse(CronSyntax syntax, String[] fields) {
    String[] upper = new String[fields.length];
    for (int i = 0; i < fields.length; i++) {
      upper[i] = fields[i].toUpperCase(Locale.ROOT);
    }
    boolean quartz = syntax == CronSyntax.QUARTZ;
    boolean unix = syntax == CronSyntax.UNIX;
    int offset = unix ? 0 : 1; // UNIX has no seconds field
    // cron-utils, which parsed these expressions before, let ranges descend (wrap around) wherever it did not
    // enforce strict ranges: every field of QUARTZ but the year, and SPRING's days and months
    long seconds = unix ? 1L : values(upper[0], new Spec(0, "second", 0, 59, Map.of(), quartz, false));
    long minutes = values(upper[offset], new Spec(offset, "minute", 0, 59, Map.of(), quartz, false));
    long hours = values(upper[offset + 1], new Spec(offset + 1, "hour", 0, 23, Map.of(), quartz, false));
    Spec domSpec = new Spec(offset + 2, "day-of-month", 1, 31, Map.of(), !unix, !unix);
    Spec monthSpec = new Spec(offset + 3, "month", 1, 12, MONTH_NAMES, !unix, false);
    Spec dowSpec = quartz
        ? new Spec(offset + 4, "day-of-week", 1, 7, QUARTZ_DAY_NAMES, true, true)
        : new Spec(offset + 4, "day-of-week", 0, 7, DAY_NAMES, !unix, !unix);
    String domText = upper[offset + 2];
    String dowText = upper[offset + 4];
    DayField dom = dayOfMonth(domText, domSpec);
    long months = values(upper[offset + 3], monthSpec);
    DayField dow = dayOfWeek(dowText, dowSpec, quartz);
    BitSet years = null;
    if (quartz && fields.length == 7) {
      years = valueSet(upper[6], new Spec(6, "year", MIN_YEAR, MAX_YEAR, Map.of(), false, false))
          .get(MIN_YEAR, MAX_YEAR + 1);
    }
    if (quartz && domText.equals("?") == dowText.equals("?")) {
      throw new Invalid(-1, "exactly one of day-of-month and day-of-week must be '?' (day-of-month is '"
          + fields[offset + 2] + "', day-of-week '" + fields[offset + 4] + "')");
    }
    boolean eitherDay = unix && !isStar(domText) && !isStar(dowText);
    return new CronFields(seconds, minutes, hours, months, dom, dow, eitherDay, years);
  }

  /** {@code *}, also written {@code *}{@code /1}: every value. */
  private static boolean isStar(String field) {
    return field.equals("*") || field.matches("\\*/0*1");
  }

  /** A day field that restricts nothing: {@code *}, or {@code ?} where the syntax has it. */
  private static boolean isAny(String field, Spec spec) {
    return isStar(field) || (spec.special && field.equals("?"));
  }

  /** A plain field (no specials) as a bit mask of its values. */
  private static long values(String field, Spec spec) {
    BitSet set = valueSet(field, spec);
    return set.isEmpty() ? 0 : set.toLongArray()[0];
  }

  private static BitSet valueSet(String field, Spec spec) {
    BitSet set = new BitSet();
    for (String item : items(field, spec)) {
      addItem(item, spec, set);
    }
    return set;
  }

  /** The items of a list; a day field's lone '?' never gets here (it restricts nothing). */
  private static String[] items(String field, Spec spec) {
    String[] items = field.split(",", -1);
    for (String item : items) {
      if (item.isEmpty()) {
        throw spec.invalid("a list has an empty item");
      }
      if (item.equals("?")) {
        throw spec.invalid(spec.special
            ? "'?' stands alone, never in a list" : "'?' is only allowed in the day fields of SPRING and QUARTZ");
      }
    }
    return items;
  }

  /**
   * One list item: {@code *}, {@code v}, {@code a-b}, each with an optional {@code /step}; {@code v/step} runs from
   * v to the field's last value.
   */
  private static void addItem(String item, Spec spec, BitSet out) {
    String base = item;
    int step = 1;
    int slash = item.indexOf('/');
    if (slash >= 0) {
      base = item.substring(0, slash);
      String stepText = item.substring(slash + 1);
      step = number(stepText, spec, "step");
      if (step < 1 || step > spec.maxStep()) {
        throw spec.invalid("step " + stepText + " is not in 1-" + spec.maxStep());
      }
      if (base.isEmpty()) {
        base = "*"; // '/n' for '*/n', as cron-utils (which parsed these expressions before) read it
      }
    }
    if (base.equals("*")) {
      addRange(spec.min, spec.max, step, spec, out);
      return;
    }
    int dash = base.indexOf('-');
    if (dash >= 0) {
      int from = value(base.substring(0, dash), spec);
      int to = value(base.substring(dash + 1), spec);
      if (from > to && !spec.wraps) {
        throw spec.invalid("range " + base + " goes down (" + from + " > " + to + "); ranges go up (across the "
            + "end, list both parts, as in 22-23,0-2)");
      }
      addRange(from, to, step, spec, out);
      return;
    }
    int value = value(base, spec);
    addRange(value, slash >= 0 ? spec.max : value, step, spec, out);
  }

  /** {@code from..to} stepping by {@code step}; a descending range runs to the field's end and on from its start. */
  private static void addRange(int from, int to, int step, Spec spec, BitSet out) {
    int span = from <= to ? to - from : (spec.max - from) + 1 + (to - spec.min);
    for (int i = 0; i <= span; i += step) {
      int v = from + i;
      out.set(v > spec.max ? v - (spec.max - spec.min + 1) : v);
    }
  }

  /** A value: digits in the field's range, or a name (month or day, any case). */
  private static int value(String token, Spec spec) {
    Integer named = spec.names.get(token);
    if (named != null) {
      return named;
    }
    if (token.isEmpty()) {
      throw spec.invalid("a value is missing");
    }
    if (!token.chars().allMatch(c -> c >= '0' && c <= '9')) {
      String names = spec.names.isEmpty() ? "" : spec.names == MONTH_NAMES ? " or a name (JAN-DEC)"
          : " or a name (SUN-SAT)";
      throw spec.invalid("'" + token + "' is not a number" + names);
    }
    int value = number(token, spec, "value");
    if (value < spec.min || value > spec.max) {
      throw spec.invalid("value " + token + " is not in " + spec.min + "-" + spec.max);
    }
    return value;
  }

  /** Plain digits; large numbers come back as Integer.MAX_VALUE, out of every range. */
  private static int number(String token, Spec spec, String what) {
    if (token.isEmpty() || !token.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw spec.invalid("'" + token + "' is not a number (" + what + ")");
    }
    return token.length() > 9 ? Integer.MAX_VALUE : Integer.parseInt(token);
  }

  private static DayField dayOfMonth(String field, Spec spec) {
    if (isAny(field, spec)) {
      return new DayField(List.of((length, first) -> -1L));
    }
    List<DayTerm> terms = new ArrayList<>();
    BitSet plain = new BitSet();
    for (String item : items(field, spec)) {
      if (spec.special && item.equals("L")) {
        terms.add(lastDayMinus(0));
      } else if (spec.special && item.startsWith("L-")) {
        int n = number(item.substring(2), spec, "days before the last");
        if (n < 1 || n > 31) {
          throw spec.invalid("the days before the last day (L-n) must be 1-31");
        }
        terms.add(lastDayMinus(n));
      } else if (spec.special && item.equals("LW")) {
        terms.add(lastWeekday());
      } else if (spec.special && item.endsWith("W")) {
        terms.add(nearestWeekday(value(item.substring(0, item.length() - 1), spec)));
      } else {
        addItem(item, spec, plain);
      }
    }
    if (!plain.isEmpty()) {
      long mask = plain.toLongArray()[0];
      terms.add((length, first) -> mask);
    }
    return new DayField(terms);
  }

  private static DayField dayOfWeek(String field, Spec spec, boolean quartz) {
    if (isAny(field, spec)) {
      return new DayField(List.of((length, first) -> -1L));
    }
    List<DayTerm> terms = new ArrayList<>();
    BitSet plain = new BitSet();
    for (String item : items(field, spec)) {
      int hash = item.indexOf('#');
      if (spec.special && hash >= 0) {
        int k = number(item.substring(hash + 1), spec, "which week");
        if (k < 1 || k > 5) {
          throw spec.invalid("the week after '#' must be 1-5");
        }
        terms.add(nthWeekday(weekday(value(item.substring(0, hash), spec), quartz), k));
      } else if (spec.special && item.equals("L")) {
        // L alone is the day numbered 7 (cron-utils and Quartz): Saturday in QUARTZ, Sunday in SPRING
        plain.set(7);
      } else if (spec.special && item.endsWith("L")) {
        terms.add(lastOfWeekday(weekday(value(item.substring(0, item.length() - 1), spec), quartz)));
      } else {
        addItem(item, spec, plain);
      }
    }
    int weekdays = 0;
    for (int v = plain.nextSetBit(0); v >= 0; v = plain.nextSetBit(v + 1)) {
      weekdays |= 1 << weekday(v, quartz);
    }
    if (weekdays != 0) {
      terms.add(weekdays(weekdays));
    }
    return new DayField(terms);
  }

  /** A day-of-week value of the syntax as 0 = Sunday .. 6 = Saturday. */
  private static int weekday(int value, boolean quartz) {
    return quartz ? value - 1 : value % 7;
  }
}
