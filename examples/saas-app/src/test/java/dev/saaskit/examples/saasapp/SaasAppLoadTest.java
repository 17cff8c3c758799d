package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.examples.saasapp.AppFixture.Answer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A small, bounded load test on loopback: 50 concurrent clients across 10 tenants for 30 seconds (set
 * {@code -Dsaasapp.load.seconds=N} to change) against the app started in-process. Each client signs in once and
 * then loops over the dashboard's reads (projects list, one project, subscription, analytics, me). It asserts that
 * no request failed and that no answer carried another tenant's row, and prints requests/s and p99
 * (docs/benchmarks.md records them).
 */
class SaasAppLoadTest {
  private static final int TENANTS = 10;
  private static final int CLIENTS = 50;

  @Test
  void fiftyClientsTenTenantsNoErrorNoCrossTenantRow() throws Exception {
    int seconds = Integer.getInteger("saasapp.load.seconds", 30);
    // the load test measures the app, not the limiter: 50 clients on a fast machine could pass the default 300
    // requests a second of one tenant (the limiter still runs on every request)
    try (AppFixture f = AppFixture.start(b -> b.apiRateLimit(RateLimit.perSecond(1_000_000)))) {
      // set-up: an owner per tenant adds two projects named after the tenant; each client signs in
      List<List<String>> projectIds = new ArrayList<>();
      for (int t = 0; t < TENANTS; t++) {
        String owner = f.login(tenant(t), "owner@" + tenant(t) + ".test", "owner");
        List<String> ids = new ArrayList<>();
        for (int p = 1; p <= 2; p++) {
          ids.add(f.post("/api/projects", owner, Map.of("name", tenant(t) + " project " + p)).body().get("id")
              .asText());
        }
        projectIds.add(ids);
      }
      String[] tokens = new String[CLIENTS];
      for (int c = 0; c < CLIENTS; c++) {
        tokens[c] = f.login(tenant(c % TENANTS), "client" + c + "@load.test", c < TENANTS ? "admin" : "member");
      }

      AtomicLong errors = new AtomicLong();
      AtomicLong crossTenant = new AtomicLong();
      ConcurrentLinkedQueue<String> firstErrors = new ConcurrentLinkedQueue<>();
      long[][] latencies = new long[CLIENTS][];
      CountDownLatch go = new CountDownLatch(1);
      ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
      List<Future<?>> running = new ArrayList<>();
      long[] deadline = new long[1];
      for (int c = 0; c < CLIENTS; c++) {
        int client = c;
        running.add(pool.submit(() -> {
          String tenant = tenant(client % TENANTS);
          List<String> ids = projectIds.get(client % TENANTS);
          long[] mine = new long[1 << 16];
          int n = 0;
          go.await();
          for (int i = 0; System.nanoTime() - deadline[0] < 0; i++) {
            String path = switch (i % 5) {
              case 0, 1 -> "/api/projects";
              case 2 -> "/api/projects/" + ids.get(i % ids.size());
              case 3 -> "/api/billing/subscription";
              default -> i % 10 == 4 ? "/api/analytics/summary" : "/api/me";
            };
            long start = System.nanoTime();
            Answer a = f.get(path, tokens[client]);
            long took = System.nanoTime() - start;
            if (n == mine.length) {
              mine = Arrays.copyOf(mine, n * 2);
            }
            mine[n++] = took;
            if (a.status() != 200) {
              errors.incrementAndGet();
              if (firstErrors.size() < 5) {
                firstErrors.add(path + " -> " + a.status() + " " + a.raw());
              }
              continue;
            }
            crossTenant.addAndGet(foreignRows(path, a.body(), tenant));
          }
          latencies[client] = Arrays.copyOf(mine, n);
          return null;
        }));
      }
      long started = System.nanoTime();
      deadline[0] = started + Duration.ofSeconds(seconds).toNanos();
      go.countDown();
      for (Future<?> r : running) {
        r.get();
      }
      double elapsed = (System.nanoTime() - started) / 1e9;
      pool.shutdown();

      long[] all = Arrays.stream(latencies).flatMapToLong(Arrays::stream).sorted().toArray();
      double p50 = all[(int) (all.length * 0.50)] / 1e6;
      double p99 = all[Math.min(all.length - 1, (int) (all.length * 0.99))] / 1e6;
      System.out.printf("saas-app load: %d clients, %d tenants, %.1f s: %d requests, %.0f req/s, p50 %.1f ms,"
          + " p99 %.1f ms, errors %d, cross-tenant rows %d%n", CLIENTS, TENANTS, elapsed, all.length,
          all.length / elapsed, p50, p99, errors.get(), crossTenant.get());
      assertThat(firstErrors).as("first errors").isEmpty();
      assertThat(errors.get()).isZero();
      assertThat(crossTenant.get()).isZero();
      assertThat(all.length).isGreaterThan(CLIENTS);
    }
  }

  /** Rows in an answer that belong to another tenant than {@code tenant}. */
  private static long foreignRows(String path, JsonNode body, String tenant) {
    if (path.equals("/api/projects")) {
      long foreign = 0;
      for (JsonNode p : body.get("projects")) {
        if (!p.get("name").asText().startsWith(tenant + " ")) {
          foreign++;
        }
      }
      return foreign + (body.get("projects").size() == 2 ? 0 : 1);
    }
    if (path.startsWith("/api/projects/")) {
      return body.get("name").asText().startsWith(tenant + " ") ? 0 : 1;
    }
    if (path.equals("/api/me")) {
      return body.get("tenant").asText().equals(tenant) ? 0 : 1;
    }
    return 0;
  }

  private static String tenant(int i) {
    return "load-" + i;
  }
}
