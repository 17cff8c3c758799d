package dev.saaskit.testing.internal.stripe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * Webhook delivery: the automatic outbox (drained in event order by one thread at a time, after the engine's lock
 * is released), the manual pending queue, the fault modes and the record of deliveries.
 */
public final class Deliverer {
  /** Where events go: returns the HTTP status. */
  public interface Target {
    /** Delivers one signed body; returns the HTTP status. */
    int deliver(String body, String signatureHeader) throws Exception;
  }

  /**
   * One delivery attempt.
   *
   * @param eventId the event
   * @param type the event type
   * @param status the HTTP status (0 when the endpoint could not be reached or the sink threw)
   */
  public record Delivery(String eventId, String type, int status) {}

  private final Object monitor = new Object();
  private final ReentrantLock drainLock = new ReentrantLock();
  private final ArrayDeque<ObjectNode> outbox = new ArrayDeque<>();
  private final List<ObjectNode> pending = new ArrayList<>();
  private final List<Delivery> deliveries = new CopyOnWriteArrayList<>();
  private final Set<String> succeeded = ConcurrentHashMap.newKeySet();
  private final String secret;
  private final Supplier<Instant> signingClock;
  private volatile @Nullable Target target;
  private volatile boolean automatic = true;
  private volatile boolean duplicateEach;
  private volatile @Nullable String apiVersion;
  private volatile @Nullable String signingSecret;
  private volatile Duration skew = Duration.ZERO;
  private volatile @Nullable HttpClient http;

  /**
   * A deliverer.
   *
   * @param secret the webhook signing secret
   * @param signingClock the time put in signatures
   */
  public Deliverer(String secret, Supplier<Instant> signingClock) {
    this.secret = secret;
    this.signingClock = signingClock;
  }

  void enqueue(ObjectNode event) {
    synchronized (monitor) {
      if (automatic) {
        outbox.add(event);
      } else {
        pending.add(event);
      }
    }
  }

  /** Delivers what the automatic outbox holds, in order; another thread already draining it does it instead. */
  public void flush() {
    while (true) {
      synchronized (monitor) {
        if (outbox.isEmpty()) {
          return;
        }
      }
      if (!drainLock.tryLock()) {
        return;
      }
      try {
        while (true) {
          ObjectNode next;
          synchronized (monitor) {
            next = outbox.poll();
          }
          if (next == null) {
            break;
          }
          if (target != null) {
            deliverCounted(next);
          }
        }
      } finally {
        drainLock.unlock();
      }
    }
  }

  private void deliverCounted(ObjectNode event) {
    deliverOnce(event);
    if (duplicateEach) {
      deliverOnce(event);
    }
  }

  /** Delivers one event now (once, or twice with duplicateEach), removing it from the pending queue. */
  public void deliver(ObjectNode event) {
    synchronized (monitor) {
      pending.removeIf(e -> e.get("id").asText().equals(event.get("id").asText()));
    }
    deliverCounted(event);
  }

  private int deliverOnce(ObjectNode event) {
    Target t = target;
    String id = event.get("id").asText();
    String type = event.get("type").asText();
    if (t == null) {
      throw new IllegalStateException("no webhook endpoint: call webhooks().deliverTo(...) first");
    }
    String body = render(event);
    String header = signatureHeader(body);
    int status;
    try {
      status = t.deliver(body, header);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      status = 0;
    } catch (Exception e) {
      status = 0;
    }
    deliveries.add(new Delivery(id, type, status));
    if (status >= 200 && status < 300) {
      succeeded.add(id);
    }
    return status;
  }

  /** The event as delivered: relabelled and reshaped when an older API version is set. */
  String render(ObjectNode event) {
    String version = apiVersion;
    if (version == null) {
      return Json.write(event);
    }
    ObjectNode copy = event.deepCopy();
    copy.put("api_version", version);
    JsonNode object = copy.path("data").path("object");
    if (object instanceof ObjectNode) {
      ObjectNode o = (ObjectNode) object;
      String kind = o.path("object").asText();
      if (kind.equals("subscription")) {
        JsonNode first = o.path("items").path("data").path(0);
        if (!first.isMissingNode()) {
          o.set("current_period_start", first.get("current_period_start"));
          o.set("current_period_end", first.get("current_period_end"));
          o.set("plan", first.get("price"));
          o.set("quantity", first.get("quantity"));
        }
      } else if (kind.equals("invoice")) {
        o.set("subscription", o.path("parent").path("subscription_details").path("subscription"));
        o.put("paid", o.path("status").asText().equals("paid"));
        o.put("charge", (String) null);
      }
    }
    return Json.write(copy);
  }

