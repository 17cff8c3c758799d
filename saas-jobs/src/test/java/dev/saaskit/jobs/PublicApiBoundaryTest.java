package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.testing.PublicApi;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.reflect.Method;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Third-party types stay inside: the public API of {@code dev.saaskit.jobs} names only saaskit's and the JDK's
 * types (JSpecify's annotations aside), Micrometer's {@code MeterRegistry} in {@code SaasJobs.Builder} excepted.
 */
class PublicApiBoundaryTest {
  private static final PublicApi.Exemption METER_REGISTRY = (owner, member, type) ->
      owner == SaasJobs.Builder.class && type.equals(MeterRegistry.class.getName());

  @Test
  void noThirdPartyTypeInThePublicApi() {
    List<Class<?>> types = PublicApi.typesOf(SaasJobs.class);
    assertThat(types).contains(SaasJobs.class, JobCodec.class, JobType.class, JobStatus.class, JobWorker.Builder.class);
    assertThat(PublicApi.thirdPartyNames(types, METER_REGISTRY)).isEmpty();
  }

  @Test
  void theCheckSeesThirdPartyTypesAlsoInsideGenerics() throws Exception {
    Method registry = SaasJobs.Builder.class.getMethod("meterRegistry", MeterRegistry.class);
    assertThat(PublicApi.thirdPartyNames(SaasJobs.Builder.class, registry, registry.getGenericParameterTypes()[0],
        METER_REGISTRY)).isEmpty();
    assertThat(PublicApi.thirdPartyNames(JobQueue.class, registry, registry.getGenericParameterTypes()[0],
        METER_REGISTRY)).hasSize(1);
    Method sample = PublicApiBoundaryTest.class.getDeclaredMethod("sample");
    assertThat(PublicApi.thirdPartyNames(JobQueue.class, sample, sample.getGenericReturnType(), METER_REGISTRY))
        .singleElement().asString().endsWith("names com.fasterxml.jackson.databind.JsonNode");
  }

  @SuppressWarnings("unused")
  private static List<com.fasterxml.jackson.databind.JsonNode> sample() {
    return List.of();
  }
}
