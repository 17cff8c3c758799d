package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JobRequestTest {

  @Test
  void defaults() {
    JobRequest r = JobRequest.builder("mail.send", Map.of("to", "x")).noTenant().build();
    assertThat(r.type()).isEqualTo("mail.send");
    assertThat(r.queue()).isEqualTo("default");
    assertThat(r.priority()).isZero();
    assertThat(r.maxAttempts()).isEqualTo(20);
    assertThat(r.runAt()).isEmpty();
    assertThat(r.delay()).isEmpty();
    assertThat(r.timeout()).isEmpty();
    assertThat(r.uniqueKey()).isEmpty();
    assertThat(r.tenant()).isEmpty();
    assertThat(r.payload()).contains(Map.of("to", "x"));
    assertThat(r.payloadJson()).isEmpty();
  }

  @Test
  void badValuesAreNamed() {
    assertThatIllegalArgumentException().isThrownBy(() -> JobRequest.builder("", 1))
        .withMessageContaining("type must be 1 to 100 characters");
    assertThatIllegalArgumentException().isThrownBy(() -> JobRequest.builder("a b", 1))
        .withMessageContaining("'a b'");
    assertThatIllegalArgumentException().isThrownBy(() -> JobRequest.builder("x".repeat(101), 1));
    JobRequest.Builder b = JobRequest.builder("ok:type-1.v_2", 1);
    assertThatIllegalArgumentException().isThrownBy(() -> b.queue("q/1")).withMessageStartingWith("queue must be");
    assertThatIllegalArgumentException().isThrownBy(() -> b.priority(32768))
        .withMessage("priority must be between -32768 and 32767 but was 32768");
    assertThatIllegalArgumentException().isThrownBy(() -> b.maxAttempts(0))
        .withMessage("maxAttempts must be >= 1 but was 0");
    assertThatIllegalArgumentException().isThrownBy(() -> b.timeout(Duration.ZERO))
        .withMessageContaining("timeout must be 1 ms to 1000 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.timeout(Duration.ofNanos(999_999)));
    // absurd durations are refused as such, not by an ArithmeticException from a conversion
    assertThatIllegalArgumentException().isThrownBy(() -> b.timeout(ChronoUnit.FOREVER.getDuration()))
        .withMessageContaining("timeout must be 1 ms to 1000 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.delay(Duration.ofSeconds(-1)))
        .withMessageContaining("delay must be 0 to 1000 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.delay(ChronoUnit.FOREVER.getDuration()))
        .withMessageContaining("delay must be 0 to 1000 years");
    b.timeout(RetryPolicy.MAX_DELAY).delay(RetryPolicy.MAX_DELAY);
    assertThatIllegalArgumentException().isThrownBy(() -> b.uniqueKey(""));
    assertThatIllegalArgumentException().isThrownBy(() -> b.uniqueKey("k".repeat(256)))
        .withMessageContaining("had 256");
    assertThatIllegalArgumentException().isThrownBy(() -> b.payloadJson("{\"a\":"))
        .withMessageContaining("payloadJson must be well-formed JSON");
    assertThatIllegalArgumentException().isThrownBy(() -> b.payloadJson("{} {}"));
    assertThatIllegalArgumentException().isThrownBy(() -> b.payloadJson(" "));
    assertThat(b.priority(-32768).uniqueKey("k".repeat(255)).noTenant().build().priority()).isEqualTo(-32768);
  }

  @Test
  void laterCallsReplaceTheirAlternatives() {
    Instant at = Instant.parse("2030-01-01T00:00:00Z");
    JobRequest r = JobRequest.builder("t", 1).runAt(at).delay(Duration.ofSeconds(5)).noTenant().build();
    assertThat(r.runAt()).isEmpty();
    assertThat(r.delay()).contains(Duration.ofSeconds(5));
    r = r.toBuilder().runAt(at).build();
    assertThat(r.runAt()).contains(at);
    assertThat(r.delay()).isEmpty();

    r = JobRequest.builder("t", 1).tenant(TenantId.of("a")).noTenant().build();
    assertThat(r.tenant()).isEmpty();
    r = r.toBuilder().tenant(TenantId.of("b")).build();
    assertThat(r.tenant()).contains(TenantId.of("b"));
    assertThat(r.toBuilder().build().tenant()).contains(TenantId.of("b"));
    assertThat(r.toBuilder().noTenant().build().tenant()).isEmpty();

    r = JobRequest.builder("t", 1).payloadJson("[1]").noTenant().build();
    assertThat(r.payload()).isEmpty();
    assertThat(r.payloadJson()).contains("[1]");
    r = r.toBuilder().payload(2).build();
    assertThat(r.payload()).contains(2);
    assertThat(r.payloadJson()).isEmpty();
  }

  @Test
  void theTenantIsFixedWhenTheRequestIsBuilt() {
    JobRequest.Builder noTenantYet = JobRequest.builder("t", 1);
    assertThatThrownBy(noTenantYet::build).isInstanceOf(MissingTenantException.class)
        .hasMessageContaining("noTenant()");
    JobRequest fromContext = TenantContext.call(TenantId.of("acme"), noTenantYet::build);
    assertThat(fromContext.tenant()).contains(TenantId.of("acme"));
    // outside the scope the request keeps its tenant
    assertThat(fromContext.tenant()).contains(TenantId.of("acme"));
    assertThat(fromContext.toBuilder().build().tenant()).contains(TenantId.of("acme"));
    assertThat(fromContext.toBuilder().tenant(TenantId.of("b")).build().tenant()).contains(TenantId.of("b"));
    assertThat(fromContext.toBuilder().noTenant().build().tenant()).isEmpty();
    // an explicit tenant wins over the current one
    JobRequest explicit = TenantContext.call(TenantId.of("acme"),
        () -> JobRequest.builder("t", 1).tenant(TenantId.of("b")).build());
    assertThat(explicit.tenant()).contains(TenantId.of("b"));
  }

  @Test
  void aJobTypeTiesTheNameToThePayloadClass() {
    JobType<Integer> type = JobType.of("count.up", Integer.class);
    JobRequest r = JobRequest.builder(type, 3).noTenant().build();
    assertThat(r.type()).isEqualTo("count.up");
    assertThat(r.payload()).contains(3);
    assertThat(type).isEqualTo(JobType.of("count.up", Integer.class)).isNotEqualTo(JobType.of("count.up", Long.class));
    assertThatIllegalArgumentException().isThrownBy(() -> JobType.of("a b", Integer.class))
        .withMessageContaining("'a b'");
  }

  @Test
  void toStringLeavesThePayloadOut() {
    String text = JobRequest.builder("t", Map.of("password", "hunter2")).tenant(TenantId.of("acme"))
        .uniqueKey("k").build().toString();
    assertThat(text).contains("type=t", "tenant=acme", "uniqueKey=k").doesNotContain("hunter2");
  }
}
