package dev.saaskit.tenancy.audit.internal;

import static dev.saaskit.tenancy.internal.Sql.quoteIdent;
import static dev.saaskit.tenancy.internal.Sql.quoteLiteral;

import dev.saaskit.core.TenantSetting;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.audit.Baseline;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.Severity;
import dev.saaskit.tenancy.audit.internal.Catalog.ForeignKey;
import dev.saaskit.tenancy.audit.internal.Catalog.Function;
import dev.saaskit.tenancy.audit.internal.Catalog.Policy;
import dev.saaskit.tenancy.audit.internal.Catalog.Relation;
import dev.saaskit.tenancy.audit.internal.Catalog.Role;
import dev.saaskit.tenancy.audit.internal.Catalog.TenantColumn;
import dev.saaskit.tenancy.audit.internal.Expressions.Scope;
import dev.saaskit.tenancy.audit.internal.NodeTree.Value;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.StringJoiner;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/** Reads the catalog and applies every rule. Not API. */
public final class Auditor {
  /**
   * What one run found, before the baseline is applied, with the findings the database's own comments accept
   * ({@code saaskit-audit: <rule-id> -- <reason>} lines on a table or a policy).
   */
  public record Result(List<Finding> findings, List<String> tenantTables, String appRole, String database,
      int serverVersion, List<Baseline.Entry> annotations) {}

  /** {@code saaskit-audit: <rule-id> -- <reason>}, one per line of a comment. */
  private static final Pattern ANNOTATION =
      Pattern.compile("^\\s*saaskit-audit:\\s*([a-z0-9-]+)\\s+--\\s+(\\S.*?)\\s*$", Pattern.MULTILINE);

  private static final int MAX_EXPRESSION_CHARS = 200;
  private static final String COMMANDS = "rawd"; // SELECT, INSERT, UPDATE, DELETE

  private final List<String> tenantColumns;
  private final String setting;
  private final Set<String> ignoredTables;
  private final Set<String> includedTables;

  /**
   * An auditor for tables with any of {@code tenantColumns}, whose policies read {@code setting}; tables named in
   * {@code ignoredTables} ({@code schema.table}) are not tenant data, whatever their columns; tables named in
   * {@code includedTables} hold tenant data without a tenant column.
   */
  public Auditor(List<String> tenantColumns, String setting, Set<String> ignoredTables, Set<String> includedTables) {
    this.tenantColumns = List.copyOf(tenantColumns);
    this.setting = setting;
    this.ignoredTables = Set.copyOf(ignoredTables);
    this.includedTables = Set.copyOf(includedTables);
  }

  /** Runs every rule against the database of {@code connection}; reads the catalog only. */
  public Result audit(Connection connection, @Nullable String appRole, List<String> schemas) throws SQLException {
    Catalog cat = Catalog.read(connection, appRole, schemas, tenantColumns);
    Run run = new Run(cat);
    run.parse();
    cat.resolveNames(connection, run.functionOids, run.operatorOids);
    run.prepare();
    run.columnAccess = cat.columnAccess(connection, run.sourceColumns);
    run.settingAccess = cat.settingAccess(connection, run.sourceSettings);
    run.apply();
    return new Result(List.copyOf(run.findings), List.copyOf(run.tenantTables), cat.app.name(), cat.database,
        cat.serverVersion, annotations(cat));
  }

  /** The accepted findings the catalog's comments declare; lines naming no known rule are skipped. */
  private static List<Baseline.Entry> annotations(Catalog cat) {
    List<Baseline.Entry> out = new ArrayList<>();
    for (Catalog.Annotation a : cat.annotations) {
      java.util.regex.Matcher m = ANNOTATION.matcher(a.comment());
      while (m.find()) {
        String rule = m.group(1);
        if (Rules.find(rule).isPresent() && !rule.equals(Rules.UNUSED_BASELINE_ENTRY)) {
          out.add(new Baseline.Entry(rule, a.object(), "annotated in the database: " + m.group(2), 0));
        }
      }
    }
    return out;
  }

  /** The parsed expressions of one policy. */
  private static final class ParsedPolicy {
    final Policy policy;
    final @Nullable Value using; // null: none, or an INSERT policy
    final @Nullable Value check; // the explicit WITH CHECK
    Scope usingScope = Scope.UNSCOPED;
    Scope checkScope = Scope.UNSCOPED; // of the effective check (explicit, or USING for ALL/UPDATE)

    ParsedPolicy(Policy policy, @Nullable Value using, @Nullable Value check) {
      this.policy = policy;
      this.using = using;
      this.check = check;
    }

    boolean hasUsing() {
      return policy.command() != 'a';
    }

    boolean hasCheck() {
      return policy.command() == 'a' || policy.command() == 'w' || policy.command() == '*';
    }

    @Nullable Value effectiveCheck() {
      return check != null ? check : policy.command() == 'a' ? null : using;
    }

    boolean covers(char command) {
      return policy.command() == '*' || policy.command() == command;
    }
  }

  private final class Run {
    final Catalog cat;
    final List<Finding> findings = new ArrayList<>();
    final List<String> tenantTables = new ArrayList<>();
    final Set<Long> functionOids = new HashSet<>();
    final Set<Long> operatorOids = new HashSet<>();
    final Map<Long, List<ParsedPolicy>> policiesByTable = new LinkedHashMap<>();
    final Map<Long, Value> viewTrees = new HashMap<>();
    final Set<Long> tenantData = new HashSet<>(); // tenant tables, and views/matviews over them
    final Map<Long, Pattern> namePatterns = new HashMap<>();
    /** Per policy on a tenant table: the settings and columns its tenant comparisons read. */
    final Map<ParsedPolicy, Expressions.TenantSources> tenantSources = new LinkedHashMap<>();
    final List<long[]> sourceColumns = new ArrayList<>();
    final Set<String> sourceSettings = new LinkedHashSet<>();
    List<Catalog.ColumnAccess> columnAccess = List.of();
    Map<String, Catalog.SettingAccess> settingAccess = Map.of();
    /** Functions called by policies, by OID, with the policies (objects) that call them, in catalog order. */
    final Map<Long, List<ParsedPolicy>> policyFunctions = new LinkedHashMap<>();
    @Nullable Expressions expressions;

    Run(Catalog cat) {
      this.cat = cat;
    }

    void parse() {
      for (Policy p : cat.policies) {
        Value using = tree(p.usingTree());
        Value check = tree(p.checkTree());
        policiesByTable.computeIfAbsent(p.tableOid(), k -> new ArrayList<>()).add(new ParsedPolicy(p, using, check));
        if (using != null) {
          Expressions.collectOids(using, functionOids, operatorOids);
        }
        if (check != null) {
          Expressions.collectOids(check, functionOids, operatorOids);
        }
      }
      for (Relation r : cat.relations.values()) {
        if (r.kind() == 'v' && r.option("security_barrier") && !r.option("security_invoker") && r.viewQuery() != null) {
          Value tree = tree(r.viewQuery());
          if (tree != null) {
            viewTrees.put(r.oid(), tree);
            Expressions.collectOids(tree, functionOids, operatorOids);
          }
        }
      }
    }

    /** With names resolved: what decides each tenant policy's tenant, and which functions policies call. */
    void prepare() {
      Expressions ex = new Expressions(cat.functionNames, cat.operatorNames);
      expressions = ex;
      for (Map.Entry<Long, List<ParsedPolicy>> e : policiesByTable.entrySet()) {
        Relation t = cat.relations.get(e.getKey());
        for (ParsedPolicy p : e.getValue()) {
          for (Value tree : trees(p)) {
            NodeTree.forEachNode(tree, n -> {
              if (n.is("FUNCEXPR")) {
                List<ParsedPolicy> callers = policyFunctions.computeIfAbsent(n.number("funcid", 0),
                    k -> new ArrayList<>());
                if (!callers.contains(p)) {
                  callers.add(p);
                }
              }
            });
          }
          if (t == null || !isTenantTable(t)) {
            continue;
          }
          Set<String> settings = new LinkedHashSet<>();
          List<long[]> columns = new ArrayList<>();
          for (Value tree : trees(p)) {
            Expressions.TenantSources sources = ex.tenantSources(tree, tenantAttnums(t));
            settings.addAll(sources.settings());
            columns.addAll(sources.columns());
          }
          settings.remove(setting);
          tenantSources.put(p, new Expressions.TenantSources(settings, columns));
          sourceSettings.addAll(settings);
          sourceColumns.addAll(columns);
        }
      }
    }

    void apply() {
      markTenantData();
      classifyPolicies();
      roleRules();
      for (Relation r : cat.relations.values()) {
        if (isTenantTable(r)) {
          tenantTables.add(r.qualifiedName());
          tableRules(r);
          policyRules(r);
        } else if (r.kind() == 'v' && tenantData.contains(r.oid())) {
          viewRule(r);
        } else if (r.kind() == 'm' && tenantData.contains(r.oid())) {
          materializedViewRule(r);
        } else if (r.kind() == 'f') {
          foreignTableRule(r);
        }
        if (r.isTable() || r.kind() == 'v') {
          rewriteRuleRule(r);
        }
      }
      for (Function f : cat.functions) {
        functionRules(f);
      }
      for (ForeignKey fk : cat.foreignKeys) {
        foreignKeyRule(fk);
      }
      tenantDataWithoutTenantColumnRules();
      policyFunctionRules();
      clientValueRules();
      if (tenantTables.isEmpty()) {
        add(Rules.NO_TENANT_TABLES, Severity.WARNING, "database " + cat.database, "No table in "
            + "the audited schemas has a column named " + String.join(" or ", tenantColumns) + ", so nothing was"
            + " checked for tenant isolation; check the audit's tenantColumns and schemas, and that migrations ran.",
            null);
      }
    }

