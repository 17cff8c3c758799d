package dev.saaskit.auth.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.auth.Authorizer;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.RoleModel;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Values from requests cannot forge or rewrite saas-auth's log lines. */
class LogLinesTest {
  private static final String FORGED = "[main] WARN dev.saaskit.auth.Authorizer - forged: admin logged in";

  @Test
  void aSubjectWithALineBreakCannotForgeALogLine() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    // a verified token's sub claim is whatever the IdP (or a tenant's own IdP) put there
    Principal mallory = Principal.builder("https://idp.example\r\n" + FORGED, "mallory\n" + FORGED)
        .tenant(TenantId.of("acme")).roles(List.of("owner")).build();
    String logged = captureStandardError(() -> TenantContext.run(TenantId.of("globex"),
        () -> assertThat(authz.check(mallory, "invoice:read")).isFalse()));
    // slf4j-simple (the tests' logger) writes the denial to standard error
    assertThat(logged).contains("denied: mallory\\n" + FORGED);
    assertThat(logged).contains("https://idp.example\\r\\n" + FORGED);
    assertThat(logged.lines()).noneMatch(line -> line.startsWith(FORGED));
    assertThat(logged.lines().filter(line -> line.contains("dev.saaskit.auth.Authorizer"))).hasSize(1);
  }

  private static String captureStandardError(Runnable run) {
    PrintStream original = System.err;
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      run.run();
    } finally {
      System.setErr(original);
    }
    return buffer.toString(StandardCharsets.UTF_8);
  }
}
