package dev.saaskit.benchmarks;

/**
 * The autocommit point select of {@link TenancyBenchmark} in {@linkplain AlternatingBlocks alternating blocks}:
 * {@code explicit} ({@code WHERE tenant_id = ?}, no RLS: the baseline), {@code rls} (through
 * {@code TenantDataSource}), {@code pipelined} (what {@code rls} sends, written by hand on the raw pool: prices the
 * wrapper's own client work against the second statement's server work), and {@code explicit-again} (the baseline
 * once more: the A/A control).
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.TenancyPointSelectBlocks};
 * {@code -Drounds=N -Dseconds=S -Dthreads=T} change the rounds (after two warm-up rounds), their length and the
 * client threads (default 2, one core's worth next to PostgreSQL on this 2-core machine, as in the JMH pair).
 */
public final class TenancyPointSelectBlocks {
  private TenancyPointSelectBlocks() {}

  public static void main(String[] args) throws Exception {
    TenancyBenchmark bench = new TenancyBenchmark();
    bench.setUp();
    ThreadLocal<TenancyBenchmark.Pick> picks = ThreadLocal.withInitial(TenancyBenchmark.Pick::new);
    try {
      new AlternatingBlocks(Integer.getInteger("threads", 2))
          .variant("explicit", random -> bench.explicit_pointSelect(picks.get()))
          .variant("rls", random -> bench.rls_pointSelect(picks.get()))
          .variant("pipelined", random -> bench.pipelined_pointSelect(picks.get()))
          .variant("explicit-again", random -> bench.explicit_pointSelect(picks.get()))
          .run(Integer.getInteger("rounds", 15), Integer.getInteger("seconds", 3));
    } finally {
      bench.tearDown();
    }
  }
}