    // ---------------------------------------------------------------------------------------------- roles

    void roleRules() {
      Catalog.AppRole app = cat.app;
      String object = "role " + app.name();
      String role = quoteIdent(app.name());
      if (app.superuser()) {
        add(Rules.APP_ROLE_SUPERUSER, Severity.ERROR, object, "The application role " + app.name() + " is a"
            + " superuser: row-level security never applies to superusers, so every tenant sees every row.",
            "-- a separate role for the application (keep SUPERUSER on the role you administer the server with):\n"
                + "CREATE ROLE app LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS;\n"
                + "GRANT USAGE ON SCHEMA <schema> TO app;\n"
                + "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA <schema> TO app;\n"
                + "-- then make the pool log in as app");
      }
      // a superuser bypasses RLS whatever its BYPASSRLS flag says (the bootstrap superuser has it set): its finding
      // above says all, and ALTER ROLE ... NOBYPASSRLS on it would fix nothing
      if (app.bypassRls() && !app.superuser()) {
        add(Rules.APP_ROLE_BYPASSRLS, Severity.ERROR, object, "The application role " + app.name() + " has"
            + " BYPASSRLS: row-level security does not apply to it, so every tenant sees every row.",
            "ALTER ROLE " + role + " NOBYPASSRLS;");
      }
      Catalog.LoginRole login = app.login();
      if (login != null && (login.superuser() || login.bypassRls())) {
        add(Rules.APP_ROLE_PRIVILEGED_LOGIN, Severity.ERROR, object, "The connections log in as " + login.name()
            + (login.superuser() ? ", a superuser," : ", which has BYPASSRLS,") + " and switch to " + app.name()
            + (login.sessionAuthorization()
                ? " with SET SESSION AUTHORIZATION: a RESET SESSION AUTHORIZATION brings the login role back and"
                    + " bypasses every policy."
                : " with SET ROLE: a RESET ROLE brings the login role back and bypasses every policy."),
            "-- make the pool log in as " + role + " itself (its user name), not switch to it");
      }
      if (!app.superuser()) {
        List<String> privileged = new ArrayList<>();
        StringBuilder fix = new StringBuilder();
        for (String r : app.superuserRoles()) {
          privileged.add(r + " (superuser)");
          fix.append(fix.length() == 0 ? "" : "\n").append("REVOKE ").append(quoteIdent(r)).append(" FROM ")
              .append(role).append(';');
        }
        for (String r : app.bypassRlsRoles()) {
          privileged.add(r + " (BYPASSRLS)");
          fix.append(fix.length() == 0 ? "" : "\n").append("REVOKE ").append(quoteIdent(r)).append(" FROM ")
              .append(role).append(';');
        }
        // Before PostgreSQL 16, CREATEROLE may GRANT any role that is not a superuser, to anyone, itself included:
        // a BYPASSRLS role, or the owner of the tenant tables, is one GRANT and one SET ROLE away.
        List<String> creators = cat.serverVersion < 160000 ? app.createRoleRoles() : List.of();
        if (!privileged.isEmpty() || !creators.isEmpty()) {
          StringBuilder message = new StringBuilder("The application role ").append(app.name());
          if (!privileged.isEmpty()) {
            message.append(" is a member of ").append(String.join(", ", privileged))
                .append(": it can SET ROLE to it and bypass every policy.");
          }
          if (!creators.isEmpty()) {
            List<String> others = new ArrayList<>(creators);
            boolean itself = others.remove(app.name());
            message.append(privileged.isEmpty() ? "" : " It also")
                .append(itself ? " has CREATEROLE" : "")
                .append(itself && !others.isEmpty() ? " and" : "")
                .append(others.isEmpty() ? "" : " can SET ROLE to " + String.join(", ", others) + " (CREATEROLE)")
                .append(", which on PostgreSQL ").append(cat.serverVersion / 10000).append(" lets it grant itself"
                    + " any role that is not a superuser (a BYPASSRLS role, the owner of the tenant tables) and SET"
                    + " ROLE to it, bypassing every policy.");
            if (itself) {
              fix.append(fix.length() == 0 ? "" : "\n").append("ALTER ROLE ").append(role).append(" NOCREATEROLE;");
            }
            for (String r : others) {
              fix.append(fix.length() == 0 ? "" : "\n").append("REVOKE ").append(quoteIdent(r)).append(" FROM ")
                  .append(role).append(';');
            }
          }
          add(Rules.APP_ROLE_MEMBER_OF_PRIVILEGED, Severity.ERROR, object, message.toString(), fix.toString());
        }
      }
    }

    // --------------------------------------------------------------------------------------------- tables

    boolean isTenantTable(Relation r) {
      return r.isTable() && !r.tenantColumns().isEmpty() && !ignoredTables.contains(r.qualifiedName());
    }

    void markTenantData() {
      for (Relation r : cat.relations.values()) {
        if (!r.tenantColumns().isEmpty() && !ignoredTables.contains(r.qualifiedName())) {
          tenantData.add(r.oid());
        }
      }
      boolean changed = true;
      while (changed) {
        changed = false;
        for (Relation r : cat.relations.values()) {
          if ((r.kind() == 'v' || r.kind() == 'm') && !tenantData.contains(r.oid())) {
            for (long dep : r.dependsOn()) {
              if (tenantData.contains(dep)) {
                tenantData.add(r.oid());
                changed = true;
                break;
              }
            }
          }
        }
      }
    }

