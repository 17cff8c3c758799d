package dev.saaskit.tenancy.internal;

import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Optional;
import java.util.function.Supplier;

/** How a statement learns its tenant: the setting, the source of the tenant and the strictness. Not API. */
public final class TenantBinding {
  private final String settingName;
  private final boolean strict;
  private final Supplier<Optional<TenantId>> tenantSource;
  private final String preparedPrefix;
  private final String literalPrefixStart;
  private final String separateSql;

  public TenantBinding(String settingName, boolean strict, Supplier<Optional<TenantId>> tenantSource) {
    this.settingName = Sql.requireSettingName(settingName);
    this.strict = strict;
    this.tenantSource = tenantSource;
    String name = Sql.quoteLiteral(settingName);
    // The newline ends the prefix even if the user's SQL starts with a line comment's continuation.
    this.preparedPrefix = "SELECT set_config(" + name + ", ?, true);\n";
    this.literalPrefixStart = "SELECT set_config(" + name + ", ";
    this.separateSql = "SELECT set_config(" + name + ", ?, true)";
  }

  public String settingName() {
    return settingName;
  }

  public boolean strict() {
    return strict;
  }

  /** The value the setting takes for a statement executed now: the tenant id, or "" (no rows) without one. */
  public String currentValue() {
    Optional<TenantId> tenant = tenantSource.get();
    if (tenant.isPresent()) {
      return tenant.get().value();
    }
    if (strict) {
      throw new MissingTenantException(
          "A statement was executed on a TenantDataSource connection with no current tenant, and the data source "
              + "is strict. Run it inside TenantContext.run(tenantId, ...), or use a non-tenant DataSource for "
              + "work that is not tenant-scoped.");
    }
    return "";
  }

  /** The SQL of a prepared statement whose first parameter is the tenant, followed by {@code sql}. */
  public String prefixPrepared(String sql) {
    return preparedPrefix + sql;
  }

  /** {@code sql} preceded by the setting with {@code value} inlined as a literal, for plain statements. */
  public String prefixLiteral(String value, String sql) {
    return literalPrefixStart + Sql.quoteLiteral(value) + ", true);\n" + sql;
  }

  /** Sets the tenant for the rest of the connection's current transaction, in a round trip of its own. */
  public void applySeparately(Connection connection, String value) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(separateSql)) {
      statement.setString(1, value);
      statement.execute();
    }
  }
}
