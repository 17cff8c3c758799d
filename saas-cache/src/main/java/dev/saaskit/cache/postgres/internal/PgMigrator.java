package dev.saaskit.cache.postgres.internal;

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
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * Applies the cache schema's migrations (plain SQL files on the class path, listed in {@code migrations.list}) in
 * one transaction, under an advisory lock so that nodes starting together migrate once, and records each in the
 * schema's own history table with a checksum.
 */
public final class PgMigrator {
  /** Class-path folder of the scripts. */
  public static final String LOCATION = "/db/saaskit/cache/";
  /** History table, in the cache schema. */
  public static final String HISTORY_TABLE = "saaskit_schema_history";

  private static final Pattern FILE_NAME = Pattern.compile("V(\\d+)__([A-Za-z0-9_]+)\\.sql");
  /** Advisory lock class for saaskit cache migrations; the second key is the schema name's hash. */
  private static final int LOCK_CLASS = 0x5CAC0001;

  private PgMigrator() {}

  /** One migration script. */
  public record Script(int version, String description, String fileName, String sql, String checksum) {}

  /** Loads every script listed in {@code migrations.list}, in version order. */
  public static List<Script> scripts() {
    String list = read(LOCATION + "migrations.list");
    List<Script> scripts = new ArrayList<>();
    int last = 0;
    for (String line : list.split("\n")) {
      String name = line.strip();
      if (name.isEmpty() || name.startsWith("#")) {
        continue;
      }
      Matcher m = FILE_NAME.matcher(name);
      if (!m.matches()) {
        throw new IllegalStateException("malformed migration file name " + name);
      }
      int version = Integer.parseInt(m.group(1));
      if (version != last + 1) {
        throw new IllegalStateException("migration " + name + " does not follow version " + last);
      }
      last = version;
      String sql = read(LOCATION + name);
      scripts.add(new Script(version, m.group(2).replace('_', ' '), name, sql, sha256(sql)));
    }
    return scripts;
  }

  /** The latest version the scripts define. */
  public static int latestVersion() {
    List<Script> scripts = scripts();
    return scripts.get(scripts.size() - 1).version();
  }

  /**
   * Brings schema {@code schema} up to the latest version.
   *
   * @return the number of scripts applied (0 when it was up to date)
   */
  public static int migrate(DataSource owner, String schema) {
    List<Script> scripts = scripts();
    try (Connection c = owner.getConnection()) {
      checkServer(c);
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        int applied = migrate(c, schema, scripts);
        c.commit();
        return applied;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(autoCommit);
      }
    } catch (SQLException e) {
      throw new SaasException("Could not migrate the cache schema " + schema + ": " + e.getMessage()
          + ". Run the migration as the role that owns (or may create) the schema.", e);
    }
  }

  private static int migrate(Connection c, String schema, List<Script> scripts) throws SQLException {
    String s = PgSql.ident(schema);
    try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(?, hashtext(?))")) {
      lock.setInt(1, LOCK_CLASS);
      lock.setString(2, schema);
      lock.execute();
    }
    try (Statement st = c.createStatement()) {
      st.execute("CREATE SCHEMA IF NOT EXISTS " + s);
      st.execute("CREATE TABLE IF NOT EXISTS " + s + "." + HISTORY_TABLE + " ("
          + " version integer PRIMARY KEY,"
          + " description text NOT NULL,"
          + " script text NOT NULL,"
          + " checksum text NOT NULL,"
          + " installed_by text NOT NULL DEFAULT current_user,"
          + " installed_at timestamptz NOT NULL DEFAULT now(),"
          + " execution_ms bigint NOT NULL)");
    }
    Map<Integer, String> done = new LinkedHashMap<>();
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT version, checksum FROM " + s + "." + HISTORY_TABLE + " ORDER BY 1")) {
      while (rs.next()) {
        done.put(rs.getInt(1), rs.getString(2));
      }
    }
    int applied = 0;
    for (Script script : scripts) {
      String checksum = done.remove(script.version());
      if (checksum != null) {
        if (!checksum.equals(script.checksum())) {
          throw new SaasException("Cache schema " + schema + " recorded migration " + script.fileName()
              + " with another checksum than this library's copy: the schema was changed by a different version."
              + " Compare " + s + "." + HISTORY_TABLE + " with the scripts in saas-cache " + LOCATION);
        }
        continue;
      }
      long start = System.nanoTime();
      try (Statement st = c.createStatement()) {
        st.execute(script.sql().replace("${schema}", s));
      }
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + "." + HISTORY_TABLE
          + " (version, description, script, checksum, execution_ms) VALUES (?, ?, ?, ?, ?)")) {
        ps.setInt(1, script.version());
        ps.setString(2, script.description());
        ps.setString(3, script.fileName());
        ps.setString(4, script.checksum());
        ps.setLong(5, (System.nanoTime() - start) / 1_000_000);
        ps.executeUpdate();
      }
      applied++;
    }
    if (!done.isEmpty()) {
      throw new SaasException("Cache schema " + schema + " is at version " + done.keySet()
          + ", newer than this library knows (" + scripts.size() + "): upgrade saas-cache on this node.");
    }
    return applied;
  }

  /** Fails unless the server is a primary of a supported version. */
  public static void checkServer(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT current_setting('server_version_num')::int, pg_is_in_recovery()")) {
      rs.next();
      int version = rs.getInt(1);
      if (version < PgSql.MIN_SERVER_VERSION) {
        throw new SaasException("The PostgreSQL invalidation bus needs PostgreSQL 14 or later, but the server is "
            + version + ".");
      }
      if (rs.getBoolean(2)) {
        throw new SaasException("The PostgreSQL invalidation bus must use the primary server, but this connection"
            + " is to a standby (pg_is_in_recovery() is true): point its DataSource at the primary.");
      }
    }
  }

  private static String read(String resource) {
    try (InputStream in = PgMigrator.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing class-path resource " + resource + " (a broken saas-cache jar?)");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("could not read " + resource, e);
    }
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
