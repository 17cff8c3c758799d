package dev.saaskit.core;

/**
 * Work that returns nothing and may throw a checked exception of type {@code E}: a JDBC call, say. Methods that take
 * one rethrow {@code E} as it is, so a body that throws {@code SQLException} makes the caller handle
 * {@code SQLException} (and a body that throws no checked exception makes it handle nothing), instead of forcing
 * {@code throws Exception} up every caller.
 *
 * @param <E> the checked exception the work may throw; inferred as {@code RuntimeException} when it throws none
 */
@FunctionalInterface
public interface CheckedRunnable<E extends Exception> {
  /** Does the work. */
  void run() throws E;
}
