package dev.saaskit.auth.internal;

import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.InvalidTokenException.Reason;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** Typed reads of parsed JWT claims, failing with {@code BAD_CLAIM} on a wrong type. Not API. */
public final class ClaimValues {
  private ClaimValues() {}

  /** The value at a path of object keys, or null when any step is missing. */
  public static @Nullable Object at(Map<String, Object> claims, String... path) {
    Object current = claims;
    for (String key : path) {
      if (!(current instanceof Map)) {
        return null;
      }
      current = ((Map<?, ?>) current).get(key);
      if (current == null) {
        return null;
      }
    }
    return current;
  }

  /** A string claim, or null when absent; a number is rendered as text; anything else is a bad claim. */
  public static @Nullable String string(Map<String, Object> claims, String... path) {
    Object v = at(claims, path);
    if (v == null) {
      return null;
    }
    if (v instanceof String) {
      String s = (String) v;
      return s.isEmpty() ? null : s;
    }
    if (v instanceof Long || v instanceof Integer) {
      return v.toString();
    }
    throw bad(String.join(".", path), "a string");
  }

  /** A list of strings: a JSON array of strings, or one string split on commas and spaces; empty when absent. */
  public static List<String> strings(Map<String, Object> claims, String... path) {
    Object v = at(claims, path);
    List<String> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (v instanceof String) {
      for (String part : ((String) v).split("[,\\s]+", -1)) {
        if (!part.isEmpty()) {
          out.add(part);
        }
      }
      return out;
    }
    if (v instanceof List) {
      for (Object o : (List<?>) v) {
        if (!(o instanceof String)) {
          throw bad(String.join(".", path), "an array of strings");
        }
        if (!((String) o).isEmpty()) {
          out.add((String) o);
        }
      }
      return out;
    }
    throw bad(String.join(".", path), "a string or an array of strings");
  }

  /** A non-negative integer claim (a JSON number or a decimal string), or null when absent. */
  public static @Nullable Long nonNegativeLong(Map<String, Object> claims, String... path) {
    Object v = at(claims, path);
    if (v == null) {
      return null;
    }
    long n;
    if (v instanceof Long || v instanceof Integer) {
      n = ((Number) v).longValue();
    } else if (v instanceof Double && ((Double) v) == Math.rint((Double) v) && Math.abs((Double) v) < 1e15) {
      n = ((Double) v).longValue();
    } else if (v instanceof String && ((String) v).matches("[0-9]{1,18}")) {
      n = Long.parseLong((String) v);
    } else {
      throw bad(String.join(".", path), "a non-negative integer");
    }
    if (n < 0) {
      throw bad(String.join(".", path), "a non-negative integer");
    }
    return n;
  }

  /** A claim of a wrong type. */
  public static InvalidTokenException bad(String claim, String expected) {
    return new InvalidTokenException(Reason.BAD_CLAIM, "claim " + claim + " must be " + expected);
  }
}
