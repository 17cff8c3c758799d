package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.testing.PublicApi;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.List;
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;

/**
 * The shape issue 11 gives every module, checked on saas-fleet's public API: third-party types stay inside (one
 * documented exception: {@code FleetDataSource.Builder.hikari(Consumer<HikariConfig>)}, the pool options), values
 * that may grow are classes rather than records, every package is {@code @NullMarked}, the schema object has a
 * builder.
 */
class FleetPublicApiTest {

  /** The one documented exception: the pool options, {@code FleetDataSource.Builder.hikari(..)}. */
  private static final PublicApi.Exemption HIKARI_OPTION = (owner, member, type) ->
      owner == FleetDataSource.Builder.class && member instanceof Method m && m.getName().equals("hikari")
          && type.equals("java.util.function.Consumer<com.zaxxer.hikari.HikariConfig>");

  @Test
  void noThirdPartyTypeInThePublicApiButTheDocumentedHikariOption() {
    List<Class<?>> types = PublicApi.typesOf(FleetDataSource.class);
    assertThat(types).contains(TenantDirectory.class, FleetDataSource.class, FleetDataSource.Builder.class,
        TenantMove.class, FleetMigrations.class, FleetStats.class, FleetSchema.Builder.class);
    assertThat(PublicApi.thirdPartyNames(types, HIKARI_OPTION)).isEmpty();
  }

  @Test
  void theCheckSeesAThirdPartyTypeOutsideTheOneException() throws Exception {
    Method hikari = FleetDataSource.Builder.class.getMethod("hikari", java.util.function.Consumer.class);
    assertThat(PublicApi.thirdPartyNames(FleetDataSource.Builder.class, hikari, hikari.getGenericParameterTypes()[0],
        HIKARI_OPTION)).isEmpty();
    assertThat(PublicApi.thirdPartyNames(FleetMigrations.Builder.class, hikari, hikari.getGenericParameterTypes()[0],
        HIKARI_OPTION)).singleElement().asString().endsWith("names com.zaxxer.hikari.HikariConfig");
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
}
