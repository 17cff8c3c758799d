package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantId;
import dev.saaskit.fleet.CredentialResolver;
import dev.saaskit.fleet.FleetSchema;
import dev.saaskit.fleet.Placement;
import dev.saaskit.fleet.Shard;
import dev.saaskit.fleet.TenantDirectory;
import dev.saaskit.testing.TestDatabase;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** saaskit tenants ... against a real control database, a shard and a dedicated database. */
class TenantsCommandTest {
  static TestDatabase control;
  static TestDatabase shard;
  static TestDatabase dedicated;
  static final Map<String, String> ENV = new HashMap<>();

  @BeforeAll
  static void setUp() throws Exception {
    control = TestDatabase.create();
    shard = TestDatabase.create();
    dedicated = TestDatabase.create();
    for (TestDatabase db : List.of(shard, dedicated)) {
      try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
        st.execute("CREATE TABLE notes (tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id', true), "
            + "id bigint, body text, PRIMARY KEY (tenant_id, id))");
        st.execute("ALTER TABLE notes ENABLE ROW LEVEL SECURITY");
        st.execute("ALTER TABLE notes FORCE ROW LEVEL SECURITY");
        st.execute("CREATE POLICY t ON notes USING (tenant_id = current_setting('app.tenant_id', true)) "
            + "WITH CHECK (tenant_id = current_setting('app.tenant_id', true))");
      }
    }
    put("SHARD", shard);
    put("BANK", dedicated);
    ENV.put("CONTROL_PW", control.ownerPassword());
    FleetSchema.defaults().migrate(control.ownerDataSource());
    TenantDirectory directory = TenantDirectory.builder(control.ownerDataSource())
        .credentialResolver(CredentialResolver.fromLookup(ENV::get)).build();
    directory.addShard(Shard.of("eu-1", shard.jdbcUrl(), "SHARD"));
    directory.register(TenantId.of("acme"), Placement.shared("eu-1"));
    directory.register(TenantId.of("globex"), Placement.shared("eu-1"));
    try (Connection c = shard.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("INSERT INTO notes SELECT 'acme', g, 'note ' || g FROM generate_series(1, 30) g");
      st.execute("INSERT INTO notes SELECT 'globex', g, 'note ' || g FROM generate_series(1, 5) g");
    }
  }

  private static void put(String ref, TestDatabase db) {
    ENV.put(ref + "_USER", db.appRole());
    ENV.put(ref + "_PASSWORD", db.appPassword());
    ENV.put(ref + "_ADMIN_USER", db.ownerRole());
    ENV.put(ref + "_ADMIN_PASSWORD", db.ownerPassword());
  }

  @AfterAll
  static void tearDown() {
    dedicated.close();
    shard.close();
    control.close();
  }

  private static SaasKitTest.Run tenants(String... args) {
    List<String> all = new ArrayList<>(List.of("tenants"));
    all.addAll(List.of(args));
    all.addAll(List.of("--url", control.jdbcUrl(), "--user", control.ownerRole(), "--password-env", "CONTROL_PW"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = SaasKit.run(all.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err), ENV::get);
    return new SaasKitTest.Run(code, out.toString(), err.toString());
  }

  @Test
  void listShowSuspendActivate() {
    SaasKitTest.Run list = tenants("list");
    assertThat(list.code()).isZero();
    assertThat(list.out()).contains("acme\tactive\tshard eu-1").contains("globex\tactive\tshard eu-1");
    assertThat(tenants("suspend", "globex").out()).contains("globex\tsuspended");
    assertThat(tenants("show", "globex").out()).contains("globex\tsuspended\tshard eu-1");
    assertThat(tenants("activate", "globex").out()).contains("globex\tactive");
    SaasKitTest.Run unknown = tenants("show", "nobody");
    assertThat(unknown.code()).isEqualTo(1);
    assertThat(unknown.err()).contains("'nobody' is not in the tenant directory").doesNotContain("\tat ");
    assertThat(list.out() + list.err()).doesNotContain(control.ownerPassword()).doesNotContain(shard.appPassword());
  }

  /**
   * A row inserted by hand with a tenant id that {@code TenantId.of} refuses used to make {@code tenants list} fail
   * (exit 2, no tenant listed); now the other tenants are listed and the row is skipped with a warning on stderr.
   */
  @Test
  void listSkipsAHandInsertedRowWithAnInvalidTenantId() throws Exception {
    try (Connection c = control.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("INSERT INTO saaskit_fleet.tenants (tenant_id, shard, state) VALUES (' bad padded ', 'eu-1', "
          + "'active')");
    }
    try {
      SaasKitTest.Run list = tenants("list");
      assertThat(list.code()).as(list.err()).isZero();
      assertThat(list.out()).contains("acme\t").contains("globex\t").doesNotContain("bad padded");
    } finally {
      try (Connection c = control.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
        st.execute("DELETE FROM saaskit_fleet.tenants WHERE tenant_id = ' bad padded '");
      }
    }
  }

  @Test
  void onboardCreatesMigratesAndRegistersADedicatedDatabase() throws Exception {
    // the operator's login: the control database's owner, allowed to create databases owned by NEWCO's admin role
    try (Connection c = control.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("ALTER ROLE " + control.ownerRole() + " CREATEDB");
      st.execute("GRANT " + dedicated.ownerRole() + " TO " + control.ownerRole());
    }
    ENV.put("NEWCO_USER", dedicated.appRole());
    ENV.put("NEWCO_PASSWORD", dedicated.appPassword());
    ENV.put("NEWCO_ADMIN_USER", dedicated.ownerRole());
    ENV.put("NEWCO_ADMIN_PASSWORD", dedicated.ownerPassword());
    String database = "newco_" + Long.toHexString(System.nanoTime());
    String template = control.server().jdbcUrl("x_name").replace("x_name", "{database}");
    try {
      SaasKitTest.Run onboard = tenants("onboard", "newco", "--database", database,
          "--credentials", "NEWCO", "--url-template", template, "--locations", "classpath:db/fleet-app");
      assertThat(onboard.code()).as(onboard.err()).isZero();
      assertThat(onboard.out()).startsWith("newco\tactive\tdedicated");
      assertThat(tenants("show", "newco").out()).contains("newco\tactive\tdedicated");
      try (Connection c = DriverManager.getConnection(control.server().jdbcUrl(database), dedicated.ownerRole(),
          dedicated.ownerPassword()); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class"
              + " WHERE relname = 'notes'")) {
        assertThat(rs.next()).as("the application's migration ran").isTrue();
        assertThat(rs.getBoolean(1)).isTrue();
      }

      SaasKitTest.Run again = tenants("onboard", "newco", "--database", database + "_2",
          "--credentials", "NEWCO", "--url-template", template, "--locations", "classpath:db/fleet-app");
      assertThat(again.code()).isEqualTo(1);
      assertThat(again.err()).contains("registered already").doesNotContain("\tat ");
      SaasKitTest.Run badName = tenants("onboard", "other", "--database", "Bad-Name",
          "--credentials", "NEWCO", "--url-template", template, "--locations", "classpath:db/fleet-app");
      assertThat(badName.code()).isEqualTo(2);
      assertThat(badName.err()).contains("databaseName");
      assertThat(tenants("show", "other").code()).as("nothing registered").isEqualTo(1);
      SaasKitTest.Run noPlaceholder = tenants("onboard", "other", "--database", "x", "--credentials", "NEWCO",
          "--url-template", "jdbc:postgresql://h/db", "--locations", "classpath:db/fleet-app");
      assertThat(noPlaceholder.code()).isEqualTo(2);
      assertThat(noPlaceholder.err()).contains("{database}");
    } finally {
      try (Connection c = control.adminDataSource().getConnection(); Statement st = c.createStatement()) {
        st.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
      }
    }
  }

  /**
   * Review of 2026-12-06: a control database without the fleet schema (a wrong --url or --schema) answered exit 1,
   * which means "no such tenant, or refused", so a script could take a misconfigured run for a missing tenant.
   */
  @Test
  void aDatabaseWithoutTheFleetSchemaIsASetupErrorNotARefusal() {
    for (String[] args : List.of(new String[] {"list", "--schema", "no_fleet_here"},
        new String[] {"show", "acme", "--schema", "no_fleet_here"},
        new String[] {"suspend", "acme", "--schema", "no_fleet_here"})) {
      SaasKitTest.Run run = tenants(args);
      assertThat(run.code()).as(args[0] + ": " + run.err()).isEqualTo(2);
      assertThat(run.err()).as(args[0]).contains("does not exist")
          .contains("Is --url the control database, and is --schema (no_fleet_here)")
          .doesNotContain("unexpected failure").doesNotContain("\tat ");
    }
    assertThat(tenants("show", "acme").code()).as("the real schema still answers").isZero();
  }

  @Test
  void anInvalidTenantIdIsAUsageErrorNotAnUnexpectedFailure() {
    for (String command : List.of("show", "suspend", "activate", "erase", "export")) {
      List<String> args = new ArrayList<>(List.of(command, " padded"));
      if (command.equals("erase")) {
        args.add("--yes");
      }
      if (command.equals("export")) {
        args.addAll(List.of("--dir", "unused"));
      }
      SaasKitTest.Run run = tenants(args.toArray(String[]::new));
      assertThat(run.code()).as(command + ": " + run.err()).isEqualTo(2);
      assertThat(run.err()).as(command).contains("not a valid tenant id").doesNotContain("unexpected failure");
    }
    SaasKitTest.Run move = tenants("move", "a\u0007b", "--to-shard", "eu-1");
    assertThat(move.code()).isEqualTo(2);
    assertThat(move.err()).contains("not a valid tenant id").doesNotContain("unexpected failure");
    SaasKitTest.Run badShard = tenants("move", "acme", "--to-shard", "Not A Shard");
    assertThat(badShard.code()).isEqualTo(2);
    assertThat(badShard.err()).contains("invalid move target").doesNotContain("unexpected failure");
    SaasKitTest.Run credentialsInUrl = tenants("move", "acme", "--to-url", "jdbc:postgresql://db/app?password=s3cr3tpw",
        "--credentials", "BANK");
    assertThat(credentialsInUrl.code()).isEqualTo(2);
    assertThat(credentialsInUrl.err()).contains("invalid move target").doesNotContain("unexpected failure")
        .doesNotContain("s3cr3tpw");
    SaasKitTest.Run zero = tenants("migrate", "--locations", "classpath:db/fleet-app", "--parallelism", "0");
    assertThat(zero.code()).isEqualTo(2);
    assertThat(zero.err()).contains("--parallelism must be >= 1").doesNotContain("unexpected failure");
    SaasKitTest.Run negative = tenants("move", "acme", "--to-shard", "eu-1", "--drain-wait", "-PT1S");
    assertThat(negative.code()).isEqualTo(2);
    assertThat(negative.err()).contains("--drain-wait");
  }

  @Test
  void moveExportAndEraseWithReports(@TempDir Path dir) throws Exception {
    SaasKitTest.Run move = tenants("move", "acme", "--to-url", dedicated.jdbcUrl(), "--credentials", "BANK");
    assertThat(move.code()).as(move.err()).isZero();
    assertThat(move.out()).contains("done: acme -> dedicated").contains("30 rows");
    // the CLI serves no traffic: the application's nodes see 'moving' only when their directory cache (5 s by
    // default) expires, so writes stay blocked at least that long before the copy
    java.util.regex.Matcher blocked = java.util.regex.Pattern.compile("writes blocked (\\d+) ms").matcher(move.out());
    assertThat(blocked.find()).as(move.out()).isTrue();
    assertThat(Long.parseLong(blocked.group(1))).isGreaterThanOrEqualTo(5000);
    SaasKitTest.Run export = tenants("export", "acme", "--dir", dir.toString());
    assertThat(export.out()).contains("public.notes\t30 rows\t30 exported").contains("complete");
    assertThat(Files.readAllLines(dir.resolve("notes.jsonl"))).hasSize(30);
    SaasKitTest.Run refused = tenants("erase", "acme");
    assertThat(refused.code()).isEqualTo(2);
    assertThat(refused.err()).contains("add --yes");
    SaasKitTest.Run erase = tenants("erase", "acme", "--yes");
    assertThat(erase.code()).isZero();
    assertThat(erase.out()).contains("public.notes\t30 before\t30 deleted\t0 after").contains("complete");
    SaasKitTest.Run badMove = tenants("move", "acme", "--to-shard", "eu-1", "--resume");
    assertThat(badMove.code()).isEqualTo(2);
  }
}
