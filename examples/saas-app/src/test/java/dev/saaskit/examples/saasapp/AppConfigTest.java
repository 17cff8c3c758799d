package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.redis.RateLimit;
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

  @Test
  void itsTextShowsNoSecret() {
    AppConfig c = AppConfig.fromEnvironment(Map.of("STRIPE_API_KEY", "sk_live_SecretKey123",
        "STRIPE_WEBHOOK_SECRET", "whsec_SecretHook456", "SAAS_REDIS_URL", "redis://app:RedisPw789@cache:6379/0",
        "DATABASE_URL", "jdbc:postgresql://db/postgres?user=admin&password=DbPw000&ssl=true",
        "SAAS_APP_DEMO", "true")::get);
    String text = c.toString();
    assertThat(text).doesNotContain("SecretKey123", "SecretHook456", "RedisPw789", "DbPw000")
        .contains("stripeApiKey=(set)", "redis://app:***@cache:6379/0", "password=***&ssl=true", "port=8080");
    assertThat(AppConfig.fromEnvironment(Map.<String, String>of()::get).toString()).contains("stripeApiKey=null");
  }

  @Test
  void rateLimitsDefaultToInProcessAndAreSetByTheEnvironment() {
    AppConfig defaults = AppConfig.fromEnvironment(Map.<String, String>of()::get);
    assertThat(defaults.redisUrl()).isNull();
    assertThat(defaults.apiRateLimit()).isEqualTo(RateLimit.perSecond(300));
    assertThat(defaults.ipRateLimit()).isEqualTo(RateLimit.perMinute(60));
    AppConfig c = AppConfig.fromEnvironment(Map.of("SAAS_REDIS_URL", "redis://127.0.0.1:6379",
        "SAAS_APP_API_RATE_PER_SECOND", "1000", "SAAS_APP_IP_RATE_PER_MINUTE", "20")::get);
    assertThat(c.redisUrl()).isEqualTo("redis://127.0.0.1:6379");
    assertThat(c.apiRateLimit()).isEqualTo(RateLimit.perSecond(1000));
    assertThat(c.ipRateLimit()).isEqualTo(RateLimit.perMinute(20));
    for (String bad : new String[] {"0", "-5", "lots"}) {
      assertThatThrownBy(() -> AppConfig.fromEnvironment(Map.of("SAAS_APP_IP_RATE_PER_MINUTE", bad)::get))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("SAAS_APP_IP_RATE_PER_MINUTE");
    }
  }
}
