package dev.saaskit.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;

/**
 * A worker process for {@link ProcessKillTest}: serves queue {@code process} with handlers that never finish, and
 * reports on stdout. Killed with SIGKILL by the test, so it never shuts down by itself.
 *
 * <p>Arguments: JDBC URL, role, password, worker id, lease in milliseconds, concurrency, and optionally the queue
 * (default {@code process}).
 */
public final class WorkerProcessMain {
  private WorkerProcessMain() {}

  public static void main(String[] args) throws Exception {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(args[0]);
    config.setUsername(args[1]);
    config.setPassword(args[2]);
    config.setMaximumPoolSize(6);
    config.setMinimumIdle(0);
    config.addDataSourceProperty("ApplicationName", "child-" + args[3]);
    HikariDataSource pool = new HikariDataSource(config);
    int concurrency = Integer.parseInt(args[5]);
    String queue = args.length > 6 ? args[6] : "process";
    JobWorker worker = JobWorker.builder(pool).workerId(args[3]).queue(queue, concurrency)
        .leaseDuration(Duration.ofMillis(Long.parseLong(args[4]))).pollInterval(Duration.ofMillis(100))
        .handler(JobType.of("block", JsonNode.class), (payload, ctx) -> {
          System.out.println("RUNNING " + ctx.id());
          System.out.flush();
          while (true) {
            Thread.sleep(60_000);
          }
        }).build().start();
    System.out.println("READY " + worker.workerId());
    System.out.flush();
    Thread.currentThread().join();
  }
}
