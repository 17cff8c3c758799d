package dev.saaskit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TenantContextTest {
  private static final TenantId A = TenantId.of("tenant-a");
  private static final TenantId B = TenantId.of("tenant-b");
  private static final TenantId C = TenantId.of("tenant-c");

  private final List<ExecutorService> pools = new ArrayList<>();

  @BeforeEach
  void noTenantBefore() {
    assertThat(TenantContext.current()).isEmpty();
  }

  @AfterEach
  void noTenantAfterAndShutDown() throws InterruptedException {
    assertThat(TenantContext.current()).as("test thread must not keep a tenant").isEmpty();
    for (ExecutorService pool : pools) {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  private ExecutorService fixedPool(int threads) {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    pools.add(pool);
    return pool;
  }

  @Test
  void currentIsEmptyOutsideAnyScope() {
    assertThat(TenantContext.current()).isEqualTo(Optional.empty());
  }

  @Test
  void runSetsTheTenantAndRestoresNone() {
    AtomicReference<Optional<TenantId>> seen = new AtomicReference<>();
    TenantContext.run(A, () -> seen.set(TenantContext.current()));
    assertThat(seen.get()).contains(A);
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void callReturnsTheBodyResultAndRestores() throws Exception {
    TenantId result = TenantContext.call(A, TenantContext::require);
    assertThat(result).isEqualTo(A);
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void callRethrowsCheckedExceptionAsItIsAndRestores() {
    IOException boom = new IOException("boom");
    assertThatThrownBy(() -> TenantContext.call(A, () -> {
      throw boom;
    })).isSameAs(boom);
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void nestingRestoresTheOuterTenant() {
    List<Optional<TenantId>> seen = new ArrayList<>();
    TenantContext.run(A, () -> {
      seen.add(TenantContext.current());
      TenantContext.run(B, () -> {
        seen.add(TenantContext.current());
        TenantContext.run(C, () -> seen.add(TenantContext.current()));
        seen.add(TenantContext.current());
      });
      seen.add(TenantContext.current());
    });
    assertThat(seen).containsExactly(Optional.of(A), Optional.of(B), Optional.of(C), Optional.of(B),
        Optional.of(A));
  }

  @Test
  void nestingRestoresTheOuterTenantWhenTheBodyThrows() {
    AtomicReference<Optional<TenantId>> afterRun = new AtomicReference<>();
    AtomicReference<Optional<TenantId>> afterCall = new AtomicReference<>();
    TenantContext.run(A, () -> {
      assertThatThrownBy(() -> TenantContext.run(B, () -> {
        throw new IllegalStateException("inner");
      })).hasMessage("inner");
      afterRun.set(TenantContext.current());
      assertThatThrownBy(() -> TenantContext.call(B, () -> {
        throw new Exception("inner call");
      })).hasMessage("inner call");
      afterCall.set(TenantContext.current());
    });
    assertThat(afterRun.get()).contains(A);
    assertThat(afterCall.get()).contains(A);
  }

  @Test
  void outermostScopeRestoresNoneWhenTheBodyThrows() {
    assertThatThrownBy(() -> TenantContext.run(A, () -> {
      throw new IllegalStateException("x");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void requireReturnsTheCurrentTenant() {
    AtomicReference<TenantId> seen = new AtomicReference<>();
    TenantContext.run(B, () -> seen.set(TenantContext.require()));
    assertThat(seen.get()).isEqualTo(B);
  }

  @Test
  void requireOutsideAScopeThrowsWithAHelpfulMessage() {
    assertThatThrownBy(TenantContext::require)
        .isInstanceOf(MissingTenantException.class)
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("No tenant is set")
        .hasMessageContaining("TenantContext.run(")
        .hasMessageContaining("TenantContext.wrap(");
  }

  @Test
  void runWithoutTenantClearsAndRestores() {
    AtomicReference<Optional<TenantId>> inside = new AtomicReference<>();
    AtomicReference<Throwable> requireInside = new AtomicReference<>();
    AtomicReference<Optional<TenantId>> after = new AtomicReference<>();
    TenantContext.run(A, () -> {
      TenantContext.runWithoutTenant(() -> {
        inside.set(TenantContext.current());
        try {
          TenantContext.require();
        } catch (MissingTenantException e) {
          requireInside.set(e);
        }
      });
      after.set(TenantContext.current());
    });
    assertThat(inside.get()).isEmpty();
    assertThat(requireInside.get()).isInstanceOf(MissingTenantException.class);
    assertThat(after.get()).contains(A);
  }

  @Test
  void runWithoutTenantRestoresWhenTheBodyThrows() {
    AtomicReference<Optional<TenantId>> after = new AtomicReference<>();
    TenantContext.run(A, () -> {
      assertThatThrownBy(() -> TenantContext.runWithoutTenant(() -> {
        throw new IllegalStateException("x");
      })).isInstanceOf(IllegalStateException.class);
      after.set(TenantContext.current());
    });
    assertThat(after.get()).contains(A);
  }

  @Test
  void runWithoutTenantOutsideAScopeLeavesNone() {
    AtomicReference<Optional<TenantId>> inside = new AtomicReference<>();
    TenantContext.runWithoutTenant(() -> inside.set(TenantContext.current()));
    assertThat(inside.get()).isEmpty();
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void nullArgumentsAreRejected() {
    assertThatThrownBy(() -> TenantContext.run(nullTenant(), () -> {})).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> TenantContext.call(nullTenant(), () -> 1)).isInstanceOf(NullPointerException.class);
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void wrapRunnableCapturesTheTenantAtWrapTime() {
    AtomicReference<Optional<TenantId>> seen = new AtomicReference<>();
    AtomicReference<Optional<TenantId>> afterInB = new AtomicReference<>();
    Runnable wrapped = callUnchecked(A, () -> TenantContext.wrap(() -> seen.set(TenantContext.current())));

    // Run it under another tenant: it sees A (captured), and B is restored afterwards.
    TenantContext.run(B, () -> {
      wrapped.run();
      afterInB.set(TenantContext.current());
    });
    assertThat(seen.get()).contains(A);
    assertThat(afterInB.get()).contains(B);

    // Run it with no tenant at all: still A, and none afterwards.
    seen.set(null);
    wrapped.run();
    assertThat(seen.get()).contains(A);
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void wrapRunnableWithoutATenantRunsWithoutOne() {
    AtomicReference<Optional<TenantId>> seen = new AtomicReference<>();
    Runnable wrapped = TenantContext.wrap(() -> seen.set(TenantContext.current()));
    AtomicReference<Optional<TenantId>> after = new AtomicReference<>();
    TenantContext.run(B, () -> {
      wrapped.run();
      after.set(TenantContext.current());
    });
    assertThat(seen.get()).as("a task wrapped with no tenant must not see the runner's tenant").isEmpty();
    assertThat(after.get()).contains(B);
  }

  @Test
  void wrapRunnableRestoresWhenTheTaskThrows() {
    Runnable throwing = () -> {
      throw new IllegalStateException("task");
    };
    Runnable wrapped = callUnchecked(A, () -> TenantContext.wrap(throwing));
    AtomicReference<Optional<TenantId>> after = new AtomicReference<>();
    TenantContext.run(B, () -> {
      assertThatThrownBy(wrapped::run).hasMessage("task");
      after.set(TenantContext.current());
    });
    assertThat(after.get()).contains(B);
  }

  @Test
  void wrapCallableCapturesTheTenantAtWrapTime() throws Exception {
    Callable<TenantId> wrapped = TenantContext.call(A, () -> TenantContext.wrap(TenantContext::require));
    assertThat(TenantContext.call(B, wrapped::call)).isEqualTo(A);
    assertThat(wrapped.call()).isEqualTo(A);
    assertThat(TenantContext.current()).isEmpty();

    Callable<Optional<TenantId>> none = TenantContext.wrap(TenantContext::current);
    assertThat(TenantContext.call(B, none::call)).isEmpty();
  }

  @Test
  void wrapCallablePassesCheckedExceptionsAndRestores() throws Exception {
    IOException boom = new IOException("boom");
    Callable<Object> wrapped = TenantContext.call(A, () -> TenantContext.wrap(() -> {
      throw boom;
    }));
    AtomicReference<Optional<TenantId>> after = new AtomicReference<>();
    TenantContext.run(B, () -> {
      assertThatThrownBy(wrapped::call).isSameAs(boom);
      after.set(TenantContext.current());
    });
    assertThat(after.get()).contains(B);
  }

  @Test
  void wrappedExecutorServiceCarriesTheSubmittersTenantAndLeavesPoolThreadsClean() throws Exception {
    ExecutorService raw = fixedPool(2);
    ExecutorService wrapped = TenantContext.wrap(raw);
    int tasks = 1000;
    List<Future<Optional<TenantId>>> futures = new ArrayList<>(tasks);
    List<TenantId> expected = new ArrayList<>(tasks);
    List<CompletableFuture<Optional<TenantId>>> viaRunnable = new ArrayList<>();
    for (int i = 0; i < tasks; i++) {
      TenantId submitter = i % 2 == 0 ? A : B;
      expected.add(submitter);
      int n = i;
      futures.add(TenantContext.call(submitter, () -> {
        switch (n % 4) {
          case 0:
            return wrapped.submit(TenantContext::current);
          case 1: {
            CompletableFuture<Optional<TenantId>> seen = new CompletableFuture<>();
            wrapped.execute(() -> seen.complete(TenantContext.current()));
            viaRunnable.add(seen);
            return seen;
          }
          case 2: {
            AtomicReference<Optional<TenantId>> seen = new AtomicReference<>();
            Future<?> done = wrapped.submit(() -> seen.set(TenantContext.current()));
            return CompletableFuture.supplyAsync(() -> {
              try {
                done.get();
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
              return seen.get();
            });
          }
          default: {
            AtomicReference<Optional<TenantId>> seen = new AtomicReference<>();
            Future<AtomicReference<Optional<TenantId>>> done =
                wrapped.submit(() -> seen.set(TenantContext.current()), seen);
            return CompletableFuture.supplyAsync(() -> {
              try {
                return done.get().get();
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
          }
        }
      }));
    }
    for (int i = 0; i < tasks; i++) {
      assertThat(futures.get(i).get(30, TimeUnit.SECONDS))
          .as("task %d submitted as %s", i, expected.get(i))
          .contains(expected.get(i));
    }
    assertThat(viaRunnable).hasSize(tasks / 4);

    assertPoolThreadsCarryNoTenant(raw, 2);
  }

  /** Runs one plain task per pool thread at the same time (a barrier forces every thread to take one). */
  private static void assertPoolThreadsCarryNoTenant(ExecutorService raw, int threads) throws Exception {
    CyclicBarrier barrier = new CyclicBarrier(threads);
    List<Future<String>> seen = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      seen.add(raw.submit(() -> {
        barrier.await(10, TimeUnit.SECONDS);
        return Thread.currentThread().getName() + "=" + TenantContext.current();
      }));
    }
    List<String> results = new ArrayList<>();
    for (Future<String> f : seen) {
      results.add(f.get(20, TimeUnit.SECONDS));
    }
    assertThat(results).hasSize(threads).allSatisfy(r -> assertThat(r).endsWith("=Optional.empty"));
    assertThat(results.stream().map(r -> r.substring(0, r.indexOf('='))).distinct()).hasSize(threads);
  }

  @Test
  void wrappedExecutorServiceTaskSubmittedWithoutTenantSeesNone() throws Exception {
    ExecutorService raw = fixedPool(1);
    ExecutorService wrapped = TenantContext.wrap(raw);
    // First a task for A, then one with no tenant on the same single thread.
    assertThat(TenantContext.call(A, () -> wrapped.submit(TenantContext::current)).get()).contains(A);
    assertThat(wrapped.submit(TenantContext::current).get()).isEmpty();
  }

  @Test
  void completableFutureChainsKeepTheTenant() throws Exception {
    ExecutorService raw = fixedPool(2);
    Executor executor = TenantContext.wrap((Executor) raw);
    assertThat(executor).isInstanceOf(ExecutorService.class);
    int chains = 200;
    List<CompletableFuture<List<Optional<TenantId>>>> futures = new ArrayList<>();
    List<TenantId> expected = new ArrayList<>();
    for (int i = 0; i < chains; i++) {
      TenantId tenant = i % 2 == 0 ? A : B;
      expected.add(tenant);
      futures.add(TenantContext.call(tenant, () -> CompletableFuture
          .supplyAsync(() -> {
            List<Optional<TenantId>> seen = new ArrayList<>();
            seen.add(TenantContext.current());
            return seen;
          }, executor)
          .thenApplyAsync(seen -> {
            seen.add(TenantContext.current());
            return seen;
          }, executor)
          .thenApplyAsync(seen -> {
            seen.add(TenantContext.current());
            return seen;
          }, executor)));
    }
    for (int i = 0; i < chains; i++) {
      Optional<TenantId> want = Optional.of(expected.get(i));
      assertThat(futures.get(i).get(30, TimeUnit.SECONDS)).as("chain %d", i).containsExactly(want, want, want);
    }
    assertPoolThreadsCarryNoTenant(raw, 2);
  }

  @Test
  void aDependentStageRunsAsTheTenantThatCreatedItWhenItsFunctionIsWrapped() throws Exception {
    ExecutorService raw = fixedPool(2);
    Executor executor = TenantContext.wrap((Executor) raw);
    CompletableFuture<String> upstream = new CompletableFuture<>();
    // Created in A's request...
    CompletableFuture<Optional<TenantId>> wrappedStage = callUnchecked(A,
        () -> upstream.thenApplyAsync(TenantContext.wrapFunction(value -> TenantContext.current()), executor));
    CompletableFuture<Optional<TenantId>> wrappedOnRawPool = callUnchecked(A,
        () -> upstream.thenApplyAsync(TenantContext.wrapFunction(value -> TenantContext.current()), raw));
    CompletableFuture<Optional<TenantId>> executorOnly = callUnchecked(A,
        () -> upstream.thenApplyAsync(value -> TenantContext.current(), executor));
    List<Optional<TenantId>> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();
    CompletableFuture<Void> wrappedConsumer = callUnchecked(A,
        () -> upstream.thenAcceptAsync(TenantContext.wrapConsumer(value -> accepted.add(TenantContext.current())),
            executor));
    CompletableFuture<Optional<TenantId>> wrappedBiFunction = callUnchecked(A,
        () -> upstream.thenCombineAsync(CompletableFuture.completedFuture(1),
            TenantContext.wrapBiFunction((value, one) -> TenantContext.current()), executor));
    // ...and completed by a thread working for B: that thread submits the dependent stages.
    TenantContext.run(B, () -> upstream.complete("done"));

    assertThat(wrappedStage.get(10, TimeUnit.SECONDS)).contains(A);
    assertThat(wrappedOnRawPool.get(10, TimeUnit.SECONDS)).contains(A);
    assertThat(wrappedBiFunction.get(10, TimeUnit.SECONDS)).contains(A);
    wrappedConsumer.get(10, TimeUnit.SECONDS);
    assertThat(accepted).containsExactly(Optional.of(A));
    // The documented reason to wrap the function: an executor captures the tenant of whoever submits the stage.
    assertThat(executorOnly.get(10, TimeUnit.SECONDS)).contains(B);
    assertPoolThreadsCarryNoTenant(raw, 2);
  }

  @Test
  void wrappedFunctionalTypesCaptureAtWrapTimeAndRestoreTheCallersTenant() {
    java.util.function.Supplier<Optional<TenantId>> supplier =
        callUnchecked(A, () -> TenantContext.wrapSupplier(TenantContext::current));
    java.util.function.Function<String, String> function =
        callUnchecked(A, () -> TenantContext.wrapFunction(s -> s + TenantContext.require()));
    List<String> seen = new ArrayList<>();
    java.util.function.Consumer<String> consumer =
        callUnchecked(A, () -> TenantContext.wrapConsumer(s -> seen.add(s + TenantContext.require())));
    java.util.function.BiConsumer<String, String> biConsumer = callUnchecked(A,
        () -> TenantContext.wrapBiConsumer((s, t) -> seen.add(s + t + TenantContext.require())));
    java.util.function.Supplier<Optional<TenantId>> noTenant = TenantContext.wrapSupplier(TenantContext::current);

    TenantContext.run(B, () -> {
      assertThat(supplier.get()).contains(A);
      assertThat(function.apply("f:")).isEqualTo("f:tenant-a");
      consumer.accept("c:");
      biConsumer.accept("b", ":");
      assertThat(noTenant.get()).isEmpty();
      assertThat(TenantContext.current()).contains(B);
    });
    assertThat(seen).containsExactly("c:tenant-a", "b:tenant-a");
    java.util.function.Function<String, String> failing =
        callUnchecked(A, () -> TenantContext.wrapFunction(s -> { throw new IllegalStateException(s); }));
    TenantContext.run(C, () -> {
      assertThatThrownBy(() -> failing.apply("boom")).isInstanceOf(IllegalStateException.class);
      assertThat(TenantContext.current()).contains(C);
    });
    assertThat(supplier.get()).contains(A);
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void wrapOfAPlainExecutorCarriesTheTenant() throws Exception {
    Executor plain = command -> {
      Thread t = new Thread(command, "plain-executor");
      t.start();
    };
    Executor wrapped = TenantContext.wrap(plain);
    CompletableFuture<Optional<TenantId>> seen = new CompletableFuture<>();
    TenantContext.run(C, () -> wrapped.execute(() -> seen.complete(TenantContext.current())));
    assertThat(seen.get(10, TimeUnit.SECONDS)).contains(C);
  }

  @Test
  void wrapDoesNotWrapTwiceAndDelegatesLifecycle() throws Exception {
    ExecutorService raw = fixedPool(1);
    ExecutorService wrapped = TenantContext.wrap(raw);
    assertThat(TenantContext.wrap(wrapped)).isSameAs(wrapped);
    assertThat(wrapped.isShutdown()).isFalse();
    wrapped.shutdown();
    assertThat(raw.isShutdown()).isTrue();
    assertThat(wrapped.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThat(raw.isTerminated()).isTrue();
  }

  @Test
  void invokeAllIsWrapped() throws Exception {
    ExecutorService raw = fixedPool(2);
    ExecutorService wrapped = TenantContext.wrap(raw);
    List<Callable<Optional<TenantId>>> tasks = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      tasks.add(TenantContext::current);
    }
    List<Future<Optional<TenantId>>> forA = TenantContext.call(A, () -> wrapped.invokeAll(tasks));
    List<Future<Optional<TenantId>>> forB =
        TenantContext.call(B, () -> wrapped.invokeAll(tasks, 30, TimeUnit.SECONDS));
    for (Future<Optional<TenantId>> f : forA) {
      assertThat(f.get()).contains(A);
    }
    for (Future<Optional<TenantId>> f : forB) {
      assertThat(f.get()).contains(B);
    }
    assertThat(forA).hasSize(20);
    assertThat(forB).hasSize(20);
    assertPoolThreadsCarryNoTenant(raw, 2);
  }

  @Test
  void invokeAnyIsWrapped() throws Exception {
    ExecutorService raw = fixedPool(2);
    ExecutorService wrapped = TenantContext.wrap(raw);
    List<Callable<TenantId>> tasks = List.of(TenantContext::require, TenantContext::require);
    assertThat(TenantContext.call(A, () -> wrapped.invokeAny(tasks))).isEqualTo(A);
    assertThat(TenantContext.call(B, () -> wrapped.invokeAny(tasks, 30, TimeUnit.SECONDS))).isEqualTo(B);
    // Without a tenant, require() fails in every task, so invokeAny fails: proof the worker had none.
    assertThatThrownBy(() -> wrapped.invokeAny(tasks))
        .hasCauseInstanceOf(MissingTenantException.class);
    assertPoolThreadsCarryNoTenant(raw, 2);
  }

  @Test
  void tenantsDoNotLeakBetweenConcurrentSubmittersOnATinyPool() throws Exception {
    ExecutorService raw = fixedPool(2);
    ExecutorService wrapped = TenantContext.wrap(raw);
    ExecutorService submitters = fixedPool(4);
    int perSubmitter = 250;
    CountDownLatch start = new CountDownLatch(1);
    List<Future<Integer>> mismatches = new ArrayList<>();
    for (int s = 0; s < 4; s++) {
      TenantId tenant = TenantId.of("concurrent-" + s);
      mismatches.add(submitters.submit(() -> {
        start.await();
        return TenantContext.call(tenant, () -> {
          List<Future<Optional<TenantId>>> fs = new ArrayList<>();
          for (int i = 0; i < perSubmitter; i++) {
            fs.add(wrapped.submit(TenantContext::current));
          }
          int bad = 0;
          for (Future<Optional<TenantId>> f : fs) {
            if (!f.get().equals(Optional.of(tenant))) {
              bad++;
            }
          }
          return bad;
        });
      }));
    }
    start.countDown();
    for (Future<Integer> m : mismatches) {
      assertThat(m.get(60, TimeUnit.SECONDS)).isZero();
    }
    assertPoolThreadsCarryNoTenant(raw, 2);
  }

  private static <T> T callUnchecked(TenantId tenant, Callable<T> body) {
    try {
      return TenantContext.call(tenant, body::call);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @SuppressWarnings("NullAway")
  private static TenantId nullTenant() {
    return null;
  }
}