    void tableRules(Relation t) {
      String table = q(t);
      String columns = columnNames(t);
      List<ParsedPolicy> policies = policiesByTable.getOrDefault(t.oid(), List.of());
      boolean appSuper = cat.app.superuser();
      if (!t.rlsEnabled()) {
        StringBuilder msg = new StringBuilder("Table " + t.qualifiedName() + " has a tenant column (" + columns
            + ") but row-level security is disabled: every role that can read it sees every tenant's rows.");
        if (!policies.isEmpty()) {
          msg.append(" Its policies (").append(policyNames(policies)).append(") exist but are inert until RLS is"
              + " enabled.");
        }
        if (t.partition()) {
          msg.append(" It is a partition of ").append(t.parent()).append(": queried by name, it does not apply"
              + " its parent's policies.");
        }
        String fix = "ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY;\nALTER TABLE " + table
            + " FORCE ROW LEVEL SECURITY;" + (policies.isEmpty() ? "\n" + createPolicy(t) : "");
        add(Rules.RLS_DISABLED, Severity.ERROR, t.qualifiedName(), msg.toString(), fix);
      } else if (!t.rlsForced()) {
        boolean appOwner = t.appActsAsOwner() && !appSuper;
        add(Rules.RLS_NOT_FORCED, appOwner ? Severity.ERROR : Severity.WARNING, t.qualifiedName(),
            "Row-level security on " + t.qualifiedName() + " is enabled but not forced, so its owner " + t.owner()
                + " is exempt from its policies" + (appOwner
                ? ", and the application role " + cat.app.name() + (t.appOwns() ? " is that owner" : " is a member"
                    + " of it") + ": the application sees every tenant's rows."
                : ": migrations, jobs, views and SECURITY DEFINER functions running as the owner see every"
                    + " tenant's rows."),
            "ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY;");
      }
      if (t.rlsEnabled() && policies.stream().noneMatch(p -> p.policy.permissive())) {
        add(Rules.NO_POLICY, Severity.WARNING, t.qualifiedName(), "Row-level security is enabled on "
            + t.qualifiedName() + " but it has " + (policies.isEmpty() ? "no policy" : "only restrictive policies ("
            + policyNames(policies) + ")") + ", so PostgreSQL denies every row: the application sees and writes"
            + " nothing there.", createPolicy(t));
      }
      boolean indexed = false;
      for (TenantColumn c : t.tenantColumns()) {
        indexed |= t.leadingIndexColumns().contains(c.attnum());
      }
      if (!indexed) {
        TenantColumn first = t.tenantColumns().get(0);
        add(Rules.NO_TENANT_INDEX, Severity.WARNING, t.qualifiedName(), "No index on " + t.qualifiedName()
            + " starts with " + columns + ", so every policy check scans the whole table.",
            "CREATE INDEX ON " + table + " (" + quoteIdent(first.name()) + ");");
      }
      List<TenantColumn> nullable = new ArrayList<>();
      for (TenantColumn c : t.tenantColumns()) {
        if (!c.notNull()) {
          nullable.add(c);
        }
      }
      if (!nullable.isEmpty()) {
        StringJoiner names = new StringJoiner(", ");
        StringJoiner fix = new StringJoiner("\n");
        for (TenantColumn c : nullable) {
          names.add(c.name());
          fix.add("ALTER TABLE " + table + " ALTER COLUMN " + quoteIdent(c.name()) + " SET NOT NULL;");
        }
        add(Rules.TENANT_COLUMN_NULLABLE, Severity.WARNING, t.qualifiedName(), "Tenant column " + names + " of "
            + t.qualifiedName() + " allows NULL: a row without a tenant belongs to no tenant and is invisible to all.",
            fix.toString());
      }
      if (t.appActsAsOwner() && !appSuper) {
        String role = quoteIdent(cat.app.name());
        add(Rules.APP_ROLE_OWNS_TENANT_TABLE, Severity.ERROR, t.qualifiedName(), t.appOwns()
                ? "The application role " + cat.app.name() + " owns " + t.qualifiedName() + ": owners are exempt from"
                    + " unforced policies and can disable RLS or drop the policies."
                : "The application role " + cat.app.name() + " is a member of " + t.owner() + ", which owns "
                    + t.qualifiedName() + ": owners are exempt from unforced policies and can disable RLS or drop"
                    + " the policies.",
            t.appOwns()
                ? "ALTER TABLE " + table + " OWNER TO <migration role>; -- a role the application does not log in as"
                : "REVOKE " + quoteIdent(t.owner()) + " FROM " + role + ";");
      }
      if (t.appCanTruncate() && !t.appActsAsOwner() && !appSuper) {
        List<String> grantees = t.truncateGrantees().isEmpty() ? List.of(cat.app.name()) : t.truncateGrantees();
        StringJoiner from = new StringJoiner(", ");
        for (String g : grantees) {
          from.add(g.equals("PUBLIC") ? "PUBLIC" : quoteIdent(g));
        }
        add(Rules.APP_ROLE_CAN_TRUNCATE, Severity.ERROR, t.qualifiedName(), "The application role "
            + cat.app.name() + " can TRUNCATE " + t.qualifiedName() + " (granted to " + String.join(", ", grantees)
            + "), and TRUNCATE ignores row-level security: it empties the table for every tenant."
            + " Check REFERENCES privileges too.",
            "REVOKE TRUNCATE ON " + table + " FROM " + from + ";");
      }
      if (t.appCanTrigger() && !t.appActsAsOwner() && !appSuper) {
        List<String> grantees = t.triggerGrantees().isEmpty() ? List.of(cat.app.name()) : t.triggerGrantees();
        StringJoiner from = new StringJoiner(", ");
        for (String g : grantees) {
          from.add(g.equals("PUBLIC") ? "PUBLIC" : quoteIdent(g));
        }
        add(Rules.APP_ROLE_CAN_TRIGGER, Severity.ERROR, t.qualifiedName(), "The application role "
            + cat.app.name() + " can create triggers on " + t.qualifiedName() + " (TRIGGER granted to "
            + String.join(", ", grantees) + "): a trigger it attaches, with a function of its own (a temporary one"
            + " will do), runs inside every other tenant's writes and sees their rows, which it can send to a"
            + " listening connection (pg_notify) or change.",
            "REVOKE TRIGGER ON " + table + " FROM " + from + ";");
      }
    }

    // ------------------------------------------------------------------------------------------- policies

    /** Classifies the expressions of every policy on a tenant table (views and functions need them too). */
    void classifyPolicies() {
      Expressions ex = expressions();
      for (Map.Entry<Long, List<ParsedPolicy>> e : policiesByTable.entrySet()) {
        Relation t = cat.relations.get(e.getKey());
        if (t == null || !isTenantTable(t)) {
          continue;
        }
        Set<Integer> attnums = tenantAttnums(t);
        for (ParsedPolicy p : e.getValue()) {
          p.usingScope = p.using == null ? Scope.DENY : ex.classify(p.using, attnums);
          Value check = p.effectiveCheck();
          p.checkScope = check == null ? Scope.DENY : ex.classify(check, attnums);
        }
      }
    }

    void policyRules(Relation t) {
      List<ParsedPolicy> policies = policiesByTable.getOrDefault(t.oid(), List.of());
      if (policies.isEmpty()) {
        return;
      }
      Set<Integer> attnums = tenantAttnums(t);
      // a RESTRICTIVE tenant-bound policy for the application caps every permissive one, per command
      Set<Character> readFloor = new HashSet<>();
      Set<Character> writeFloor = new HashSet<>();
      Map<Character, String> floorNames = new HashMap<>();
      for (ParsedPolicy p : policies) {
        if (p.policy.permissive() || !p.policy.appliesToApp()) {
          continue;
        }
        for (char c : COMMANDS.toCharArray()) {
          if (p.covers(c)) {
            if (p.hasUsing() && p.usingScope == Scope.TENANT_BOUND) {
              readFloor.add(c);
              floorNames.putIfAbsent(c, p.policy.name());
            }
            if (p.hasCheck() && p.checkScope == Scope.TENANT_BOUND) {
              writeFloor.add(c);
            }
          }
        }
      }
      Map<Character, List<String>> permissiveForApp = new LinkedHashMap<>();
      for (ParsedPolicy p : policies) {
        String object = "policy " + p.policy.name() + " on " + t.qualifiedName();
        if (p.policy.permissive()) {
          boolean capped = true;
          String floor = null;
          for (char c : COMMANDS.toCharArray()) {
            if (p.covers(c)) {
              boolean read = c != 'a';
              boolean write = c == 'a' || c == 'w';
              capped &= (!read || readFloor.contains(c)) && (!write || writeFloor.contains(c));
              floor = floor == null ? floorNames.get(c) : floor;
              if (p.policy.appliesToApp()) {
                permissiveForApp.computeIfAbsent(c, k -> new ArrayList<>()).add(p.policy.name());
              }
            }
          }
          openPolicyRules(t, p, object, p.policy.appliesToApp() && !capped, capped ? floor : null);
        }
        detailRules(t, p, object, attnums);
      }
      StringJoiner overlaps = new StringJoiner("; ");
      for (Map.Entry<Character, List<String>> e : permissiveForApp.entrySet()) {
        if (e.getValue().size() > 1) {
          overlaps.add(commandName(e.getKey()) + ": " + String.join(", ", e.getValue()));
        }
      }
      if (overlaps.length() > 0) {
        add(Rules.MULTIPLE_PERMISSIVE_POLICIES, Severity.WARNING, t.qualifiedName(), "Several permissive policies"
            + " on " + t.qualifiedName() + " apply to the application role " + cat.app.name() + " for the same"
            + " command (" + overlaps + "): they are OR'ed, so each can widen what the others allow.", null);
      }
    }

    /** policy-always-true, policy-not-tenant-scoped and policy-missing-with-check for a permissive policy. */
    void openPolicyRules(Relation t, ParsedPolicy p, String object, boolean forApp, @Nullable String cap) {
      Severity severity = forApp ? Severity.ERROR : Severity.INFO;
      String audience = audience(p, cap);
      boolean checkInherited = p.check == null && p.policy.command() != 'a';
      List<String> constant = new ArrayList<>();
      List<String> unscoped = new ArrayList<>();
      if (p.hasUsing() && p.using != null) {
        String clause = clause("USING", p.policy.usingText())
            + (p.hasCheck() && checkInherited ? " (also its WITH CHECK, as it has none)" : "");
        if (p.usingScope == Scope.CONSTANT) {
          constant.add(clause);
        } else if (p.usingScope == Scope.UNSCOPED) {
          unscoped.add(clause);
        }
      }
      if (p.hasCheck() && p.check != null) {
        String clause = clause("WITH CHECK", p.policy.checkText());
        if (p.checkScope == Scope.CONSTANT) {
          constant.add(clause);
        } else if (p.checkScope == Scope.UNSCOPED) {
          unscoped.add(clause);
        }
      }
      String head = "Policy " + p.policy.name() + " on " + t.qualifiedName() + " (" + describe(p.policy) + ")";
      if (!constant.isEmpty()) {
        add(Rules.POLICY_ALWAYS_TRUE, severity, object, head + " admits every tenant's rows: its "
            + String.join(" and ", constant) + (constant.size() == 1 ? " is" : " are") + " constant. " + audience,
            forApp ? alterPolicy(t, p, true) : null);
      } else if (!unscoped.isEmpty()) {
        add(Rules.POLICY_NOT_TENANT_SCOPED, severity, object, head + " is not bound to the tenant: its "
            + String.join(" and ", unscoped) + (unscoped.size() == 1 ? " does" : " do") + " not compare "
            + columnNames(t) + " with one tenant on every branch. " + audience,
            forApp ? alterPolicy(t, p, false) : null);
      }
      Severity checkSeverity = forApp ? Severity.WARNING : Severity.INFO;
      if (p.policy.command() == 'a' && p.check == null) {
        add(Rules.POLICY_MISSING_WITH_CHECK, checkSeverity, object, head + " has no WITH CHECK, so it admits no new"
            + " row: it allows no INSERT at all (fails closed, but surely not what was meant).",
            "ALTER POLICY " + quoteIdent(p.policy.name()) + " ON " + q(t) + " WITH CHECK (" + predicate(t) + ");");
      } else if (checkInherited && p.hasCheck() && p.usingScope != Scope.TENANT_BOUND && p.usingScope != Scope.DENY) {
        add(Rules.POLICY_MISSING_WITH_CHECK, checkSeverity, object, head + " has no WITH CHECK, so new and updated"
            + " rows are checked against its USING, which is not bound to the tenant: rows can be written for any"
            + " tenant. " + audience,
            "ALTER POLICY " + quoteIdent(p.policy.name()) + " ON " + q(t) + " WITH CHECK (" + predicate(t) + ");");
      }
    }

