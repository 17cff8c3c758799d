package dev.saaskit.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantId;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.File;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SaasCacheBuilderTest {

  @Test
  void theFirstStageHasNoBuildMethodOnlyTtl() {
    List<String> publicMethods = Arrays.stream(SaasCache.TtlStage.class.getDeclaredMethods())
        .filter(m -> Modifier.isPublic(m.getModifiers()))
        .map(Method::getName)
        .collect(Collectors.toList());
    assertThat(publicMethods).containsExactly("ttl");
    assertThat(Arrays.stream(SaasCache.TtlStage.class.getMethods()).map(Method::getName)).doesNotContain("build");
    assertThat(SaasCache.TtlStage.class.getConstructors()).isEmpty();
    assertThat(Modifier.isFinal(SaasCache.TtlStage.class.getModifiers())).isTrue();
    // and the stage after ttl has it
    assertThat(Arrays.stream(SaasCache.Builder.class.getMethods()).map(Method::getName)).contains("build");
  }

  @Test
  void aCacheWithoutTtlDoesNotCompile(@TempDir Path dir) throws Exception {
    String withoutTtl = """
        import dev.saaskit.cache.SaasCache;
        class Plans {
          SaasCache<String, String> plans = SaasCache.<String, String>named("plans").build();
        }
        """;
    List<Diagnostic<? extends JavaFileObject>> errors = compile(dir, "Plans", withoutTtl);
    assertThat(errors).isNotEmpty();
    assertThat(errors.get(0).getMessage(Locale.ROOT)).contains("build").contains("TtlStage");
  }

  @Test
  void theSameSnippetWithTtlCompiles(@TempDir Path dir) throws Exception {
    // the control: proves the harness compiles valid code, so the failure above is about the missing ttl
    String withTtl = """
        import dev.saaskit.cache.SaasCache;
        import java.time.Duration;
        class Plans {
          SaasCache<String, String> plans =
              SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(5)).build();
        }
        """;
    assertThat(compile(dir, "Plans", withTtl)).isEmpty();
  }

  private static List<Diagnostic<? extends JavaFileObject>> compile(Path dir, String className, String source)
      throws IOException, URISyntaxException {
    JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
    assertThat(compiler).as("a JDK with javac").isNotNull();
    Path file = dir.resolve(className + ".java");
    Files.writeString(file, source);
    String classPath = String.join(File.pathSeparator, location(SaasCache.class), location(TenantId.class),
        location(MeterRegistry.class), location(NullMarked.class));
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files = compiler.getStandardFileManager(diagnostics, Locale.ROOT, null)) {
      List<String> options = List.of("-classpath", classPath, "-d", dir.toString(), "-proc:none");
      compiler.getTask(null, files, diagnostics, options, null, files.getJavaFileObjects(file.toFile())).call();
    }
    return diagnostics.getDiagnostics().stream()
        .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
        .collect(Collectors.toList());
  }

  private static String location(Class<?> type) throws URISyntaxException {
    return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
  }

  @Test
  void settingsFailFastNamingTheBadValue() {
    assertThatThrownBy(() -> SaasCache.named(""))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cache name must be 1 to 1024");
    assertThatThrownBy(() -> SaasCache.named("plans").ttl(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("ttl must be positive but was PT0S");
    assertThatThrownBy(() -> SaasCache.named("plans").ttl(Duration.ofDays(400)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ttl must be at most PT8760H");
    SaasCache.Builder<Object, Object> builder = SaasCache.named("plans").ttl(Duration.ofMinutes(5));
    assertThatThrownBy(() -> builder.jitter(0.6))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("jitter must be between 0 and 0.5 but was 0.6");
    assertThatThrownBy(() -> builder.jitter(-0.1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.maximumSize(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("maximumSize must be >= 1 but was 0");
    assertThatThrownBy(() -> builder.negativeTtl(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negativeTtl must be zero (off)");
    assertThatThrownBy(() -> builder.earlyRefresh(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> SaasCache.named("plans").ttl(Duration.ofMinutes(5)).maxTtl(Duration.ofMinutes(1))
        .build()).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxTtl must be >= ttl (PT5M) but was PT1M");
    assertThatThrownBy(() -> SaasCache.named("plans").ttl(Duration.ofMinutes(5))
        .refreshAfter(Duration.ofMinutes(5)).build()).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("refreshAfter must be shorter than ttl (PT5M) but was PT5M");
    assertThatThrownBy(() -> SaasCache.named("plans").ttl(Duration.ofMinutes(5)).global()
        .maximumSizePerTenant(10).build()).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maximumSizePerTenant does not apply to a global cache");
    assertThatThrownBy(() -> SaasCache.named("plans").ttl(Duration.ofMinutes(5)).maximumSize(10)
        .maximumSizePerTenant(11).build()).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maximumSizePerTenant must be <= maximumSize (10) but was 11");
  }

  @Test
  void keysOfOtherTypesNeedACodecAndAreRefusedWithAClearMessage() {
    record OrderKey(String shop, long number) {}
    try (SaasCache<OrderKey, String> orders =
        SaasCache.<OrderKey, String>named("orders").ttl(Duration.ofMinutes(1)).global().build()) {
      assertThatThrownBy(() -> orders.put(new OrderKey("s", 1), "x"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("have no default encoding: declare the cache with .keyCodec(");
    }
    try (SaasCache<OrderKey, String> orders = SaasCache.<OrderKey, String>named("orders")
        .ttl(Duration.ofMinutes(1)).global().keyCodec(k -> k.shop() + "/" + k.number()).build()) {
      orders.put(new OrderKey("s", 1), "x");
      assertThat(orders.getIfPresent(new OrderKey("s", 1))).isEqualTo("x");
      assertThat(orders.getIfPresent(new OrderKey("s", 2))).isNull();
    }
  }

  @Test
  void standardKeysOfEveryDefaultType() {
    assertThat(KeyCodec.<Object>standard().encode("a")).isEqualTo("a");
    assertThat(KeyCodec.<Object>standard().encode(42L)).isEqualTo("42");
    assertThat(KeyCodec.<Object>standard().encode(7)).isEqualTo("7");
    java.util.UUID id = java.util.UUID.randomUUID();
    assertThat(KeyCodec.<Object>standard().encode(id)).isEqualTo(id.toString());
  }
}
