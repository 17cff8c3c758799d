package dev.saaskit.core;

import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The tenant the current thread works for.
 *
 * <p>Set it once at the edge of a request or job and everything below reads it: SQL through
 * {@code TenantDataSource}, cache keys, enqueued jobs. A scope is always bounded:
 *
 * <pre>{@code
 * TenantContext.run(TenantId.of("acme"), () -> service.handle(request));
 * Invoice inv = TenantContext.call(tenant, () -> invoices.find(id));
 * }</pre>
 *
 * <p>Scopes nest: an inner {@code run} replaces the tenant for its duration and the outer one is restored after,
 * also when the body throws. A thread never keeps a tenant after its scope ends, so pooled threads cannot leak
 * one request's tenant into the next.
 *
 * <p>Threads do not inherit the tenant (inheritance would leak it into pooled threads created lazily). Carry it
 * explicitly with {@link #wrap(Runnable)}, {@link #wrap(Callable)}, {@link #wrapSupplier(Supplier)},
 * {@link #wrapFunction(Function)}, {@link #wrapConsumer(Consumer)} (the tenant current when the wrapper is made),
 * or {@link #wrap(Executor)} / {@link #wrap(ExecutorService)} (the tenant current when each task is submitted),
 * which install it around the task in the other thread. In {@code CompletableFuture} chains, wrap each stage's
 * function: a dependent stage is submitted by the thread that completes the stage before it.
 */
public final class TenantContext {
  private static final ThreadLocal<@Nullable TenantId> CURRENT = new ThreadLocal<>();

  private TenantContext() {}

  /**
   * Runs {@code body} with {@code tenant} as the current tenant, then restores the previous one. A checked exception
   * of the body is rethrown as it is: {@code TenantContext.run(tenant, () -> notes.insert(db, "hi"))} throws what
   * {@code insert} throws ({@code SQLException}, say), and nothing checked when it throws nothing checked.
   */
  public static <E extends Exception> void run(TenantId tenant, CheckedRunnable<E> body) throws E {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(body, "body");
    TenantId previous = CURRENT.get();
    CURRENT.set(tenant);
    try {
      body.run();
    } finally {
      restore(previous);
    }
  }

  /**
   * Calls {@code body} with {@code tenant} as the current tenant and returns its result, then restores the
   * previous tenant. A checked exception of the body is rethrown as it is (see {@link #run}).
   */
  public static <T extends @Nullable Object, E extends Exception> T call(TenantId tenant, CheckedSupplier<T, E> body)
      throws E {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(body, "body");
    TenantId previous = CURRENT.get();
    CURRENT.set(tenant);
    try {
      return body.get();
    } finally {
      restore(previous);
    }
  }

  /**
   * Runs {@code body} with no current tenant (for work that must see no tenant data, such as a maintenance task
   * started from a request thread), then restores the previous tenant. A checked exception of the body is rethrown
   * as it is.
   */
  public static <E extends Exception> void runWithoutTenant(CheckedRunnable<E> body) throws E {
    Objects.requireNonNull(body, "body");
    TenantId previous = CURRENT.get();
    CURRENT.remove();
    try {
      body.run();
    } finally {
      restore(previous);
    }
  }

  /** The current tenant, or empty outside any scope. */
  public static Optional<TenantId> current() {
    return Optional.ofNullable(CURRENT.get());
  }

  /**
   * The current tenant, or {@code null} outside any scope: {@link #current()} for hot paths that must not
   * allocate (an authorization check per call, say).
   */
  public static @Nullable TenantId currentOrNull() {
    return CURRENT.get();
  }

  /**
   * The current tenant.
   *
   * @throws MissingTenantException outside any scope, with a message that says how to set one
   */
  public static TenantId require() {
    TenantId tenant = CURRENT.get();
    if (tenant == null) {
      throw new MissingTenantException(
          "No tenant is set for this thread. Run the work inside TenantContext.run(tenantId, ...) or "
              + "TenantContext.call(tenantId, ...), and carry it into other threads with TenantContext.wrap(...).");
    }
    return tenant;
  }

  /**
   * A runnable that runs {@code task} with the tenant current now (or with no tenant, if none is set now),
   * whatever thread later runs it.
   */
  public static Runnable wrap(Runnable task) {
    Objects.requireNonNull(task, "task");
    TenantId captured = CURRENT.get();
    return () -> runAs(captured, task);
  }

  /** A callable that calls {@code task} with the tenant current now, whatever thread later calls it. */
  public static <T extends @Nullable Object> Callable<T> wrap(Callable<T> task) {
    Objects.requireNonNull(task, "task");
    TenantId captured = CURRENT.get();
    return () -> callAs(captured, task);
  }

  /**
   * A supplier that supplies with the tenant current now, whatever thread later calls it. The safe argument of
   * {@code CompletableFuture.supplyAsync(TenantContext.wrapSupplier(() -> ...), pool)}.
   */
  public static <T extends @Nullable Object> Supplier<T> wrapSupplier(Supplier<T> task) {
    Objects.requireNonNull(task, "task");
    TenantId captured = CURRENT.get();
    return () -> {
      TenantId previous = CURRENT.get();
      set(captured);
      try {
        return task.get();
      } finally {
        restore(previous);
      }
    };
  }

  /**
   * A function that applies {@code task} with the tenant current now, whatever thread later applies it. Use it for
   * every dependent stage of a {@code CompletableFuture} chain
   * ({@code upstream.thenApplyAsync(TenantContext.wrapFunction(fn), pool)}): such a stage is submitted by the
   * thread that completes {@code upstream}, which may work for another tenant, so an executor that captures the
   * tenant at submission cannot know the right one.
   */
  public static <T extends @Nullable Object, R extends @Nullable Object> Function<T, R> wrapFunction(
      Function<T, R> task) {
    Objects.requireNonNull(task, "task");
    TenantId captured = CURRENT.get();
    return value -> {
      TenantId previous = CURRENT.get();
      set(captured);
      try {
        return task.apply(value);
      } finally {
        restore(previous);
      }
    };
  }

  /** A function of two arguments applied with the tenant current now; see {@link #wrapFunction(Function)}. */
  public static <T extends @Nullable Object, U extends @Nullable Object, R extends @Nullable Object>
      BiFunction<T, U, R> wrapBiFunction(BiFunction<T, U, R> task) {
    Objects.requireNonNull(task, "task");
    TenantId captured = CURRENT.get();
    return (first, second) -> {
      TenantId previous = CURRENT.get();
      set(captured);
      try {
        return task.apply(first, second);
      } finally {
        restore(previous);
      }
    };
  }

  /**
   * A consumer that accepts with the tenant current now, whatever thread later calls it
   * ({@code upstream.thenAcceptAsync(TenantContext.wrapConsumer(c), pool)}); see {@link #wrapFunction(Function)}.
   */
  public static <T extends @Nullable Object> Consumer<T> wrapConsumer(Consumer<T> task) {
    Objects.requireNonNull(task, "task");
    TenantId captured = CURRENT.get();
    return value -> runAs(captured, () -> task.accept(value));
  }

  /** A consumer of two arguments that accepts with the tenant current now; see {@link #wrapFunction(Function)}. */
  public static <T extends @Nullable Object, U extends @Nullable Object> BiConsumer<T, U> wrapBiConsumer(
      BiConsumer<T, U> task) {
    Objects.requireNonNull(task, "task");
    TenantId captured = CURRENT.get();
    return (first, second) -> runAs(captured, () -> task.accept(first, second));
  }

  /**
   * An executor that runs each task with the tenant that was current <em>when the task was submitted</em>.
   *
   * <p>That is right for work submitted directly ({@code execute}, {@code supplyAsync(..., executor)} called in
   * the request's thread). It is not enough for the dependent stages of a {@code CompletableFuture}
   * ({@code thenApplyAsync(fn, executor)} and the like): the stage is submitted when the upstream future completes,
   * by whichever thread completes it, and that thread may be working for another tenant. Wrap the stage's function
   * instead, when the stage is created: {@link #wrapFunction(Function)}, {@link #wrapConsumer(Consumer)},
   * {@link #wrapSupplier(Supplier)}, {@link #wrap(Runnable)}.
   */
  public static Executor wrap(Executor executor) {
    Objects.requireNonNull(executor, "executor");
    if (executor instanceof ExecutorService) {
      return wrap((ExecutorService) executor);
    }
    return command -> executor.execute(wrap(command));
  }

  /**
   * An executor service that runs each task with the tenant that was current when the task was submitted (see
   * {@link #wrap(Executor)} for why dependent {@code CompletableFuture} stages need their functions wrapped
   * instead). Shutting it down shuts down {@code executor}.
   */
  public static ExecutorService wrap(ExecutorService executor) {
    Objects.requireNonNull(executor, "executor");
    if (executor instanceof TenantExecutorService) {
      return executor;
    }
    return new TenantExecutorService(executor);
  }

  private static void runAs(@Nullable TenantId tenant, Runnable task) {
    TenantId previous = CURRENT.get();
    set(tenant);
    try {
      task.run();
    } finally {
      restore(previous);
    }
  }

  private static <T extends @Nullable Object> T callAs(@Nullable TenantId tenant, Callable<T> task) throws Exception {
    TenantId previous = CURRENT.get();
    set(tenant);
    try {
      return task.call();
    } finally {
      restore(previous);
    }
  }

  private static void set(@Nullable TenantId tenant) {
    if (tenant == null) {
      CURRENT.remove();
    } else {
      CURRENT.set(tenant);
    }
  }

  private static void restore(@Nullable TenantId previous) {
    set(previous);
  }

  /** Captures the submitter's tenant for every task; delegates lifecycle to the wrapped service. */
  private static final class TenantExecutorService implements ExecutorService {
    private final ExecutorService delegate;

    TenantExecutorService(ExecutorService delegate) {
      this.delegate = delegate;
    }

    private static <T> List<Callable<T>> wrapAll(Collection<? extends Callable<T>> tasks) {
      return tasks.stream().map(TenantContext::wrap).collect(Collectors.toList());
    }

    @Override
    public void execute(Runnable command) {
      delegate.execute(wrap(command));
    }

    @Override
    public Future<?> submit(Runnable task) {
      return delegate.submit(wrap(task));
    }

    @Override
    public <T> Future<T> submit(Runnable task, T result) {
      return delegate.submit(wrap(task), result);
    }

    @Override
    public <T> Future<T> submit(Callable<T> task) {
      return delegate.submit(wrap(task));
    }

    @Override
    public <T> List<Future<T>> invokeAll(Collection<? extends Callable<T>> tasks) throws InterruptedException {
      return delegate.invokeAll(wrapAll(tasks));
    }

    @Override
    public <T> List<Future<T>> invokeAll(Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
        throws InterruptedException {
      return delegate.invokeAll(wrapAll(tasks), timeout, unit);
    }

    @Override
    public <T> T invokeAny(Collection<? extends Callable<T>> tasks)
        throws InterruptedException, ExecutionException {
      return delegate.invokeAny(wrapAll(tasks));
    }

    @Override
    public <T> T invokeAny(Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
        throws InterruptedException, ExecutionException, TimeoutException {
      return delegate.invokeAny(wrapAll(tasks), timeout, unit);
    }

    @Override
    public void shutdown() {
      delegate.shutdown();
    }

    @Override
    public List<Runnable> shutdownNow() {
      return delegate.shutdownNow();
    }

    @Override
    public boolean isShutdown() {
      return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
      return delegate.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return delegate.awaitTermination(timeout, unit);
    }
  }
}
