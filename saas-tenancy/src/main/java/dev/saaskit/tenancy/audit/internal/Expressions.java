package dev.saaskit.tenancy.audit.internal;

import dev.saaskit.tenancy.audit.internal.Catalog.FunctionName;
import dev.saaskit.tenancy.audit.internal.NodeTree.Atom;
import dev.saaskit.tenancy.audit.internal.NodeTree.Datum;
import dev.saaskit.tenancy.audit.internal.NodeTree.Lst;
import dev.saaskit.tenancy.audit.internal.NodeTree.Node;
import dev.saaskit.tenancy.audit.internal.NodeTree.Value;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongPredicate;
import org.jspecify.annotations.Nullable;

/**
 * Reads policy and view expressions from their node trees: is a policy bound to the tenant, constant, casting the
 * tenant column, calling functions per row, reading a setting that may be missing; does a view filter by the
 * tenant setting. Works on the stored tree, not the SQL text, so spacing, quoting and casts cannot fool it. Not API.
 */
public final class Expressions {
  /** What a policy expression admits, as far as the tenant is concerned. */
  public enum Scope {
    /** Admits no row (constant false or null). */
    DENY,
    /** Does not depend on the row or the session: {@code true}, {@code 1 = 1}. */
    CONSTANT,
    /** Every row it admits has a tenant column equal to a value that does not depend on the row. */
    TENANT_BOUND,
    /** Depends on something, but does not bind the tenant column on every branch. */
    UNSCOPED
  }

  // CoercionForm: 0 explicit call, 1 explicit cast, 2 implicit cast, 3 SQL syntax (PostgreSQL 14+)
  private static final int CALL = 0;
  // SubLinkType
  private static final int EXISTS_SUBLINK = 0;
  private static final int ANY_SUBLINK = 2;
  private static final int EXPR_SUBLINK = 4;
  /** {@code RTEKind.RTE_RELATION}: a range table entry that reads a table, view or materialized view. */
  private static final int RTE_RELATION = 0;
  // node types an expression may consist of and still be constant
  private static final Set<String> CONSTANT_NODES = Set.of("CONST", "OPEXPR", "BOOLEXPR", "RELABELTYPE",
      "COERCEVIAIO", "FUNCEXPR", "NULLTEST", "BOOLEANTEST", "DISTINCTEXPR", "SCALARARRAYOPEXPR", "ARRAYEXPR",
      "COLLATEEXPR", "NULLIFEXPR", "COALESCEEXPR");

  private final Map<Long, FunctionName> functions;
  private final Map<Long, String> operators;

  /** An analyser that names functions and operators with these maps (OID to name). */
  public Expressions(Map<Long, FunctionName> functions, Map<Long, String> operators) {
    this.functions = functions;
    this.operators = operators;
  }

  /** Collects the function and operator OIDs used anywhere in {@code tree}, to resolve their names. */
  public static void collectOids(Value tree, Set<Long> functionOids, Set<Long> operatorOids) {
    NodeTree.forEachNode(tree, n -> {
      if (n.is("FUNCEXPR")) {
        functionOids.add(n.number("funcid", 0));
      } else if (n.is("OPEXPR") || n.is("SCALARARRAYOPEXPR")) {
        operatorOids.add(n.number("opno", 0));
      }
    });
  }

  /**
   * Classifies a policy expression of a table whose tenant columns have the attribute numbers {@code tenantAttnums}.
   */
  public Scope classify(Value expr, Set<Integer> tenantAttnums) {
    return classify(expr, 0, tenantAttnums);
  }

