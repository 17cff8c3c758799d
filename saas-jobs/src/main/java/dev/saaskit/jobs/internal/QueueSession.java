package dev.saaskit.jobs.internal;

import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.PipelineSplit;
import dev.saaskit.core.internal.TenantSettingSql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TransactionState;
import org.postgresql.jdbc.PreferQueryMode;

/**
 * Runs the queue's statements on one connection with the job's tenant in the tenant setting, set
 * transaction-locally in the same round trip as each statement ({@code SELECT set_config('<setting>', ?, true);
 * <sql>} as one multi-statement prepared statement, spelled by saas-core's {@link TenantSettingSql}, as in
 * saas-tenancy).
 *
 * <p>In a caller's open transaction the setting would outlive the enqueue and change what the caller's next
 * statements see, so a session made with {@code restoreAfter} also captures the setting's previous value (in the
 * same round trip) and {@link #restore()} puts it back when it differs. Not API.
 */
public final class QueueSession {
  private final Connection connection;
  private final TenantSettingSql sql;
  private final boolean restoreAfter;
  private String tenantValue = "";
  private boolean captured;
  private @Nullable String previous;

  /**
   * @param restoreAfter true when running inside a transaction that is not ours: capture the setting's value
   *     before the first statement so {@link #restore()} can put it back
   */
  public QueueSession(Connection connection, TenantSetting setting, boolean restoreAfter) {
    this.connection = connection;
    this.sql = TenantSettingSql.of(setting);
    this.restoreAfter = restoreAfter;
  }

  /**
   * True if statements sent together on this connection share one transaction without an explicit one: in
   * auto-commit mode the extended protocol runs everything up to its Sync in one implicit transaction, so the
   * transaction-local setting reaches the statement. The simple protocol (or a driver we cannot ask) needs an
   * explicit transaction.
   */
  public static boolean pipelinesInImplicitTransaction(Connection connection) throws SQLException {
    if (!connection.getAutoCommit() || !connection.isWrapperFor(PGConnection.class)) {
      return false;
    }
    return connection.unwrap(PGConnection.class).getPreferQueryMode() != PreferQueryMode.SIMPLE;
  }

  /** Sets the tenant for the following statements; {@code null} (a job of no tenant) sets the empty string. */
  public QueueSession tenant(@Nullable TenantId tenant) {
    this.tenantValue = tenant == null ? "" : tenant.value();
    return this;
  }

  /** The connection statements run on. */
  public Connection connection() {
    return connection;
  }

  /**
   * Prepares {@code sql} behind the tenant prefix. Bind its parameters from {@link Statement#firstParameter()} on
   * and run it with {@link Statement#execute()}; a statement may be executed again after rebinding.
   */
  public Statement prepare(String sql) throws SQLException {
    boolean capturing = restoreAfter && !captured;
    PreparedStatement prepared = connection.prepareStatement((capturing ? this.sql.capturingPrefix()
        : this.sql.preparedPrefix()) + sql);
    try {
      return new Statement(prepared, capturing, PipelineSplit.of(prepared));
    } catch (SQLException | RuntimeException e) {
      prepared.close();
      throw e;
    }
  }

  /** A statement behind the tenant prefix. Closing it closes the JDBC statement. */
  public final class Statement implements AutoCloseable {
    private final PreparedStatement statement;
    private final boolean capturing;
    private final PipelineSplit.Probe split;

    private Statement(PreparedStatement statement, boolean capturing, PipelineSplit.Probe split) {
      this.statement = statement;
      this.capturing = capturing;
      this.split = split;
    }

    /** The JDBC statement, to bind the caller's parameters. */
    public PreparedStatement jdbc() {
      return statement;
    }

    /** The index of the first parameter of the caller's statement. */
    public int firstParameter() {
      return 2;
    }

    /**
     * Binds the prefix, executes, and returns the result set of the caller's statement, or {@code null} if it
     * returned an update count. Closing the statement closes the result set.
     */
    public @Nullable ResultSet execute() throws SQLException {
      statement.setString(1, tenantValue);
      // In autocommit mode the prefix relies on the driver sending the setting and the statement up to one Sync;
      // when pgjdbc will put a Sync between them (see PipelineSplit) they need a transaction of their own. The
      // driver has read every row by the time execute returns (no fetch size here), so committing before the
      // caller reads the result loses nothing.
      if (split.maySplit() && outsideAnyTransaction()) {
        return inShortTransaction();
      }
      return executeAndSkipPrefix();
    }

    /**
     * Autocommit mode and, as far as pgjdbc last saw, no transaction open on the server (SQL can open one without
     * JDBC knowing; a transaction of ours would then commit it early).
     */
    private boolean outsideAnyTransaction() throws SQLException {
      if (!connection.getAutoCommit()) {
        return false;
      }
      return !connection.isWrapperFor(BaseConnection.class)
          || connection.unwrap(BaseConnection.class).getTransactionState() == TransactionState.IDLE;
    }

    private @Nullable ResultSet inShortTransaction() throws SQLException {
      connection.setAutoCommit(false);
      try {
        ResultSet result = executeAndSkipPrefix();
        connection.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        try {
          connection.rollback();
        } catch (SQLException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      } finally {
        connection.setAutoCommit(true);
      }
    }

    private @Nullable ResultSet executeAndSkipPrefix() throws SQLException {
      statement.execute();
      if (capturing) {
        try (ResultSet rs = statement.getResultSet()) {
          rs.next();
          String value = rs.getString(1);
          if (!captured) {
            previous = value;
            captured = true;
          }
        }
        statement.getMoreResults(); // now at set_config's result
      }
      if (statement.getMoreResults()) { // past set_config's result, at the caller's statement
        return statement.getResultSet();
      }
      return null;
    }

    @Override
    public void close() throws SQLException {
      statement.close();
    }
  }

  /**
   * In a caller's transaction, puts back the tenant setting's value from before the first statement if it
   * differs from the last tenant set; does nothing otherwise.
   */
  public void restore() throws SQLException {
    if (!restoreAfter || !captured) {
      return;
    }
    String before = previous == null ? "" : previous;
    if (before.equals(tenantValue)) {
      return;
    }
    try (PreparedStatement ps = connection.prepareStatement(sql.separate())) {
      ps.setString(1, before);
      ps.execute();
    }
  }

}
