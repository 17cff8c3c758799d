package dev.saaskit.core.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGStatement;
import org.postgresql.core.CachedQuery;
import org.postgresql.core.Query;

/**
 * Whether pgjdbc will end the implicit transaction inside a statement prepared as
 * {@code SELECT set_config(..., true); <statement>} (see {@link TenantSettingSql#preparedPrefix()}).
 *
 * <p>The prefix works because the setting and the statement travel in one round trip ending in one Sync, so in
 * autocommit mode they share the implicit transaction the server opens for them. pgjdbc breaks that up on its own:
 * before each part of a multi-statement query it estimates the size of the answer it has asked for, and when a
 * part's result columns are of unbounded size (text, numeric, jsonb, arrays...) and the driver has described that
 * part, it sends a Sync first ("Forcing Sync, receive buffer full or batching disallowed", the deadlock avoidance of
 * {@code QueryExecutorImpl.flushIfDeadlockRisk}). The driver describes a server-prepared statement (from its
 * {@code prepareThreshold}-th execution on, 5 by default) whose parameters include one of unspecified type:
 * {@code setTimestamp} and {@code setNull} of a timestamp type (the driver leaves timestamp or timestamptz to the
 * server), {@code setObject(i, null)}, and every string with {@code stringtype=unspecified}; {@code java.time}
 * values are typed and do not count. From then on
 * the setting runs in a transaction of its own, and the statement after it in another, with no tenant: rows vanish
 * from selects and inserts break the policy. Found with {@code SELECT name FROM t WHERE created_at <= ?} run a
 * sixth time on one connection.
 *
 * <p>{@link #of} reads the driver's parsed query once per driver statement (a private field, through a lookup
 * that works on the class path and with pgjdbc as an automatic module, which opens its packages);
 * {@link Probe#maySplit()} then answers per execution from the driver's own state, the same test the driver makes.
 * Callers run the execution in an explicit transaction when it says yes and the connection is in autocommit mode.
 * When pgjdbc's internals cannot be read (another version), the answer is always yes: slower (one more round trip
 * for the COMMIT), never wrong. Statements of other drivers get no: nothing is known of how they pipeline. Not API.
 */
public final class PipelineSplit {
  /** pgjdbc's estimate of what it can ask for before it must read answers ({@code MAX_BUFFERED_RECV_BYTES}). */
  private static final int DRIVER_RECEIVE_BUDGET = 64_000;
  /** What pgjdbc counts per part before its result columns ({@code NODATA_QUERY_RESPONSE_SIZE_BYTES}) x 2 parts. */
  private static final int PER_PART_ALLOWANCE = 2 * 250;

  /** pgjdbc's prepared statement class (package-private), or null if it cannot be found. */
  private static final @Nullable Class<?> PG_PREPARED_STATEMENT =
      driverClass("org.postgresql.jdbc.PgPreparedStatement");
  private static final @Nullable VarHandle PREPARED_QUERY = preparedQueryHandle();
  private static final @Nullable MethodHandle MAX_RESULT_ROW_SIZE = maxResultRowSizeHandle();

  /** A statement whose pipeline never splits, or of a driver other than pgjdbc. */
  private static final Probe NEVER = new Probe(null, false);
  /** A pgjdbc statement whose parts could not be read: assume the worst. */
  private static final Probe ALWAYS = new Probe(null, true);

  private PipelineSplit() {}

  /** The probe of {@code statement}, a driver statement (or a pool's wrapper of one) prepared with a prefix. */
  public static Probe of(PreparedStatement statement) throws SQLException {
    Object driverStatement = driverStatement(statement);
    if (driverStatement == null) {
      return NEVER;
    }
    VarHandle preparedQuery = PREPARED_QUERY;
    Class<?> preparedClass = PG_PREPARED_STATEMENT;
    if (preparedQuery == null || preparedClass == null || MAX_RESULT_ROW_SIZE == null
        || !preparedClass.isInstance(driverStatement)) {
      return ALWAYS;
    }
    try {
      CachedQuery cached = (CachedQuery) preparedQuery.get(driverStatement);
      Query[] parts = cached.query.getSubqueries();
      if (parts == null || parts.length < 2) {
        return NEVER; // one statement: nothing to split
      }
      return new Probe(parts, false);
    } catch (RuntimeException unreadable) {
      return ALWAYS;
    }
  }

  /** pgjdbc's statement under {@code statement} (a pool may wrap it), or null for another driver's. */
  private static @Nullable Object driverStatement(PreparedStatement statement) throws SQLException {
    try {
      return statement.isWrapperFor(PGStatement.class) ? statement.unwrap(PGStatement.class) : null;
    } catch (NoClassDefFoundError noDriver) {
      return null;
    }
  }

  /** Per driver statement: whether its next execution may split the setting from the statement. */
  public static final class Probe {
    private final Query @Nullable [] parts;
    private final boolean always;

    private Probe(Query @Nullable [] parts, boolean always) {
      this.parts = parts;
      this.always = always;
    }

    /**
     * Whether the driver may send a Sync between the parts of the next execution: a part after the first has
     * been described and its row size is unbounded, or large enough to fill the driver's receive estimate. Only
     * the driver's own state is read (no round trip).
     */
    public boolean maySplit() {
      Query[] theParts = parts;
      if (theParts == null) {
        return always;
      }
      for (int i = 1; i < theParts.length; i++) {
        Query part = theParts[i];
        if (part.isStatementDescribed() && !fitsDriverBudget(part)) {
          return true;
        }
      }
      return false;
    }
  }

  private static boolean fitsDriverBudget(Query part) {
    MethodHandle rowSize = MAX_RESULT_ROW_SIZE;
    if (rowSize == null) {
      return false;
    }
    try {
      int size = (int) rowSize.invoke(part);
      return size >= 0 && size + PER_PART_ALLOWANCE < DRIVER_RECEIVE_BUDGET;
    } catch (Throwable unreadable) {
      return false;
    }
  }

  private static @Nullable Class<?> driverClass(String name) {
    try {
      return Class.forName(name, false, PGStatement.class.getClassLoader());
    } catch (ReflectiveOperationException | LinkageError unavailable) {
      return null;
    }
  }

  private static @Nullable VarHandle preparedQueryHandle() {
    Class<?> prepared = PG_PREPARED_STATEMENT;
    if (prepared == null) {
      return null;
    }
    try {
      return MethodHandles.privateLookupIn(prepared, MethodHandles.lookup())
          .findVarHandle(prepared, "preparedQuery", CachedQuery.class);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError unavailable) {
      return null;
    }
  }

  private static @Nullable MethodHandle maxResultRowSizeHandle() {
    Class<?> simpleQuery = driverClass("org.postgresql.core.v3.SimpleQuery");
    if (simpleQuery == null) {
      return null;
    }
    try {
      return MethodHandles.privateLookupIn(simpleQuery, MethodHandles.lookup())
          .findVirtual(simpleQuery, "getMaxResultRowSize", MethodType.methodType(int.class))
          .asType(MethodType.methodType(int.class, Query.class));
    } catch (ReflectiveOperationException | RuntimeException | LinkageError unavailable) {
      return null;
    }
  }
}