  private Scope classify(Value expr, int depth, Set<Integer> tenant) {
    if (isConstant(expr)) {
      return Boolean.FALSE.equals(constantValue(expr)) ? Scope.DENY : Scope.CONSTANT;
    }
    if (!(expr instanceof Node)) {
      return Scope.UNSCOPED;
    }
    Node n = (Node) expr;
    if (n.is("BOOLEXPR")) {
      String op = n.text("boolop");
      List<Value> args = n.list("args");
      if ("and".equals(op)) {
        boolean allConstant = true;
        Scope result = Scope.UNSCOPED;
        for (Value a : args) {
          Scope s = classify(a, depth, tenant);
          if (s == Scope.DENY) {
            return Scope.DENY;
          }
          if (s == Scope.TENANT_BOUND) {
            result = Scope.TENANT_BOUND;
          }
          allConstant &= s == Scope.CONSTANT;
        }
        return allConstant ? Scope.CONSTANT : result;
      }
      if ("or".equals(op)) {
        boolean anyBound = false;
        for (Value a : args) {
          Scope s = classify(a, depth, tenant);
          if (s == Scope.CONSTANT || s == Scope.UNSCOPED) {
            return s;
          }
          anyBound |= s == Scope.TENANT_BOUND;
        }
        return anyBound ? Scope.TENANT_BOUND : Scope.DENY;
      }
      return Scope.UNSCOPED; // NOT: never binds a column to one value
    }
    return isTenantPredicate(n, depth, tenant) ? Scope.TENANT_BOUND : Scope.UNSCOPED;
  }

  private boolean isTenantPredicate(Node n, int depth, Set<Integer> tenant) {
    if (n.is("OPEXPR") && isEquality(n)) {
      List<Value> args = n.list("args");
      return args.size() == 2
          && (tenantColumn(args.get(0), depth, tenant) != null && rowIndependent(args.get(1), depth)
              || tenantColumn(args.get(1), depth, tenant) != null && rowIndependent(args.get(0), depth));
    }
    if (n.is("SCALARARRAYOPEXPR") && isEquality(n) && "true".equals(n.text("useOr"))) {
      List<Value> args = n.list("args"); // column = ANY (array)
      return args.size() == 2 && tenantColumn(args.get(0), depth, tenant) != null
          && rowIndependent(args.get(1), depth);
    }
    if (n.is("SUBLINK")) {
      long type = n.number("subLinkType", -1);
      Value subselect = n.get("subselect");
      if (type == ANY_SUBLINK && n.get("testexpr") instanceof Node) {
        // tenant_id IN (SELECT ...): the test compares the column with the sub-query's output (a PARAM)
        Node test = (Node) n.get("testexpr");
        if (test.is("OPEXPR") && isEquality(test) && rowIndependent(subselect, depth)) {
          for (Value a : test.list("args")) {
            if (tenantColumn(a, depth, tenant) != null) {
              return true;
            }
          }
        }
      }
      if (type == EXISTS_SUBLINK) {
        // EXISTS (SELECT ... WHERE m.tenant_id = t.tenant_id AND ...): correlated on the tenant column
        boolean[] found = {false};
        NodeTree.walk(subselect, depth, (node, d) -> {
          if (node.is("OPEXPR") && isEquality(node) && node.list("args").size() == 2) {
            Value a = node.list("args").get(0);
            Value b = node.list("args").get(1);
            if (tenantColumn(a, d, tenant) != null && rowIndependent(b, d)
                || tenantColumn(b, d, tenant) != null && rowIndependent(a, d)) {
              found[0] = true;
            }
          }
          return !found[0];
        });
        return found[0];
      }
    }
    return false;
  }

  private boolean isEquality(Node op) {
    return "=".equals(operators.get(op.number("opno", 0)));
  }

  /**
   * The reference (possibly cast) to a tenant column of the audited row in {@code expr}, found at sub-query depth
   * {@code depth}, or null. The audited row is at depth 0, so its Vars have {@code varlevelsup == depth}.
   */
  private static @Nullable Node tenantColumn(Value expr, int depth, Set<Integer> tenant) {
    Value v = stripCasts(expr);
    if (v instanceof Node) {
      Node var = (Node) v;
      if (var.is("VAR") && var.number("varlevelsup", -1) == depth
          && tenant.contains((int) var.number("varattno", 0))) {
        return var;
      }
    }
    return null;
  }

  private static Value stripCasts(Value expr) {
    Value v = expr;
    while (v instanceof Node) {
      Node n = (Node) v;
      if (n.is("RELABELTYPE") || n.is("COERCEVIAIO") || n.is("COLLATEEXPR")) {
        v = n.get("arg");
      } else if (n.is("FUNCEXPR") && isCast(n) && n.list("args").size() >= 1) {
        v = n.list("args").get(0);
      } else {
        break;
      }
    }
    return v;
  }

