package dev.saaskit.core.internal;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/** Validation and quoting of names that end up in SQL text. Not API. */
public final class SqlNames {
  /** PostgreSQL silently truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
  public static final int MAX_IDENTIFIER_BYTES = 63;

  // A custom setting must be qualified ("prefix.name"); plain identifier characters only, so the name can be
  // embedded in SQL text and in policies without quoting doubts.
  private static final Pattern SETTING_NAME =
      Pattern.compile("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+");

  private SqlNames() {}

  /** Checks a custom setting name such as {@code app.tenant_id}; returns it. */
  public static String requireSettingName(String name) {
    if (name == null || !SETTING_NAME.matcher(name).matches() || name.length() > MAX_IDENTIFIER_BYTES) {
      throw new IllegalArgumentException(
          "setting name must look like 'prefix.name' (letters, digits, underscores; at most "
              + MAX_IDENTIFIER_BYTES + " characters) but was '" + name + "'");
    }
    return name;
  }

  /** Checks that {@code name} is a usable PostgreSQL identifier of at most 63 bytes; returns it. */
  public static String requireIdentifier(String what, String name) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException(what + " must not be empty");
    }
    if (name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(what + " must not contain a NUL character");
    }
    int bytes = name.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_IDENTIFIER_BYTES) {
      throw new IllegalArgumentException(what + " must be at most " + MAX_IDENTIFIER_BYTES
          + " bytes in UTF-8 (PostgreSQL would truncate it) but '" + name + "' is " + bytes);
    }
    return name;
  }

  /** A double-quoted identifier, exactly as given (case kept, quotes doubled). */
  public static String quoteIdent(String name) {
    return '"' + name.replace("\"", "\"\"") + '"';
  }

  /**
   * A string literal that means {@code value} whatever {@code standard_conforming_strings} is: an escape string
   * ({@code E'...'}) with backslashes and quotes doubled.
   */
  public static String quoteLiteral(String value) {
    if (value.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("a SQL literal cannot contain NUL");
    }
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + '\'';
  }
}
