package dev.saaskit.tenancy.audit;

import dev.saaskit.core.SaasException;
import dev.saaskit.tenancy.audit.internal.Rules;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Findings a team has accepted, each with a reason, so that the audit can fail a build on anything new. A text
 * file, one entry per line:
 *
 * <pre>
 * # reference data, the same for every tenant
 * rls-disabled public.countries -- shared reference data, no tenant rows
 * policy-always-true policy worker_claims on public.jobs -- the job worker claims across tenants
 * no-tenant-index * -- small tables, reviewed 2025-01
 * </pre>
 *
 * <p>Each line is {@code <rule-id> <object> -- <reason>}: the rule id as in {@link Finding#ruleId()}, the object
 * exactly as in {@link Finding#object()} (it may contain spaces) or {@code *} for any object, then {@code --} and a
 * reason, which is required. Blank lines and lines starting with {@code #} are ignored. Entries that match nothing
 * are listed by {@link AuditReport#unusedBaselineEntries()}, so stale ones can be pruned. Instances are immutable.
 */
public final class Baseline {
  private static final Baseline EMPTY = new Baseline(List.of());

  private final List<Entry> entries;

  private Baseline(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  /** A baseline that ignores nothing. */
  public static Baseline empty() {
    return EMPTY;
  }

  /**
   * Reads a baseline file (UTF-8).
   *
   * @throws IllegalArgumentException if a line is malformed (the message names the file and line)
   * @throws SaasException if the file cannot be read
   */
  public static Baseline load(Path file) {
    Objects.requireNonNull(file, "file");
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new SaasException("cannot read the RLS audit baseline " + file + ": " + e.getMessage(), e);
    }
    try {
      return parse(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Parses baseline text.
   *
   * @throws IllegalArgumentException naming the line number if a line has no reason, no object or an unknown rule id
   */
  public static Baseline parse(String text) {
    Objects.requireNonNull(text, "text");
    List<Entry> entries = new ArrayList<>();
    String[] lines = text.split("\r\n|\r|\n", -1);
    for (int i = 0; i < lines.length; i++) {
      int number = i + 1;
      String line = lines[i].strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int separator = separator(line);
      String reason = separator < 0 ? "" : line.substring(separator + 2).strip();
      if (reason.isEmpty()) {
        throw new IllegalArgumentException("baseline line " + number + ": every ignored finding needs a reason;"
            + " write '<rule-id> <object> -- <reason>' but was: " + line);
      }
      String head = line.substring(0, separator).strip();
      int space = indexOfWhitespace(head);
      if (space < 0) {
        throw new IllegalArgumentException("baseline line " + number + ": expected '<rule-id> <object> -- <reason>'"
            + " (use * as the object to match any) but was: " + line);
      }
      String ruleId = head.substring(0, space);
      String object = head.substring(space + 1).strip();
      if (Rules.find(ruleId).isEmpty() || ruleId.equals(Rules.UNUSED_BASELINE_ENTRY)) {
        throw new IllegalArgumentException("baseline line " + number + ": unknown rule id '" + ruleId
            + "'; the rule ids are " + Rules.auditIds());
      }
      entries.add(new Entry(ruleId, object, reason, number));
    }
    return entries.isEmpty() ? EMPTY : new Baseline(entries);
  }

  /** The entries, in file order. */
  public List<Entry> entries() {
    return entries;
  }

  /** The first entry that matches {@code finding}, if any. */
  public Optional<Entry> match(Finding finding) {
    for (Entry e : entries) {
      if (e.matches(finding)) {
        return Optional.of(e);
      }
    }
    return Optional.empty();
  }

  @Override
  public String toString() {
    return "Baseline[" + entries.size() + (entries.size() == 1 ? " entry]" : " entries]");
  }

  /** {@code --} preceded by white space (or at the start) and followed by white space or the end. */
  private static int separator(String line) {
    int from = 0;
    while (true) {
      int i = line.indexOf("--", from);
      if (i < 0) {
        return -1;
      }
      boolean before = i == 0 || Character.isWhitespace(line.charAt(i - 1));
      boolean after = i + 2 == line.length() || Character.isWhitespace(line.charAt(i + 2));
      if (before && after) {
        return i;
      }
      from = i + 1;
    }
  }

  private static int indexOfWhitespace(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (Character.isWhitespace(s.charAt(i))) {
        return i;
      }
    }
    return -1;
  }

  /**
   * One accepted finding.
   *
   * @param ruleId the rule id it ignores
   * @param object the object it ignores, or {@code *} for any
   * @param reason why it is accepted
   * @param line its line number in the baseline text (1-based)
   */
  public record Entry(String ruleId, String object, String reason, int line) {
    /** Checks that no component is null. */
    public Entry {
      Objects.requireNonNull(ruleId, "ruleId");
      Objects.requireNonNull(object, "object");
      Objects.requireNonNull(reason, "reason");
    }

    /** Whether this entry ignores {@code finding}: same rule id, and same object or {@code *}. */
    public boolean matches(Finding finding) {
      return ruleId.equals(finding.ruleId()) && (object.equals("*") || object.equals(finding.object()));
    }

    /** The entry as a baseline line. */
    @Override
    public String toString() {
      return ruleId + " " + object + " -- " + reason;
    }
  }
}