  private static boolean isCast(Node funcExpr) {
    long format = funcExpr.number("funcformat", CALL);
    return format == 1 || format == 2;
  }

  /** Whether {@code expr}, found at sub-query depth {@code depth}, never reads a column of the audited row. */
  private static boolean rowIndependent(Value expr, int depth) {
    // the audited row is at depth 0 of the policy expression: its Vars have varlevelsup == (their depth)
    boolean[] dependent = {false};
    NodeTree.walk(expr, depth, (n, d) -> {
      if (n.is("VAR") && n.number("varlevelsup", -1) == d) {
        dependent[0] = true;
      }
      return !dependent[0];
    });
    return !dependent[0];
  }

  private static boolean isConstant(Value expr) {
    boolean[] constant = {true};
    NodeTree.walk(expr, 0, (n, d) -> {
      if (!CONSTANT_NODES.contains(n.type()) || n.is("FUNCEXPR") && !isCast(n)) {
        constant[0] = false;
      }
      return constant[0];
    });
    return constant[0] && expr instanceof Node;
  }

  /** TRUE, FALSE, or null when a constant expression's value is not obvious (it is then taken as true). */
  private @Nullable Boolean constantValue(Value expr) {
    if (!(expr instanceof Node)) {
      return null;
    }
    Node n = (Node) expr;
    if (n.is("CONST")) {
      if ("true".equals(n.text("constisnull"))) {
        return Boolean.FALSE; // NULL admits no row
      }
      if (n.number("consttype", 0) == 16 && n.get("constvalue") instanceof Datum) {
        for (byte b : ((Datum) n.get("constvalue")).bytes()) {
          if (b != 0) {
            return Boolean.TRUE;
          }
        }
        return Boolean.FALSE;
      }
      return null;
    }
    if (n.is("BOOLEXPR")) {
      String op = n.text("boolop");
      boolean unknown = false;
      for (Value a : n.list("args")) {
        Boolean v = constantValue(a);
        if ("not".equals(op)) {
          return v == null ? null : !v;
        }
        if (v == null) {
          unknown = true;
        } else if ("and".equals(op) && !v) {
          return Boolean.FALSE;
        } else if ("or".equals(op) && v) {
          return Boolean.TRUE;
        }
      }
      return unknown ? null : "and".equals(op);
    }
    if (n.is("OPEXPR") && n.list("args").size() == 2) {
      String op = operators.get(n.number("opno", 0));
      Value a = n.list("args").get(0);
      Value b = n.list("args").get(1);
      if (("=".equals(op) || "<>".equals(op)) && a instanceof Node && b instanceof Node
          && ((Node) a).is("CONST") && ((Node) b).is("CONST")
          && ((Node) a).number("consttype", -1) == ((Node) b).number("consttype", -2)
          && ((Node) a).get("constvalue") instanceof Datum && ((Node) b).get("constvalue") instanceof Datum) {
        boolean same = Arrays.equals(((Datum) ((Node) a).get("constvalue")).bytes(),
            ((Datum) ((Node) b).get("constvalue")).bytes());
        return "=".equals(op) == same;
      }
    }
    return null;
  }

  /** Whether a tenant column of the audited row is cast anywhere in {@code expr} (other than a binary relabel). */
  public boolean castsTenantColumn(Value expr, Set<Integer> tenant) {
    boolean[] found = {false};
    NodeTree.walk(expr, 0, (n, d) -> {
      boolean conversion = n.is("COERCEVIAIO") || n.is("FUNCEXPR") && isCast(n);
      if (conversion) {
        Value arg = n.is("COERCEVIAIO") ? n.get("arg")
            : n.list("args").isEmpty() ? NodeTree.Nil.NIL : n.list("args").get(0);
        Value inner = arg;
        while (inner instanceof Node && (((Node) inner).is("RELABELTYPE") || ((Node) inner).is("COLLATEEXPR"))) {
          inner = ((Node) inner).get("arg");
        }
        if (inner instanceof Node && ((Node) inner).is("VAR") && ((Node) inner).number("varlevelsup", -1) == d
            && tenant.contains((int) ((Node) inner).number("varattno", 0))) {
          found[0] = true;
        }
      }
      return !found[0];
    });
    return found[0];
  }

