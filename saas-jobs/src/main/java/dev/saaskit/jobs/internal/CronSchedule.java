package dev.saaskit.jobs.internal;

import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinition;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import dev.saaskit.jobs.CronSyntax;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A parsed cron expression in a time zone: the occurrence math of recurring jobs, on top of cron-utils.
 * Occurrences are whole seconds. Immutable and thread-safe. Not API.
 *
 * <p>Every method that walks occurrences re-checks cron-utils' answer (strictly after / strictly before), so a
 * library edge case around DST can end a walk early but never loop or go backwards.
 */
public final class CronSchedule {
  private static final Map<CronSyntax, CronDefinition> DEFINITIONS = definitions();
  private static final long MAX_LOOKBACK_SECONDS = 1L << 32;

  private final CronSyntax syntax;
  private final String expression;
  private final ZoneId zone;
  private final ExecutionTime executionTime;

  private CronSchedule(CronSyntax syntax, String expression, ZoneId zone, ExecutionTime executionTime) {
    this.syntax = syntax;
    this.expression = expression;
    this.zone = zone;
    this.executionTime = executionTime;
  }

  private static Map<CronSyntax, CronDefinition> definitions() {
    Map<CronSyntax, CronDefinition> map = new EnumMap<>(CronSyntax.class);
    map.put(CronSyntax.UNIX, CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));
    map.put(CronSyntax.SPRING, CronDefinitionBuilder.instanceDefinitionFor(CronType.SPRING53));
    map.put(CronSyntax.QUARTZ, CronDefinitionBuilder.instanceDefinitionFor(CronType.QUARTZ));
    return map;
  }

  /**
   * Parses {@code expression} (surrounding white space ignored, fields separated by any white space).
   *
   * @throws IllegalArgumentException naming the expression, the syntax and, where one field alone is at fault,
   *     that field and its text
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
    Cron cron;
    try {
      cron = parser(syntax).parse(normalized).validate();
    } catch (RuntimeException e) {
      throw invalid(syntax, expression, fields, e);
    }
    return new CronSchedule(syntax, normalized, zone, ExecutionTime.forCron(cron));
  }

  /** The expression with surrounding white space removed and inner white space collapsed to one space. */
  public static String normalize(String expression) {
    return expression.strip().replaceAll("\\s+", " ");
  }

  private static CronParser parser(CronSyntax syntax) {
    return new CronParser(DEFINITIONS.get(syntax));
  }

  /** Finds the first field that fails on its own (all others neutral) so the message can name it. */
  private static IllegalArgumentException invalid(CronSyntax syntax, String expression, String[] fields,
      RuntimeException cause) {
    List<String> names = syntax.fieldNames();
    for (int i = 0; i < fields.length; i++) {
      String[] probe = neutral(syntax, fields.length, i, fields[i]);
      probe[i] = fields[i];
      try {
        parser(syntax).parse(String.join(" ", probe)).validate();
      } catch (RuntimeException fieldFailure) {
        return new IllegalArgumentException("invalid cron expression '" + expression + "' (" + syntax + " syntax): "
            + names.get(i) + " field '" + fields[i] + "' is invalid: " + reason(fieldFailure), cause);
      }
    }
    return new IllegalArgumentException("invalid cron expression '" + expression + "' (" + syntax + " syntax: "
        + String.join(" ", names.subList(0, fields.length)) + "): " + reason(cause), cause);
  }

  private static String[] neutral(CronSyntax syntax, int length, int probed, String probedText) {
    String[] probe = new String[length];
    Arrays.fill(probe, "*");
    if (syntax == CronSyntax.QUARTZ) {
      // Quartz wants '?' in exactly one day field: put it in the day field not being probed, unless the probed
      // field is the '?' itself.
      int dayOfMonth = 3;
      int dayOfWeek = 5;
      int other = probed == dayOfWeek ? dayOfMonth : dayOfWeek;
      boolean probedIsDay = probed == dayOfMonth || probed == dayOfWeek;
      probe[other] = probedIsDay && "?".equals(probedText) ? "*" : "?";
    }
    return probe;
  }

  private static String reason(RuntimeException e) {
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return message.replace("Failed to parse cron expression. ", "");
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
    // cron-utils works in whole seconds: from the start of this second, "strictly after" skips it, which is right
    // both when instant is exactly on a second and when it is inside one.
    Instant from = instant.truncatedTo(ChronoUnit.SECONDS);
    Optional<ZonedDateTime> next = executionTime.nextExecution(from.atZone(zone));
    return next.map(ZonedDateTime::toInstant).filter(t -> t.isAfter(instant));
  }

  /**
   * The last occurrence strictly before {@code instant}, or empty if there is none within about 136 years: the
   * occurrence {@code p < instant} with {@code next(p) >= instant}.
   *
   * <p>Built on {@link #next(Instant)} alone: cron-utils' own backward step ({@code lastExecution}) skips
   * occurrences on some DST days (a 02:31 on Lord Howe Island's 30-minute spring-forward day, for one), which
   * the property tests found. Looks back over windows doubling from one second, then walks forward to the last
   * occurrence before {@code instant}: about log2(period) + a few steps.
   */
  public Optional<Instant> previous(Instant instant) {
    for (long window = 1; window <= MAX_LOOKBACK_SECONDS; window *= 2) {
      Optional<Instant> first = next(instant.minusSeconds(window).minusNanos(1));
      if (first.isEmpty()) {
        return Optional.empty(); // nothing at all after that point, so nothing before instant either
      }
      if (first.get().isBefore(instant)) {
        Instant last = first.get();
        for (Optional<Instant> n = next(last); n.isPresent() && n.get().isBefore(instant); n = next(last)) {
          last = n.get();
        }
        return Optional.of(last);
      }
    }
    return Optional.empty();
  }

  /**
   * True if {@code instant} is an occurrence: the first occurrence after the second before it. (cron-utils 9.2.1's
   * {@code isMatch} answers wrongly next to some DST changes, so it is not used.)
   */
  public boolean matches(Instant instant) {
    return instant.truncatedTo(ChronoUnit.SECONDS).equals(instant)
        && next(instant.minusSeconds(1)).filter(instant::equals).isPresent();
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
   * from the end to find where to start, so its cost is about {@code 2 * max} steps however long the interval.
   *
   * <p>The list is then rebuilt walking forward from that start, because stepping back and stepping forward
   * disagree on a DST fall-back night: walking back, a daily 02:30 shows up in both passes of the repeated hour;
   * walking forward (what steady ticking does), only in the first.
   */
  public List<Instant> latestBefore(Instant fromInclusive, Instant toExclusive, int max) {
    Instant start = null;
    int found = 0;
    Optional<Instant> previous = previous(toExclusive);
    while (previous.isPresent() && !previous.get().isBefore(fromInclusive) && found < max) {
      start = previous.get();
      found++;
      previous = previous(start);
    }
    if (start == null) {
      return List.of();
    }
    List<Instant> forward = between(start, toExclusive.minusNanos(1), max + 1);
    return forward.size() <= max ? forward : forward.subList(forward.size() - max, forward.size());
  }

  @Override
  public String toString() {
    return syntax + " '" + expression + "' in " + zone;
  }
}