    /** Casts, current_setting without missing_ok, per-row functions: for every policy. */
    void detailRules(Relation t, ParsedPolicy p, String object, Set<Integer> attnums) {
      Expressions ex = expressions();
      List<Value> trees = new ArrayList<>(2);
      if (p.using != null) {
        trees.add(p.using);
      }
      if (p.check != null) {
        trees.add(p.check);
      }
      boolean casts = false;
      boolean missingOk = false;
      boolean emptyTenant = false;
      Set<String> perRow = new LinkedHashSet<>();
      for (Value tree : trees) {
        casts |= ex.castsTenantColumn(tree, attnums);
        missingOk |= ex.currentSettingWithoutMissingOk(tree);
        emptyTenant |= ex.comparesTenantWithUnguardedSetting(tree, attnums, setting);
        perRow.addAll(ex.perRowFunctions(tree));
      }
      String head = "Policy " + p.policy.name() + " on " + t.qualifiedName();
      String text = expressionText(p);
      if (casts) {
        add(Rules.POLICY_CASTS_TENANT_COLUMN, Severity.WARNING, object, head + " casts the tenant column (" + text
            + "), so no index on " + columnNames(t) + " can serve it: compare the column uncast and cast the"
            + " setting instead.", standardPolicyFix(t, p));
      }
      if (missingOk) {
        add(Rules.CURRENT_SETTING_WITHOUT_MISSING_OK, Severity.WARNING, object, head + " calls current_setting()"
            + " without missing_ok (" + text + "): it raises an error where the setting was never set and reads"
            + " a stale or empty value on pooled connections; use current_setting('...', true) with nullif.",
            standardPolicyFix(t, p));
      }
      if (emptyTenant) {
        add(Rules.CURRENT_SETTING_WITHOUT_NULLIF, Severity.WARNING, object, head + " compares " + columnNames(t)
            + " with current_setting('" + setting + "') without nullif(..., '') (" + text + "): in a session"
            + " without a tenant the setting reads '' (after a transaction-local set_config ends, or after RESET),"
            + " so that session reads and writes the rows whose tenant is '' instead of none. Use"
            + " nullif(current_setting('" + setting + "', true), '').", standardPolicyFix(t, p));
      }
      if (!perRow.isEmpty()) {
        add(Rules.POLICY_PER_ROW_FUNCTION, Severity.WARNING, object, head + " calls " + String.join("(), ", perRow)
            + "() outside a sub-query (" + text + "), so it may run once per row: wrap the call in (SELECT ...) to"
            + " run it once per statement.", standardPolicyFix(t, p));
      }
    }

    String audience(ParsedPolicy p, @Nullable String cap) {
      Policy policy = p.policy;
      String app = cat.app.name();
      if (!policy.appliesToApp()) {
        return "It applies only to " + String.join(", ", policy.roles()) + ", not to the application role " + app
            + ": fine for a role meant to work across tenants (a job worker, say), as long as request handling"
            + " never runs as it.";
      }
      String to = policy.roles().contains("PUBLIC") ? "PUBLIC, so to the application role " + app
          : policy.roles().contains(app) ? "the application role " + app
          : String.join(", ", policy.roles()) + ", and the application role " + app + " is a member";
      if (cap != null) {
        return "It applies to " + to + ", but the restrictive policy " + cap + " keeps every command it covers"
            + " within the tenant.";
      }
      return "It applies to " + to + ", and permissive policies are OR'ed: it opens the table whatever the other"
          + " policies say.";
    }

    /** ALTER POLICY that binds the policy to the tenant: replacing constant parts, ANDing into unscoped ones. */
    String alterPolicy(Relation t, ParsedPolicy p, boolean replaceConstant) {
      String pred = predicate(t);
      StringBuilder sql = new StringBuilder("ALTER POLICY " + quoteIdent(p.policy.name()) + " ON " + q(t));
      if (p.hasUsing() && p.using != null && p.usingScope != Scope.TENANT_BOUND && p.usingScope != Scope.DENY) {
        sql.append(" USING (").append(bound(pred, p.usingScope, p.policy.usingText())).append(')');
      }
      if (p.hasCheck() && p.check != null && p.checkScope != Scope.TENANT_BOUND && p.checkScope != Scope.DENY) {
        sql.append(" WITH CHECK (").append(bound(pred, p.checkScope, p.policy.checkText())).append(')');
      }
      sql.append(';');
      if (replaceConstant) {
        sql.append("\n-- or, if the policy is meant for one dedicated role only: ALTER POLICY ")
            .append(quoteIdent(p.policy.name())).append(" ON ").append(q(t)).append(" TO <that role>;");
      }
      return sql.toString();
    }

    String bound(String pred, Scope scope, @Nullable String old) {
      return scope == Scope.CONSTANT || old == null ? pred : pred + " AND (" + old + ")";
    }

    String standardPolicyFix(Relation t, ParsedPolicy p) {
      String pred = predicate(t);
      StringBuilder sql = new StringBuilder("-- the standard tenant predicate (AND any other condition of the policy"
          + " into it):\nALTER POLICY " + quoteIdent(p.policy.name()) + " ON " + q(t));
      if (p.using != null) {
        sql.append(" USING (").append(pred).append(')');
      }
      if (p.check != null) {
        sql.append(" WITH CHECK (").append(pred).append(')');
      }
      return sql.append(';').toString();
    }

    // ---------------------------------------------------------------------------- views, materialized views

    void viewRule(Relation v) {
      if (v.option("security_invoker")) {
        return;
      }
      Value tree = viewTrees.get(v.oid());
      Set<String> names = new HashSet<>(tenantColumns);
      if (v.option("security_barrier") && tree != null
          && expressions().filtersByTenantSetting(tree, names, setting, v.oid(), tenantData::contains)) {
        return; // the tenant-filtered view pattern
      }
      Set<Relation> bases = baseRelations(v);
      boolean ownerHeld = heldToPolicies(v.ownerOid(), bases);
      boolean appReads = v.appSchemaUsage() && v.appCanSelect();
      Severity severity = appReads && !ownerHeld ? Severity.ERROR : Severity.WARNING;
      String fix = cat.serverVersion >= 150000
          ? "ALTER VIEW " + q(v) + " SET (security_invoker = true);"
          : "-- PostgreSQL " + cat.serverVersion / 10000 + " has no security_invoker (15+): filter the view by the"
              + " tenant and make it a barrier:\n-- CREATE OR REPLACE VIEW " + q(v) + " WITH (security_barrier = true)"
              + " AS ... WHERE tenant_id = (select nullif(current_setting('" + setting + "', true), '')::<type>);";
      add(Rules.VIEW_WITHOUT_SECURITY_INVOKER, severity, v.qualifiedName(), "View " + v.qualifiedName()
          + " reads tenant data (" + names(bases) + ") with the rights of its owner " + v.owner() + ", not of the"
          + " querying role, and is neither security_invoker nor a tenant-filtered security_barrier view. "
          + (ownerHeld ? "Not an error because its owner is held to the policies today (not superuser, no BYPASSRLS,"
              + " RLS forced, no open policy for it), so the querying session's tenant setting still applies. It"
              + " stays reported because a later NO FORCE ROW LEVEL SECURITY on a table its owner owns, or a"
              + " permissive policy for the owner's role (a maintenance policy, say), turns it into a leak of every"
              + " tenant's rows with no change to the view. "
              : "Its owner is not held to the policies of the tenant data it reads, so the view shows every tenant's"
                  + " rows. ")
          + (appReads ? "The application role " + cat.app.name() + " can select from it."
              : "The application role " + cat.app.name() + " cannot select from it today."), fix);
    }