  /**
   * The names of functions that are called once per row: not IMMUTABLE, called outside any sub-query, with
   * arguments that do not depend on the row (so they could have been wrapped in {@code (SELECT ...)}).
   */
  public Set<String> perRowFunctions(Value expr) {
    Set<String> names = new LinkedHashSet<>();
    NodeTree.walk(expr, 0, (n, d) -> {
      if (n.is("SUBLINK")) {
        return false; // a sub-query without row references runs once (an InitPlan)
      }
      if (n.is("FUNCEXPR") && !isCast(n)) {
        FunctionName f = functions.get(n.number("funcid", 0));
        char volatility = f == null ? 'v' : f.volatility();
        if (volatility != 'i' && rowIndependent(n, 0)) {
          names.add(f == null ? "function " + n.number("funcid", 0) : f.name());
          return false;
        }
      }
      return true;
    });
    return names;
  }

  /**
   * Classifies a policy expression of a table <em>without</em> a tenant column by whether it ties each row to a
   * parent that is itself isolated: {@link Scope#TENANT_BOUND} when on every {@code OR} branch some conjunct is an
   * {@code EXISTS}, {@code IN} or scalar sub-query that reads one of {@code protectedRelids} and is joined to the row
   * by an equality ({@code EXISTS (SELECT 1 FROM orders o WHERE o.id = order_items.order_id)}, {@code order_id IN
   * (SELECT id FROM orders)}). Row-level security of the parent applies inside the sub-query, so the row is visible
   * only when its parent is. {@link Scope#CONSTANT} and {@link Scope#DENY} as for {@link #classify}.
   */
  public Scope classifyThroughParent(Value expr, Set<Long> protectedRelids) {
    if (isConstant(expr)) {
      return Boolean.FALSE.equals(constantValue(expr)) ? Scope.DENY : Scope.CONSTANT;
    }
    if (!(expr instanceof Node)) {
      return Scope.UNSCOPED;
    }
    Node n = (Node) expr;
    if (n.is("BOOLEXPR")) {
      String op = n.text("boolop");
      List<Value> args = n.list("args");
      if ("and".equals(op)) {
        boolean allConstant = true;
        Scope result = Scope.UNSCOPED;
        for (Value a : args) {
          Scope s = classifyThroughParent(a, protectedRelids);
          if (s == Scope.DENY) {
            return Scope.DENY;
          }
          if (s == Scope.TENANT_BOUND) {
            result = Scope.TENANT_BOUND;
          }
          allConstant &= s == Scope.CONSTANT;
        }
        return allConstant ? Scope.CONSTANT : result;
      }
      if ("or".equals(op)) {
        boolean anyBound = false;
        for (Value a : args) {
          Scope s = classifyThroughParent(a, protectedRelids);
          if (s == Scope.CONSTANT || s == Scope.UNSCOPED) {
            return s;
          }
          anyBound |= s == Scope.TENANT_BOUND;
        }
        return anyBound ? Scope.TENANT_BOUND : Scope.DENY;
      }
      return Scope.UNSCOPED;
    }
    return joinsProtectedParent(n, protectedRelids) ? Scope.TENANT_BOUND : Scope.UNSCOPED;
  }

