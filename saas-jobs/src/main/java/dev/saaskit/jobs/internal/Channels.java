package dev.saaskit.jobs.internal;

import dev.saaskit.core.internal.SqlNames;
import java.nio.charset.StandardCharsets;

/**
 * The NOTIFY channel that wakes workers, shared by the enqueue side and the workers so both derive the same name.
 *
 * <p>Rule: channel = schema name + {@value #WAKEUP_SUFFIX} (for the default schema {@code saaskit_jobs_wakeup}),
 * payload = the queue name of the job that became ready. Enqueue sends it with {@code pg_notify} in the enqueue's
 * transaction, so it is delivered only if (and when) that transaction commits. The name is case-sensitive: listen
 * with a quoted identifier ({@code LISTEN "<channel>"}), as {@link #listenSql(String)} does. Not API.
 */
public final class Channels {
  /** Appended to the schema name to form the wake-up channel. */
  public static final String WAKEUP_SUFFIX = "_wakeup";

  private Channels() {}

  /**
   * The wake-up channel of the jobs in {@code schema}.
   *
   * @throws IllegalArgumentException if the channel name would exceed PostgreSQL's 63-byte identifier limit
   *     (schema names longer than 56 bytes), since pg_notify would reject it
   */
  public static String wakeup(String schema) {
    String channel = schema + WAKEUP_SUFFIX;
    if (channel.getBytes(StandardCharsets.UTF_8).length > SqlNames.MAX_IDENTIFIER_BYTES) {
      throw new IllegalArgumentException("the jobs schema name must be at most "
          + (SqlNames.MAX_IDENTIFIER_BYTES - WAKEUP_SUFFIX.length())
          + " bytes so that its wake-up channel '" + channel + "' fits PostgreSQL's identifier limit");
    }
    return channel;
  }

  /** {@code LISTEN "<channel>"} for the jobs in {@code schema}. */
  public static String listenSql(String schema) {
    return "LISTEN " + SqlNames.quoteIdent(wakeup(schema));
  }
}
