package dev.saaskit.testing.internal;

import java.security.SecureRandom;
import java.util.HexFormat;

/** Quoting and random names for the SQL this module generates. */
public final class Sql {
  private static final SecureRandom RANDOM = new SecureRandom();

  private Sql() {}

  /** {@code name} as a double-quoted SQL identifier, with embedded quotes doubled. */
  public static String ident(String name) {
    if (name.isEmpty() || name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("not a valid SQL identifier: '" + name + "'");
    }
    return '"' + name.replace("\"", "\"\"") + '"';
  }

  /** {@code value} as a single-quoted SQL string literal (standard_conforming_strings on, the default). */
  public static String literal(String value) {
    if (value.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("a SQL string cannot hold a NUL character");
    }
    return '\'' + value.replace("'", "''") + '\'';
  }

  /** {@code bytes} random bytes as lower-case hex: safe in identifiers, literals and URLs. */
  public static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
