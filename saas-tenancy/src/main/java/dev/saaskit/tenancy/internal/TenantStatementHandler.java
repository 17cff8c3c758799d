package dev.saaskit.tenancy.internal;

import dev.saaskit.core.internal.PipelineSplit;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Statements of a tenant connection. Three shapes:
 * <ul>
 *   <li>plain ({@code createStatement}): each execution sends the setting, with the tenant inlined as a
 *       literal, ahead of the SQL in the same round trip, and skips its result;</li>
 *   <li>prepared: the driver statement is prepared as {@code set_config(..., ?, true); <sql>}, parameters are
 *       recorded and replayed shifted by one, the tenant goes in parameter 1; batches use a second, unprefixed
 *       driver statement;</li>
 *   <li>separate (callable statements, generated keys, all batches): the setting is sent on its own first.</li>
 * </ul>
 * Every execution holds the connection's lock from setting the tenant to the end of the statement (see
 * {@link TenantConnectionHandler}). Methods that take SQL text are refused on prepared and callable statements.
 * Not API.
 */
final class TenantStatementHandler implements InvocationHandler {
  private enum Shape { PLAIN, PREPARED, SEPARATE }

  private static final Object[] NO_ARGS = {};
  /**
   * pgjdbc ends a pipeline with a Sync of its own once it holds about 256 statements (its estimate of the answers
   * it may ask for before reading any: 250 bytes a statement against 64,000, {@code flushIfDeadlockRisk}), which ends
   * the implicit transaction of an autocommit execution, so the parts after it would run without the setting. A
   * text with at least this many semicolons may come near that and runs in a transaction of its own (a semicolon in
   * a literal or a comment counts too: one more round trip at worst, never a part without the tenant).
   */
  private static final int MANY_PARTS = 128;
  private static final ClassLoader LOADER = TenantStatementHandler.class.getClassLoader();
  private static final ProxyConstructor<Statement> STATEMENTS = ProxyConstructor.of(LOADER, Statement.class);
  private static final ProxyConstructor<PreparedStatement> PREPARED_STATEMENTS =
      ProxyConstructor.of(LOADER, PreparedStatement.class);
  private static final ProxyConstructor<CallableStatement> CALLABLE_STATEMENTS =
      ProxyConstructor.of(LOADER, CallableStatement.class);

  private final Shape shape;
  private final TenantConnectionHandler connection;
  private @Nullable Object self;

  // PLAIN and SEPARATE: the one driver statement. PREPARED: created lazily, see below.
  private @Nullable Statement single;

  // PREPARED only.
  private @Nullable Method prepareMethod;
  private Object @Nullable [] prepareArgs;
  private @Nullable PreparedStatement prefixed;
  private PipelineSplit.@Nullable Probe prefixedSplit;
  private @Nullable PreparedStatement unprefixed;
  // The SQL of a prepared statement never changes: classify it once, not on every execution.
  private boolean transactionStart;
  private boolean manyParts;
  private final Map<Integer, Object[]> parameters = new TreeMap<>();
  private final Map<Integer, Method> parameterSetters = new TreeMap<>();
  private final List<Object[]> statementSettings = new ArrayList<>();
  private final List<Method> statementSettingMethods = new ArrayList<>();
  private volatile @Nullable Statement current;
  private boolean closed;

  private TenantStatementHandler(Shape shape, TenantConnectionHandler connection) {
    this.shape = shape;
    this.connection = connection;
  }

  static Statement plain(TenantConnectionHandler connection, Statement real) {
    TenantStatementHandler handler = new TenantStatementHandler(Shape.PLAIN, connection);
    handler.single = real;
    handler.current = real;
    return (Statement) handler.proxy(Statement.class);
  }

  static Object separate(TenantConnectionHandler connection, Statement real, Class<? extends Statement> type) {
    TenantStatementHandler handler = new TenantStatementHandler(Shape.SEPARATE, connection);
    handler.single = real;
    handler.current = real;
    return handler.proxy(type);
  }

