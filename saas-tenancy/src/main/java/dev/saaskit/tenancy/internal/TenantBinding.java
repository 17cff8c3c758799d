package dev.saaskit.tenancy.internal;

import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.TenantSettingSql;
import dev.saaskit.tenancy.InvalidTenantIdException;
import dev.saaskit.tenancy.TenantColumnType;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/** How a statement learns its tenant: the setting, the source of the tenant and the strictness. Not API. */
public final class TenantBinding {
  private static final Pattern TRANSACTION_START = Pattern.compile(
      "\\s*(?:begin|start\\s+transaction|set\\s+transaction)(?:[\\sa-z,]*)?;?\\s*", Pattern.CASE_INSENSITIVE);
  private final TenantSetting setting;
  private final boolean strict;
  private final Supplier<Optional<TenantId>> tenantSource;
  private final @Nullable TenantColumnType idType;
  private final String preparedPrefix;
  private final String literalPrefixStart;
  private final String separateSql;

  public TenantBinding(TenantSetting setting, boolean strict, Supplier<Optional<TenantId>> tenantSource,
      @Nullable TenantColumnType idType) {
    this.setting = setting;
    this.strict = strict;
    this.tenantSource = tenantSource;
    this.idType = idType;
    TenantSettingSql sql = TenantSettingSql.of(setting);
    this.preparedPrefix = sql.preparedPrefix();
    this.literalPrefixStart = sql.literalPrefixStart();
    this.separateSql = sql.separate();
  }

  public TenantSetting setting() {
    return setting;
  }

  public boolean strict() {
    return strict;
  }

  public Optional<TenantColumnType> idType() {
    return Optional.ofNullable(idType);
  }

  /** The value the setting takes for a statement executed now: the tenant id, or "" (no rows) without one. */
  public String currentValue() {
    Optional<TenantId> tenant = tenantSource.get();
    if (tenant.isPresent()) {
      String value = tenant.get().value();
      if (idType != null && !idType.isCanonical(value)) {
        throw new InvalidTenantIdException(nonCanonical(value, idType));
      }
      return value;
    }
    if (strict) {
      throw new MissingTenantException(
          "A statement was executed on a TenantDataSource connection with no current tenant, and the data source "
              + "is strict. Run it inside TenantContext.run(tenantId, ...), or use a non-tenant DataSource for "
              + "work that is not tenant-scoped.");
    }
    return "";
  }

  private static String nonCanonical(String value, TenantColumnType type) {
    String canonical;
    try {
      canonical = "'" + type.tenantId(value).value() + "'";
    } catch (IllegalArgumentException notOfTheType) {
      return "The current tenant id '" + value + "' is not a " + type.sqlType() + ", the type of the tenant column "
          + "this TenantDataSource was configured for. Check where the tenant id is made (a token claim, a URL).";
    }
    return "The current tenant id '" + value + "' is a " + type.sqlType() + " spelled differently from PostgreSQL ("
        + canonical + "). PostgreSQL would treat both spellings as one tenant while caches, job tables and per-tenant "
        + "limits keep them apart, so the statement was not sent. Make tenant ids with TenantColumnType."
        + type.name() + ".tenantId(raw) (TenantId.of" + (type == TenantColumnType.UUID ? "Uuid" : "Number")
        + ") where they enter the application.";
  }

  /**
   * Whether {@code sql} is one statement that only starts a transaction or sets its modes ({@code BEGIN},
   * {@code START TRANSACTION}, {@code SET TRANSACTION}, with isolation level, read only/write and deferrable
   * modes). Such a statement reads and writes no table, and PostgreSQL refuses its modes after any query of the
   * transaction, the tenant setting included; it runs without the setting. The text may hold only letters, white
   * space and commas after the keyword, and at most a final semicolon, so it cannot carry a second statement.
   */
  public static boolean isTransactionStart(String sql) {
    // Most statements are not: a look at the first word spares them the matcher (it showed in a point select's
    // profile). The look accepts more than the pattern, never less; the pattern decides.
    int i = 0;
    while (i < sql.length() && isPatternSpace(sql.charAt(i))) {
      i++;
    }
    boolean candidate = sql.regionMatches(true, i, "begin", 0, 5) || sql.regionMatches(true, i, "start", 0, 5)
        || sql.regionMatches(true, i, "set", 0, 3);
    return candidate && TRANSACTION_START.matcher(sql).matches();
  }

  /** {@code \s} of a pattern without {@code UNICODE_CHARACTER_CLASS}. */
  private static boolean isPatternSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\u000B' || c == '\f' || c == '\r';
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
