package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** No secret in the configuration's messages or {@code toString()}, whatever the operator put where. */
class BillingConfigSecretsTest {
  private static final String KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
  private static final String SECRET = "whsec_0123456789abcdefSECRET";

  @Test
  void aStripeApiBaseCarryingCredentialsOrAKeyIsRefusedWithoutEchoingThem() {
    for (String base : List.of("https://admin:" + KEY + "@api.stripe.com", "https://" + KEY + "@api.stripe.com",
        "https://api.stripe.com/?api_key=" + KEY, "https://api.stripe.com#" + KEY,
        "https://api.stripe.com/" + KEY, "https://api.stripe.com/ " + KEY, "ftp://" + KEY + ":x@host")) {
      assertThatThrownBy(() -> BillingConfig.builder().stripeApiBase(base))
          .as(base)
          .isInstanceOf(IllegalArgumentException.class)
          .satisfies(e -> {
            assertThat(e.getMessage()).doesNotContain(KEY).contains("stripeApiBase");
            assertThat(String.valueOf(e.getCause())).doesNotContain(KEY);
          });
    }
    // the same through from(...), as Spring passes env::getProperty
    assertThatThrownBy(() -> BillingConfig.builder().from(Map.of("stripe.api-base",
        "https://user:" + KEY + "@api.stripe.com")::get))
        .isInstanceOf(IllegalArgumentException.class)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(KEY));
  }

  @Test
  void toStringShowsNoKeyAndNoSecret() {
    BillingConfig config = BillingConfig.builder().stripeApiKey(KEY).webhookSecrets(SECRET, SECRET + "2")
        .stripeApiBase("http://127.0.0.1:12111").build();
    assertThat(config.toString()).doesNotContain(KEY).doesNotContain(SECRET).contains("webhookSecrets=2");
    assertThatThrownBy(() -> BillingConfig.builder().stripeApiKey(KEY + " "))
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(KEY));
    assertThatThrownBy(() -> BillingConfig.builder().webhookSecrets(SECRET, "wh_" + SECRET))
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET));
  }
}
