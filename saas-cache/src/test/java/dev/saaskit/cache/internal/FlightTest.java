package dev.saaskit.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The marks a load in flight keeps: every tag invalidation marks every load, and loads have no timeout, so a hung
 * one must not keep the tags of a stream of invalidations without bound.
 */
class FlightTest {

  @Test
  void aLoadMarkedByManyDistinctTagsKeepsBoundedMarksAndIsDiscardedWhateverItLoaded() {
    Flight<String> flight = new Flight<>(Thread.currentThread());
    for (int i = 0; i < Flight.MAX_MARKED_TAGS; i++) {
      flight.invalidateTag("order:" + i);
    }
    assertThat(flight.discards(new String[] {"order:7"})).isTrue();
    assertThat(flight.discards(new String[] {"other"})).as("below the bound: by tag").isFalse();

    for (int i = 0; i < 100_000; i++) {
      flight.invalidateTag("row:" + i);
    }
    assertThat(flight.markedTags()).as("tags kept").isLessThanOrEqualTo(Flight.MAX_MARKED_TAGS);
    assertThat(flight.discards(new String[0])).as("past the bound: discarded whatever it loaded").isTrue();
    assertThat(flight.isMarked()).isTrue();
  }
}