    /**
     * Rewrite rules on a table or view ({@code ON INSERT | UPDATE | DELETE}, never a view's own {@code _RETURN}
     * query) whose actions reach tenant data. PostgreSQL runs their actions with the relation owner's rights, on a
     * {@code security_invoker} view too: the view problem again, fired by a write instead of a read.
     */
    void rewriteRuleRule(Relation t) {
      Set<Relation> bases = baseRelations(t.ruleDependsOn());
      if (bases.isEmpty()) {
        return;
      }
      boolean ownerHeld = heldToPolicies(t.ownerOid(), bases);
      boolean appWrites = t.appSchemaUsage() && t.appCanWrite();
      Severity severity = appWrites && !ownerHeld ? Severity.ERROR : Severity.WARNING;
      StringBuilder force = new StringBuilder();
      for (Relation b : bases) {
        if (b.kind() != 'm' && !b.rlsForced()) {
          force.append("\n-- or hold the owner to the policies: ALTER TABLE ").append(q(b))
              .append(" FORCE ROW LEVEL SECURITY;");
        }
      }
      String fix = "-- replace the rules of " + q(t) + " that name " + names(bases) + " (SELECT rulename FROM"
          + " pg_rules WHERE schemaname = " + quoteLiteral(t.schema()) + " AND tablename = " + quoteLiteral(t.name())
          + ") with a trigger whose function is SECURITY INVOKER:\n-- DROP RULE <rule> ON " + q(t) + ";" + force;
      String kind = t.kind() == 'v' ? "view" : "table";
      add(Rules.RULE_WITH_OWNER_RIGHTS, severity, t.qualifiedName(), (t.kind() == 'v' ? "View " : "Table ")
          + t.qualifiedName() + " has a rewrite rule whose actions reach tenant data (" + names(bases) + "); rule"
          + " actions run with the rights of the " + kind + "'s owner " + t.owner() + ", not of the role whose"
          + " statement fires them" + (t.kind() == 'v' ? " (security_invoker covers only the view's query)" : "")
          + ". "
          + (ownerHeld ? "Not an error because its owner is held to the policies today (not superuser, no BYPASSRLS,"
              + " RLS forced, no open policy for it), so the firing session's tenant setting still applies. It stays"
              + " reported because a later NO FORCE ROW LEVEL SECURITY on a table its owner owns, or a permissive"
              + " policy for the owner's role, turns it into a leak with no change to the rule. "
              : "Its owner is not held to the policies of that data, so a statement that fires the rule reads or"
                  + " changes every tenant's rows. ")
          + (appWrites ? "The application role " + cat.app.name() + " can write to the " + kind + "."
              : "The application role " + cat.app.name() + " cannot write to the " + kind + " today."), fix);
    }

    void materializedViewRule(Relation m) {
      if (!(m.appSchemaUsage() && m.appCanSelect())) {
        return;
      }
      Set<Relation> bases = baseRelations(m);
      TenantColumn column = m.tenantColumns().isEmpty() ? null : m.tenantColumns().get(0);
      String filter = column == null ? "<tenant column> = (select nullif(current_setting('" + setting
          + "', true), '')::<type>)" : quoteIdent(column.name()) + " = (select nullif(current_setting('" + setting
          + "', true), '')::" + column.type() + ")";
      add(Rules.MATERIALIZED_VIEW_READABLE, Severity.ERROR, m.qualifiedName(), "Materialized view "
          + m.qualifiedName() + " holds tenant data (" + (bases.isEmpty() ? "it has a tenant column" : "from "
          + names(bases)) + ") and the application role " + cat.app.name() + " can select from it: materialized"
          + " views have no row-level security, so every tenant's rows are readable.",
          "REVOKE SELECT ON " + q(m) + " FROM PUBLIC, " + quoteIdent(cat.app.name()) + ";\n-- and expose it per"
              + " tenant: CREATE VIEW " + quoteIdent(m.schema()) + "." + quoteIdent(m.name() + "_tenant")
              + " WITH (security_barrier = true) AS SELECT * FROM " + q(m) + " WHERE " + filter + ";");
    }

    /** The tenant tables and materialized views a view or materialized view reads, through views. */
    Set<Relation> baseRelations(Relation start) {
      return baseRelations(start.dependsOn());
    }

    /** The tenant tables and materialized views among {@code start}, and under the views among them. */
    Set<Relation> baseRelations(List<Long> start) {
      Set<Relation> out = new LinkedHashSet<>();
      Set<Long> seen = new HashSet<>();
      Deque<Long> todo = new ArrayDeque<>(start);
      while (!todo.isEmpty()) {
        long oid = todo.pop();
        Relation r = cat.relations.get(oid);
        if (r == null || !seen.add(oid) || !tenantData.contains(oid)) {
          continue;
        }
        if (r.kind() == 'v') {
          todo.addAll(r.dependsOn());
        } else {
          out.add(r);
        }
      }
      return out;
    }

    /**
     * Whether role {@code oid} is held to row-level security on every one of {@code bases}: not superuser or
     * BYPASSRLS, no materialized view among them, RLS enabled (and forced where the role acts as the owner), and no
     * open permissive policy (constant or not bound to the tenant) that applies to the role.
     */
    boolean heldToPolicies(long roleOid, Set<Relation> bases) {
      Role role = cat.roles.get(roleOid);
      if (role == null || role.superuser() || role.bypassRls()) {
        return false;
      }
      for (Relation b : bases) {
        if (b.kind() == 'm' || !b.rlsEnabled() || role.actsAs(b.ownerOid()) && !b.rlsForced()) {
          return false;
        }
        for (ParsedPolicy p : policiesByTable.getOrDefault(b.oid(), List.of())) {
          boolean open = p.hasUsing() && open(p.usingScope) || p.hasCheck() && open(p.checkScope);
          if (p.policy.permissive() && open && p.policy.appliesTo(role)) {
            return false;
          }
        }
      }
      return true;
    }

    boolean open(Scope scope) {
      return scope == Scope.CONSTANT || scope == Scope.UNSCOPED;
    }

    Set<Integer> tenantAttnums(Relation t) {
      Set<Integer> attnums = new HashSet<>();
      for (TenantColumn c : t.tenantColumns()) {
        attnums.add(c.attnum());
      }
      return attnums;
    }

    // ------------------------------------------------------------------------------------------ functions

    void functionRules(Function f) {
      String object = f.object();
      String signature = quoteIdent(f.schema()) + "." + quoteIdent(f.name()) + "(" + f.arguments() + ")";
      String alter = (f.kind() == 'p' ? "ALTER PROCEDURE " : "ALTER FUNCTION ") + signature;
      boolean pathFixed = false;
      for (String c : f.config()) {
        pathFixed |= c.toLowerCase(Locale.ROOT).startsWith("search_path=");
      }
      Catalog.FunctionName called = policyFunctions.containsKey(f.oid()) ? cat.functionNames.get(f.oid()) : null;
      if (!pathFixed && (called == null || !shadowable(called))) { // else policy-function-search-path reports it
        add(Rules.SECURITY_DEFINER_SEARCH_PATH, Severity.WARNING, object, "SECURITY DEFINER " + object
            + " has no fixed search_path, so a caller can shadow the tables or functions it names (in pg_temp, for"
            + " example) and run code as its owner " + f.owner() + ".",
            alter + " SET search_path = pg_catalog, " + quoteIdent(f.schema()) + ", pg_temp;");
      }
      if (!f.appCanExecute()) {
        return;
      }
      Set<Relation> reads = new LinkedHashSet<>();
      for (long dep : f.dependsOn()) {
        Relation r = cat.relations.get(dep);
        if (r != null && tenantData.contains(dep) && r.kind() != 'v') {
          reads.add(r);
        }
      }
      if (!f.language().equals("c") && !f.language().equals("internal")) {
        for (Relation r : cat.relations.values()) {
          if ((isTenantTable(r) || r.kind() == 'm' && tenantData.contains(r.oid())) && mentions(f.source(), r)) {
            reads.add(r);
          }
        }
      }
      Role owner = cat.roles.get(f.ownerOid());
      boolean ownerBypasses = owner == null || owner.superuser() || owner.bypassRls();
      String revoke = "REVOKE EXECUTE ON " + (f.kind() == 'p' ? "PROCEDURE " : "FUNCTION ") + signature
          + " FROM PUBLIC, " + quoteIdent(cat.app.name()) + ";";
      if (!reads.isEmpty()) {
        boolean held = heldToPolicies(f.ownerOid(), reads);
        add(Rules.SECURITY_DEFINER_FUNCTION, held ? Severity.INFO : Severity.ERROR, object, "SECURITY DEFINER "
            + object + " runs as its owner " + f.owner() + " and reads tenant data (" + names(reads) + "); the"
            + " application role " + cat.app.name() + " can execute it. " + (held
            ? "Not an error because the owner is held to the policies of those tables today (not superuser, no"
                + " BYPASSRLS, RLS forced, no open policy for it), so the caller's tenant setting still applies. It"
                + " stays reported because a later NO FORCE ROW LEVEL SECURITY on a table its owner owns, or a"
                + " permissive policy for the owner's role (a maintenance policy, say), turns it into a leak of"
                + " every tenant's rows with no change to the function."
            : "The owner is not held to the policies of the tenant data it reads, so the function sees every"
                + " tenant's rows."),
            held ? null : alter + " SECURITY INVOKER;\n-- or, if it must run as its owner: " + revoke
                + " and filter by the tenant inside it");
      } else if (ownerBypasses) {
        add(Rules.SECURITY_DEFINER_FUNCTION, Severity.WARNING, object, "SECURITY DEFINER " + object + " runs as "
            + f.owner() + ", which bypasses row-level security (superuser or BYPASSRLS), and the application role "
            + cat.app.name() + " can execute it; which tables it reads is unknown (dynamic SQL or another language).",
            alter + " SECURITY INVOKER;\n-- or: " + revoke);
      }
    }