  static PreparedStatement prepared(TenantConnectionHandler connection, Method prepareMethod, Object[] args) {
    TenantStatementHandler handler = new TenantStatementHandler(Shape.PREPARED, connection);
    handler.prepareMethod = prepareMethod;
    handler.prepareArgs = args.clone();
    handler.transactionStart = TenantBinding.isTransactionStart((String) args[0]);
    handler.manyParts = mayHaveManyParts((String) args[0]);
    return (PreparedStatement) handler.proxy(PreparedStatement.class);
  }

  private Object proxy(Class<?> type) {
    ProxyConstructor<?> constructor;
    if (type == PreparedStatement.class) {
      constructor = PREPARED_STATEMENTS;
    } else if (type == CallableStatement.class) {
      constructor = CALLABLE_STATEMENTS;
    } else if (type == Statement.class) {
      constructor = STATEMENTS;
    } else {
      throw new IllegalArgumentException("not a JDBC statement interface: " + type);
    }
    self = constructor.newInstance(this);
    return self;
  }

  @Override
  public @Nullable Object invoke(Object proxy, Method method, Object @Nullable [] rawArgs) throws Throwable {
    // the proxy passes null for methods without parameters
    Object[] args = rawArgs == null ? NO_ARGS : rawArgs;
    String name = method.getName();
    switch (name) {
      case "equals":
        return proxy == args[0];
      case "hashCode":
        return System.identityHashCode(proxy);
      case "toString":
        Statement shown = current;
        return "TenantStatement[" + (shown != null ? shown : prepareArgs()[0]) + "]";
      case "getConnection":
        return connection.self();
      case "unwrap":
        return ((Class<?>) args[0]).isInstance(proxy) ? proxy : activeStatement().unwrap((Class<?>) args[0]);
      case "isWrapperFor":
        return ((Class<?>) args[0]).isInstance(proxy) || activeStatement().isWrapperFor((Class<?>) args[0]);
      default:
        break;
    }
    switch (shape) {
      case PLAIN:
        return invokePlain(method, args);
      case SEPARATE:
        return invokeSeparate(method, args);
      default:
        return invokePrepared(method, args);
    }
  }

  // ---- plain statements ----

  private @Nullable Object invokePlain(Method method, Object[] args) throws Throwable {
    String name = method.getName();
    boolean sqlExecution = args != null && args.length >= 1 && args[0] instanceof String
        && method.getDeclaringClass() == Statement.class && name.startsWith("execute");
    if (sqlExecution && args.length == 1 && TenantBinding.isTransactionStart((String) args[0])) {
      return connection.locked(() -> call(single(), method, args));
    }
    if (sqlExecution && args.length == 1) {
      String value = connection.binding().currentValue();
      String sql = connection.binding().prefixLiteral(value, (String) args[0]);
      boolean many = mayHaveManyParts((String) args[0]);
      return connection.locked(
          () -> inOneTransaction(single(), null, many, () -> resultOf(name, single(), single().execute(sql))));
    }
    if (sqlExecution || name.equals("executeBatch") || name.equals("executeLargeBatch")) {
      // Generated keys variants and batches cannot carry the prefix.
      return withTenantSeparately(method, args, single());
    }
    if (name.equals("close")) {
      closed = true;
    }
    return call(single(), method, args);
  }

  // ---- separate binding ----

  private @Nullable Object invokeSeparate(Method method, Object[] args) throws Throwable {
    String name = method.getName();
    if (takesSql(method, args)) {
      throw sqlOnPreparedStatement(name);
    }
    if (name.startsWith("execute")) {
      return withTenantSeparately(method, args, single());
    }
    if (name.equals("close")) {
      closed = true;
    }
    return call(single(), method, args);
  }

