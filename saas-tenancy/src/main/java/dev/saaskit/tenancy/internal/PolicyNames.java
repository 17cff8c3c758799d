package dev.saaskit.tenancy.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/** Names derived by {@code RlsPolicy}: the tenant index name, kept within PostgreSQL's 63 bytes. Not API. */
public final class PolicyNames {
  /** Bytes of the readable prefix kept when a derived name is too long: 63 - "_" - 8 hex - "_idx". */
  static final int TRUNCATED_PREFIX_BYTES = Sql.MAX_IDENTIFIER_BYTES - 1 - 8 - 4;

  private PolicyNames() {}

  /**
   * The name of the index on {@code table} over {@code columns}: {@code <table>_<col>[_<col>...]_idx}, or, when that
   * is longer than 63 bytes, its first 50 bytes (whole characters only) followed by {@code _<8 hex digits>_idx},
   * where the digits are a hash of the full table and column names. The same input always gives the same name.
   */
  public static String indexName(String table, List<String> columns) {
    String readable = table + '_' + String.join("_", columns);
    String name = readable + "_idx";
    if (utf8Length(name) <= Sql.MAX_IDENTIFIER_BYTES) {
      return name;
    }
    return truncateUtf8(readable, TRUNCATED_PREFIX_BYTES) + '_' + shortHash(table, columns) + "_idx";
  }

  /**
   * Checks each of {@code names} with {@link #requireName}; returns them in order without duplicates. With
   * {@code atLeastOne}, an empty list is rejected, naming {@code option}.
   */
  public static java.util.Set<String> requireNames(String option, String what, String[] names, boolean atLeastOne) {
    java.util.Objects.requireNonNull(names, option);
    if (atLeastOne && names.length == 0) {
      throw new IllegalArgumentException(option + " needs at least one " + what);
    }
    java.util.Set<String> checked = new java.util.LinkedHashSet<>();
    for (String name : names) {
      checked.add(requireName(what, name));
    }
    return checked;
  }

  /**
   * Checks each of {@code qualifiedNames} as {@code schema.table} (split at the first dot, both parts checked with
   * {@link #requireName}); returns them in order without duplicates.
   */
  public static java.util.Set<String> requireQualifiedNames(String option, String[] qualifiedNames) {
    java.util.Objects.requireNonNull(qualifiedNames, option);
    java.util.Set<String> checked = new java.util.LinkedHashSet<>();
    for (String name : qualifiedNames) {
      int dot = name == null ? -1 : name.indexOf('.');
      if (dot <= 0 || dot == name.length() - 1) {
        throw new IllegalArgumentException(option + " takes tables as schema.table but got '" + name + "'");
      }
      requireName("schema name", name.substring(0, dot));
      requireName("table name", name.substring(dot + 1));
      checked.add(name);
    }
    return checked;
  }

  /**
   * Checks {@code name} with {@link Sql#requireIdentifier} and also rejects unpaired UTF-16 surrogates, which UTF-8
   * cannot carry (the driver would silently send '?' instead). Returns the name.
   */
  public static String requireName(String what, String name) {
    Sql.requireIdentifier(what, name);
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < name.length() && Character.isLowSurrogate(name.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new IllegalArgumentException(
            what + " must be valid Unicode but has an unpaired surrogate at index " + i + ": '" + name + "'");
      }
    }
    return name;
  }

  static int utf8Length(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }

  /** The longest prefix of {@code s} made of whole code points whose UTF-8 form fits in {@code maxBytes}. */
  static String truncateUtf8(String s, int maxBytes) {
    int bytes = 0;
    int end = 0;
    while (end < s.length()) {
      int cp = s.codePointAt(end);
      int len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (bytes + len > maxBytes) {
        break;
      }
      bytes += len;
      end += Character.charCount(cp);
    }
    return s.substring(0, end);
  }

  private static String shortHash(String table, List<String> columns) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
    // NUL cannot occur in identifiers, so it separates the parts unambiguously
    sha.update(table.getBytes(StandardCharsets.UTF_8));
    for (String column : columns) {
      sha.update((byte) 0);
      sha.update(column.getBytes(StandardCharsets.UTF_8));
    }
    byte[] digest = sha.digest();
    StringBuilder hex = new StringBuilder(8);
    for (int i = 0; i < 4; i++) {
      hex.append(Character.forDigit((digest[i] >> 4) & 0xf, 16)).append(Character.forDigit(digest[i] & 0xf, 16));
    }
    return hex.toString();
  }
}