  private boolean joinsProtectedParent(Node n, Set<Long> protectedRelids) {
    Node sublink = null;
    if (n.is("SUBLINK")) {
      long type = n.number("subLinkType", -1);
      if (type == EXISTS_SUBLINK) {
        // correlated: an equality inside between a column of the row and something of the sub-query
        boolean[] joined = {false};
        NodeTree.walk(n.get("subselect"), 0, (node, d) -> {
          if (node.is("OPEXPR") && isEquality(node) && node.list("args").size() == 2) {
            Value a = stripCasts(node.list("args").get(0));
            Value b = stripCasts(node.list("args").get(1));
            joined[0] |= isRowVar(a, d) && isVar(b) && !isRowVar(b, d) || isRowVar(b, d) && isVar(a) && !isRowVar(a, d);
          }
          return !joined[0];
        });
        sublink = joined[0] ? n : null;
      } else if (type == ANY_SUBLINK && n.get("testexpr") instanceof Node) {
        // order_id IN (SELECT id FROM orders): the test compares a column of the row with the sub-query's output
        Node test = (Node) n.get("testexpr");
        if (test.is("OPEXPR") && isEquality(test)) {
          for (Value a : test.list("args")) {
            sublink = isRowVar(stripCasts(a), 0) ? n : sublink;
          }
        }
      }
    } else if (n.is("OPEXPR") && isEquality(n) && n.list("args").size() == 2) {
      // order_id = (SELECT id FROM orders WHERE ...)
      for (int side = 0; side < 2; side++) {
        Value v = n.list("args").get(side);
        Value other = stripCasts(n.list("args").get(1 - side));
        if (v instanceof Node && ((Node) v).is("SUBLINK") && ((Node) v).number("subLinkType", -1) == EXPR_SUBLINK
            && isRowVar(other, 0)) {
          sublink = (Node) v;
        }
      }
    }
    return sublink != null && readsAny(sublink.get("subselect"), protectedRelids);
  }

  private static boolean isVar(Value v) {
    return v instanceof Node && ((Node) v).is("VAR");
  }

  /** A column of the audited row, seen at sub-query depth {@code depth}. */
  private static boolean isRowVar(Value v, int depth) {
    return v instanceof Node && ((Node) v).is("VAR") && ((Node) v).number("varlevelsup", -1) == depth;
  }

  /** Whether any range table entry in {@code query} (at any depth) is a relation in {@code relids}. */
  private static boolean readsAny(Value query, Set<Long> relids) {
    boolean[] found = {false};
    NodeTree.forEachNode(query, n -> {
      if (n.is("RANGETBLENTRY") && n.number("rtekind", -1) == 0 && relids.contains(n.number("relid", 0))) {
        found[0] = true;
      }
    });
    return found[0];
  }

  /** Where a policy's tenant comes from: settings read, and columns ({@code [relid, attnum]}) read. */
  public record TenantSources(Set<String> settings, List<long[]> columns) {}

  /**
   * What decides the tenant in a policy expression of a tenant table: for every comparison of a tenant column of the
   * row with a value ({@code =}, {@code = ANY}, {@code IN (SELECT ...)}, an equality inside {@code EXISTS}), the
   * settings that value reads ({@code current_setting('x', ...)} with a constant name) and the table column it is
   * (a column of a sub-query's table: {@code tenant_id IN (SELECT u.tenant_id FROM users u ...)}).
   */
  public TenantSources tenantSources(Value expr, Set<Integer> tenant) {
    Set<String> settings = new LinkedHashSet<>();
    List<long[]> columns = new java.util.ArrayList<>();
    sources(expr, 0, new java.util.ArrayList<>(), tenant, settings, columns);
    return new TenantSources(settings, columns);
  }

  private void sources(Value v, int depth, List<List<Value>> rtables, Set<Integer> tenant, Set<String> settings,
      List<long[]> columns) {
    if (v instanceof Lst) {
      for (Value item : ((Lst) v).items()) {
        sources(item, depth, rtables, tenant, settings, columns);
      }
      return;
    }
    if (!(v instanceof Node)) {
      return;
    }
    Node n = (Node) v;
    if (n.is("QUERY")) {
      rtables.add(n.list("rtable"));
      for (Value child : n.fields().values()) {
        sources(child, depth + 1, rtables, tenant, settings, columns);
      }
      rtables.remove(rtables.size() - 1);
      return;
    }
    if ((n.is("OPEXPR") || n.is("SCALARARRAYOPEXPR")) && isEquality(n) && n.list("args").size() == 2) {
      List<Value> args = n.list("args");
      for (int side = 0; side < 2; side++) {
        if (tenantColumn(args.get(side), depth, tenant) != null && tenantColumn(args.get(1 - side), depth, tenant)
            == null) {
          valueSources(args.get(1 - side), depth, rtables, settings, columns);
        }
      }
    } else if (n.is("SUBLINK") && n.number("subLinkType", -1) == ANY_SUBLINK && n.get("testexpr") instanceof Node) {
      Node test = (Node) n.get("testexpr");
      if (test.is("OPEXPR") && isEquality(test)) {
        for (Value a : test.list("args")) {
          if (tenantColumn(a, depth, tenant) != null) {
            valueSources(n, depth, rtables, settings, columns);
          }
        }
      }
    }
    for (Value child : n.fields().values()) {
      sources(child, depth, rtables, tenant, settings, columns);
    }
  }