  private @Nullable Object withTenantSeparately(Method method, Object[] args, Statement target) throws Throwable {
    String value = connection.binding().currentValue();
    Connection real = connection.real();
    return connection.locked(() -> {
      current = target;
      SqlCall call = () -> {
        connection.binding().applySeparately(real, value);
        return call(target, method, args);
      };
      if (!connection.needsOwnTransaction()) {
        return call.run();
      }
      return inShortTransactionReadingAll(target, call);
    });
  }

  /** Runs {@code call} in a transaction of its own on a connection in autocommit mode, then restores it. */
  private static @Nullable Object inShortTransaction(Connection real, SqlCall call) throws Throwable {
    real.setAutoCommit(false);
    try {
      @Nullable Object result = call.run();
      real.commit();
      return result;
    } catch (Throwable failure) {
      try {
        real.rollback();
      } catch (SQLException suppressed) {
        failure.addSuppressed(suppressed);
      }
      throw failure;
    } finally {
      real.setAutoCommit(true);
    }
  }

  /**
   * Statement methods that take SQL text ({@code execute(String, ...)}, {@code executeUpdate(String, ...)},
   * {@code addBatch(String)}, ...). JDBC says a prepared or callable statement must refuse them; pgjdbc refuses
   * some and runs others, which would run SQL without the tenant, so the wrapper refuses them all itself.
   */
  private static boolean takesSql(Method method, Object @Nullable [] args) {
    String name = method.getName();
    return args != null && args.length >= 1 && method.getParameterTypes()[0] == String.class
        && (name.startsWith("execute") || name.equals("addBatch"));
  }

  private static SQLException sqlOnPreparedStatement(String name) {
    return new SQLException("Can't use " + name + "(String ...) on a PreparedStatement or CallableStatement: it "
        + "would run SQL text other than the statement's own. Create a Statement for that SQL.", "42809");
  }

  // ---- prepared statements ----

  private @Nullable Object invokePrepared(Method method, Object[] args) throws Throwable {
    String name = method.getName();
    Class<?> declaring = method.getDeclaringClass();
    if (declaring != Statement.class && name.startsWith("set") && args != null && args.length >= 1
        && method.getParameterTypes()[0] == int.class) {
      int index = (Integer) args[0];
      if (index < 1) {
        // replayed shifted by one, index 0 would land on the tenant's parameter; the driver refuses it too
        throw new SQLException("The column index is out of range: " + index + " (parameter indexes start at 1).",
            "22023");
      }
      parameters.put(index, args.clone());
      parameterSetters.put(index, method);
      return null;
    }
    switch (name) {
      case "clearParameters":
        parameters.clear();
        parameterSetters.clear();
        // The driver statements keep what was replayed into them: cleared here too, a parameter not set again
        // fails the next execution (as JDBC says) instead of running with a value set earlier, perhaps by the
        // code of another tenant that shares the statement. The tenant's own parameter is set on every execution.
        for (PreparedStatement real : new PreparedStatement[] {prefixed, unprefixed}) {
          if (real != null) {
            real.clearParameters();
          }
        }
        return null;
      case "execute":
      case "executeQuery":
      case "executeUpdate":
      case "executeLargeUpdate":
        if (args == null || args.length == 0) {
          return executePrefixed(name);
        }
        throw sqlOnPreparedStatement(name);
      case "addBatch":
        if (args == null || args.length == 0) {
          PreparedStatement batch = unprefixed();
          replayParameters(batch, 0);
          batch.addBatch();
          return null;
        }
        throw sqlOnPreparedStatement(name);
      case "executeBatch":
      case "executeLargeBatch":
        return withTenantSeparately(method, args, unprefixed());
      case "clearBatch":
        if (unprefixed != null) {
          unprefixed.clearBatch();
        }
        return null;
      case "getMetaData":
      case "getParameterMetaData":
        return call(unprefixed(), method, args);
      case "close":
        closeAll();
        return null;
      case "isClosed":
        return closed;
      default:
        break;
    }
    if (declaring == Statement.class && (name.startsWith("set") || name.equals("closeOnCompletion"))) {
      statementSettingMethods.add(method);
      statementSettings.add(args == null ? new Object[0] : args.clone());
      for (Statement real : new Statement[] {prefixed, unprefixed}) {
        if (real != null) {
          call(real, method, args);
        }
      }
      return null;
    }
    return call(activeStatement(), method, args);
  }

