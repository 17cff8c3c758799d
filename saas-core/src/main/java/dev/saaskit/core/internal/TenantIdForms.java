package dev.saaskit.core.internal;

/**
 * Reads tenant ids the way PostgreSQL reads {@code uuid} and {@code bigint} values, and writes them in the one form
 * PostgreSQL prints. Two spellings PostgreSQL takes as the same value ({@code '{A0EE...}'} and {@code 'a0ee...'},
 * {@code '+01'} and {@code '1'}) would otherwise be two tenants to everything that compares ids as text in Java
 * (cache keys, job tables, per-tenant limits) and one tenant to the row-level security policy. Not API.
 */
public final class TenantIdForms {
  private static final int UUID_BYTES = 16;

  private TenantIdForms() {}

  /**
   * The canonical text of a {@code uuid}: 32 lower-case hex digits in groups of 8-4-4-4-12.
   *
   * <p>Accepts exactly what PostgreSQL's {@code uuid} input accepts: hex digits of either case, an optional pair
   * of braces around the whole value, and a hyphen after any group of four digits but the last.
   *
   * @throws IllegalArgumentException if PostgreSQL would refuse {@code text} as a uuid
   */
  public static String canonicalUuid(String text) {
    int i = 0;
    boolean braces = !text.isEmpty() && text.charAt(0) == '{';
    if (braces) {
      i++;
    }
    char[] hex = new char[UUID_BYTES * 2];
    for (int b = 0; b < UUID_BYTES; b++) {
      if (i + 1 >= text.length() || !isHex(text.charAt(i)) || !isHex(text.charAt(i + 1))) {
        throw notA("uuid", text);
      }
      hex[2 * b] = Character.toLowerCase(text.charAt(i));
      hex[2 * b + 1] = Character.toLowerCase(text.charAt(i + 1));
      i += 2;
      if (i < text.length() && text.charAt(i) == '-' && b % 2 == 1 && b < UUID_BYTES - 1) {
        i++;
      }
    }
    if (braces) {
      if (i >= text.length() || text.charAt(i) != '}') {
        throw notA("uuid", text);
      }
      i++;
    }
    if (i != text.length()) {
      throw notA("uuid", text);
    }
    String digits = new String(hex);
    return digits.substring(0, 8) + '-' + digits.substring(8, 12) + '-' + digits.substring(12, 16) + '-'
        + digits.substring(16, 20) + '-' + digits.substring(20);
  }

  /**
   * The canonical text of a {@code bigint}: decimal, no sign for positive values, no leading zeros.
   *
   * <p>Accepts what PostgreSQL's {@code bigint} input accepts in any supported version: surrounding white space, an
   * optional sign, decimal digits, and (PostgreSQL 16 and later) {@code 0x}, {@code 0o} and {@code 0b} prefixes
   * and single underscores between digits. A value PostgreSQL 15 refuses is still refused there by the server.
   *
   * @throws IllegalArgumentException if no PostgreSQL version would read {@code text} as a bigint
   */
  public static String canonicalBigint(String text) {
    String s = text.strip();
    int i = 0;
    boolean negative = false;
    if (!s.isEmpty() && (s.charAt(0) == '+' || s.charAt(0) == '-')) {
      negative = s.charAt(0) == '-';
      i++;
    }
    int radix = 10;
    if (s.length() - i > 2 && s.charAt(i) == '0') {
      char prefix = Character.toLowerCase(s.charAt(i + 1));
      radix = prefix == 'x' ? 16 : prefix == 'o' ? 8 : prefix == 'b' ? 2 : 10;
      if (radix != 10) {
        i += 2;
      }
    }
    if (i >= s.length()) {
      throw notA("bigint", text);
    }
    // Accumulate negatively: Long.MIN_VALUE has no positive counterpart.
    long value = 0;
    boolean previousWasDigit = false;
    for (; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '_') {
        if (!previousWasDigit || i + 1 >= s.length()) {
          throw notA("bigint", text);
        }
        previousWasDigit = false;
        continue;
      }
      int digit = Character.digit(c, radix);
      if (digit < 0 || c > 'z') {
        throw notA("bigint", text);
      }
      if (value < (Long.MIN_VALUE + digit) / radix) {
        throw new IllegalArgumentException("tenant id '" + text + "' is out of range for a bigint");
      }
      value = value * radix - digit;
      previousWasDigit = true;
    }
    if (!negative) {
      if (value == Long.MIN_VALUE) {
        throw new IllegalArgumentException("tenant id '" + text + "' is out of range for a bigint");
      }
      value = -value;
    }
    return Long.toString(value);
  }

  private static boolean isHex(char c) {
    return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F';
  }

  private static IllegalArgumentException notA(String type, String text) {
    return new IllegalArgumentException("tenant id '" + text + "' is not a valid " + type);
  }
}
