package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.saaskit.core.SaasException;
import dev.saaskit.testing.internal.RunningServer;
import dev.saaskit.testing.internal.SharedServer;
import dev.saaskit.testing.internal.TestcontainersStarter;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How PostgresServer.shared() chooses and checks its server, driven through SharedServer.start(settings). */
class ServerSelectionTest {

  private static RunningServer start(Map<String, String> settings) {
    return SharedServer.start(settings::get);
  }

  private static String superuserUrl(PostgresServer server, String extra) {
    return "jdbc:postgresql://" + server.host() + ":" + server.port() + "/postgres?user=" + server.superuser()
        + (server.superuserPassword().isEmpty() ? "" : "&password=" + server.superuserPassword()) + extra;
  }

  @Test
  void sharedIsStartedOnceAndMatchesTheConfiguration() {
    PostgresServer server = PostgresServer.shared();
    assertThat(PostgresServer.shared()).isSameAs(server);
    String url = System.getenv(SharedServer.URL_SETTING);
    if (url == null || url.isBlank()) {
      url = System.getProperty(SharedServer.URL_SETTING);
    }
    if (url != null && !url.isBlank()) {
      assertThat(server.description()).startsWith("SAAS_TEST_POSTGRES_URL server " + server.majorVersion() + ".");
    } else {
      assertThat(server.description()).startsWith("embedded PostgreSQL 17.");
      assertThat(server.majorVersion()).isEqualTo(17);
    }
  }

  @Test
  void urlProviderKeepsConnectionParametersButNotCredentials() {
    PostgresServer shared = PostgresServer.shared();
    RunningServer server = start(Map.of(SharedServer.URL_SETTING,
        superuserUrl(shared, "&sslmode=disable&ApplicationName=selection%20test")));
    assertThat(server.description()).startsWith("SAAS_TEST_POSTGRES_URL server ");
    assertThat(server.majorVersion()).isEqualTo(shared.majorVersion());
    assertThat(server.superuser()).isEqualTo(shared.superuser());
    assertThat(server.port()).isEqualTo(shared.port());
    String url = server.jdbcUrl("some_db");
    assertThat(url).startsWith("jdbc:postgresql://" + shared.host() + ":" + shared.port() + "/some_db?")
        .contains("sslmode=disable").contains("ApplicationName=selection+test")
        .doesNotContain("user=").doesNotContain("password=");
    assertThat(server.ownedByThisJvm()).isFalse();
  }

  @Test
  void urlWinsOverTheProviderSetting() {
    Map<String, String> settings = new HashMap<>();
    settings.put(SharedServer.URL_SETTING, superuserUrl(PostgresServer.shared(), ""));
    settings.put(SharedServer.PROVIDER_SETTING, "testcontainers");
    assertThat(start(settings).description()).startsWith("SAAS_TEST_POSTGRES_URL server ");
  }

  @Test
  void urlWithoutUserUsesWhoeverTheDriverLogsInAs() {
    PostgresServer shared = PostgresServer.shared();
    assumeFalse(!shared.superuserPassword().isEmpty(), "needs a trust-auth server");
    // No user in the URL: PgJDBC logs in as the OS user, which is not a role here; either way we learn who it was.
    String url = "jdbc:postgresql://" + shared.host() + ":" + shared.port() + "/postgres";
    try {
      RunningServer server = start(Map.of(SharedServer.URL_SETTING, url));
      assertThat(server.superuser()).isNotBlank();
    } catch (SaasException e) {
      assertThat(e).hasMessageContaining("Could not connect to the SAAS_TEST_POSTGRES_URL server");
    }
  }

  @Test
  void aNonSuperuserUrlIsRefusedWithoutLeakingThePassword() {
    try (TestDatabase db = TestDatabase.create()) {
      String url = "jdbc:postgresql://" + db.server().host() + ":" + db.server().port() + "/" + db.name()
          + "?user=" + db.appRole() + "&password=" + db.appPassword();
      assertThatThrownBy(() -> start(Map.of(SharedServer.URL_SETTING, url)))
          .isInstanceOf(SaasException.class)
          .hasMessageContaining("is not a superuser")
          .hasMessageContaining(db.appRole())
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(db.appPassword()));
    }
  }

  @Test
  void anUnreachableUrlSaysWhatToDo() {
    String url = "jdbc:postgresql://127.0.0.1:1/postgres?user=postgres&password=s3cret&connectTimeout=2";
    assertThatThrownBy(() -> start(Map.of(SharedServer.URL_SETTING, url)))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("Could not connect to the SAAS_TEST_POSTGRES_URL server at 127.0.0.1:1")
        .hasMessageContaining("unset it to use the embedded PostgreSQL")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret"));
  }

  @Test
  void aUrlThatIsNotPostgresIsRejected() {
    assertThatThrownBy(() -> start(Map.of(SharedServer.URL_SETTING, "jdbc:mysql://x/y?password=s3cret")))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("is not a PostgreSQL JDBC URL")
        .hasMessageContaining("password=***")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret"));
  }

  @Test
  void anUnknownProviderIsRejected() {
    assertThatThrownBy(() -> start(Map.of(SharedServer.PROVIDER_SETTING, "podman")))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("SAAS_TEST_POSTGRES must be 'embedded' or 'testcontainers' but was 'podman'");
  }

  @Test
  void testcontainersWithoutDockerFailsClearly() {
    assumeFalse(TestcontainersStarter.dockerAvailable(), "Docker is available here, so there is no failure to see");
    assertThatThrownBy(() -> start(Map.of(SharedServer.PROVIDER_SETTING, "testcontainers")))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("Docker isn't available")
        .hasMessageContaining("Unset SAAS_TEST_POSTGRES")
        .hasMessageContaining("embedded PostgreSQL");
  }

  @Test
  void redactHidesPasswords() {
    assertThat(RunningServer.redact("jdbc:postgresql://h/db?user=u&password=p%26q&sslmode=disable"))
        .isEqualTo("jdbc:postgresql://h/db?user=u&password=***&sslmode=disable");
  }
}
