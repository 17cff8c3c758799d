package dev.saaskit.core.internal;

import dev.saaskit.core.SaasException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Applies a module's plain SQL migrations (Flyway-style {@code V<n>__<name>.sql} files) to one schema, recording
 * them in {@code <schema>.saaskit_schema_history}, so apps on Flyway, Liquibase or nothing can adopt a module.
 *
 * <p>The scripts live in a resource folder next to a {@code migrations.list} file naming them in order (class
 * path folders cannot be listed portably). Scripts may use {@code ${name}} placeholders; an unknown placeholder
 * is an error, so a typo never reaches the database. Everything runs in one transaction under an advisory lock
 * per schema: concurrent starts apply each script once, and a failing script leaves nothing behind. An applied
 * script whose text changed since (SHA-256 of the text after substitution) is reported, not re-run; a schema
 * migrated by a newer library version (versions this one does not know) is refused. Not API.
 */
public final class SchemaMigrations {
  private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([A-Za-z0-9_]+)}");
  private static final Pattern SCRIPT_NAME = Pattern.compile("V([0-9]+)__[A-Za-z0-9_]+\\.sql");
  /** The history table each migrated schema gets. */
  public static final String HISTORY_TABLE = "saaskit_schema_history";

  private final Class<?> anchor;
  private final String resourceFolder;
  private final String schema;
  private final Map<String, String> placeholders;

  /**
   * @param anchor a class of the module, whose class loader finds the scripts
   * @param resourceFolder the folder holding {@code migrations.list}, e.g. {@code db/saaskit/jobs}
   * @param schema the schema the module's tables live in; also the {@code ${schema}} placeholder (quoted)
   * @param placeholders further placeholder values, inserted as given (callers validate them)
   */
  public SchemaMigrations(Class<?> anchor, String resourceFolder, String schema, Map<String, String> placeholders) {
    this.anchor = Objects.requireNonNull(anchor, "anchor");
    this.resourceFolder = Objects.requireNonNull(resourceFolder, "resourceFolder");
    this.schema = SqlNames.requireIdentifier("schema", schema);
    Map<String, String> all = new HashMap<>(placeholders);
    all.put("schema", SqlNames.quoteIdent(schema));
    this.placeholders = Map.copyOf(all);
  }

  /**
   * Applies the scripts not applied yet, in one transaction, and returns the names of those it applied.
   *
   * @throws SaasException if a script fails (nothing is kept) or an applied script was changed
   */
  public List<String> apply(Connection connection) {
    List<String> scripts = scriptNames();
    boolean autoCommit;
    try {
      autoCommit = connection.getAutoCommit();
    } catch (SQLException e) {
      throw new SaasException("cannot read the connection's auto-commit mode", e);
    }
    List<String> applied = new ArrayList<>();
    try {
      connection.setAutoCommit(false);
      String quoted = SqlNames.quoteIdent(schema);
      try (Statement st = connection.createStatement()) {
        st.execute("SELECT pg_advisory_xact_lock(hashtext(" + SqlNames.quoteLiteral("saaskit:" + schema) + "))");
        st.execute("CREATE SCHEMA IF NOT EXISTS " + quoted);
        st.execute("CREATE TABLE IF NOT EXISTS " + quoted + "." + HISTORY_TABLE + " ("
            + " version integer PRIMARY KEY,"
            + " description text NOT NULL,"
            + " script text NOT NULL,"
            + " checksum text NOT NULL,"
            + " installed_by text NOT NULL DEFAULT current_user,"
            + " installed_at timestamptz NOT NULL DEFAULT now(),"
            + " execution_ms bigint NOT NULL)");
      }
      Map<Integer, String> done = new HashMap<>();
      try (Statement st = connection.createStatement();
          ResultSet rs = st.executeQuery("SELECT version, checksum FROM " + quoted + "." + HISTORY_TABLE)) {
        while (rs.next()) {
          done.put(rs.getInt(1), rs.getString(2));
        }
      }
      for (String script : scripts) {
        int version = version(script);
        String sql = substitute(script, read(script));
        String checksum = checksum(sql);
        String recorded = done.remove(version);
        if (recorded != null) {
          if (!recorded.equals(checksum)) {
            throw new SaasException("migration " + script + " of schema " + schema + " was changed after it was"
                + " applied; restore the original script or repair " + schema + "." + HISTORY_TABLE);
          }
          continue;
        }
        long start = System.nanoTime();
        try (Statement st = connection.createStatement()) {
          st.execute(sql);
        } catch (SQLException e) {
          throw new SaasException("migration " + script + " of schema " + schema + " failed: " + e.getMessage(), e);
        }
        try (PreparedStatement ps = connection.prepareStatement("INSERT INTO " + quoted + "." + HISTORY_TABLE
            + " (version, description, script, checksum, execution_ms) VALUES (?, ?, ?, ?, ?)")) {
          ps.setInt(1, version);
          ps.setString(2, description(script));
          ps.setString(3, script);
          ps.setString(4, checksum);
          ps.setLong(5, (System.nanoTime() - start) / 1_000_000);
          ps.executeUpdate();
        }
        applied.add(script);
      }
      if (!done.isEmpty()) {
        throw new SaasException("schema " + schema + " has migrations " + done.keySet() + " that this library"
            + " version does not know: a newer version migrated it; upgrade this node");
      }
      connection.commit();
      return List.copyOf(applied);
    } catch (SQLException | RuntimeException e) {
      try {
        connection.rollback();
      } catch (SQLException rollbackFailure) {
        e.addSuppressed(rollbackFailure);
      }
      if (e instanceof SaasException se) {
        throw se;
      }
      throw new SaasException("migrating schema " + schema + " failed: " + e.getMessage(), e);
    } finally {
      try {
        connection.setAutoCommit(autoCommit);
      } catch (SQLException ignored) {
        // the connection is broken; the caller's pool will discard it
      }
    }
  }

  /**
   * Runs {@code statements} (DDL or grants) in one transaction on {@code connection}, committing them all or none,
   * and restores its auto-commit mode.
   *
   * @throws SQLException from the first statement that failed (everything is rolled back)
   */
  public static void executeAll(Connection connection, List<String> statements) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    connection.setAutoCommit(false);
    try (Statement st = connection.createStatement()) {
      for (String sql : statements) {
        st.execute(sql);
      }
      connection.commit();
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    } finally {
      connection.setAutoCommit(autoCommit);
    }
  }

  /**
   * The grant statements of every listed script that has some ({@code grants/V<n>.sql} next to the scripts; the
   * placeholders {@code ${schema}} and {@code ${role}}, comment lines dropped), preceded by {@code USAGE} on the
   * schema and {@code SELECT} on its history table, ready for {@link #executeAll}.
   *
   * @param role the application role, checked as an identifier and quoted here
   */
  public List<String> grantStatements(String role) {
    String r = SqlNames.quoteIdent(SqlNames.requireIdentifier("role", Objects.requireNonNull(role, "role")));
    String s = SqlNames.quoteIdent(schema);
    List<String> statements = new ArrayList<>();
    statements.add("GRANT USAGE ON SCHEMA " + s + " TO " + r);
    statements.add("GRANT SELECT ON " + s + "." + HISTORY_TABLE + " TO " + r);
    for (String script : scriptNames()) {
      String text = readOptional("grants/V" + version(script) + ".sql");
      if (text == null) {
        continue;
      }
      for (String sql : text.replace("${schema}", s).replace("${role}", r).split(";", -1)) {
        StringBuilder kept = new StringBuilder();
        for (String line : sql.lines().toList()) {
          if (!line.strip().startsWith("--")) {
            kept.append(line).append('\n');
          }
        }
        String statement = kept.toString().strip();
        if (!statement.isEmpty()) {
          statements.add(statement);
        }
      }
    }
    return List.copyOf(statements);
  }

  /** The script names listed in {@code migrations.list}, in order. */
  public List<String> scriptNames() {
    String list = read("migrations.list");
    List<String> names = new ArrayList<>();
    int last = 0;
    for (String line : list.lines().toList()) {
      String name = line.strip();
      if (name.isEmpty() || name.startsWith("#")) {
        continue;
      }
      if (!SCRIPT_NAME.matcher(name).matches()) {
        throw new SaasException("bad migration name '" + name + "' in " + resourceFolder + "/migrations.list");
      }
      int version = version(name);
      if (version <= last) {
        throw new SaasException("migrations in " + resourceFolder + "/migrations.list must have increasing versions");
      }
      last = version;
      names.add(name);
    }
    return List.copyOf(names);
  }

  private static int version(String script) {
    Matcher m = SCRIPT_NAME.matcher(script);
    if (!m.matches()) {
      throw new SaasException("bad migration name '" + script + "'");
    }
    return Integer.parseInt(m.group(1));
  }

  private String substitute(String script, String text) {
    Matcher m = PLACEHOLDER.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String value = placeholders.get(m.group(1));
      if (value == null) {
        throw new SaasException("migration " + script + " uses the unknown placeholder ${" + m.group(1) + "}");
      }
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    }
    m.appendTail(out);
    return out.toString();
  }

  private String read(String file) {
    String text = readOptional(file);
    if (text == null) {
      throw new SaasException("migration resource " + resourceFolder + "/" + file + " is missing from the class path");
    }
    return text;
  }

  private @Nullable String readOptional(String file) {
    String path = resourceFolder + "/" + file;
    ClassLoader loader = anchor.getClassLoader();
    try (InputStream in = loader == null ? ClassLoader.getSystemResourceAsStream(path) : loader.getResourceAsStream(path)) {
      return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new SaasException("cannot read migration resource " + path, e);
    }
  }

  /** The latest version the listed scripts define, 0 if none. */
  public int latestVersion() {
    List<String> names = scriptNames();
    return names.isEmpty() ? 0 : version(names.get(names.size() - 1));
  }

  private static String description(String script) {
    return script.substring(script.indexOf("__") + 2, script.length() - ".sql".length()).replace('_', ' ');
  }

  private static String checksum(String sql) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(sql.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
