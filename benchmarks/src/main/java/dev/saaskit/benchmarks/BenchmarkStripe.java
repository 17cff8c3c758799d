package dev.saaskit.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.testing.StripeEmulator;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

/** Fills a {@link StripeEmulator} with a price and one customer and subscription per tenant, over its HTTP API. */
final class BenchmarkStripe {
  private static final ObjectMapper JSON = new ObjectMapper();

  private BenchmarkStripe() {}

  static void seed(StripeEmulator emulator, int tenants, String[] customerIds, String[] subscriptionIds)
      throws IOException, InterruptedException {
    HttpClient http = HttpClient.newHttpClient();
    String product = post(http, emulator, "/v1/products", "name=Pro").get("id").asText();
    String price = post(http, emulator, "/v1/prices", "product=" + product
        + "&unit_amount=1000&currency=usd&recurring%5Binterval%5D=month&lookup_key=pro_monthly").get("id").asText();
    for (int t = 0; t < tenants; t++) {
      customerIds[t] = post(http, emulator, "/v1/customers", "email=" + enc("t" + t + "@example.test")
          + "&metadata%5Btenant_id%5D=" + enc("tenant-" + t)).get("id").asText();
      subscriptionIds[t] = post(http, emulator, "/v1/subscriptions", "customer=" + customerIds[t]
          + "&items%5B0%5D%5Bprice%5D=" + price + "&items%5B0%5D%5Bquantity%5D=1").get("id").asText();
    }
  }

  private static JsonNode post(HttpClient http, StripeEmulator emulator, String path, String form)
      throws IOException, InterruptedException {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(emulator.apiBase() + path))
        .header("Authorization", "Bearer " + emulator.apiKey())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IllegalStateException(path + " answered " + response.statusCode() + ": " + response.body());
    }
    return JSON.readTree(response.body());
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