  /** {@code t=<unix>,v1=<hex HMAC-SHA256 of "t.body">}, with the configured secret and skew. */
  String signatureHeader(String body) {
    long t = signingClock.get().plus(skew).getEpochSecond();
    String key = signingSecret != null ? signingSecret : secret;
    return "t=" + t + ",v1=" + hmac(key, t + "." + body);
  }

  static String hmac(String key, String payload) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(payload.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /** Delivers to a function. */
  public void target(Target t) {
    this.target = t;
  }

  /** Delivers by HTTP POST to {@code endpoint}. */
  public void target(URI endpoint) {
    this.target = (body, header) -> {
      HttpClient client = http;
      if (client == null) {
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        http = client;
      }
      HttpRequest request = HttpRequest.newBuilder(endpoint)
          .timeout(Duration.ofSeconds(30))
          .header("Content-Type", "application/json; charset=utf-8")
          .header("Stripe-Signature", header)
          .header("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
          .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
          .build();
      try {
        return client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
      } catch (IOException e) {
        return 0;
      }
    };
  }

  /** Automatic delivery on or off; turning it on delivers nothing that is already pending. */
  public void automatic(boolean on) {
    this.automatic = on;
  }

  /** Each delivery is made twice. */
  public void duplicateEach(boolean on) {
    this.duplicateEach = on;
  }

  /** Labels (and shapes) delivered events with another API version; null for the emulator's own. */
  public void apiVersion(@Nullable String version) {
    this.apiVersion = version;
  }

  /** Signs with another secret; null for the right one. */
  public void signWith(@Nullable String otherSecret) {
    this.signingSecret = otherSecret;
  }

  /** Shifts the signature timestamp. */
  public void timestampSkew(Duration amount) {
    this.skew = amount;
  }

  /** The pending events (manual mode), oldest first. */
  public List<ObjectNode> pending() {
    synchronized (monitor) {
      return List.copyOf(pending);
    }
  }

  private List<ObjectNode> takePending() {
    synchronized (monitor) {
      List<ObjectNode> taken = new ArrayList<>(pending);
      pending.clear();
      return taken;
    }
  }

  /** Delivers the pending events in order ({@code reversed}: newest first). */
  public void deliverPending(boolean reversed) {
    List<ObjectNode> taken = takePending();
    if (reversed) {
      Collections.reverse(taken);
    }
    taken.forEach(this::deliverCounted);
  }

  /** Delivers the pending events in a random order drawn from {@code seed}. */
  public void deliverPendingShuffled(long seed) {
    List<ObjectNode> taken = takePending();
    Collections.shuffle(taken, new Random(seed));
    taken.forEach(this::deliverCounted);
  }

  /** Delivers each pending event twice at the same moment from two threads, one event after another. */
  public void deliverPendingTwiceInParallel() {
    List<ObjectNode> taken = takePending();
    ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "stripe-emulator-webhook");
      t.setDaemon(true);
      return t;
    });
    try {
      for (ObjectNode event : taken) {
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Integer>> both = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
          both.add(pool.submit(() -> {
            start.await();
            return deliverOnce(event);
          }));
        }
        start.countDown();
        for (Future<Integer> f : both) {
          f.get();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while delivering", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("delivery failed", e.getCause());
    } finally {
      pool.shutdownNow();
    }
  }

  /** Drops the pending events (they stay undelivered). */
  public int dropPending() {
    return takePending().size();
  }

  /** Every delivery attempt, oldest first. */
  public List<Delivery> deliveries() {
    return List.copyOf(deliveries);
  }

  /** Whether an event has had a 2xx delivery. */
  public boolean delivered(String eventId) {
    return succeeded.contains(eventId);
  }
}
