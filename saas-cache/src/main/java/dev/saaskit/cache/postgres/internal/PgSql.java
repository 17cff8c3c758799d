package dev.saaskit.cache.postgres.internal;

import dev.saaskit.core.internal.SqlNames;
import java.util.regex.Pattern;

/** SQL text helpers: identifier rules and quoting. */
public final class PgSql {
  private static final Pattern SCHEMA_NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  /** PostgreSQL 14: CREATE OR REPLACE TRIGGER; xid8 and pg_current_snapshot() arrived in 13. */
  public static final int MIN_SERVER_VERSION = 140000;

  private PgSql() {}

  /**
   * Checks a schema name for the cache tables: lower-case letters, digits and underscores, starting with a letter
   * or underscore, at most 63 characters, so the name is the same quoted or not and fits a NOTIFY channel.
   */
  public static String checkSchemaName(String schema) {
    if (schema == null || !SCHEMA_NAME.matcher(schema).matches()) {
      throw new IllegalArgumentException("schema must be 1 to 63 characters of a-z, 0-9 and _, not starting with a"
          + " digit, but was " + (schema == null ? "null" : "'" + schema + "'"));
    }
    return schema;
  }

  /** A double-quoted identifier. */
  public static String ident(String name) {
    if (name.isEmpty() || name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("an SQL identifier must be non-empty and contain no NUL character");
    }
    return SqlNames.quoteIdent(name);
  }

  /** A string literal, whatever {@code standard_conforming_strings} says. */
  public static String literal(String value) {
    return SqlNames.quoteLiteral(value);
  }

  /** The NOTIFY channel of the cache schema {@code schema}. */
  public static String channel(String schema) {
    return schema + "_invalidation";
  }
}