  /** The settings and columns a value compared with the tenant column reads. */
  private void valueSources(Value value, int depth, List<List<Value>> rtables, Set<String> settings,
      List<long[]> columns) {
    NodeTree.forEachNode(value, f -> {
      if (f.is("FUNCEXPR") && isCurrentSetting(f) && !f.list("args").isEmpty()) {
        String name = textConstant(f.list("args").get(0));
        if (name != null) {
          settings.add(name);
        }
      }
    });
    Value v = stripCasts(value);
    if (v instanceof Node && ((Node) v).is("SUBLINK")) {
      Node sub = (Node) v;
      long type = sub.number("subLinkType", -1);
      if ((type == EXPR_SUBLINK || type == ANY_SUBLINK) && sub.get("subselect") instanceof Node) {
        Node query = (Node) sub.get("subselect");
        List<Value> targets = query.list("targetList");
        if (!targets.isEmpty() && targets.get(0) instanceof Node) {
          Value out = stripCasts(((Node) targets.get(0)).get("expr"));
          List<List<Value>> inner = new java.util.ArrayList<>(rtables);
          inner.add(query.list("rtable"));
          column(out, depth + 1, inner, columns);
        }
      }
      return;
    }
    column(v, depth, rtables, columns);
  }

  private static void column(Value v, int depth, List<List<Value>> rtables, List<long[]> columns) {
    if (!(v instanceof Node) || !((Node) v).is("VAR")) {
      return;
    }
    Node var = (Node) v;
    long levelsUp = var.number("varlevelsup", -1);
    int level = depth - (int) levelsUp; // 0: the audited row's own level, which has no range table here
    if (levelsUp < 0 || level < 1 || level > rtables.size()) {
      return;
    }
    List<Value> rtable = rtables.get(level - 1);
    int varno = (int) var.number("varno", 0);
    if (varno < 1 || varno > rtable.size() || !(rtable.get(varno - 1) instanceof Node)) {
      return;
    }
    Node rte = (Node) rtable.get(varno - 1);
    long attno = var.number("varattno", 0);
    if (rte.number("rtekind", -1) == 0 && attno > 0) {
      columns.add(new long[] {rte.number("relid", 0), attno});
    }
  }

  /** Whether {@code expr} calls {@code current_setting(name)} with one argument (no {@code missing_ok}). */
  public boolean currentSettingWithoutMissingOk(Value expr) {
    boolean[] found = {false};
    NodeTree.forEachNode(expr, n -> {
      if (n.is("FUNCEXPR") && isCurrentSetting(n) && n.list("args").size() == 1) {
        found[0] = true;
      }
    });
    return found[0];
  }

