package dev.saaskit.core;

import dev.saaskit.core.internal.TenantIdForms;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.util.UUID;

/**
 * The identifier of a tenant: an immutable, validated string.
 *
 * <p>A tenant id is what the database, the cache keys and the job queue see, so it is checked once here: it is
 * not blank, has no leading or trailing white space, no control characters, and at most {@value #MAX_LENGTH}
 * characters. UUIDs, numeric ids and slugs all fit. Compare ids with {@link #equals(Object)}; the comparison is
 * exact (case matters).
 *
 * <p>When the tenant column is a {@code uuid} or a {@code bigint}, create ids with {@link #ofUuid(String)} or
 * {@link #ofNumber(String)}: they give every spelling PostgreSQL considers equal the same id.
 */
public final class TenantId implements Serializable, Comparable<TenantId> {
  private static final long serialVersionUID = 1L;

  /** The longest tenant id accepted, in characters. */
  public static final int MAX_LENGTH = 128;

  private final String value;

  private TenantId(String value) {
    this.value = value;
  }

  /**
   * Returns the tenant id for {@code value}.
   *
   * @throws IllegalArgumentException if the value is blank, padded with white space, longer than
   *     {@value #MAX_LENGTH} characters, or holds a control character; the message says which
   */
  public static TenantId of(String value) {
    if (value == null) {
      throw new IllegalArgumentException("tenant id must not be null");
    }
    if (value.isBlank()) {
      throw new IllegalArgumentException("tenant id must not be blank");
    }
    if (value.length() > MAX_LENGTH) {
      throw new IllegalArgumentException(
          "tenant id must be at most " + MAX_LENGTH + " characters but was " + value.length());
    }
    if (!value.strip().equals(value)) {
      throw new IllegalArgumentException("tenant id must not start or end with white space: '" + value + "'");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT
          || Character.isSurrogate(c) && !isValidSurrogatePair(value, i)) {
        throw new IllegalArgumentException(
            "tenant id must not contain control or invalid characters (found U+"
                + String.format("%04X", (int) c) + " at index " + i + ")");
      }
    }
    return new TenantId(value);
  }

  /**
   * The tenant id of a tenant keyed by a {@code uuid} column, in the one form PostgreSQL prints
   * ({@code a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}).
   *
   * <p>Use it (or {@link #ofNumber(String)}) wherever a tenant id enters the application (a token claim, a path
   * segment, a header): PostgreSQL reads {@code '{A0EEBC99-...}'} and {@code 'a0eebc99-...'} as the same uuid, but
   * caches, job tables and per-tenant limits compare ids as text and would keep two tenants apart where the row
   * policy sees one. {@code TenantDataSource} configured with the column type refuses any other spelling.
   *
   * @throws IllegalArgumentException if PostgreSQL would not read {@code value} as a uuid
   */
  public static TenantId ofUuid(String value) {
    if (value == null) {
      throw new IllegalArgumentException("tenant id must not be null");
    }
    return of(TenantIdForms.canonicalUuid(value));
  }

  /** The tenant id of {@code uuid}, in the form PostgreSQL prints; see {@link #ofUuid(String)}. */
  public static TenantId ofUuid(UUID uuid) {
    if (uuid == null) {
      throw new IllegalArgumentException("tenant id must not be null");
    }
    return new TenantId(uuid.toString());
  }

  /**
   * The tenant id of a tenant keyed by a {@code bigint} (or {@code integer}) column, in decimal without sign or
   * leading zeros: {@code "+01"} becomes {@code "1"}. See {@link #ofUuid(String)} for why.
   *
   * @throws IllegalArgumentException if {@code value} is not an integer PostgreSQL would read as a bigint
   */
  public static TenantId ofNumber(String value) {
    if (value == null) {
      throw new IllegalArgumentException("tenant id must not be null");
    }
    return of(TenantIdForms.canonicalBigint(value));
  }

  /** The tenant id of a tenant keyed by a {@code bigint} column; see {@link #ofNumber(String)}. */
  public static TenantId ofNumber(long value) {
    return new TenantId(Long.toString(value));
  }

  private static boolean isValidSurrogatePair(String s, int i) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c)) {
      return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }

  /** Deserialization bypasses {@link #of(String)}: check the same rules so a forged stream cannot build a bad id. */
  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    try {
      of(value);
    } catch (IllegalArgumentException e) {
      InvalidObjectException invalid = new InvalidObjectException(e.getMessage());
      invalid.initCause(e);
      throw invalid;
    }
  }

  /** The id as given to {@link #of(String)}. */
  public String value() {
    return value;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof TenantId && ((TenantId) other).value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public int compareTo(TenantId other) {
    return value.compareTo(other.value);
  }

  /** The raw value, so a tenant id prints as itself in logs and messages. */
  @Override
  public String toString() {
    return value;
  }
}
