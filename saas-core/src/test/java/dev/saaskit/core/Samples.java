package dev.saaskit.core;

import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.random.RandomGenerator;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.function.ThrowingConsumer;

/**
 * saas-testing's {@code PropertySamples}, reduced to what saas-core's property test needs: saas-testing depends
 * on saas-core, so saas-core's tests cannot use it. The same rules (docs/testing.md, keep them in step): the seed
 * is {@code -Dsaaskit.seed} (or {@code SAASKIT_SEED}), else {@code 20261204} when {@code CI=true}, else random;
 * {@code -Dsaaskit.tries} sets the samples; sample i draws from the same random source as there, so a seed
 * replays the same samples in both.
 */
final class Samples {
  private static final long STRIDE = 0x2545_F491_4F6C_DD1DL;
  private static final long SEED = seed();

  private Samples() {}

  private static String setting(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      value = System.getenv(name.toUpperCase(Locale.ROOT).replace('.', '_'));
    }
    return value == null || value.isBlank() ? null : value.strip();
  }

  private static long seed() {
    String given = setting("saaskit.seed");
    long seed = given != null ? Long.parseLong(given)
        : "true".equalsIgnoreCase(setting("CI")) ? 20_261_204L : ThreadLocalRandom.current().nextLong();
    System.out.println("saaskit property samples: seed " + seed + " (replay with -Dsaaskit.seed=" + seed + ")");
    return seed;
  }

  static <T> Stream<DynamicTest> check(int defaultTries, Function<RandomGenerator, T> generator,
      ThrowingConsumer<T> property) {
    String tries = setting("saaskit.tries");
    return IntStream.range(0, tries == null ? defaultTries : Integer.parseInt(tries)).mapToObj(i -> {
      long sampleSeed = SEED + i * STRIDE;
      T sample = generator.apply(new SplittableRandom(sampleSeed));
      return DynamicTest.dynamicTest("#" + i, () -> {
        try {
          property.accept(sample);
        } catch (Throwable failure) {
          throw new AssertionError("property failed on sample #" + i + " of seed " + SEED + " (replay this sample"
              + " alone: -Dsaaskit.seed=" + sampleSeed + " -Dsaaskit.tries=1)\n  sample: " + escaped(sample)
              + "\n  failure: " + failure, failure);
        }
      });
    });
  }

  /** The sample with control characters and surrogates escaped, so reports stay readable (and valid XML). */
  private static String escaped(Object sample) {
    StringBuilder out = new StringBuilder();
    for (char c : String.valueOf(sample).toCharArray()) {
      out.append(Character.isISOControl(c) || Character.isSurrogate(c) ? String.format("\\u%04X", (int) c) : c);
    }
    return out.toString();
  }
}
