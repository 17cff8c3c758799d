package dev.saaskit.core;

import org.jspecify.annotations.Nullable;

/**
 * A function that may throw a checked exception of type {@code E} (a cache loader that reads the database, say);
 * see {@link CheckedRunnable} for why saaskit takes these.
 *
 * @param <T> the argument
 * @param <R> the result (a nullable type when the function may return null)
 * @param <E> the checked exception the function may throw; inferred as {@code RuntimeException} when it throws none
 */
@FunctionalInterface
public interface CheckedFunction<T extends @Nullable Object, R extends @Nullable Object, E extends Exception> {
  /** Applies the function. */
  R apply(T value) throws E;
}
