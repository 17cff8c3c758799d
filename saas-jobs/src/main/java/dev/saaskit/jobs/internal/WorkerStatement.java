package dev.saaskit.jobs.internal;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A SQL text whose parameters are written {@code {name}} (a parameter may appear several times, as the claim query
 * needs), turned into JDBC positional parameters once. Braces never occur in our SQL otherwise.
 */
final class WorkerStatement {
  private static final Pattern PARAMETER = Pattern.compile("\\{([a-z_]+)}");

  private final String sql;
  private final List<String> order;

  private WorkerStatement(String sql, List<String> order) {
    this.sql = sql;
    this.order = List.copyOf(order);
  }

  static WorkerStatement of(String namedSql) {
    List<String> order = new ArrayList<>();
    Matcher m = PARAMETER.matcher(namedSql);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      order.add(m.group(1));
      m.appendReplacement(out, "?");
    }
    m.appendTail(out);
    return new WorkerStatement(out.toString(), order);
  }

  String sql() {
    return sql;
  }

  /** Sets the parameters of {@code st} from {@code values}; a null value is sent as a text NULL. */
  void bindTo(PreparedStatement st, Map<String, Object> values) throws SQLException {
    Object[] bound = bind(values);
    for (int i = 0; i < bound.length; i++) {
      if (bound[i] == null) {
        st.setNull(i + 1, Types.VARCHAR);
      } else {
        st.setObject(i + 1, bound[i]);
      }
    }
  }

  /** The values in JDBC parameter order; every name must be bound. */
  Object[] bind(Map<String, Object> values) {
    Object[] bound = new Object[order.size()];
    for (int i = 0; i < bound.length; i++) {
      String name = order.get(i);
      if (!values.containsKey(name)) {
        throw new IllegalStateException("no value for SQL parameter {" + name + "}");
      }
      bound[i] = values.get(name);
    }
    return bound;
  }
}
