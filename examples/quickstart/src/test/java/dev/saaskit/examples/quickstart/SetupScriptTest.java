package dev.saaskit.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.StartupGuard;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.testing.PostgresServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Runs examples/starter/setup.sql (the roles script of docs/getting-started.md) the way psql would, then checks
 * that the roles can do what the guide says and nothing more. Names get a random suffix so that runs on a shared
 * server never meet; the script is otherwise used as written.
 */
class SetupScriptTest {
  private final String suffix = "_" + UUID.randomUUID().toString().substring(0, 8);
  private final PostgresServer server = PostgresServer.shared();
  private final List<HikariDataSource> pools = new ArrayList<>();

  @BeforeEach
  void runTheScript() throws Exception {
    String script = Files.readString(repositoryRoot().resolve("examples/starter/setup.sql"))
        .replaceAll("\\bnotes(_owner|_app|_worker)?\\b", "notes$1" + suffix);
    String database = "postgres";
    StringBuilder statement = new StringBuilder();
    for (String line : script.lines().toList()) {
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("--")) {
        continue;
      }
      if (trimmed.startsWith("\\connect ")) {
        database = trimmed.substring("\\connect ".length()).strip();
        continue;
      }
      statement.append(line).append('\n');
      if (trimmed.endsWith(";")) {
        try (Connection c = superuser(database); Statement st = c.createStatement()) {
          st.execute(statement.toString());
        }
        statement.setLength(0);
      }
    }
    assertThat(statement.toString()).as("the script ends with a complete statement").isBlank();
  }

  @AfterEach
  void dropEverything() throws SQLException {
    pools.forEach(HikariDataSource::close);
    try (Connection c = superuser("postgres"); Statement st = c.createStatement()) {
      st.execute("DROP DATABASE IF EXISTS notes" + suffix + " WITH (FORCE)");
      for (String role : List.of("notes_app", "notes_worker", "notes_owner")) {
        st.execute("DROP ROLE IF EXISTS " + role + suffix);
      }
    }
  }

  @Test
  void theRolesCanDoWhatTheGuideSaysAndNothingMore() throws Exception {
    HikariDataSource owner = pool("notes_owner", "owner-change-me");
    HikariDataSource app = pool("notes_app", "app-change-me");
    HikariDataSource worker = pool("notes_worker", "worker-change-me");

    try (Connection c = owner.getConnection(); Statement st = c.createStatement()) {
      // the jobs and cache migrations create their own schemas: the owner must be able to
      st.execute("CREATE SCHEMA probe");
      st.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    StartupGuard.defaults().verify(app);
    try (Connection c = app.getConnection(); Statement st = c.createStatement()) {
      st.execute("SELECT set_config('app.tenant_id', 'acme', false)");
      assertThat(st.executeUpdate("INSERT INTO notes (tenant_id, body) VALUES ('acme', 'hi')")).isEqualTo(1);
      assertThatThrownBy(() -> st.execute("CREATE TABLE squatter (id int)"))
          .isInstanceOf(SQLException.class).hasMessageContaining("permission denied");
      assertThatThrownBy(() -> st.execute("ALTER TABLE notes DISABLE ROW LEVEL SECURITY"))
          .isInstanceOf(SQLException.class).hasMessageContaining("must be owner");
    }
    try (Connection c = worker.getConnection(); Statement st = c.createStatement()) {
      assertThatThrownBy(() -> st.execute("SELECT count(*) FROM notes"))
          .as("the worker role reads jobs, not the app's tables").isInstanceOf(SQLException.class);
    }
    String stranger = "stranger" + suffix;
    try (Connection c = superuser("postgres"); Statement st = c.createStatement()) {
      st.execute("CREATE ROLE " + stranger + " LOGIN PASSWORD 'x'");
    }
    try {
      assertThatThrownBy(() -> DriverManager.getConnection(server.jdbcUrl("notes" + suffix), stranger, "x"))
          .as("PUBLIC has no CONNECT").isInstanceOf(SQLException.class).hasMessageContaining("permission denied");
    } finally {
      try (Connection c = superuser("postgres"); Statement st = c.createStatement()) {
        st.execute("DROP ROLE " + stranger);
      }
    }
  }

  private HikariDataSource pool(String role, String password) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(server.jdbcUrl("notes" + suffix));
    config.setUsername(role + suffix);
    config.setPassword(password);
    config.setMaximumPoolSize(2);
    HikariDataSource pool = new HikariDataSource(config);
    pools.add(pool);
    return pool;
  }

  private Connection superuser(String database) throws SQLException {
    return DriverManager.getConnection(server.jdbcUrl(database.toLowerCase(Locale.ROOT)), server.superuser(),
        server.superuserPassword());
  }

  private static Path repositoryRoot() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isRegularFile(dir.resolve("examples/starter/setup.sql"))) {
      dir = dir.getParent();
    }
    assertThat(dir).as("repository root").isNotNull();
    return dir;
  }
}
