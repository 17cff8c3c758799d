package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import dev.saaskit.testing.PropertySamples;
import java.time.Duration;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RetryPolicyTest {

  @Test
  void ceilingDoublesFromTheBaseUpToTheCap() {
    RetryPolicy p = RetryPolicy.exponential(Duration.ofSeconds(1), Duration.ofSeconds(10));
    assertThat(p.ceiling(1)).isEqualTo(Duration.ofSeconds(1));
    assertThat(p.ceiling(2)).isEqualTo(Duration.ofSeconds(2));
    assertThat(p.ceiling(4)).isEqualTo(Duration.ofSeconds(8));
    assertThat(p.ceiling(5)).isEqualTo(Duration.ofSeconds(10));
    assertThat(p.ceiling(10_000)).isEqualTo(Duration.ofSeconds(10));
    assertThat(p.withJitter(RetryPolicy.Jitter.NONE).delay(3, new Random(1))).isEqualTo(Duration.ofSeconds(4));
  }

  @Test
  void defaultsAreOneSecondToOneHourWithEqualJitter() {
    RetryPolicy p = RetryPolicy.defaults();
    assertThat(p.baseDelay()).isEqualTo(Duration.ofSeconds(1));
    assertThat(p.maxDelay()).isEqualTo(Duration.ofHours(1));
    assertThat(p.jitter()).isEqualTo(RetryPolicy.Jitter.EQUAL);
  }

  @Test
  void rejectsBadValuesNamingThem() {
    assertThatIllegalArgumentException().isThrownBy(() -> RetryPolicy.exponential(Duration.ZERO, Duration.ofSeconds(1)))
        .withMessageContaining("baseDelay must be >= 1 ms but was PT0S");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RetryPolicy.exponential(Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .withMessageContaining("maxDelay must be >= baseDelay");
    assertThatIllegalArgumentException().isThrownBy(() -> RetryPolicy.defaults().delay(0, new Random()))
        .withMessage("attempt must be >= 1 but was 0");
  }

  /** A base delay of 1 ms to 1 h, a cap up to about 28 h above it, an attempt of 1 to 200, a random seed. */
  record Band(long baseMillis, long extraMillis, int attempt, long seed) {}

  @TestFactory
  Stream<DynamicTest> delaysStayWithinTheirJitterBand() {
    return PropertySamples.check(500, r -> new Band(r.nextLong(1, 3_600_001), r.nextLong(0, 100_000_001),
        r.nextInt(1, 201), r.nextLong()), b -> withinBand(b.baseMillis(), b.extraMillis(), b.attempt(), b.seed()));
  }

  /** The bounds of every range, which random samples rarely hit (jqwik tried them first). */
  @ParameterizedTest
  @CsvSource({
      "1, 0, 1, 0", "1, 0, 2, 0", "1, 0, 200, 0", "1, 100000000, 1, 0", "1, 100000000, 2, 0",
      "1, 100000000, 200, -1", "3600000, 0, 1, 0", "3600000, 0, 200, 0", "3600000, 100000000, 1, 0",
      "3600000, 100000000, 2, 9223372036854775807", "3600000, 100000000, 200, -9223372036854775808",
      "1, 1, 64, 1", "1, 1, 65, 1"})
  void delaysStayWithinTheirJitterBandAtTheBounds(long baseMillis, long extraMillis, int attempt, long seed) {
    withinBand(baseMillis, extraMillis, attempt, seed);
  }

  static void withinBand(long baseMillis, long extraMillis, int attempt, long seed) {
    RetryPolicy p = RetryPolicy.exponential(Duration.ofMillis(baseMillis), Duration.ofMillis(baseMillis + extraMillis));
    long ceiling = p.ceiling(attempt).toMillis();
    assertThat(ceiling).isBetween(baseMillis, baseMillis + extraMillis);
    assertThat(ceiling).isGreaterThanOrEqualTo(attempt > 1 ? p.ceiling(attempt - 1).toMillis() : baseMillis);
    Random random = new Random(seed);
    assertThat(p.delay(attempt, random).toMillis()).isBetween(ceiling / 2, ceiling);
    assertThat(p.withJitter(RetryPolicy.Jitter.FULL).delay(attempt, random).toMillis()).isBetween(0L, ceiling);
    assertThat(p.withJitter(RetryPolicy.Jitter.NONE).delay(attempt, random).toMillis()).isEqualTo(ceiling);
  }
}