    /**
     * Whether {@code source} names relation {@code r} as a word: {@code orders}, {@code "orders"},
     * {@code billing.orders} (case-insensitively), or {@code "Orders"} exactly for a name that needs quotes.
     */
    boolean mentions(String source, Relation r) {
      Pattern p = namePatterns.computeIfAbsent(r.oid(), k -> {
        String name = Pattern.quote(r.name());
        return r.name().equals(r.name().toLowerCase(Locale.ROOT))
            ? Pattern.compile("(?<![\\w$])(\"?)" + name + "\\1(?![\\w$])", Pattern.CASE_INSENSITIVE)
            : Pattern.compile("\"" + name + "\"");
      });
      return p.matcher(source).find();
    }

    // ------------------------------------------------------------------------------------- foreign keys

    void foreignKeyRule(ForeignKey fk) {
      Relation from = cat.relations.get(fk.tableOid());
      Relation to = cat.relations.get(fk.referencedOid());
      if (from == null || to == null || !isTenantTable(from) || !isTenantTable(to)) {
        return;
      }
      Set<Integer> fromTenant = new HashSet<>();
      from.tenantColumns().forEach(c -> fromTenant.add(c.attnum()));
      Set<Integer> toTenant = new HashSet<>();
      to.tenantColumns().forEach(c -> toTenant.add(c.attnum()));
      for (int i = 0; i < fk.columns().size() && i < fk.referencedColumns().size(); i++) {
        if (fromTenant.contains(fk.columns().get(i)) && toTenant.contains(fk.referencedColumns().get(i))) {
          return;
        }
      }
      String fromTenantColumn = from.tenantColumns().get(0).name();
      String toTenantColumn = to.tenantColumns().get(0).name();
      List<String> fromCols = new ArrayList<>(List.of(fromTenantColumn));
      fromCols.addAll(fk.columnNames());
      List<String> toCols = new ArrayList<>(List.of(toTenantColumn));
      toCols.addAll(fk.referencedColumnNames());
      add(Rules.FOREIGN_KEY_WITHOUT_TENANT, Severity.WARNING, "constraint " + fk.name() + " on " + from.qualifiedName(),
          "Foreign key " + fk.name() + " from " + from.qualifiedName() + " (" + String.join(", ", fk.columnNames())
              + ") to " + to.qualifiedName() + " (" + String.join(", ", fk.referencedColumnNames()) + ") does not"
              + " include the tenant column: a row can reference another tenant's row, and the key check, which"
              + " ignores row-level security, reveals whether an id exists in another tenant.",
          "ALTER TABLE " + q(to) + " ADD UNIQUE (" + idents(toCols) + ");\nALTER TABLE " + q(from)
              + " DROP CONSTRAINT " + quoteIdent(fk.name()) + ", ADD CONSTRAINT " + quoteIdent(fk.name())
              + " FOREIGN KEY (" + idents(fromCols) + ") REFERENCES " + q(to) + " (" + idents(toCols) + ");");
    }

    // ------------------------------------------------------------------- tenant data without a tenant column

    /**
     * Tables without a tenant column that hold tenant data: children (a foreign key path leads from them to a tenant
     * table, through other such children) and tables named in {@code includeTables} are ERRORs when the application
     * role can reach them and they are not tied to the tenant; parents (referenced by tenant tables or children, not
     * through the tenant column) are INFO when the application role can write them.
     */
    void tenantDataWithoutTenantColumnRules() {
      Map<Long, ForeignKey> childVia = new LinkedHashMap<>();
      boolean changed = true;
      while (changed) {
        changed = false;
        for (ForeignKey fk : cat.foreignKeys) {
          Relation from = cat.relations.get(fk.tableOid());
          Relation to = cat.relations.get(fk.referencedOid());
          if (from != null && to != null && lacksTenantColumn(from) && !childVia.containsKey(from.oid())
              && from.oid() != to.oid() && (isTenantTable(to) || childVia.containsKey(to.oid()))) {
            childVia.put(from.oid(), fk);
            changed = true;
          }
        }
      }
      Set<Long> judged = new LinkedHashSet<>(childVia.keySet());
      for (Relation r : cat.relations.values()) {
        if (lacksTenantColumn(r) && includedTables.contains(r.qualifiedName())) {
          judged.add(r.oid());
        }
      }
      // isolated: tenant tables with RLS, and judged tables whose policies tie every row to an isolated parent
      Set<Long> isolated = new HashSet<>();
      for (Relation r : cat.relations.values()) {
        if (isTenantTable(r) && r.rlsEnabled()) {
          isolated.add(r.oid());
        }
      }
      Map<Long, List<ParsedPolicy>> untied = new HashMap<>();
      changed = true;
      while (changed) {
        changed = false;
        for (long oid : judged) {
          Relation r = cat.relations.get(oid);
          if (r == null || isolated.contains(oid) || !r.rlsEnabled()) {
            continue;
          }
          List<ParsedPolicy> open = untiedPolicies(r, isolated);
          untied.put(oid, open);
          if (open.isEmpty()) {
            isolated.add(oid);
            changed = true;
          }
        }
      }
      for (long oid : judged) {
        Relation r = cat.relations.get(oid);
        if (r != null && !isolated.contains(oid) && r.appReachable()) {
          childFinding(r, childVia, untied.getOrDefault(oid, List.of()));
        }
      }
      // parents: shared data as a rule (users, plans, a product catalog); INFO when the application writes them
      Map<Long, ForeignKey> parentVia = new LinkedHashMap<>();
      for (ForeignKey fk : cat.foreignKeys) {
        Relation from = cat.relations.get(fk.tableOid());
        Relation to = cat.relations.get(fk.referencedOid());
        if (from == null || to == null || !lacksTenantColumn(to) || judged.contains(to.oid())
            || !(isTenantTable(from) || judged.contains(from.oid()))) {
          continue;
        }
        Set<Integer> tenant = isTenantTable(from) ? tenantAttnums(from) : Set.of();
        boolean throughTenantColumn = false;
        for (int c : fk.columns()) {
          throughTenantColumn |= tenant.contains(c);
        }
        if (!throughTenantColumn) { // tenant_id REFERENCES tenants (id): the directory of tenants, not their data
          parentVia.putIfAbsent(to.oid(), fk);
        }
      }
      for (Map.Entry<Long, ForeignKey> e : parentVia.entrySet()) {
        Relation p = cat.relations.get(e.getKey());
        if (p == null || p.rlsEnabled() || !(p.appSchemaUsage() && p.appCanWrite())) {
          continue;
        }
        ForeignKey fk = e.getValue();
        Relation child = cat.relations.get(fk.tableOid());
        String childName = child == null ? "?" : child.qualifiedName();
        add(Rules.TENANT_DATA_WITHOUT_TENANT_COLUMN, Severity.INFO, p.qualifiedName(), "Table " + p.qualifiedName()
            + " has no tenant column and no row-level security, is referenced by " + childName + " ("
            + String.join(", ", fk.columnNames()) + ") and the application role " + cat.app.name() + " can write"
            + " it. Fine for data shared by every tenant (users, plans, a catalog); if a row belongs to one tenant"
            + " (an address, a document), every tenant reads and changes every other tenant's rows: give it a"
            + " tenant column, or name it in includeTables to have it judged as tenant data.",
            "-- if it is shared data the application only reads: REVOKE INSERT, UPDATE, DELETE ON " + q(p)
                + " FROM " + quoteIdent(cat.app.name()) + ";\n-- if it is shared data the application writes on"
                + " purpose: COMMENT ON TABLE " + q(p) + " IS 'saaskit-audit: "
                + Rules.TENANT_DATA_WITHOUT_TENANT_COLUMN + " -- <why it is shared>';\n-- if it holds tenant data:"
                + " add the tenant column and the tenant policy (RlsPolicy)");
      }
    }

    /** A table or partitioned table in scope without a tenant column (an ignored table has one: it is neither). */
    boolean lacksTenantColumn(Relation r) {
      return r.isTable() && r.tenantColumns().isEmpty();
    }

    /**
     * The permissive policies on {@code r} that apply to the application role and do not tie every row to a parent
     * in {@code isolated}; empty when all do, when none applies (PostgreSQL then denies every row), or when a
     * restrictive policy for the application ties every command.
     */
    List<ParsedPolicy> untiedPolicies(Relation r, Set<Long> isolated) {
      Expressions ex = expressions();
      List<ParsedPolicy> policies = policiesByTable.getOrDefault(r.oid(), List.of());
      Set<Character> capped = new HashSet<>();
      List<ParsedPolicy> open = new ArrayList<>();
      for (ParsedPolicy p : policies) {
        if (!p.policy.appliesToApp()) {
          continue;
        }
        boolean usingTied = !p.hasUsing() || p.using == null || tied(ex.classifyThroughParent(p.using, isolated));
        Value check = p.effectiveCheck();
        boolean checkTied = !p.hasCheck() || check == null || tied(ex.classifyThroughParent(check, isolated));
        if (!p.policy.permissive()) {
          for (char c : COMMANDS.toCharArray()) {
            if (p.covers(c) && usingTied && checkTied) {
              capped.add(c);
            }
          }
        } else if (!usingTied || !checkTied) {
          open.add(p);
        }
      }
      open.removeIf(p -> {
        for (char c : COMMANDS.toCharArray()) {
          if (p.covers(c) && !capped.contains(c)) {
            return false;
          }
        }
        return true;
      });
      return open;
    }

