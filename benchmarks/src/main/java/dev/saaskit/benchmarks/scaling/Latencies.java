package dev.saaskit.benchmarks.scaling;

import java.util.Arrays;

/** Per-operation times of one path at one point, in nanoseconds, with the summaries the tables show. */
final class Latencies {
  private long[] nanos = new long[1024];
  private int size;

  void add(long elapsedNanos) {
    if (size == nanos.length) {
      nanos = Arrays.copyOf(nanos, 2 * size);
    }
    nanos[size++] = elapsedNanos;
  }

  int size() {
    return size;
  }

  /** The q-quantile (0..1) in milliseconds, nearest rank. */
  double quantileMillis(double q) {
    if (size == 0) {
      throw new IllegalStateException("no samples");
    }
    long[] sorted = Arrays.copyOf(nanos, size);
    Arrays.sort(sorted);
    int rank = (int) Math.ceil(q * size) - 1;
    return sorted[Math.max(0, Math.min(size - 1, rank))] / 1e6;
  }

  double meanMillis() {
    long sum = 0;
    for (int i = 0; i < size; i++) {
      sum += nanos[i];
    }
    return sum / 1e6 / size;
  }
}
