package dev.saaskit.fleet;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of a {@link FleetDataSource}: its connection budget and what it holds now. A final class with
 * accessors (not a record), so that a statistic can be added without breaking users. Immutable.
 */
public final class FleetStats {
  private final int budget;
  private final int openConnections;
  private final int peakOpenConnections;
  private final int borrowedConnections;
  private final int idleConnections;
  private final int pools;

  private FleetStats(int budget, int openConnections, int peakOpenConnections, int borrowedConnections,
      int idleConnections, int pools) {
    this.budget = budget;
    this.openConnections = openConnections;
    this.peakOpenConnections = peakOpenConnections;
    this.borrowedConnections = borrowedConnections;
    this.idleConnections = idleConnections;
    this.pools = pools;
  }

  /**
   * Statistics with these values (for tests and for adapters that report them).
   *
   * @param budget the connection budget (at least 1)
   * @param openConnections physical connections open now, in all pools
   * @param peakOpenConnections the most that were ever open at once
   * @param borrowedConnections connections handed out now
   * @param idleConnections open connections idle in their pools
   * @param pools pools open now
   * @throws IllegalArgumentException if the budget is below 1 or a count is negative
   */
  public static FleetStats of(int budget, int openConnections, int peakOpenConnections, int borrowedConnections,
      int idleConnections, int pools) {
    if (budget < 1) {
      throw new IllegalArgumentException("budget must be >= 1 but was " + budget);
    }
    return new FleetStats(budget, check("openConnections", openConnections),
        check("peakOpenConnections", peakOpenConnections), check("borrowedConnections", borrowedConnections),
        check("idleConnections", idleConnections), check("pools", pools));
  }

  private static int check(String what, int count) {
    if (count < 0) {
      throw new IllegalArgumentException(what + " must be >= 0 but was " + count);
    }
    return count;
  }

  /** The connection budget: open connections of all pools together, at most. */
  public int budget() {
    return budget;
  }

  /** Physical connections open now, in all pools. */
  public int openConnections() {
    return openConnections;
  }

  /** The most physical connections that were ever open at once (never above the budget). */
  public int peakOpenConnections() {
    return peakOpenConnections;
  }

  /** Connections handed out now. */
  public int borrowedConnections() {
    return borrowedConnections;
  }

  /** Open connections idle in their pools. */
  public int idleConnections() {
    return idleConnections;
  }

  /** Pools open now. */
  public int pools() {
    return pools;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof FleetStats s && s.budget == budget && s.openConnections == openConnections
        && s.peakOpenConnections == peakOpenConnections && s.borrowedConnections == borrowedConnections
        && s.idleConnections == idleConnections && s.pools == pools;
  }

  @Override
  public int hashCode() {
    return Objects.hash(budget, openConnections, peakOpenConnections, borrowedConnections, idleConnections, pools);
  }

  @Override
  public String toString() {
    return "FleetStats[budget=" + budget + ", openConnections=" + openConnections + ", peakOpenConnections="
        + peakOpenConnections + ", borrowedConnections=" + borrowedConnections + ", idleConnections="
        + idleConnections + ", pools=" + pools + "]";
  }
}