    boolean tied(Scope scope) {
      return scope == Scope.TENANT_BOUND || scope == Scope.DENY;
    }

    void childFinding(Relation r, Map<Long, ForeignKey> childVia, List<ParsedPolicy> untied) {
      ForeignKey fk = childVia.get(r.oid());
      Relation parent = fk == null ? null : cat.relations.get(fk.referencedOid());
      Relation root = parent;
      Set<Long> seen = new HashSet<>();
      while (root != null && !isTenantTable(root) && seen.add(root.oid())) {
        ForeignKey up = childVia.get(root.oid());
        root = up == null ? null : cat.relations.get(up.referencedOid());
      }
      String access = r.appCanSelect() && r.appCanWrite() ? "read and write" : r.appCanSelect() ? "read" : "write";
      StringBuilder msg = new StringBuilder("Table " + r.qualifiedName() + " has no tenant column but holds tenant"
          + " data: ");
      if (fk != null && parent != null) {
        msg.append("it references ").append(parent.qualifiedName()).append(" (")
            .append(String.join(", ", fk.columnNames())).append(')');
        if (root != null && root.oid() != parent.oid()) {
          msg.append(", which leads to the tenant table ").append(root.qualifiedName());
        } else {
          msg.append(", a tenant table");
        }
      } else {
        msg.append("it is named in includeTables");
      }
      msg.append(". The application role ").append(cat.app.name()).append(" can ").append(access).append(" it and ");
      if (!r.rlsEnabled()) {
        msg.append("row-level security is disabled, so every tenant ").append(r.appCanSelect() ? "reads" : "writes")
            .append(" every other tenant's rows through it.");
      } else {
        StringJoiner names = new StringJoiner(", ");
        untied.forEach(p -> names.add(p.policy.name() + " (" + expressionText(p) + ")"));
        msg.append(untied.size() == 1 ? "its policy " : "its policies ").append(names)
            .append(untied.size() == 1 ? " does" : " do").append(" not tie each row to an isolated parent (EXISTS"
                + " or IN over a tenant table with row-level security, joined on the row's key), so it admits other"
                + " tenants' rows.");
      }
      msg.append(" Recommended: a tenant column with a composite foreign key (an index on it serves every query;"
          + " the key keeps child and parent in one tenant); a policy through the parent works but runs a sub-query"
          + " per row.");
      add(Rules.TENANT_DATA_WITHOUT_TENANT_COLUMN, Severity.ERROR, r.qualifiedName(), msg.toString(),
          childFix(r, fk, parent, root));
    }

    String childFix(Relation r, @Nullable ForeignKey fk, @Nullable Relation parent, @Nullable Relation root) {
      String table = q(r);
      if (fk == null || parent == null) {
        return "-- recommended: add the tenant column (NOT NULL, filled from the rows' owners), then RlsPolicy's"
            + " statements for " + table + ";\nALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY;\nALTER TABLE "
            + table + " FORCE ROW LEVEL SECURITY;";
      }
      TenantColumn tc = root == null || root.tenantColumns().isEmpty() ? null : root.tenantColumns().get(0);
      String column = tc == null ? tenantColumns.get(0) : tc.name();
      String type = tc == null ? "<type>" : tc.type();
      StringJoiner join = new StringJoiner(" AND ");
      for (int i = 0; i < fk.columnNames().size() && i < fk.referencedColumnNames().size(); i++) {
        join.add("p." + quoteIdent(fk.referencedColumnNames().get(i)) + " = " + quoteIdent(r.name()) + "."
            + quoteIdent(fk.columnNames().get(i)));
      }
      StringJoiner fill = new StringJoiner(" AND ");
      for (int i = 0; i < fk.columnNames().size() && i < fk.referencedColumnNames().size(); i++) {
        fill.add("p." + quoteIdent(fk.referencedColumnNames().get(i)) + " = c." + quoteIdent(fk.columnNames().get(i)));
      }
      List<String> fromCols = new ArrayList<>(List.of(column));
      fromCols.addAll(fk.columnNames());
      List<String> toCols = new ArrayList<>(List.of(column));
      toCols.addAll(fk.referencedColumnNames());
      String col = quoteIdent(column);
      StringBuilder sql = new StringBuilder();
      sql.append("-- recommended: carry the tenant like every tenant table (indexable; the key keeps a row in its"
          + " parent's tenant),\n-- run by a role that sees every tenant's rows (the UPDATE reads the parent, whose"
          + " forced policies hide all rows from its owner)\n");
      if (root == null || root.oid() != parent.oid()) {
        sql.append("-- (give ").append(parent.qualifiedName()).append(" its tenant column first: see its finding)\n");
      }
      sql.append("ALTER TABLE ").append(table).append(" ADD COLUMN ").append(col).append(' ').append(type)
          .append(";\nUPDATE ").append(table).append(" c SET ").append(col).append(" = p.").append(col)
          .append(" FROM ").append(q(parent)).append(" p WHERE ").append(fill).append(";\nALTER TABLE ")
          .append(table).append(" ALTER COLUMN ").append(col).append(" SET NOT NULL;\nALTER TABLE ")
          .append(q(parent)).append(" ADD UNIQUE (").append(idents(toCols)).append(");\nALTER TABLE ").append(table)
          .append(" DROP CONSTRAINT ").append(quoteIdent(fk.name())).append(", ADD CONSTRAINT ")
          .append(quoteIdent(fk.name())).append(" FOREIGN KEY (").append(idents(fromCols)).append(") REFERENCES ")
          .append(q(parent)).append(" (").append(idents(toCols)).append(");\n");
      TenantColumnType known = tc == null ? null : columnType(tc.type());
      if (known != null) {
        for (String statement : RlsPolicy.forTable(r.schema(), r.name()).tenantColumn(column).columnType(known)
            .tenantSetting(TenantSetting.of(setting)).build().statements()) {
          sql.append(statement).append(";\n");
        }
      } else {
        sql.append("-- then row-level security and the tenant policy (RlsPolicy writes them)\n");
      }
      String through = "EXISTS (SELECT 1 FROM " + q(parent) + " p WHERE " + join + ")";
      sql.append("-- or, with no schema change (a sub-query per row; the parent's policies apply inside it):\n")
          .append("ALTER TABLE ").append(table).append(" ENABLE ROW LEVEL SECURITY;\nALTER TABLE ").append(table)
          .append(" FORCE ROW LEVEL SECURITY;\nCREATE POLICY ").append(quoteIdent("tenant_through_parent"))
          .append(" ON ").append(table).append(" USING (").append(through).append(") WITH CHECK (").append(through)
          .append(");");
      return sql.toString();
    }

    // ------------------------------------------------------------------------------------- foreign tables

    void foreignTableRule(Relation f) {
      if (!f.appReachable()) {
        return;
      }
      boolean tenant = !f.tenantColumns().isEmpty() && !ignoredTables.contains(f.qualifiedName());
      String filter = tenant
          ? quoteIdent(f.tenantColumns().get(0).name()) + " = (select nullif(current_setting('" + setting
              + "', true), '')::" + f.tenantColumns().get(0).type() + ")"
          : "<tenant column> = (select nullif(current_setting('" + setting + "', true), '')::<type>)";
      add(Rules.FOREIGN_TABLE_READABLE, tenant ? Severity.ERROR : Severity.WARNING, f.qualifiedName(),
          "Foreign table " + f.qualifiedName() + " is " + (f.appCanSelect() ? "readable" : "writable")
              + " by the application role " + cat.app.name() + ", and row-level security cannot be enabled on a"
              + " foreign table: " + (tenant ? "it has a tenant column (" + columnNames(f) + "), so every tenant"
              + " reaches every tenant's rows through it." : "whatever it holds is the same for every tenant; if"
              + " rows belong to tenants, every tenant sees them all."),
          "REVOKE ALL ON " + q(f) + " FROM PUBLIC, " + quoteIdent(cat.app.name()) + ";\n-- and, if tenants need"
              + " it, expose it per tenant: CREATE VIEW " + quoteIdent(f.schema()) + "."
              + quoteIdent(f.name() + "_tenant") + " WITH (security_barrier = true) AS SELECT * FROM " + q(f)
              + " WHERE " + filter + ";");
    }

    // ------------------------------------------------------------------------------ functions in policies

