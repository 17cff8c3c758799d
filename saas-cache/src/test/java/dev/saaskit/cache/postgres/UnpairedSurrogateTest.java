package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.CacheValue;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A string with an unpaired surrogate has no UTF-8 form: the JDBC driver sends {@code ?} in its place, so the
 * invalidation of key "k" + U+D800 reached the other nodes as {@code "k?"}: they dropped an innocent key and
 * kept the stale one until its TTL. Such keys, tags and names are now refused; valid surrogate pairs (emoji) travel
 * unchanged.
 */
@ExtendWith(PostgresExtension.class)
class UnpairedSurrogateTest {
  private static final TenantId ACME = TenantId.of("acme");
  private static final String LONE = "k\uD800";

  private BusFixture fixture;
  private SaasCache<String, String> onA;
  private SaasCache<String, String> onB;

  @BeforeAll
  static void schema(TestDatabase db) throws SQLException {
    BusFixture.migrate(db);
  }

  @BeforeEach
  void nodes(TestDatabase db) {
    fixture = new BusFixture(db);
    onA = SaasCache.<String, String>named("plans").ttl(Duration.ofHours(1)).invalidationBus(fixture.node("a"))
        .build();
    fixture.register(onA);
    onB = SaasCache.<String, String>named("plans").ttl(Duration.ofHours(1)).invalidationBus(fixture.node("b"))
        .build();
    fixture.register(onB);
  }

  @AfterEach
  void close() {
    fixture.close();
  }

  @Test
  void aKeyWithAnUnpairedSurrogateIsRefusedRatherThanCachedWhereNoInvalidationCanReachIt() {
    TenantContext.run(ACME, () -> {
      assertThatThrownBy(() -> onB.put(LONE, "old")).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("unpaired surrogate");
      assertThatThrownBy(() -> onB.get(LONE, k -> "old")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> onB.get("k\uDC00x", k -> "old")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> onB.getWith("k", k -> CacheValue.of("v").tags("t\uD800")))
          .hasRootCauseInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> onA.invalidate(LONE)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> onA.invalidateTag("t\uDBFF")).isInstanceOf(IllegalArgumentException.class);
      assertThat(onB.getIfPresent(LONE)).isNull();
    });
    assertThatThrownBy(() -> Invalidation.key("plans", ACME, LONE)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Invalidation.tag("\uDC00")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> SaasCache.named("c\uD800")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aKeyWithAValidSurrogatePairIsInvalidatedOnTheOtherNode() {
    String emoji = "k\uD83D\uDE00";
    TenantContext.run(ACME, () -> {
      onB.put(emoji, "old");
      onB.put("k?", "innocent");
      onA.invalidate(emoji);
    });
    Await.until("the emoji key dropped on node b",
        () -> TenantContext.call(ACME, () -> onB.getIfPresent(emoji)) == null);
    assertThat(TenantContext.call(ACME, () -> onB.getIfPresent("k?"))).isEqualTo("innocent");
  }
}
