package dev.saaskit.testing;

import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.function.ThrowingConsumer;
import org.opentest4j.TestAbortedException;

/**
 * Property tests as plain JUnit 5 dynamic tests: a rule checked on many generated samples, each drawn from its own
 * seeded random source, so that any run can be replayed exactly.
 *
 * <pre>{@code
 * @TestFactory
 * Stream<DynamicTest> everyAcceptedIdRoundTrips() {
 *   return PropertySamples.check(200, random -> randomString(random), value -> {
 *     assertThat(TenantId.of(value).value()).isEqualTo(value);
 *   });
 * }
 * }</pre>
 *
 * <p>The seed of a run, shared by every property in the JVM:
 *
 * <ul>
 *   <li>{@value #SEED} (system property, else the environment variable {@code SAASKIT_SEED}) if set: to replay a
 *       run, or one sample;
 *   <li>else {@link #CI_SEED} when the environment variable {@code CI} is {@code true}, so a build server always
 *       checks the same samples and a change cannot fail (or pass) by the luck of the draw;
 *   <li>else a random seed, printed once, so local runs keep exploring new samples.
 * </ul>
 *
 * <p>Each property runs its default number of samples, or {@value #TRIES} (system property, else
 * {@code SAASKIT_TRIES}) samples when that is set: raise it for a longer exploration, lower it for a quick pass.
 * A failing sample's message names the run's seed, the sample's index and value, and the one-line replay of that
 * sample alone. Keep every failure found this way as an explicit test case (a {@code @Test} or a
 * {@code @ParameterizedTest} row) once it is fixed, so it is checked in every run whatever the seed.
 *
 * <p>Sample {@code i} of a run seeded {@code s} draws from a {@link SplittableRandom} seeded with
 * {@link #sampleSeed(long, int) sampleSeed(s, i)}, and sample 0's seed is the run's own: so a run seeded with a
 * sample's seed and one try replays exactly that sample.
 */
public final class PropertySamples {
  /** The seed used when the environment variable {@code CI} is {@code true} and no seed is given. */
  public static final long CI_SEED = 20_261_204L;
  /** The system property (or, as {@code SAASKIT_SEED}, environment variable) that sets the seed of a run. */
  public static final String SEED = "saaskit.seed";
  /** The system property (or, as {@code SAASKIT_TRIES}, environment variable) that sets every property's samples. */
  public static final String TRIES = "saaskit.tries";

  /** Odd and unrelated to SplittableRandom's own increment, so samples' random streams do not overlap. */
  private static final long STRIDE = 0x2545_F491_4F6C_DD1DL;
  private static final int MAX_NAME = 160;

  private static final long RUN_SEED = announce(seed(PropertySamples::setting, ThreadLocalRandom.current()::nextLong));

  private PropertySamples() {}

  /** The seed of this run. */
  public static long seed() {
    return RUN_SEED;
  }

  /** The number of samples a property with {@code defaultTries} runs: {@value #TRIES} if set, else the default. */
  public static int tries(int defaultTries) {
    return tries(defaultTries, PropertySamples::setting);
  }

  /**
   * One dynamic test per sample: {@code generator} makes the sample from its random source, then {@code property}
   * checks it. A failure is rethrown as an {@link AssertionError} whose message says how to replay the sample (the
   * original failure is its cause); an aborted assumption skips the sample.
   *
   * @param defaultTries the number of samples unless {@value #TRIES} says otherwise, at least 1
   * @param generator makes one sample; it must draw all its randomness from the source it is given
   * @param property the rule every sample must satisfy
   */
  public static <T> Stream<DynamicTest> check(int defaultTries,
      Function<? super RandomGenerator, ? extends T> generator, ThrowingConsumer<? super T> property) {
    Objects.requireNonNull(generator, "generator");
    Objects.requireNonNull(property, "property");
    if (defaultTries < 1) {
      throw new IllegalArgumentException("defaultTries must be >= 1 but was " + defaultTries);
    }
    long runSeed = seed();
    return IntStream.range(0, tries(defaultTries)).mapToObj(i -> {
      long sampleSeed = sampleSeed(runSeed, i);
      T sample = generator.apply(new SplittableRandom(sampleSeed));
      return DynamicTest.dynamicTest("#" + i + " " + abbreviate(String.valueOf(sample)),
          () -> run(property, sample, runSeed, i, sampleSeed));
    });
  }

  /** The seed of sample {@code index} of a run seeded with {@code runSeed}; sample 0's is the run's own. */
  public static long sampleSeed(long runSeed, int index) {
    return runSeed + index * STRIDE;
  }

  private static <T> void run(ThrowingConsumer<? super T> property, T sample, long runSeed, int index,
      long sampleSeed) throws Throwable {
    try {
      property.accept(sample);
    } catch (TestAbortedException skipped) {
      throw skipped;
    } catch (Throwable failure) {
      throw new AssertionError("property failed on sample #" + index + " of seed " + runSeed
          + " (replay this sample alone: -D" + SEED + "=" + sampleSeed + " -D" + TRIES + "=1)\n  sample: "
          + escaped(String.valueOf(sample)) + "\n  failure: " + failure, failure);
    }
  }

  static long seed(Function<String, @Nullable String> settings, LongSupplier random) {
    String given = settings.apply(SEED);
    if (given != null) {
      try {
        return Long.parseLong(given);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(SEED + " must be a long but was '" + given + "'", e);
      }
    }
    return "true".equalsIgnoreCase(settings.apply("CI")) ? CI_SEED : random.getAsLong();
  }

  static int tries(int defaultTries, Function<String, @Nullable String> settings) {
    String given = settings.apply(TRIES);
    if (given == null) {
      return defaultTries;
    }
    int tries;
    try {
      tries = Integer.parseInt(given);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(TRIES + " must be an int >= 1 but was '" + given + "'", e);
    }
    if (tries < 1) {
      throw new IllegalArgumentException(TRIES + " must be an int >= 1 but was " + tries);
    }
    return tries;
  }

  /**
   * A setting: the system property of that name, else the environment variable (upper case, dots as
   * underscores); blank counts as unset.
   */
  private static @Nullable String setting(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      value = System.getenv(name.toUpperCase(Locale.ROOT).replace('.', '_'));
    }
    return value == null || value.isBlank() ? null : value.strip();
  }

  private static long announce(long seed) {
    // once per JVM, so a local run that fails can be replayed even when the failure scrolled away
    System.out.println("saaskit property samples: seed " + seed + " (replay with -D" + SEED + "=" + seed + ")");
    return seed;
  }

  private static String abbreviate(String s) {
    String line = escaped(s.replaceAll("\\s+", " "));
    return line.length() <= MAX_NAME ? line : line.substring(0, MAX_NAME - 3) + "...";
  }

  /** Control characters and surrogates as {@code \\uXXXX}, so names and messages stay readable (and valid XML). */
  private static String escaped(String s) {
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      out.append(Character.isISOControl(c) || Character.isSurrogate(c) ? String.format("\\u%04X", (int) c) : c);
    }
    return out.toString();
  }
}