    /** Functions called by policies without a fixed search_path: the querying session resolves their names. */
    void policyFunctionRules() {
      for (Map.Entry<Long, List<ParsedPolicy>> e : policyFunctions.entrySet()) {
        Catalog.FunctionName f = cat.functionNames.get(e.getKey());
        if (f == null || !shadowable(f)) {
          continue;
        }
        boolean forApp = false;
        StringJoiner callers = new StringJoiner(", ");
        for (ParsedPolicy p : e.getValue()) {
          forApp |= p.policy.appliesToApp();
          Relation t = cat.relations.get(p.policy.tableOid());
          callers.add(p.policy.name() + " on " + (t == null ? "?" : t.qualifiedName()));
        }
        String object = "function " + f.schema() + "." + f.name() + "(" + f.arguments() + ")";
        String signature = quoteIdent(f.schema()) + "." + quoteIdent(f.name()) + "(" + f.arguments() + ")";
        add(Rules.POLICY_FUNCTION_SEARCH_PATH, forApp ? Severity.ERROR : Severity.WARNING, object,
            (f.securityDefiner() ? "SECURITY DEFINER " : "") + object + " is called by "
                + (e.getValue().size() == 1 ? "policy " : "policies ") + callers + " and has no fixed search_path:"
                + " it resolves the names in its body with the querying session's search_path, so "
                + (forApp ? "the application role " + cat.app.name() : "the roles those policies apply to")
                + " can shadow a table it reads with a temporary table (pg_temp is searched first) or a function"
                + " with one in a schema put first, and the policy then decides on what that returns."
                + (forApp ? "" : " Only roles other than the application role are concerned."),
            "ALTER FUNCTION " + signature + " SET search_path = pg_catalog, " + quoteIdent(f.schema())
                + ", pg_temp;\n-- (a SET clause stops a SQL function from being inlined: keep the call in a"
                + " (SELECT ...) so that it runs once per statement)");
      }
    }

    /** A user's function whose body could resolve names through the caller's search_path. */
    boolean shadowable(Catalog.FunctionName f) {
      return !f.schema().equals("pg_catalog") && !f.schema().equals("information_schema") && !f.extensionMember()
          && !f.language().equals("c") && !f.language().equals("internal") && !f.searchPathFixed();
    }

    // --------------------------------------------------------------------------- values the client can set

    /**
     * Tenant policies whose tenant comes from something the application role can change: a setting other than the
     * tenant setting (nothing resets it between requests), or a column it may update or rows it may insert, in a
     * table without row-level security.
     */
    void clientValueRules() {
      Map<String, Catalog.ColumnAccess> access = new HashMap<>();
      for (Catalog.ColumnAccess a : columnAccess) {
        access.put(a.relid() + ":" + a.attnum(), a);
      }
      for (Map.Entry<ParsedPolicy, Expressions.TenantSources> e : tenantSources.entrySet()) {
        ParsedPolicy p = e.getKey();
        Relation t = cat.relations.get(p.policy.tableOid());
        if (t == null) {
          continue;
        }
        List<String> reasons = new ArrayList<>();
        for (String name : e.getValue().settings()) {
          Catalog.SettingAccess s = settingAccess.get(name);
          if (s != null && s.appCanSet()) {
            reasons.add("the setting " + name + ", which any role can SET and which is not the tenant setting "
                + setting + " (the one saaskit binds per transaction and clears: " + name + " keeps its last value"
                + " on a pooled connection)");
          }
        }
        Set<String> seen = new HashSet<>();
        for (long[] col : e.getValue().columns()) {
          Catalog.ColumnAccess a = access.get(col[0] + ":" + col[1]);
          if (a == null || a.rlsEnabled() || !(a.appCanUpdate() || a.appCanInsert())
              || !seen.add(a.relation() + "." + a.column())) {
            continue;
          }
          reasons.add("the column " + a.relation() + "." + a.column() + ", in a table without row-level security"
              + " where the application role can " + (a.appCanUpdate() ? "UPDATE that column" : "")
              + (a.appCanUpdate() && a.appCanInsert() ? " and " : "") + (a.appCanInsert() ? "INSERT rows" : ""));
        }
        if (reasons.isEmpty()) {
          continue;
        }
        boolean forApp = p.policy.appliesToApp();
        String object = "policy " + p.policy.name() + " on " + t.qualifiedName();
        add(Rules.POLICY_TRUSTS_CLIENT_VALUE, forApp ? Severity.ERROR : Severity.INFO, object, "Policy "
            + p.policy.name() + " on " + t.qualifiedName() + " (" + describe(p.policy) + ") takes the tenant from "
            + String.join("; and from ", reasons) + ": " + (forApp ? "the application role " + cat.app.name()
            + " can change it and so choose which tenant's rows it sees." : "the roles it applies to can change"
            + " it; it does not apply to the application role."),
            forApp ? standardPolicyFix(t, p) + "\n-- or keep the lookup, but in a table with row-level security"
                + " whose WITH CHECK binds the tenant, or that the application role cannot write" : null);
      }
    }

    // ---------------------------------------------------------------------------------------- helpers

    List<Value> trees(ParsedPolicy p) {
      List<Value> out = new ArrayList<>(2);
      if (p.using != null) {
        out.add(p.using);
      }
      if (p.check != null) {
        out.add(p.check);
      }
      return out;
    }

    Expressions expressions() {
      Expressions ex = expressions;
      if (ex == null) {
        throw new IllegalStateException("names not resolved yet");
      }
      return ex;
    }

    /** The tenant predicate in saaskit's standard form, exactly as {@link RlsPolicy} writes it. */
    String predicate(Relation t) {
      TenantColumn c = t.tenantColumns().get(0);
      TenantColumnType type = columnType(c.type());
      if (type != null) {
        return policyFor(t, c, type).usingExpression();
      }
      return quoteIdent(c.name()) + " = (select nullif(current_setting('" + setting + "', true), '')::" + c.type()
          + ")";
    }

    String createPolicy(Relation t) {
      TenantColumn c = t.tenantColumns().get(0);
      TenantColumnType type = columnType(c.type());
      if (type != null) {
        List<String> statements = policyFor(t, c, type).statements();
        return statements.get(statements.size() - 1) + ";";
      }
      String pred = predicate(t);
      return "CREATE POLICY " + quoteIdent(RlsPolicy.DEFAULT_POLICY_NAME) + " ON " + q(t) + " AS PERMISSIVE FOR ALL"
          + " TO PUBLIC USING (" + pred + ") WITH CHECK (" + pred + ");";
    }

    RlsPolicy policyFor(Relation t, TenantColumn c, TenantColumnType type) {
      return RlsPolicy.forTable(t.schema(), t.name()).tenantColumn(c.name()).columnType(type).tenantSetting(TenantSetting.of(setting))
          .build();
    }

    void add(String rule, Severity severity, String object, String message, @Nullable String fix) {
      findings.add(new Finding(rule, severity, object, message, Optional.ofNullable(fix)));
    }
  }

  private static @Nullable TenantColumnType columnType(String sqlType) {
    for (TenantColumnType t : TenantColumnType.values()) {
      if (t.sqlType().equals(sqlType)) {
        return t;
      }
    }
    return null;
  }

  private static String q(Relation r) {
    return quoteIdent(r.schema()) + "." + quoteIdent(r.name());
  }

  private static String idents(List<String> names) {
    StringJoiner j = new StringJoiner(", ");
    names.forEach(n -> j.add(quoteIdent(n)));
    return j.toString();
  }

  private static String columnNames(Relation t) {
    StringJoiner j = new StringJoiner(", ");
    t.tenantColumns().forEach(c -> j.add(c.name()));
    return j.toString();
  }

  private static String names(Set<Relation> relations) {
    StringJoiner j = new StringJoiner(", ");
    relations.forEach(r -> j.add(r.qualifiedName()));
    return j.length() == 0 ? "through other views" : j.toString();
  }

  private static String policyNames(List<ParsedPolicy> policies) {
    StringJoiner j = new StringJoiner(", ");
    policies.forEach(p -> j.add(p.policy.name()));
    return j.toString();
  }

  private static String describe(Policy p) {
    return (p.permissive() ? "" : "RESTRICTIVE, ") + "FOR " + commandName(p.command()) + " TO "
        + String.join(", ", p.roles());
  }

  private static String commandName(char c) {
    switch (c) {
      case 'r': return "SELECT";
      case 'a': return "INSERT";
      case 'w': return "UPDATE";
      case 'd': return "DELETE";
      default: return "ALL";
    }
  }

  private static String expressionText(ParsedPolicy p) {
    StringJoiner j = new StringJoiner(", ");
    if (p.policy.usingText() != null) {
      j.add(clause("USING", p.policy.usingText()));
    }
    if (p.policy.checkText() != null) {
      j.add(clause("WITH CHECK", p.policy.checkText()));
    }
    return j.toString();
  }

  /** {@code USING (expr)}, without doubling the parentheses PostgreSQL already puts around most expressions. */
  private static String clause(String keyword, @Nullable String text) {
    String e = shorten(text);
    return keyword + (e.startsWith("(") && e.endsWith(")") ? " " + e : " (" + e + ")");
  }

  private static String shorten(@Nullable String text) {
    if (text == null) {
      return "";
    }
    String oneLine = text.replaceAll("\\s+", " ").trim();
    return oneLine.length() <= MAX_EXPRESSION_CHARS ? oneLine : oneLine.substring(0, MAX_EXPRESSION_CHARS) + "...";
  }

  private static @Nullable Value tree(@Nullable String text) {
    if (text == null || text.isBlank()) {
      return null;
    }
    try {
      return NodeTree.parse(text);
    } catch (IllegalArgumentException e) {
      return null; // an unreadable tree is not judged (it would be a bug in the reader)
    }
  }
}