  private @Nullable Object executePrefixed(String name) throws Throwable {
    if (transactionStart) {
      PreparedStatement target = unprefixed();
      return connection.locked(() -> {
        current = target;
        replayParameters(target, 0);
        switch (name) {
          case "executeQuery":
            return target.executeQuery();
          case "executeUpdate":
            return target.executeUpdate();
          case "executeLargeUpdate":
            return target.executeLargeUpdate();
          default:
            return target.execute();
        }
      });
    }
    String value = connection.binding().currentValue();
    PreparedStatement target = prefixed();
    return connection.locked(() -> {
      current = target;
      target.setString(1, value);
      try {
        replayParameters(target, 1);
        return inOneTransaction(target, prefixedSplit(), manyParts,
            () -> resultOf(name, target, target.execute()));
      } finally {
        // The driver's statement escapes the wrapper (ResultSet.getStatement(), unwrap): re-executed there, it
        // must set no tenant rather than this one.
        target.setString(1, "");
      }
    });
  }

  /**
   * Runs a prefixed execution so that the setting and the statement share a transaction. With the extended
   * protocol they do as long as the driver sends them up to one Sync (one implicit transaction); with the simple
   * protocol, in the driver's force-binary mode ({@link TenantConnectionHandler#forceBinary()}), or when pgjdbc will
   * put a Sync between them ({@code split}, see {@link PipelineSplit}), a connection in autocommit mode needs an
   * explicit transaction, which costs the COMMIT's round trip. So does a text of many
   * parts ({@code manyParts}, see {@link #MANY_PARTS}), which the driver splits by itself.
   *
   * <p>The transaction reads the whole result before its COMMIT ({@link #inShortTransactionReadingAll}).
   *
   * @param split the driver statement's probe; null for plain statements, which the driver runs unprepared and
   *     never splits for the described parts' sake
   * @param manyParts whether the text may hold enough parts for the driver's Sync ({@link #mayHaveManyParts})
   */
  private @Nullable Object inOneTransaction(Statement target, PipelineSplit.@Nullable Probe split,
      boolean manyParts, SqlCall call) throws Throwable {
    boolean separateParts = manyParts || connection.simpleQueryMode() || connection.forceBinary()
        || (split != null && split.maySplit());
    if (!separateParts || !connection.needsOwnTransaction()) {
      return call.run();
    }
    return inShortTransactionReadingAll(target, call);
  }

  /**
   * {@link #inShortTransaction} for a statement the caller runs in autocommit mode. In the transaction the driver
   * would fetch rows through a cursor if the statement has a fetch size, and the COMMIT would close the cursor
   * before the caller (or the driver, for generated keys) reads on; in autocommit mode the driver reads the whole
   * result at once, so the fetch size is set aside for the execution.
   */
  private @Nullable Object inShortTransactionReadingAll(Statement target, SqlCall call) throws Throwable {
    int fetchSize = target.getFetchSize();
    if (fetchSize != 0) {
      target.setFetchSize(0);
    }
    try {
      return inShortTransaction(connection.real(), call);
    } finally {
      if (fetchSize != 0) {
        target.setFetchSize(fetchSize);
      }
    }
  }

