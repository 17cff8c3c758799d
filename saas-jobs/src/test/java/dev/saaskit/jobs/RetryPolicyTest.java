package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.time.Duration;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

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

  @Property(tries = 500)
  void delaysStayWithinTheirJitterBand(@ForAll @LongRange(min = 1, max = 3_600_000) long baseMillis,
      @ForAll @LongRange(min = 0, max = 100_000_000) long extraMillis, @ForAll @IntRange(min = 1, max = 200) int attempt,
      @ForAll long seed) {
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
