package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Third-party types stay inside: the public API of {@code dev.saaskit.jobs} names only saaskit's and the JDK's
 * types (JSpecify's annotations aside), Micrometer's {@code MeterRegistry} in {@code SaasJobs.Builder} excepted.
 */
class PublicApiBoundaryTest {

  @Test
  void noThirdPartyTypeInThePublicApi() throws Exception {
    List<String> leaks = new ArrayList<>();
    List<Class<?>> types = publicTypes();
    assertThat(types).contains(SaasJobs.class, JobCodec.class, JobType.class, JobStatus.class, JobWorker.Builder.class);
    for (Class<?> type : types) {
      for (Method m : type.getDeclaredMethods()) {
        if (Modifier.isPublic(m.getModifiers()) && !m.isSynthetic()) {
          check(type, m, m.getGenericReturnType(), leaks);
          checkParameters(type, m, leaks);
        }
      }
      for (Constructor<?> c : type.getDeclaredConstructors()) {
        if (Modifier.isPublic(c.getModifiers())) {
          checkParameters(type, c, leaks);
        }
      }
      for (Field f : type.getDeclaredFields()) {
        if (Modifier.isPublic(f.getModifiers())) {
          check(type, f, f.getGenericType(), leaks);
        }
      }
    }
    assertThat(leaks).isEmpty();
  }

  @Test
  void theCheckSeesThirdPartyTypesAlsoInsideGenerics() throws Exception {
    List<String> leaks = new ArrayList<>();
    Method registry = SaasJobs.Builder.class.getMethod("meterRegistry", io.micrometer.core.instrument.MeterRegistry.class);
    check(JobQueue.class, registry, registry.getGenericParameterTypes()[0], leaks);
    check(JobQueue.class, "a list", PublicApiBoundaryTest.class.getDeclaredMethod("sample").getGenericReturnType(),
        leaks);
    assertThat(leaks).hasSize(2);
    assertThat(leaks.get(1)).endsWith("names com.fasterxml.jackson.databind.JsonNode");
  }

  @SuppressWarnings("unused")
  private static List<com.fasterxml.jackson.databind.JsonNode> sample() {
    return List.of();
  }

  private static void checkParameters(Class<?> type, Executable e, List<String> leaks) {
    for (Type p : e.getGenericParameterTypes()) {
      check(type, e, p, leaks);
    }
  }

  private static void check(Class<?> owner, Object member, Type type, List<String> leaks) {
    String name = type.getTypeName();
    if (owner == SaasJobs.Builder.class && name.equals("io.micrometer.core.instrument.MeterRegistry")) {
      return;
    }
    for (String part : name.split("[<>,\\s\\[\\]?]+", -1)) {
      if (part.isEmpty() || part.equals("extends") || part.equals("super") || !part.contains(".")) {
        continue;
      }
      if (!part.startsWith("java.") && !part.startsWith("javax.sql.") && !part.startsWith("dev.saaskit.")) {
        leaks.add(owner.getName() + ": " + member + " names " + part);
      }
    }
  }

  /** The public types compiled from src/main/java/dev/saaskit/jobs (not internal). */
  private static List<Class<?>> publicTypes() throws IOException, URISyntaxException, ClassNotFoundException {
    Path classes = Path.of(SaasJobs.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path dir = classes.resolve("dev/saaskit/jobs");
    List<Class<?>> types = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(p -> p.toString().endsWith(".class")).sorted().toList()) {
        String simple = file.getFileName().toString().replace(".class", "");
        Class<?> c = Class.forName("dev.saaskit.jobs." + simple.replace('$', '$'));
        if (Modifier.isPublic(c.getModifiers()) && !c.isAnonymousClass() && !c.isSynthetic()
            && (c.getEnclosingClass() == null || Modifier.isPublic(c.getEnclosingClass().getModifiers()))) {
          types.add(c);
        }
      }
    }
    return types;
  }
}
