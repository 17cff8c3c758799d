package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import org.junit.jupiter.api.Test;

class MutableClockTest {
  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");

  @Test
  void movesOnlyWhenTold() {
    MutableClock clock = MutableClock.at(START);
    assertThat(clock.instant()).isEqualTo(START);
    assertThat(clock.advance(Duration.ofSeconds(90))).isEqualTo(START.plusSeconds(90));
    assertThat(clock.millis()).isEqualTo(START.plusSeconds(90).toEpochMilli());
    clock.set(START.minusSeconds(1));
    assertThat(clock.instant()).isEqualTo(START.minusSeconds(1));
  }

  @Test
  void zonedViewsShareTheInstant() {
    MutableClock clock = MutableClock.at(START);
    var paris = clock.withZone(ZoneId.of("Europe/Paris"));
    clock.advance(Duration.ofHours(1));
    assertThat(paris.instant()).isEqualTo(START.plusSeconds(3600));
    assertThat(paris.getZone()).isEqualTo(ZoneId.of("Europe/Paris"));
  }

  @Test
  void rejectsNull() {
    assertThatNullPointerException().isThrownBy(() -> MutableClock.at(null));
  }

  @Test
  void theDocumentedUse() {
    // snippet: mutable-clock
    MutableClock clock = MutableClock.at(Instant.parse("2026-01-01T00:00:00Z"));
    Clock forTheCodeUnderTest = clock;          // hand it to whatever takes a java.time.Clock
    clock.advance(Duration.ofMinutes(5));      // five minutes later, without sleeping
    // end snippet
    assertThat(forTheCodeUnderTest.instant()).isEqualTo(START.plusSeconds(300));
  }
}
