package dev.saaskit.core;

import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serializable;

/**
 * The identifier of a tenant: an immutable, validated string.
 *
 * <p>A tenant id is what the database, the cache keys and the job queue see, so it is checked once here: it is
 * not blank, has no leading or trailing white space, no control characters, and at most {@value #MAX_LENGTH}
 * characters. UUIDs, numeric ids and slugs all fit. Compare ids with {@link #equals(Object)}; the comparison is
 * exact (case matters).
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
