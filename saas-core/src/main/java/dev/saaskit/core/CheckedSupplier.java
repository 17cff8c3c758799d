package dev.saaskit.core;

/**
 * Work that returns a value and may throw a checked exception of type {@code E}; see {@link CheckedRunnable} for
 * why saaskit takes these rather than {@link java.util.concurrent.Callable}.
 *
 * @param <T> the value returned
 * @param <E> the checked exception the work may throw; inferred as {@code RuntimeException} when it throws none
 */
@FunctionalInterface
public interface CheckedSupplier<T, E extends Exception> {
  /** Does the work and returns its value. */
  T get() throws E;
}
