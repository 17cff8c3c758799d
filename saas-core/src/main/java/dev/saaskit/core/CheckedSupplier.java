package dev.saaskit.core;

import org.jspecify.annotations.Nullable;

/**
 * Work that returns a value and may throw a checked exception of type {@code E}; see {@link CheckedRunnable} for
 * why saaskit takes these rather than {@link java.util.concurrent.Callable}.
 *
 * @param <T> the value returned (a nullable type when the work may return null)
 * @param <E> the checked exception the work may throw; inferred as {@code RuntimeException} when it throws none
 */
@FunctionalInterface
public interface CheckedSupplier<T extends @Nullable Object, E extends Exception> {
  /** Does the work and returns its value. */
  T get() throws E;
}
