package dev.saaskit.fleet;

/**
 * A snapshot of a {@link FleetDataSource}.
 *
 * @param budget the connection budget
 * @param openConnections physical connections open now, in all pools
 * @param peakOpenConnections the most that were ever open at once (never above the budget)
 * @param borrowedConnections connections handed out now
 * @param idleConnections open connections idle in their pools
 * @param pools pools open now
 */
public record FleetStats(int budget, int openConnections, int peakOpenConnections, int borrowedConnections,
    int idleConnections, int pools) {}
