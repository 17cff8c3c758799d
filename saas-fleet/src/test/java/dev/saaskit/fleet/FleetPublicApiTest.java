package dev.saaskit.fleet;

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
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;

/**
 * The shape issue 11 gives every module, checked on saas-fleet's public API: third-party types stay inside (one
 * documented exception: {@code FleetDataSource.Builder.hikari(Consumer<HikariConfig>)}, the pool options), values
 * that may grow are classes rather than records, every package is {@code @NullMarked}, the schema object has a
 * builder.
 */
class FleetPublicApiTest {

  @Test
  void noThirdPartyTypeInThePublicApiButTheDocumentedHikariOption() throws Exception {
    List<String> leaks = new ArrayList<>();
    List<Class<?>> types = publicTypes();
    assertThat(types).contains(TenantDirectory.class, FleetDataSource.class, FleetDataSource.Builder.class,
        TenantMove.class, FleetMigrations.class, FleetStats.class, FleetSchema.Builder.class);
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
  void theCheckSeesAThirdPartyTypeOutsideTheOneException() throws Exception {
    List<String> leaks = new ArrayList<>();
    Method hikari = FleetDataSource.Builder.class.getMethod("hikari", java.util.function.Consumer.class);
    check(FleetDataSource.Builder.class, hikari, hikari.getGenericParameterTypes()[0], leaks);
    assertThat(leaks).isEmpty();
    check(FleetMigrations.Builder.class, hikari, hikari.getGenericParameterTypes()[0], leaks);
    assertThat(leaks).singleElement().asString().endsWith("names com.zaxxer.hikari.HikariConfig");
  }

  @Test
  void statisticsAreAClassWithAccessorsNotARecord() {
    assertThat(FleetStats.class.isRecord()).isFalse();
    assertThat(Modifier.isFinal(FleetStats.class.getModifiers())).isTrue();
    FleetStats stats = FleetStats.of(100, 3, 5, 2, 1, 2);
    assertThat(List.of(stats.budget(), stats.openConnections(), stats.peakOpenConnections(),
        stats.borrowedConnections(), stats.idleConnections(), stats.pools())).containsExactly(100, 3, 5, 2, 1, 2);
    assertThat(stats).isEqualTo(FleetStats.of(100, 3, 5, 2, 1, 2)).hasSameHashCodeAs(FleetStats.of(100, 3, 5, 2, 1, 2))
        .isNotEqualTo(FleetStats.of(100, 3, 5, 2, 1, 3));
    assertThat(stats.toString()).contains("openConnections=3", "pools=2");
  }

  @Test
  void everyPackageIsNullMarked() throws Exception {
    assertThat(FleetDataSource.class.getPackage().isAnnotationPresent(NullMarked.class)).isTrue();
    assertThat(Class.forName("dev.saaskit.fleet.internal.ConnectionBudget").getPackage()
        .isAnnotationPresent(NullMarked.class)).as("dev.saaskit.fleet.internal").isTrue();
  }

  private static void checkParameters(Class<?> type, Executable e, List<String> leaks) {
    for (Type p : e.getGenericParameterTypes()) {
      check(type, e, p, leaks);
    }
  }

  private static void check(Class<?> owner, Object member, Type type, List<String> leaks) {
    String name = type.getTypeName();
    if (owner == FleetDataSource.Builder.class && member instanceof Method m && m.getName().equals("hikari")
        && name.equals("java.util.function.Consumer<com.zaxxer.hikari.HikariConfig>")) {
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

  /** The public types compiled from src/main/java/dev/saaskit/fleet (not internal). */
  private static List<Class<?>> publicTypes() throws IOException, URISyntaxException, ClassNotFoundException {
    Path classes = Path.of(FleetDataSource.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path dir = classes.resolve("dev/saaskit/fleet");
    List<Class<?>> types = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(p -> p.toString().endsWith(".class")).sorted().toList()) {
        String simple = file.getFileName().toString().replace(".class", "");
        Class<?> c = Class.forName("dev.saaskit.fleet." + simple);
        if (Modifier.isPublic(c.getModifiers()) && !c.isAnonymousClass() && !c.isSynthetic()
            && (c.getEnclosingClass() == null || Modifier.isPublic(c.getEnclosingClass().getModifiers()))) {
          types.add(c);
        }
      }
    }
    return types;
  }
}
