package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantId;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.opentest4j.TestAbortedException;

class PropertySamplesTest {

  private static Function<String, String> settings(Map<String, String> values) {
    return values::get;
  }

  @Test
  void aGivenSeedWinsThenCiThenRandom() {
    assertThat(PropertySamples.seed(settings(Map.of("saaskit.seed", "-42", "CI", "true")), () -> 7)).isEqualTo(-42);
    assertThat(PropertySamples.seed(settings(Map.of("CI", "true")), () -> 7)).isEqualTo(PropertySamples.CI_SEED);
    assertThat(PropertySamples.seed(settings(Map.of("CI", "TRUE")), () -> 7)).isEqualTo(PropertySamples.CI_SEED);
    assertThat(PropertySamples.seed(settings(Map.of("CI", "false")), () -> 7)).isEqualTo(7);
    assertThat(PropertySamples.seed(settings(Map.of()), () -> 7)).isEqualTo(7);
    assertThatIllegalArgumentException()
        .isThrownBy(() -> PropertySamples.seed(settings(Map.of("saaskit.seed", "abc")), () -> 7))
        .withMessage("saaskit.seed must be a long but was 'abc'");
  }

  @Test
  void triesComeFromTheSettingElseTheDefault() {
    assertThat(PropertySamples.tries(50, settings(Map.of()))).isEqualTo(50);
    assertThat(PropertySamples.tries(50, settings(Map.of("saaskit.tries", "2000")))).isEqualTo(2000);
    assertThatIllegalArgumentException()
        .isThrownBy(() -> PropertySamples.tries(50, settings(Map.of("saaskit.tries", "0"))))
        .withMessage("saaskit.tries must be an int >= 1 but was 0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> PropertySamples.check(0, r -> 1, v -> { }))
        .withMessage("defaultTries must be >= 1 but was 0");
  }

  @Test
  void samplesAreReproducibleAndEachReplaysAlone() {
    Function<RandomGenerator, Long> generator = RandomGenerator::nextLong;
    List<String> first = PropertySamples.check(5, generator, v -> { }).map(DynamicTest::getDisplayName).toList();
    List<String> second = PropertySamples.check(5, generator, v -> { }).map(DynamicTest::getDisplayName).toList();
    assertThat(first).hasSize(PropertySamples.tries(5)).isEqualTo(second).doesNotHaveDuplicates();
    // sample i is what a run seeded with sampleSeed(seed, i) draws first
    long seed = PropertySamples.seed();
    for (int i = 0; i < first.size(); i++) {
      long alone = new SplittableRandom(PropertySamples.sampleSeed(seed, i)).nextLong();
      assertThat(first.get(i)).isEqualTo("#" + i + " " + alone);
    }
    assertThat(PropertySamples.sampleSeed(seed, 0)).isEqualTo(seed);
  }

  @Test
  void aFailureSaysHowToReplayItsSample() {
    DynamicTest failing = PropertySamples.check(3, r -> "sample-" + r.nextInt(1000), v -> {
      throw new IllegalStateException("boom " + v);
    }).findFirst().orElseThrow();
    long seed = PropertySamples.seed();
    assertThatThrownBy(() -> failing.getExecutable().execute())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("property failed on sample #0 of seed " + seed)
        .hasMessageContaining("-Dsaaskit.seed=" + seed + " -Dsaaskit.tries=1")
        .hasMessageContaining("sample: sample-")
        .hasMessageContaining("boom sample-")
        .hasCauseInstanceOf(IllegalStateException.class);
  }

  @Test
  void anAbortedAssumptionSkipsTheSample() {
    DynamicTest skipped = PropertySamples.check(1, r -> 1, v -> {
      throw new TestAbortedException("not this one");
    }).findFirst().orElseThrow();
    assertThatThrownBy(() -> skipped.getExecutable().execute()).isExactlyInstanceOf(TestAbortedException.class);
  }

  @Test
  void controlCharactersAreEscapedInNamesAndMessages() {
    DynamicTest test = PropertySamples.check(1, r -> "a\u0000b\ud800", v -> {
      throw new AssertionError("no");
    }).findFirst().orElseThrow();
    assertThat(test.getDisplayName()).isEqualTo("#0 a\\u0000b\\uD800");
    assertThatThrownBy(() -> test.getExecutable().execute()).hasMessageContaining("sample: a\\u0000b\\uD800");
  }

  @Test
  void longSamplesGetAShortName() {
    String name = PropertySamples.check(1, r -> "x".repeat(500) + "\n", v -> { }).findFirst().orElseThrow()
        .getDisplayName();
    assertThat(name).hasSizeLessThanOrEqualTo(163).endsWith("...");
  }

  /** A printable string of 1 to 20 ASCII letters, digits and punctuation, none at either end a space. */
  static String printable(RandomGenerator random) {
    StringBuilder s = new StringBuilder();
    int length = random.nextInt(1, 21);
    for (int i = 0; i < length; i++) {
      s.append((char) random.nextInt('!', '~' + 1));
    }
    return s.toString();
  }

  // The example of docs/testing.md, run as written.
  // snippet: property
  @TestFactory
  Stream<DynamicTest> everyPrintableStringIsAccepted() {
    return PropertySamples.check(200, random -> printable(random), value ->
        assertThat(TenantId.of(value).value()).isEqualTo(value));
  }
  // end snippet
}
