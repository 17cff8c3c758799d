package dev.saaskit.examples.quickstart;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.StartupGuard;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.tenancy.UnsafeDatabaseSetupException;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * saaskit quickstart: tenants isolated by PostgreSQL Row-Level Security in one shared table, a background job per
 * tenant on a worker role, and a cache invalidated across two nodes through PostgreSQL.
 *
 * <p>Set {@code DATABASE_URL} to a superuser JDBC URL (for example
 * {@code jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres}) to use your own server; otherwise an embedded
 * PostgreSQL is started and stopped. The program (re)creates the database {@code quickstart} and two roles, as in
 * production: {@code quickstart_owner} owns the tables and runs migrations, {@code quickstart_app} is what the
 * application logs in as (no superuser, no BYPASSRLS, DML grants only).
 */
public final class QuickstartApp {
  private static final String DATABASE = "quickstart";
  private static final String OWNER = "quickstart_owner";
  private static final String APP = "quickstart_app";
  private static final String WORKER = "quickstart_worker";
  private static final TenantId ACME = TenantId.of("acme");
  private static final TenantId GLOBEX = TenantId.of("globex");

  private QuickstartApp() {}

  public static void main(String[] args) throws Exception {
    String databaseUrl = System.getenv("DATABASE_URL");
    if (databaseUrl != null && !databaseUrl.isBlank()) {
      System.out.println("Using the PostgreSQL server of DATABASE_URL");
      run(databaseUrl);
    } else {
      System.out.println("DATABASE_URL not set: starting an embedded PostgreSQL (a few seconds)...");
      try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
        run(postgres.getJdbcUrl("postgres", "postgres"));
      }
    }
  }

  private static void run(String superuserUrl) throws Exception {
    // Passwords would come from your secret store; here a fresh random one per run.
    String ownerPassword = randomPassword();
    String appPassword = randomPassword();
    String workerPassword = randomPassword();

    // 1. As the superuser: a fresh database and the two roles (dropped first, so the program can be re-run).
    try (Connection c = dataSource(superuserUrl, "postgres", null, null).getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + DATABASE + " WITH (FORCE)");
      s.execute("DROP ROLE IF EXISTS " + APP);
      s.execute("DROP ROLE IF EXISTS " + WORKER);
      s.execute("DROP ROLE IF EXISTS " + OWNER);
      s.execute("CREATE ROLE " + OWNER + " LOGIN PASSWORD '" + ownerPassword + "'");
      s.execute("CREATE ROLE " + APP + " LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '"
          + appPassword + "'");
      s.execute("CREATE ROLE " + WORKER + " LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '"
          + workerPassword + "'");
      s.execute("CREATE DATABASE " + DATABASE + " OWNER " + OWNER);
    }

    // 2. As the owner (your migration tool): the table, its RLS policy, and DML grants for the app role.
    RlsPolicy policy = RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build();
    try (Connection c = dataSource(superuserUrl, DATABASE, OWNER, ownerPassword).getConnection();
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
      policy.apply(c);
      s.execute("GRANT USAGE ON SCHEMA public TO " + APP);
      s.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO " + APP);
      s.execute("GRANT USAGE ON SEQUENCE notes_id_seq TO " + APP);
    }
    JobsSection.migrate(dataSource(superuserUrl, DATABASE, OWNER, ownerPassword), APP, WORKER);
    CacheSection.migrate(dataSource(superuserUrl, DATABASE, OWNER, ownerPassword), APP);
    section("The generated policy (paste it into a migration, or call policy.apply(connection))");
    System.out.print(policy.toSql().indent(2));

    // 3. The application: a HikariCP pool as the app role, checked at start-up, then wrapped.
    try (HikariDataSource appPool = pool("app-pool", dataSource(superuserUrl, DATABASE, APP, appPassword))) {
      StartupGuard.defaults().verify(appPool); // throws UnsafeDatabaseSetupException if RLS could be bypassed
      section("Start-up guard");
      System.out.println("  passed: " + APP + " is held to row-level security on every tenant table");

      DataSource db = TenantDataSource.wrap(appPool); // every statement now carries the current tenant

      // In a web app a filter sets the tenant once per request; the inserts do not name it (column default).
      TenantContext.call(ACME, () -> addNote(db, "Call Wile E. about the rocket skates"));
      TenantContext.call(ACME, () -> addNote(db, "Order more anvils"));
      TenantContext.call(GLOBEX, () -> addNote(db, "Hank's hammock budget"));

      section("What each tenant sees (the same SELECT, no WHERE clause)");
      for (TenantId tenant : List.of(ACME, GLOBEX)) {
        List<String> notes = TenantContext.call(tenant, () -> listNotes(db));
        System.out.println("  " + tenant.value() + " sees " + notes.size() + " note(s):");
        notes.forEach(n -> System.out.println("    " + n));
      }

      section("No tenant set: fail-closed");
      System.out.println("  read  -> " + listNotes(db).size() + " row(s)");
      try {
        addNote(db, "who am I?");
        System.out.println("  write -> succeeded (unexpected!)");
      } catch (SQLException e) {
        System.out.println("  write -> refused: " + firstLines(String.valueOf(e.getMessage()), 1));
      }

      section("Background jobs: enqueue, run in the job's tenant, poll the status");
      DataSource workerConnections = dataSource(superuserUrl, DATABASE, WORKER, workerPassword);
      try (HikariDataSource workerPool = pool("worker-pool", workerConnections)) {
        JobsSection.run(db, workerPool, ACME, GLOBEX);
      }

      section("Cache: a write on node A invalidates node B through PostgreSQL");
      CacheSection.run(appPool, db, ACME);
    }

    // 4. The guard refuses a role that bypasses RLS: here a pool logged in as the superuser.
    section("Start-up guard against a superuser pool");
    try (HikariDataSource superPool = pool("superuser-pool", dataSource(superuserUrl, DATABASE, null, null))) {
      StartupGuard.defaults().verify(superPool);
      System.out.println("  passed (unexpected!)");
    } catch (UnsafeDatabaseSetupException e) {
      String message = String.valueOf(e.getMessage());
      long more = message.lines().count() - 4;
      System.out.println("  refused with UnsafeDatabaseSetupException:");
      System.out.print(firstLines(message, 4).indent(4));
      System.out.println(more > 0 ? "    ... (" + more + " more lines)" : "");
    }
    System.out.println("Done.");
  }

  private static Void addNote(DataSource db, String body) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO notes (body) VALUES (?)")) {
      ps.setString(1, body);
      ps.executeUpdate();
    }
    return null;
  }

  private static List<String> listNotes(DataSource db) throws SQLException {
    List<String> notes = new ArrayList<>();
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT id, tenant_id, body FROM notes ORDER BY id")) {
      while (rs.next()) {
        notes.add("#" + rs.getLong(1) + " [" + rs.getString(2) + "] " + rs.getString(3));
      }
    }
    return notes;
  }

  /** The server of {@code url}, another database, and another role (null: the URL's own user and password). */
  private static PGSimpleDataSource dataSource(String url, String database, @Nullable String user,
      @Nullable String password) {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(url);
    ds.setDatabaseName(database);
    if (user != null) {
      ds.setUser(user);
      ds.setPassword(password);
    }
    return ds;
  }

  private static HikariDataSource pool(String name, DataSource connections) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setDataSource(connections);
    config.setMaximumPoolSize(8); // the cache buses each hold one listener connection
    return new HikariDataSource(config);
  }

  private static String randomPassword() {
    byte[] bytes = new byte[16];
    new SecureRandom().nextBytes(bytes);
    return HexFormat.of().formatHex(bytes); // hex only: safe to inline in CREATE ROLE
  }

  private static String firstLines(String text, int lines) {
    return String.join("\n", text.lines().limit(lines).toList());
  }

  private static void section(String title) {
    System.out.println();
    System.out.println("== " + title);
  }
}
