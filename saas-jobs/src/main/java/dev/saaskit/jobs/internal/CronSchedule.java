package dev.saaskit.jobs.internal;

import dev.saaskit.jobs.CronSyntax;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.time.zone.ZoneOffsetTransition;
import java.time.zone.ZoneRules;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A parsed cron expression in a time zone: the occurrence math of recurring jobs. Occurrences are whole seconds.
 * Immutable and thread-safe. Not API.
 *
 * <p>The expression matches wall-clock date-times ({@link CronFields}); each matching local time {@code L} is an
 * occurrence at one instant, <em>the first instant at which the zone's clock reads {@code L} or later</em>:
 *
 * <ul>
 *   <li>a local time that exists once is that instant;
 *   <li>a local time that does not exist (skipped by a spring-forward gap) is the first instant after the gap,
 *       the transition itself; several matching times in one gap are one occurrence;
 *   <li>a local time that exists twice (repeated by a fall-back overlap) is its first, earlier-offset, instant;
 *       the second pass of the repeated hour has no occurrences of its own.
 * </ul>
 *
 * <p>The occurrences are therefore a plain set of instants, and {@link #next}, {@link #previous} and
 * {@link #matches} all describe that one set: {@code next(t)} is its smallest element after {@code t},
 * {@code previous(t)} its largest before {@code t}, whatever {@code t} is (in a gap, in either pass of an
 * overlap). That rule is monotonic (a later local time never maps to an earlier instant), which is what lets
 * {@code next} find its answer as the first matching local time past a threshold instead of by trial.
 */
public final class CronSchedule {
  /**
   * How far back a transition can still matter: the wall clock before a fall-back can only be ahead of a later
   * instant's wall clock by the size of the jump, and no zone has moved by more than a day (Pacific/Apia skipped
   * 2011-12-30, 24 hours).
   */
  private static final Duration TRANSITION_REACH = Duration.ofDays(2);

  private final CronSyntax syntax;
  private final String expression;
  private final ZoneId zone;
  private final ZoneRules rules;
  private final CronFields fields;

  private CronSchedule(CronSyntax syntax, String expression, ZoneId zone, CronFields fields) {
    this.syntax = syntax;
    this.expression = expression;
    this.zone = zone;
    this.rules = zone.getRules();
    this.fields = fields;
  }

  /**
   * Parses {@code expression} (surrounding white space ignored, fields separated by any white space).
   *
   * @throws IllegalArgumentException naming the expression, the syntax and, where one field alone is at fault,
   *     that field, its text and what is wrong with it
   */
  public static CronSchedule parse(CronSyntax syntax, String expression, ZoneId zone) {
    Objects.requireNonNull(syntax, "syntax");
    Objects.requireNonNull(expression, "cron expression");
    Objects.requireNonNull(zone, "zone");
    String normalized = normalize(expression);
    String[] fields = normalized.isEmpty() ? new String[0] : normalized.split(" ");
    List<String> names = syntax.fieldNames();
    int min = syntax == CronSyntax.QUARTZ ? names.size() - 1 : names.size();
    if (fields.length < min || fields.length > names.size()) {
      String expected = min == names.size() ? Integer.toString(min) : min + " or " + names.size();
      String hint = syntax == CronSyntax.UNIX && fields.length == 6
          ? "; for a leading seconds field use CronSyntax.SPRING or CronSyntax.QUARTZ"
          : syntax != CronSyntax.UNIX && fields.length == 5 ? "; for five fields use CronSyntax.UNIX" : "";
      throw new IllegalArgumentException("invalid cron expression '" + expression + "': " + syntax + " syntax needs "
          + expected + " fields (" + String.join(" ", names) + ") but it has " + fields.length + hint);
    }
    try {
      return new CronSchedule(syntax, normalized, zone, CronFields.parse(syntax, fields));
    } catch (CronFields.Invalid e) {
      String where = e.field < 0 ? "" : names.get(e.field) + " field '" + fields[e.field] + "' is invalid: ";
      throw new IllegalArgumentException("invalid cron expression '" + expression + "' (" + syntax + " syntax): "
          + where + e.getMessage(), e);
    }
  }

  /** The expression with surrounding white space removed and inner white space collapsed to one space. */
  public static String normalize(String expression) {
    return expression.strip().replaceAll("\\s+", " ");
  }

  /** The syntax of the expression. */
  public CronSyntax syntax() {
    return syntax;
  }

  /** The normalized expression. */
  public String expression() {
    return expression;
  }

  /** The time zone the expression is read in. */
  public ZoneId zone() {
    return zone;
  }

  /** The first occurrence strictly after {@code instant}, or empty if there is none. */
  public Optional<Instant> next(Instant instant) {
    // Every local time the clock has shown by `instant` maps to an instant at or before it (its first showing):
    // the wall clock at `instant`, and, after a fall-back, all times up to the end of the repeated range. The
    // answer is the first matching local time past both.
    LocalDateTime from = wallClock(instant).truncatedTo(ChronoUnit.SECONDS).plusSeconds(1);
    LocalDateTime repeatedUntil = repeatedUntil(instant);
    if (repeatedUntil != null && repeatedUntil.isAfter(from)) {
      from = ceilToSecond(repeatedUntil);
    }
    LocalDateTime local = fields.nextOrSame(from);
    while (local != null) {
      Instant occurrence = occurrence(local);
      if (occurrence.isAfter(instant)) {
        return Optional.of(occurrence);
      }
      // not reached with the JDK's zone rules; a guard should some zone's history break the reasoning above
      local = fields.nextOrSame(local.plusSeconds(1));
    }
    return Optional.empty();
  }

  /**
   * The last occurrence strictly before {@code instant}, or empty if there is none (the search looks back 400
   * years, after which the calendar repeats).
   */
  public Optional<Instant> previous(Instant instant) {
    // The local times the clock has shown before `instant` are those before the latest it has approached: the
    // wall clock at `instant` (or, if the clock changes exactly then, the time it approached before the change),
    // or the end of a range repeated by an earlier fall-back, whichever is later.
    LocalDateTime below = wallClock(instant);
    ZoneOffsetTransition atInstant = rules.previousTransition(instant.plusNanos(1));
    if (atInstant != null && atInstant.getInstant().equals(instant)) {
      below = atInstant.getDateTimeBefore(); // the clock shows the new time only from `instant` on
    }
    LocalDateTime repeatedUntil = repeatedUntil(instant);
    if (repeatedUntil != null && repeatedUntil.isAfter(below)) {
      below = repeatedUntil;
    }
    LocalDateTime local = fields.previousOrSame(ceilToSecond(below).minusSeconds(1));
    while (local != null) {
      Instant occurrence = occurrence(local);
      if (occurrence.isBefore(instant)) {
        return Optional.of(occurrence);
      }
      local = fields.previousOrSame(local.minusSeconds(1));
    }
    return Optional.empty();
  }

  /** True if {@code instant} is an occurrence. */
  public boolean matches(Instant instant) {
    return instant.truncatedTo(ChronoUnit.SECONDS).equals(instant) && next(instant.minusSeconds(1)).filter(instant::equals).isPresent();
  }

  /** The occurrences in {@code [fromInclusive, toInclusive]}, ascending, at most {@code max} (the earliest). */
  public List<Instant> between(Instant fromInclusive, Instant toInclusive, int max) {
    List<Instant> out = new ArrayList<>();
    Optional<Instant> next = next(fromInclusive.minusNanos(1));
    while (next.isPresent() && !next.get().isAfter(toInclusive) && out.size() < max) {
      out.add(next.get());
      next = next(next.get());
    }
    return out;
  }

  /**
   * The latest occurrences in {@code [fromInclusive, toExclusive)}, ascending, at most {@code max}: walks back
   * from the end, so its cost is {@code max} steps however long the interval.
   */
  public List<Instant> latestBefore(Instant fromInclusive, Instant toExclusive, int max) {
    List<Instant> out = new ArrayList<>();
    Optional<Instant> previous = previous(toExclusive);
    while (previous.isPresent() && !previous.get().isBefore(fromInclusive) && out.size() < max) {
      out.add(previous.get());
      previous = previous(previous.get());
    }
    Collections.reverse(out);
    return out;
  }

  private LocalDateTime wallClock(Instant instant) {
    return LocalDateTime.ofInstant(instant, zone);
  }

  /**
   * The instant of a matching local time: itself where it exists once, the earlier of its two instants in a
   * fall-back overlap, the end of the gap (the transition) in a spring-forward gap.
   */
  private Instant occurrence(LocalDateTime local) {
    List<ZoneOffset> offsets = rules.getValidOffsets(local);
    if (offsets.size() == 1) {
      return local.toInstant(offsets.get(0));
    }
    if (offsets.isEmpty()) {
      return rules.getTransition(local).getInstant();
    }
    Instant a = local.toInstant(offsets.get(0));
    Instant b = local.toInstant(offsets.get(1));
    return a.isBefore(b) ? a : b;
  }

  /**
   * The end of the latest range of local times repeated by a fall-back at or before {@code instant}: the time the
   * clock approached before it was set back (exclusive: that time itself was not yet shown). Null if no fall-back
   * happened recently enough to matter.
   */
  private @Nullable LocalDateTime repeatedUntil(Instant instant) {
    LocalDateTime latest = null;
    Instant horizon = instant.minus(TRANSITION_REACH);
    // previousTransition is strictly before its argument; transitions fall on whole seconds, so this includes one
    // exactly at `instant`
    for (ZoneOffsetTransition t = rules.previousTransition(instant.plusNanos(1));
        t != null && t.getInstant().isAfter(horizon); t = rules.previousTransition(t.getInstant())) {
      if (t.isOverlap() && (latest == null || t.getDateTimeBefore().isAfter(latest))) {
        latest = t.getDateTimeBefore();
      }
    }
    return latest;
  }

  private static LocalDateTime ceilToSecond(LocalDateTime t) {
    LocalDateTime truncated = t.truncatedTo(ChronoUnit.SECONDS);
    return truncated.equals(t) ? t : truncated.plusSeconds(1);
  }

  @Override
  public String toString() {
    return syntax + " '" + expression + "' in " + zone;
  }
}
