package dev.saaskit.tenancy.audit.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A reader for PostgreSQL's {@code pg_node_tree} text (the stored form of policy expressions and view queries, as
 * {@code nodeToString} writes it): {@code {OPEXPR :opno 98 :args ({VAR :varno 1 ...} {CONST ...})}}. The reader is
 * generic (it knows the syntax, not the node types), so fields added by newer PostgreSQL versions do no harm. Not API.
 */
public final class NodeTree {
  private NodeTree() {}

  /** A value in the tree. */
  public sealed interface Value permits Node, Lst, Atom, Datum, Nil {}

  /** A node: {@code {TYPE :field value ...}}. */
  public record Node(String type, Map<String, Value> fields) implements Value {
    /** The field's value; {@link Nil} when absent. */
    public Value get(String field) {
      Value v = fields.get(field);
      return v == null ? Nil.NIL : v;
    }

    /** The field as text, or {@code null} when absent, {@code <>} or not an atom. */
    public @Nullable String text(String field) {
      Value v = get(field);
      return v instanceof Atom ? ((Atom) v).text() : null;
    }

    /** The field as a number, or {@code fallback}. */
    public long number(String field, long fallback) {
      String t = text(field);
      if (t == null) {
        return fallback;
      }
      try {
        return Long.parseLong(t);
      } catch (NumberFormatException e) {
        return fallback;
      }
    }

    /** The field's list items; empty when absent or not a list. */
    public List<Value> list(String field) {
      Value v = get(field);
      return v instanceof Lst ? ((Lst) v).items() : List.of();
    }

    /** Whether this node has {@code type}. */
    public boolean is(String nodeType) {
      return type.equals(nodeType);
    }
  }

  /** A list: {@code (a b c)}. */
  public record Lst(List<Value> items) implements Value {}

  /** A token, with escapes removed; strings written {@code "..."} keep no quotes and have {@code quoted} set. */
  public record Atom(String text, boolean quoted) implements Value {}

  /** A datum: {@code <length> [ b0 b1 ... ]}, the bytes as stored (unsigned). */
  @SuppressWarnings("ArrayRecordComponent") // a parsed value, never compared by equals(): callers use Arrays.equals
  public record Datum(int length, byte[] bytes) implements Value {}

  /** The empty value {@code <>}. */
  public enum Nil implements Value {
    /** The one instance. */
    NIL
  }

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException if it is not node-tree syntax
   */
  public static Value parse(String text) {
    Reader r = new Reader(text);
    Value v = r.value();
    r.skipSpace();
    if (r.pos < text.length()) {
      throw new IllegalArgumentException("trailing text at offset " + r.pos + " of a node tree");
    }
    return v;
  }

  /**
   * Calls {@code visitor} for every node in {@code value}, depth first, parents before children, with the number
   * of {@code QUERY} nodes above it (a sub-query's own nodes have a depth one higher than the expression around it).
   */
  public static void walk(Value value, int depth, NodeVisitor visitor) {
    if (value instanceof Node) {
      Node n = (Node) value;
      if (!visitor.visit(n, depth)) {
        return;
      }
      int inner = n.is("QUERY") ? depth + 1 : depth;
      for (Value child : n.fields().values()) {
        walk(child, inner, visitor);
      }
    } else if (value instanceof Lst) {
      for (Value item : ((Lst) value).items()) {
        walk(item, depth, visitor);
      }
    }
  }

  /** Calls {@code action} for every node in {@code value} at any depth. */
  public static void forEachNode(Value value, Consumer<Node> action) {
    walk(value, 0, (n, d) -> {
      action.accept(n);
      return true;
    });
  }

  /** Sees a node during {@link #walk}; returns whether to descend into its children. */
  @FunctionalInterface
  public interface NodeVisitor {
    /** Visits {@code node} found at sub-query {@code depth}; false skips its children. */
    boolean visit(Node node, int depth);
  }

  private static final class Reader {
    private final String s;
    int pos;

    Reader(String s) {
      this.s = s;
    }