  /**
   * Whether {@code expr} compares a tenant column of a string type (text, varchar, any collatable type) for
   * equality with a value read from {@code current_setting('<setting>', ...)} that is not guarded against the empty
   * string: no {@code nullif} or {@code CASE} in the value, and no top-level {@code current_setting(...) <> ''}
   * conjunct. The setting reads {@code ''} in a session that once had it (after a transaction-local
   * {@code set_config} ends, or after {@code RESET}), and {@code '' = ''} is true: such a tenantless session reads
   * and writes the rows whose tenant is {@code ''}. A comparison made in a non-string type ({@code uuid},
   * {@code bigint}) fails with an error on {@code ''} instead, and a column that is not of a string type cannot
   * hold {@code ''}: neither is reported.
   */
  public boolean comparesTenantWithUnguardedSetting(Value expr, Set<Integer> tenant, String setting) {
    for (Value conjunct : conjuncts(expr)) {
      if (conjunct instanceof Node && ((Node) conjunct).is("OPEXPR")
          && "<>".equals(operators.get(((Node) conjunct).number("opno", 0)))
          && ((Node) conjunct).list("args").size() == 2) {
        Value a = ((Node) conjunct).list("args").get(0);
        Value b = ((Node) conjunct).list("args").get(1);
        if (readsSetting(a, setting) && "".equals(textConstant(b))
            || readsSetting(b, setting) && "".equals(textConstant(a))) {
          return false; // current_setting(...) <> '' AND ...: a tenantless session gets no row
        }
      }
    }
    boolean[] found = {false};
    NodeTree.walk(expr, 0, (n, d) -> {
      if (n.is("OPEXPR") && isEquality(n) && n.list("args").size() == 2 && n.number("inputcollid", 0) != 0) {
        for (int side = 0; side < 2; side++) {
          Node column = tenantColumn(n.list("args").get(side), d, tenant);
          Value value = n.list("args").get(1 - side);
          if (column != null && column.number("varcollid", 0) != 0 && rowIndependent(value, d)
              && readsSetting(value, setting) && !guardsEmpty(value)) {
            found[0] = true;
          }
        }
      }
      return !found[0];
    });
    return found[0];
  }

  private boolean readsSetting(Value expr, String setting) {
    boolean[] found = {false};
    NodeTree.forEachNode(expr, n -> {
      if (n.is("FUNCEXPR") && isCurrentSetting(n) && !n.list("args").isEmpty()
          && setting.equals(textConstant(n.list("args").get(0)))) {
        found[0] = true;
      }
    });
    return found[0];
  }

  /** Whether a value maps some input to NULL or another value: {@code nullif(...)} or a {@code CASE}. */
  private static boolean guardsEmpty(Value expr) {
    boolean[] found = {false};
    // CaseExpr is stored as CASE up to PostgreSQL 15 and as CASEEXPR from 16 (generated node output functions)
    NodeTree.forEachNode(expr, n -> found[0] |= n.is("NULLIFEXPR") || n.is("CASE") || n.is("CASEEXPR"));
    return found[0];
  }

  private boolean isCurrentSetting(Node funcExpr) {
    FunctionName f = functions.get(funcExpr.number("funcid", 0));
    return f != null && f.schema().equals("pg_catalog") && f.name().equals("current_setting");
  }

