package dev.saaskit.benchmarks.scaling;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How cost grows with work, per module (issue 17). Subcommands {@code cache}, {@code jobs}, {@code tenancy}; each
 * prints its tables, writes them with a data file and a gnuplot script under {@code --data} (default
 * {@code benchmarks/target/scaling}) and plots PNGs into {@code --images} (default {@code docs/images}). Run from
 * the repository root:
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.scaling.Scaling cache
 * SAAS_TEST_POSTGRES_URL='jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres' \
 *   java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.scaling.Scaling jobs
 * </pre>
 *
 * <p>Sizes are comma-separated lists; {@code --help} lists every option with its default.
 */
public final class Scaling {
  private static final Map<String, String> DEFAULTS = Map.ofEntries(
      Map.entry("data", "benchmarks/target/scaling"),
      Map.entry("images", "docs/images"),
      Map.entry("entries", "1000,10000,100000,1000000,10000000"),
      Map.entry("cache-tenants", "1,10,100,1000,10000"),
      Map.entry("tenant-axis-entries", "100000"),
      Map.entry("pending", "1000,10000,100000,1000000,10000000"),
      Map.entry("pending-tenants", "100"),
      Map.entry("job-tenants", "1,10,100,1000,10000,100000"),
      Map.entry("tenant-axis-pending", "1000000"),
      Map.entry("warmup", "30"),
      Map.entry("claims", "200"),
      Map.entry("explain", "false"),
      Map.entry("rows", "1000,10000,100000,1000000,10000000"),
      Map.entry("rounds", "6"),
      Map.entry("block", "400"));
  private static final Set<String> COMMANDS = Set.of("cache", "jobs", "tenancy");

  private Scaling() {}

  /**
   * Entry point: {@code Scaling <cache|jobs|tenancy> [--option value]...}.
   *
   * @param args the subcommand, then options
   * @throws Exception when a run fails; the message says which point
   */
  public static void main(String[] args) throws Exception {
    if (args.length == 0 || !COMMANDS.contains(args[0])) {
      usage();
      System.exit(args.length == 1 && args[0].equals("--help") ? 0 : 2);
      return;
    }
    Map<String, String> options = new HashMap<>(DEFAULTS);
    for (int i = 1; i < args.length; i += 2) {
      String key = args[i].startsWith("--") ? args[i].substring(2) : "";
      if (!DEFAULTS.containsKey(key) || i + 1 >= args.length) {
        System.err.println("unknown option or missing value: " + args[i]);
        usage();
        System.exit(2);
        return;
      }
      options.put(key, args[i + 1]);
    }
    Path data = Path.of(options.get("data"));
    Path images = Path.of(options.get("images"));
    System.out.println("scaling " + args[0] + " started " + Instant.now() + ", " + Runtime.getRuntime()
        .availableProcessors() + " cores, " + options);
    switch (args[0]) {
      case "cache" -> CacheScaling.run(data, images, ints(options.get("entries")), ints(options.get("cache-tenants")),
          Integer.parseInt(options.get("tenant-axis-entries")));
      case "jobs" -> JobsScaling.run(data, images, ints(options.get("pending")),
          Integer.parseInt(options.get("pending-tenants")), ints(options.get("job-tenants")),
          Integer.parseInt(options.get("tenant-axis-pending")), Integer.parseInt(options.get("warmup")),
          Integer.parseInt(options.get("claims")), Boolean.parseBoolean(options.get("explain")));
      default -> TenancyScaling.run(data, images, longs(options.get("rows")), Integer.parseInt(options.get("rounds")),
          Integer.parseInt(options.get("block")));
    }
    System.out.println("scaling " + args[0] + " finished " + Instant.now());
  }

  private static void usage() {
    System.err.println("usage: Scaling <cache|jobs|tenancy> [--option value]...; options and defaults:");
    DEFAULTS.entrySet().stream().sorted(Map.Entry.comparingByKey())
        .forEach(e -> System.err.println("  --" + e.getKey() + " " + e.getValue()));
    System.err.println("jobs and tenancy use the PostgreSQL of saas-testing: embedded, or SAAS_TEST_POSTGRES_URL");
  }

  private static List<Integer> ints(String csv) {
    return Arrays.stream(csv.split(",")).map(String::trim).map(Integer::valueOf).toList();
  }

  private static List<Long> longs(String csv) {
    return Arrays.stream(csv.split(",")).map(String::trim).map(Long::valueOf).toList();
  }
}
