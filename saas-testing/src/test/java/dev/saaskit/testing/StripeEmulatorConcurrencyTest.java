package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.stripe.model.Customer;
import com.stripe.param.CustomerUpdateParams;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StripeEmulatorConcurrencyTest {
  @Test
  void concurrentRequestsDeliverEveryEventOnceInCreationOrder() throws Exception {
    try (StripeFixture f = new StripeFixture()) {
      List<String> delivered = new CopyOnWriteArrayList<>();
      f.emu.webhooks().deliverTo((body, signature) -> {
        delivered.add(com.stripe.net.ApiResource.GSON.fromJson(body, com.google.gson.JsonObject.class)
            .get("id").getAsString());
        return 200;
      });
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<Future<String>> futures = new ArrayList<>();
        for (int i = 0; i < 80; i++) {
          int n = i;
          futures.add(pool.submit(() -> {
            Customer c = f.customer("c" + n + "@acme.test");
            f.stripe.v1().customers().update(c.getId(), CustomerUpdateParams.builder().setName("n" + n).build());
            return c.getId();
          }));
        }
        for (Future<String> future : futures) {
          assertThat(future.get(60, TimeUnit.SECONDS)).startsWith("cus_");
        }
      } finally {
        pool.shutdownNow();
      }
      List<String> created = new ArrayList<>();
      f.emu.events().forEach(e -> created.add(e.id()));
      assertThat(created).hasSize(160);
      assertThat(delivered).containsExactlyElementsOf(created);
      assertThat(f.stripe.v1().events().list(com.stripe.param.EventListParams.builder().setDeliverySuccess(false)
          .build()).getData()).isEmpty();
    }
  }
}
