package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The environment variables the README documents, and the refusals of settings that cannot work. */
class AppConfigTest {
  @Test
  void withoutVariablesItIsTheOfflineDemo() {
    AppConfig c = AppConfig.fromEnvironment(Map.<String, String>of()::get);
    assertThat(c.port()).isEqualTo(8080);
    assertThat(c.demo()).isTrue();
    assertThat(c.offlineStripe()).isTrue();
    assertThat(c.adminDatabaseUrl()).isNull();
    assertThat(c.dataDir()).isEqualTo(Path.of(System.getProperty("user.home"), ".saaskit", "saas-app", "pgdata"));
  }

  @Test
  void aRealDatabaseTurnsTheDemoOffAndNeedsAnIdp() {
    assertThatThrownBy(() -> AppConfig.fromEnvironment(Map.of("DATABASE_URL", "jdbc:postgresql://db/postgres")::get))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OIDC_ISSUER");
    AppConfig c = AppConfig.fromEnvironment(Map.of("DATABASE_URL", "jdbc:postgresql://db/postgres",
        "OIDC_ISSUER", "https://idp.example.com", "OIDC_JWKS_URI", "https://idp.example.com/jwks",
        "OIDC_AUDIENCE", "api", "PORT", "9090", "SAAS_APP_DATA_DIR", "/tmp/x")::get);
    assertThat(c.demo()).isFalse();
    assertThat(c.port()).isEqualTo(9090);
    assertThat(c.dataDir()).isEqualTo(Path.of("/tmp/x"));
    assertThat(AppConfig.fromEnvironment(Map.of("DATABASE_URL", "jdbc:postgresql://db/postgres",
        "SAAS_APP_DEMO", "true")::get).demo()).isTrue();
  }

  @Test
  void settingsThatCannotWorkAreRefused() {
    assertThatThrownBy(() -> AppConfig.fromEnvironment(Map.of("PORT", "eighty")::get))
        .hasMessageContaining("PORT must be a number");
    assertThatThrownBy(() -> AppConfig.fromEnvironment(Map.of("STRIPE_API_KEY", "sk_test_x")::get))
        .hasMessageContaining("STRIPE_WEBHOOK_SECRET");
    assertThatThrownBy(() -> AppConfig.fromEnvironment(Map.of("SAAS_APP_DATABASE", "drop table")::get))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
