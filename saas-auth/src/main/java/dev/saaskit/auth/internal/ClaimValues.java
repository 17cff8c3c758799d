package dev.saaskit.auth.internal;

import dev.saaskit.auth.InvalidTokenException;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/** Typed reads of parsed JSON claim values; a value of the wrong shape is a {@code BAD_CLAIM}. */
public final class ClaimValues {
  private ClaimValues() {}

  /** A string claim, or null when absent; a non-string is a bad claim. */
  public static @Nullable String string(@Nullable Map<?, ?> claims, String name) {
    if (claims == null) {
      return null;
    }
    Object v = claims.get(name);
    if (v == null) {
      return null;
    }
    if (!(v instanceof String)) {
      throw bad(name, "a string");
    }
    String s = (String) v;
    return s.isEmpty() ? null : s;
  }

  /** A JSON object claim, or null when absent. */
  public static @Nullable Map<?, ?> object(@Nullable Map<?, ?> claims, String name) {
    if (claims == null) {
      return null;
    }
    Object v = claims.get(name);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Map)) {
      throw bad(name, "an object");
    }
    return (Map<?, ?>) v;
  }

  /**
   * A set of strings from a claim that is a list of strings or a single string (split on spaces and commas when
   * {@code split}); empty when absent.
   */
  public static Set<String> strings(@Nullable Map<?, ?> claims, String name, boolean split) {
    if (claims == null) {
      return Set.of();
    }
    Object v = claims.get(name);
    if (v == null) {
      return Set.of();
    }
    Set<String> out = new LinkedHashSet<>();
    if (v instanceof String) {
      addString(out, (String) v, split);
    } else if (v instanceof Collection) {
      for (Object o : (Collection<?>) v) {
        if (!(o instanceof String)) {
          throw bad(name, "a list of strings");
        }
        addString(out, (String) o, false);
      }
    } else {
      throw bad(name, "a string or a list of strings");
    }
    return out;
  }

  private static void addString(Set<String> out, String s, boolean split) {
    if (!split) {
      if (!s.isEmpty() && s.indexOf('\u0000') < 0) {
        out.add(s);
      }
      return;
    }
    java.util.StringTokenizer t = new java.util.StringTokenizer(s, " ,");
    while (t.hasMoreTokens()) {
      String part = t.nextToken();
      if (part.indexOf('\u0000') < 0) {
        out.add(part);
      }
    }
  }

  /** A non-negative integer claim (a JSON integer or a string of digits), or null when absent. */
  public static @Nullable Long nonNegativeLong(@Nullable Map<?, ?> claims, String name) {
    if (claims == null) {
      return null;
    }
    Object v = claims.get(name);
    if (v == null) {
      return null;
    }
    long n;
    if (v instanceof Long || v instanceof Integer) {
      n = ((Number) v).longValue();
    } else if (v instanceof Double && ((Double) v) == Math.rint((Double) v) && !((Double) v).isInfinite()
        && Math.abs((Double) v) < 9.0e15) {
      n = ((Double) v).longValue();
    } else if (v instanceof String && ((String) v).matches("[0-9]{1,18}")) {
      n = Long.parseLong((String) v);
    } else {
      throw bad(name, "a non-negative integer");
    }
    if (n < 0) {
      throw bad(name, "a non-negative integer");
    }
    return n;
  }

  /** The list claim's elements, or an empty list. */
  public static List<?> list(@Nullable Map<?, ?> claims, String name) {
    if (claims == null) {
      return List.of();
    }
    Object v = claims.get(name);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof List)) {
      throw bad(name, "a list");
    }
    return (List<?>) v;
  }

  /** A {@code BAD_CLAIM} refusal naming the claim (never its value). */
  public static InvalidTokenException bad(String name, String expected) {
    return new InvalidTokenException(InvalidTokenException.Reason.BAD_CLAIM,
        "the claim '" + name + "' must be " + expected);
  }
}
