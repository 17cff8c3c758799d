package dev.saaskit.auth.docs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.auth.ApiKeyInfo;
import dev.saaskit.auth.ApiKeys;
import dev.saaskit.auth.AuthSchema;
import dev.saaskit.auth.Authorizer;
import dev.saaskit.auth.CreatedApiKey;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.RoleModel;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.util.List;
import java.util.Set;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The code of docs/auth-api-keys.md. */
@ExtendWith(PostgresExtension.class)
class ApiKeysDocsTest {
  @Test
  void createVerifyRevoke(TestDatabase db) throws Exception {
    DataSource appDataSource = db.appDataSource();
    AuthSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      AuthSchema.defaults().grantApp(c, db.appRole());
    }
    byte[] pepperFromYourSecretStore = "a pepper of at least thirty-two bytes!".getBytes(StandardCharsets.UTF_8);
    Authorizer authorizer = Authorizer.builder(RoleModel.defaults()).build();
    TenantId tenant = TenantId.of("acme");
    Principal admin = Principal.builder("https://idp.example.com", "user-1").tenant(tenant)
        .roles(List.of("admin")).permissionVersion(1L).build();
    String returnedToClient = "200";
    // snippet: api-keys
    ApiKeys apiKeys = ApiKeys.builder(appDataSource, authorizer)
        .pepper("2026-12", pepperFromYourSecretStore)   // HMAC-SHA-256; add newer peppers later, old keys still verify
        .build()
        .start();                                       // the last-use flusher (one UPDATE per tenant per minute)

    // an admin creates a key for CI: its scopes must be permissions the admin holds
    CreatedApiKey created = apiKeys.create(tenant, admin, "CI deploys", Set.of("project:write"), null);
    String shownOnce = created.key();                   // sk_live_..._<publicId>_<secret><check>

    // a request presents it
    try {
      Principal caller = apiKeys.verify(shownOnce);     // method API_KEY, tenant acme, permissions = scopes
      authorizer.require(caller, "project:write");
    } catch (InvalidTokenException e) {
      returnedToClient = "401";                         // e.reason() is for your logs only
    }

    // the settings page lists keys (never a secret) and revokes them; revoked rows stay for audit
    List<ApiKeyInfo> keys = apiKeys.list(tenant);
    apiKeys.revoke(tenant, created.info().id(), admin);
    // end snippet
    assertThat(keys).hasSize(1);
    assertThat(returnedToClient).isEqualTo("200");
    assertThat(apiKeys.list(tenant).get(0).revokedAt()).isPresent();
    apiKeys.close();
  }
}
