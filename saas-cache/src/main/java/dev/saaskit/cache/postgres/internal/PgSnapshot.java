package dev.saaskit.cache.postgres.internal;

import java.util.Arrays;
import java.util.StringJoiner;
import org.jspecify.annotations.Nullable;

/**
 * A parsed {@code pg_snapshot} ({@code xmin:xmax:xip,...}): which transactions a statement saw as finished. A
 * node's position in the invalidation log is the snapshot of its last read: the rows it has not seen yet are
 * exactly those written by transactions that snapshot did not see as committed, i.e. ids in {@link #xip()} or at
 * least {@link #xmax()}.
 *
 * <p>Transaction ids are xid8 values (64 bits with the epoch, never wrapping); they are compared unsigned.
 */
// a final class, not a record: a record would expose its xip array to callers that could change it
public final class PgSnapshot {
  private final long xmin;
  private final long xmax;
  private final long[] xip;

  private PgSnapshot(long xmin, long xmax, long[] xip) {
    this.xmin = xmin;
    this.xmax = xmax;
    this.xip = xip;
  }

  /** Parses the text form that {@code pg_current_snapshot()::text} returns. */
  public static PgSnapshot parse(String text) {
    String[] parts = text.split(":", -1);
    if (parts.length != 3) {
      throw new IllegalArgumentException("not a pg_snapshot: '" + text + "'");
    }
    long xmin = Long.parseUnsignedLong(parts[0]);
    long xmax = Long.parseUnsignedLong(parts[1]);
    long[] xip;
    if (parts[2].isEmpty()) {
      xip = new long[0];
    } else {
      // limit -1: a trailing comma yields an empty id, refused by parseUnsignedLong, instead of being dropped
      String[] ids = parts[2].split(",", -1);
      xip = new long[ids.length];
      for (int i = 0; i < ids.length; i++) {
        xip[i] = Long.parseUnsignedLong(ids[i]);
      }
    }
    return new PgSnapshot(xmin, xmax, xip);
  }

  /** The oldest transaction id still active when the snapshot was taken: every id below it had finished. */
  public long xmin() {
    return xmin;
  }

  /** The first transaction id not yet assigned when the snapshot was taken: no id from it on had finished. */
  public long xmax() {
    return xmax;
  }

  /** The ids between {@link #xmin()} and {@link #xmax()} still in progress, as a copy. */
  public long[] xip() {
    return xip.clone();
  }

  /** {@code xmax} as an xid8 literal. */
  public String xmaxText() {
    return Long.toUnsignedString(xmax);
  }

  /** The in-progress ids as an {@code xid8[]} array literal, e.g. {@code {100,102}}. */
  public String xipArrayText() {
    StringJoiner j = new StringJoiner(",", "{", "}");
    for (long id : xip) {
      j.add(Long.toUnsignedString(id));
    }
    return j.toString();
  }

  /**
   * False if every row of transaction {@code xid} was visible to this snapshot (the transaction had finished before
   * {@link #xmin()}); true if it may have written rows this snapshot did not see. Conservative: a transaction
   * between {@code xmin} and {@code xmax} that had committed counts as "may".
   */
  public boolean mayHaveMissed(long xid) {
    return Long.compareUnsigned(xid, xmin) >= 0;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof PgSnapshot s && s.xmin == xmin && s.xmax == xmax && Arrays.equals(s.xip, xip);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * Long.hashCode(xmin) + Long.hashCode(xmax)) + Arrays.hashCode(xip);
  }

  @Override
  public String toString() {
    return Long.toUnsignedString(xmin) + ":" + xmaxText() + ":" + xipArrayText().replace("{", "").replace("}", "");
  }
}