  /** Whether {@code sql} holds at least {@link #MANY_PARTS} semicolons. */
  private static boolean mayHaveManyParts(String sql) {
    if (sql.length() < MANY_PARTS) {
      return false;
    }
    int semicolons = 0;
    for (int i = 0; i < sql.length(); i++) {
      if (sql.charAt(i) == ';' && ++semicolons >= MANY_PARTS) {
        return true;
      }
    }
    return false;
  }

  private void replayParameters(PreparedStatement target, int shift) throws Throwable {
    for (Map.Entry<Integer, Object[]> entry : parameters.entrySet()) {
      Object[] args = entry.getValue().clone();
      args[0] = entry.getKey() + shift;
      Method setter = Objects.requireNonNull(parameterSetters.get(entry.getKey()), "set together with parameters");
      call(target, setter, args);
    }
  }

  private PreparedStatement prefixed() throws Throwable {
    if (prefixed == null) {
      Object[] args = prepareArgs().clone();
      args[0] = connection.binding().prefixPrepared((String) prepareArgs()[0]);
      PreparedStatement made = configure((PreparedStatement) connection.invokeReal(prepareMethod(), args));
      prefixedSplit = PipelineSplit.of(made);
      prefixed = made;
    }
    return prefixed;
  }

  private PipelineSplit.Probe prefixedSplit() {
    return Objects.requireNonNull(prefixedSplit, "made with the prefixed statement");
  }

  private PreparedStatement unprefixed() throws Throwable {
    if (unprefixed == null) {
      unprefixed = configure((PreparedStatement) connection.invokeReal(prepareMethod(), prepareArgs()));
    }
    return unprefixed;
  }

  /** The driver statement of a plain or separate statement (set when the handler is made). */
  private Statement single() {
    return Objects.requireNonNull(single, "plain and separate statements get their driver statement when made");
  }

  /** How the prepared statement was made: {@code prepareStatement} (set when the handler is made). */
  private Method prepareMethod() {
    return Objects.requireNonNull(prepareMethod, "prepared statements get their prepare method when made");
  }

  /** The arguments of {@code prepareStatement}, the SQL first (set when the handler is made). */
  private Object[] prepareArgs() {
    return Objects.requireNonNull(prepareArgs, "prepared statements get their prepare arguments when made");
  }

  private PreparedStatement configure(PreparedStatement real) throws Throwable {
    for (int i = 0; i < statementSettingMethods.size(); i++) {
      call(real, statementSettingMethods.get(i), statementSettings.get(i));
    }
    return real;
  }

  private Statement activeStatement() throws Throwable {
    Statement active = current;
    if (active == null) {
      active = unprefixed();
      current = active;
    }
    return active;
  }

  private void closeAll() throws SQLException {
    closed = true;
    SQLException failure = null;
    for (Statement real : new Statement[] {prefixed, unprefixed}) {
      if (real == null) {
        continue;
      }
      try {
        real.close();
      } catch (SQLException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  // ---- shared ----

  /**
   * After executing {@code set_config(...); <sql>}, steps past the setting's result and answers as the JDBC
   * method {@code name} would have for {@code <sql>} alone.
   */
  private static Object resultOf(String name, Statement target, boolean firstIsResultSet) throws SQLException {
    if (!firstIsResultSet) {
      throw new SQLException("tenant setting returned no result; is this a PostgreSQL connection?", "XX000");
    }
    boolean userResultIsResultSet = target.getMoreResults();
    switch (name) {
      case "executeQuery":
        if (!userResultIsResultSet) {
          throw new SQLException("No results were returned by the query.", "02000");
        }
        return target.getResultSet();
      case "executeUpdate":
      case "executeLargeUpdate":
        if (userResultIsResultSet) {
          throw new SQLException("A result was returned when none was expected.", "0100E");
        }
        long count = Math.max(0, target.getLargeUpdateCount());
        return name.equals("executeUpdate") ? (Object) (int) Math.min(count, Integer.MAX_VALUE) : (Object) count;
      default:
        return userResultIsResultSet;
    }
  }

  private static Object call(Object target, Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

}
