package dev.saaskit.tenancy.audit.internal;

import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A small JSON writer: maps (in their iteration order), lists, strings, numbers, booleans and null, pretty-printed
 * with two spaces. Strings are escaped per RFC 8259 ({@code "}, backslash, control characters), plus U+2028 and
 * U+2029, which some JavaScript parsers reject raw. Not API.
 */
public final class Json {
  private Json() {}

  /** {@code value} as JSON text. */
  public static String write(@Nullable Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, 0);
    return sb.append('\n').toString();
  }

  private static void write(StringBuilder sb, @Nullable Object value, int indent) {
    if (value == null) {
      sb.append("null");
    } else if (value instanceof String) {
      string(sb, (String) value);
    } else if (value instanceof Boolean || value instanceof Integer || value instanceof Long) {
      sb.append(value);
    } else if (value instanceof Map) {
      Map<?, ?> map = (Map<?, ?>) value;
      if (map.isEmpty()) {
        sb.append("{}");
        return;
      }
      sb.append('{');
      Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
      while (it.hasNext()) {
        Map.Entry<?, ?> e = it.next();
        newline(sb, indent + 1);
        string(sb, String.valueOf(e.getKey()));
        sb.append(": ");
        write(sb, e.getValue(), indent + 1);
        if (it.hasNext()) {
          sb.append(',');
        }
      }
      newline(sb, indent);
      sb.append('}');
    } else if (value instanceof List) {
      List<?> list = (List<?>) value;
      if (list.isEmpty()) {
        sb.append("[]");
        return;
      }
      sb.append('[');
      for (int i = 0; i < list.size(); i++) {
        newline(sb, indent + 1);
        write(sb, list.get(i), indent + 1);
        if (i + 1 < list.size()) {
          sb.append(',');
        }
      }
      newline(sb, indent);
      sb.append(']');
    } else {
      throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON");
    }
  }

  private static void newline(StringBuilder sb, int indent) {
    sb.append('\n');
    for (int i = 0; i < indent; i++) {
      sb.append("  ");
    }
  }

  /** Appends {@code s} as a JSON string literal. */
  static void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        case '\b': sb.append("\\b"); break;
        case '\f': sb.append("\\f"); break;
        default:
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }
}
