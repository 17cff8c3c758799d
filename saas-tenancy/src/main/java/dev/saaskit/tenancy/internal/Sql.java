package dev.saaskit.tenancy.internal;

import dev.saaskit.core.internal.SqlNames;

/** Quoting and validation of names and literals that end up in SQL text. Not API. */
public final class Sql {
  /** PostgreSQL silently truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
  public static final int MAX_IDENTIFIER_BYTES = SqlNames.MAX_IDENTIFIER_BYTES;

  private Sql() {}

  /** Checks a custom setting name such as {@code app.tenant_id}; returns it. */
  public static String requireSettingName(String name) {
    return SqlNames.requireSettingName(name);
  }

  /** Checks that {@code name} is a usable PostgreSQL identifier of at most 63 bytes; returns it. */
  public static String requireIdentifier(String what, String name) {
    return SqlNames.requireIdentifier(what, name);
  }

  /** A double-quoted identifier, exactly as given (case kept, quotes doubled). */
  public static String quoteIdent(String name) {
    return SqlNames.quoteIdent(name);
  }

  /**
   * A string literal that means {@code value} whatever {@code standard_conforming_strings} is: an escape string
   * ({@code E'...'}) with backslashes and quotes doubled. Values must not contain NUL.
   */
  public static String quoteLiteral(String value) {
    return SqlNames.quoteLiteral(value);
  }
}
