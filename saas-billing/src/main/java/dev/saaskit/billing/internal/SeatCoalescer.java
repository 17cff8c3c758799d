package dev.saaskit.billing.internal;

import dev.saaskit.billing.BillingException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;
import org.jspecify.annotations.Nullable;

/**
 * Gathers seat changes of one subscription into one Stripe update. The first caller for a key opens a batch, waits
 * the window on its own thread (no thread is started), closes the batch and sends one update with the latest
 * quantity asked; callers arriving while the batch is open set the latest quantity and wait for the same result
 * (or failure). A caller arriving after the batch closed opens the next one, whose update is sent only once the
 * previous batch's update of the same key has finished (succeeded or failed): a slow update (retried after a 429 or
 * a timeout) never lands after a later one, so the quantity asked last is the one Stripe keeps. Thread-safe.
 *
 * @param <T> the result of an update
 */
public final class SeatCoalescer<T> {
  private static final class Batch<T> {
    final AtomicLong latest = new AtomicLong();
    final CompletableFuture<T> result = new CompletableFuture<>();
  }

  private final ConcurrentHashMap<String, Batch<T>> open = new ConcurrentHashMap<>();
  /** Per key, the update being sent (or waiting its turn) by the latest closed batch; removed when it finished. */
  private final ConcurrentHashMap<String, CompletableFuture<@Nullable Void>> sending = new ConcurrentHashMap<>();

  /** Asks for {@code quantity} on {@code key}; returns the result of the update that carried it (or a later one). */
  public T submit(String key, long quantity, Duration window, LongFunction<T> send) {
    boolean[] leader = {false};
    Batch<T> batch = open.compute(key, (k, b) -> {
      Batch<T> mine = b;
      if (mine == null) {
        mine = new Batch<>();
        leader[0] = true;
      }
      mine.latest.set(quantity);
      return mine;
    });
    if (!leader[0]) {
      return join(batch);
    }
    try {
      if (!window.isZero()) {
        TimeUnit.NANOSECONDS.sleep(window.toNanos());
      }
    } catch (InterruptedException e) {
      open.remove(key, batch);
      Thread.currentThread().interrupt();
      BillingException failure = new BillingException("interrupted while gathering seat changes", e);
      batch.result.completeExceptionally(failure);
      throw failure;
    }
    // take the turn after the previous batch's update before closing this batch: the next batch, opened only once
    // this one is closed, then waits for this update
    CompletableFuture<@Nullable Void> turn = new CompletableFuture<>();
    CompletableFuture<@Nullable Void> previous = sending.put(key, turn);
    open.remove(key, batch);
    try {
      if (previous != null) {
        awaitTurn(previous);
      }
      T result = send.apply(batch.latest.get());
      batch.result.complete(result);
      return result;
    } catch (RuntimeException | Error e) {
      batch.result.completeExceptionally(e);
      throw e;
    } finally {
      turn.complete(null);
      sending.remove(key, turn);
    }
  }

  /** Waits until the previous update of the key finished (its outcome is its own callers'). */
  private static void awaitTurn(CompletableFuture<@Nullable Void> previous) {
    try {
      previous.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BillingException("interrupted while waiting for the previous seat update", e);
    } catch (ExecutionException impossible) {
      throw new IllegalStateException("a seat update's turn is only ever completed normally", impossible);
    }
  }

  private static <T> T join(Batch<T> batch) {
    try {
      return batch.result.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BillingException("interrupted while waiting for a seat update", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof BillingException) {
        throw new BillingException(cause.getMessage() == null ? "seat update failed" : cause.getMessage(),
            ((BillingException) cause).stripeStatus(), ((BillingException) cause).stripeCode(), cause);
      }
      if (cause instanceof IllegalArgumentException || cause instanceof IllegalStateException) {
        throw (RuntimeException) cause;
      }
      throw new BillingException("seat update failed: " + cause, cause == null ? e : cause);
    }
  }
}