    void skipSpace() {
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
        pos++;
      }
    }

    Value value() {
      skipSpace();
      if (pos >= s.length()) {
        throw new IllegalArgumentException("unexpected end of a node tree");
      }
      char c = s.charAt(pos);
      if (c == '{') {
        return node();
      }
      if (c == '(') {
        return list();
      }
      if (c == '<' && s.startsWith("<>", pos)) {
        pos += 2;
        return Nil.NIL;
      }
      String raw = token();
      Value atom = atom(raw);
      skipSpace();
      if (pos < s.length() && s.charAt(pos) == '[' && isDigits(raw)) {
        return datum(Integer.parseInt(raw));
      }
      return atom;
    }

    private Node node() {
      pos++; // {
      skipSpace();
      String type = token();
      Map<String, Value> fields = new LinkedHashMap<>();
      while (true) {
        skipSpace();
        if (pos >= s.length()) {
          throw new IllegalArgumentException("unterminated node " + type + " in a node tree");
        }
        char c = s.charAt(pos);
        if (c == '}') {
          pos++;
          return new Node(type, Collections.unmodifiableMap(fields));
        }
        if (c != ':') {
          throw new IllegalArgumentException("expected a field of " + type + " at offset " + pos);
        }
        String field = token().substring(1);
        skipSpace();
        Value v = pos < s.length() && (s.charAt(pos) == '}' || s.charAt(pos) == ':') ? Nil.NIL : value();
        fields.put(field, v);
      }
    }

    private Lst list() {
      pos++; // (
      List<Value> items = new ArrayList<>();
      while (true) {
        skipSpace();
        if (pos >= s.length()) {
          throw new IllegalArgumentException("unterminated list in a node tree");
        }
        if (s.charAt(pos) == ')') {
          pos++;
          return new Lst(Collections.unmodifiableList(items));
        }
        items.add(value());
      }
    }

    private Datum datum(int length) {
      skipSpace();
      pos++; // [
      List<Integer> bytes = new ArrayList<>();
      while (true) {
        skipSpace();
        if (pos >= s.length()) {
          throw new IllegalArgumentException("unterminated datum in a node tree");
        }
        if (s.charAt(pos) == ']') {
          pos++;
          break;
        }
        bytes.add(Integer.parseInt(token()));
      }
      byte[] out = new byte[bytes.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = (byte) (bytes.get(i) & 0xff); // written as signed char on most platforms
      }
      return new Datum(length, out);
    }

    /** A token up to white space or a bracket, with backslash escapes taken literally. */
    private String token() {
      StringBuilder sb = new StringBuilder();
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c == '\\' && pos + 1 < s.length()) {
          sb.append(c).append(s.charAt(pos + 1));
          pos += 2;
          continue;
        }
        if (Character.isWhitespace(c) || c == '(' || c == ')' || c == '{' || c == '}') {
          break;
        }
        sb.append(c);
        pos++;
      }
      if (sb.length() == 0) {
        throw new IllegalArgumentException("unexpected '" + s.charAt(pos) + "' at offset " + pos + " of a node tree");
      }
      return sb.toString();
    }

    private static Value atom(String raw) {
      boolean quoted = raw.length() >= 2 && raw.charAt(0) == '"' && raw.charAt(raw.length() - 1) == '"';
      String body = quoted ? raw.substring(1, raw.length() - 1) : raw;
      StringBuilder sb = new StringBuilder(body.length());
      for (int i = 0; i < body.length(); i++) {
        char c = body.charAt(i);
        if (c == '\\' && i + 1 < body.length()) {
          sb.append(body.charAt(++i));
        } else {
          sb.append(c);
        }
      }
      return new Atom(sb.toString(), quoted);
    }

    private static boolean isDigits(String t) {
      if (t.isEmpty()) {
        return false;
      }
      for (int i = 0; i < t.length(); i++) {
        if (!Character.isDigit(t.charAt(i))) {
          return false;
        }
      }
      return true;
    }
  }
}
