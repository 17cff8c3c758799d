package dev.saaskit.cache.postgres.internal;

import dev.saaskit.cache.Invalidation;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A tag template such as {@code plans:{tenant_id}}, parsed by the same rules as the SQL function
 * {@code expand_tag}: a placeholder runs from an opening brace to the next closing brace; a brace without its
 * partner is literal text.
 */
public record PgTagTemplate(String template, List<String> columns) {

  /** Parses and checks {@code template}; the placeholders must name columns. */
  public static PgTagTemplate parse(String template) {
    if (template == null || template.isEmpty() || template.length() > Invalidation.MAX_TEXT_LENGTH) {
      throw new IllegalArgumentException("tagTemplate must be 1 to " + Invalidation.MAX_TEXT_LENGTH
          + " characters but was " + (template == null ? "null" : template.length() + " characters"));
    }
    if (template.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("tagTemplate must not contain NUL characters");
    }
    List<String> columns = new ArrayList<>();
    int from = 0;
    while (true) {
      int open = template.indexOf('{', from);
      if (open < 0) {
        break;
      }
      int close = template.indexOf('}', open + 1);
      if (close < 0) {
        break;
      }
      String column = template.substring(open + 1, close);
      if (column.isEmpty()) {
        throw new IllegalArgumentException("tagTemplate '" + template + "' has an empty placeholder {}");
      }
      if (!columns.contains(column)) {
        columns.add(column);
      }
      from = close + 1;
    }
    if (columns.isEmpty()) {
      throw new IllegalArgumentException("tagTemplate '" + template + "' has no {column} placeholder: every change"
          + " would invalidate the same tag; use a placeholder such as {tenant_id} or {id}");
    }
    return new PgTagTemplate(template, List.copyOf(columns));
  }

  /** Fails naming the first placeholder that is not one of {@code tableColumns}. */
  public void checkColumns(String table, Collection<String> tableColumns) {
    for (String column : columns) {
      if (!tableColumns.contains(column)) {
        throw new IllegalArgumentException("tagTemplate '" + template + "' names column '" + column + "', which "
            + table + " does not have; its columns are " + tableColumns);
      }
    }
  }
}