  /**
   * Whether a view's stored query ({@code pg_rewrite.ev_action}) is the tenant-filtered view pattern: its top-level
   * {@code WHERE} filters a column named like a tenant column with
   * {@code = (SELECT ... current_setting('<setting>', true) ...)}, and every relation holding tenant data
   * ({@code tenantData}, by oid) that the query reads anywhere (a join, a sub-query, a sub-select in the target
   * list) is a top-level relation so filtered. A filter on one relation says nothing about another read beside it
   * with the view owner's rights.
   *
   * @param viewOid the view itself, which PostgreSQL 15 and older list in the query as {@code OLD} and {@code NEW}
   */
  public boolean filtersByTenantSetting(Value viewAction, Set<String> tenantColumns, String setting, long viewOid,
      LongPredicate tenantData) {
    Node query = firstQuery(viewAction);
    if (query == null || !(query.get("jointree") instanceof Node)) {
      return false;
    }
    Value quals = ((Node) query.get("jointree")).get("quals");
    List<Value> rtable = query.list("rtable");
    Set<Node> filtered = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Value conjunct : conjuncts(quals)) {
      if (!(conjunct instanceof Node) || !((Node) conjunct).is("OPEXPR") || !isEquality((Node) conjunct)) {
        continue;
      }
      List<Value> args = ((Node) conjunct).list("args");
      if (args.size() != 2) {
        continue;
      }
      for (int side = 0; side < 2; side++) {
        Value columnSide = stripCasts(args.get(side));
        String column = columnName(columnSide, rtable);
        Value other = args.get(1 - side);
        if (column != null && tenantColumns.contains(column) && other instanceof Node
            && ((Node) other).is("SUBLINK") && ((Node) other).number("subLinkType", -1) == EXPR_SUBLINK
            && readsSettingMissingOk(other, setting) && rowIndependent(other, 0)) {
          filtered.add((Node) rtable.get((int) ((Node) columnSide).number("varno", 0) - 1));
        }
      }
    }
    if (filtered.isEmpty()) {
      return false;
    }
    boolean[] unfiltered = {false};
    NodeTree.forEachNode(viewAction, n -> {
      if (n.is("RANGETBLENTRY") && n.number("rtekind", -1) == RTE_RELATION) {
        long relid = n.number("relid", 0);
        if (relid != viewOid && tenantData.test(relid) && !filtered.contains(n)) {
          unfiltered[0] = true;
        }
      }
    });
    return !unfiltered[0];
  }

  private static @Nullable Node firstQuery(Value v) {
    if (v instanceof Node && ((Node) v).is("QUERY")) {
      return (Node) v;
    }
    if (v instanceof Lst && !((Lst) v).items().isEmpty()) {
      return firstQuery(((Lst) v).items().get(0));
    }
    return null;
  }

  private static List<Value> conjuncts(Value quals) {
    if (quals instanceof Node && ((Node) quals).is("BOOLEXPR") && "and".equals(((Node) quals).text("boolop"))) {
      List<Value> out = new java.util.ArrayList<>();
      for (Value a : ((Node) quals).list("args")) {
        out.addAll(conjuncts(a));
      }
      return out;
    }
    return List.of(quals);
  }

  private static @Nullable String columnName(Value v, List<Value> rtable) {
    if (!(v instanceof Node) || !((Node) v).is("VAR") || ((Node) v).number("varlevelsup", -1) != 0) {
      return null;
    }
    int varno = (int) ((Node) v).number("varno", 0);
    int attno = (int) ((Node) v).number("varattno", 0);
    if (varno < 1 || varno > rtable.size() || attno < 1 || !(rtable.get(varno - 1) instanceof Node)) {
      return null;
    }
    Value eref = ((Node) rtable.get(varno - 1)).get("eref");
    if (!(eref instanceof Node)) {
      return null;
    }
    List<Value> names = ((Node) eref).list("colnames");
    if (attno > names.size() || !(names.get(attno - 1) instanceof Atom)) {
      return null;
    }
    return ((Atom) names.get(attno - 1)).text();
  }

  private boolean readsSettingMissingOk(Value expr, String setting) {
    boolean[] found = {false};
    NodeTree.forEachNode(expr, n -> {
      if (n.is("FUNCEXPR") && isCurrentSetting(n) && n.list("args").size() == 2) {
        String name = textConstant(n.list("args").get(0));
        Boolean missingOk = boolConstant(n.list("args").get(1));
        if (setting.equals(name) && Boolean.TRUE.equals(missingOk)) {
          found[0] = true;
        }
      }
    });
    return found[0];
  }

  /** The value of a text constant (possibly relabelled), or null. */
  static @Nullable String textConstant(Value v) {
    Value c = stripCasts(v);
    if (!(c instanceof Node) || !((Node) c).is("CONST") || !(((Node) c).get("constvalue") instanceof Datum)) {
      return null;
    }
    byte[] b = ((Datum) ((Node) c).get("constvalue")).bytes();
    if (b.length == 0) {
      return null;
    }
    // varlena: a 1-byte header (low bit set, length in the upper 7 bits) or a 4-byte header (little-endian)
    if ((b[0] & 0x01) == 1) {
      int len = (b[0] & 0xff) >>> 1;
      return len >= 1 && len <= b.length ? new String(b, 1, len - 1, StandardCharsets.UTF_8) : null;
    }
    if (b.length < 4) {
      return null;
    }
    return new String(b, 4, b.length - 4, StandardCharsets.UTF_8);
  }

  private static @Nullable Boolean boolConstant(Value v) {
    if (!(v instanceof Node) || !((Node) v).is("CONST") || ((Node) v).number("consttype", 0) != 16
        || !(((Node) v).get("constvalue") instanceof Datum)) {
      return null;
    }
    for (byte b : ((Datum) ((Node) v).get("constvalue")).bytes()) {
      if (b != 0) {
        return Boolean.TRUE;
      }
    }
    return Boolean.FALSE;
  }
}
