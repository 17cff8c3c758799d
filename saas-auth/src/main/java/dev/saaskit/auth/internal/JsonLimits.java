package dev.saaskit.auth.internal;

/** Structural limits checked on raw JSON before a parser sees it. Not API. */
public final class JsonLimits {
  private JsonLimits() {}

  /** The deepest nesting of objects and arrays in {@code json}, ignoring brackets inside strings. */
  public static int depth(byte[] json) {
    int depth = 0;
    int max = 0;
    boolean inString = false;
    for (int i = 0; i < json.length; i++) {
      byte b = json[i];
      if (inString) {
        if (b == '\\') {
          i++;
        } else if (b == '"') {
          inString = false;
        }
      } else if (b == '"') {
        inString = true;
      } else if (b == '{' || b == '[') {
        depth++;
        if (depth > max) {
          max = depth;
        }
      } else if (b == '}' || b == ']') {
        depth--;
      }
    }
    return max;
  }
}
