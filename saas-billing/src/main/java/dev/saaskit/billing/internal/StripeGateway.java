package dev.saaskit.billing.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.stripe.StripeClient;
import com.stripe.exception.ApiConnectionException;
import com.stripe.exception.StripeException;
import com.stripe.net.ApiResource;
import com.stripe.net.HttpClient;
import com.stripe.net.HttpURLConnectionClient;
import com.stripe.net.RawRequestOptions;
import com.stripe.net.StripeRequest;
import com.stripe.net.StripeResponse;
import dev.saaskit.billing.BillingConfig;
import dev.saaskit.billing.BillingException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * Every call saas-billing makes to Stripe, through stripe-java (pointed at {@link BillingConfig#stripeApiBase()}),
 * as raw JSON at the API version stripe-java pins ({@code com.stripe.ApiVersion.CURRENT}). Retries 429, 409, 5xx
 * and network failures with exponential backoff, honouring {@code Retry-After} up to {@link
 * BillingConfig#stripeMaxRetryWait()}. Concurrent fetches of one object share one request ({@link #fetch}), so a
 * burst of events about one subscription costs one API call (an event shares only a request sent after it began,
 * see {@link #fetch(String, Long)}). Every try of a POST carries the same idempotency key. Thread-safe.
 */
public final class StripeGateway {
  /** A Stripe answer: its JSON and Stripe's time of answering (its {@code Date} header; our clock if absent). */
  public record Answer(ObjectNode json, Instant date) {}

  /** Sleeps between tries; tests replace it. */
  @FunctionalInterface
  public interface Sleeper {
    void sleep(Duration d) throws InterruptedException;
  }

  private static final ThreadLocal<@Nullable String> RETRY_AFTER = new ThreadLocal<>();

  /** A fetch on the wire: when it was started ({@link System#nanoTime()}, before it was sent) and its answer. */
  private record InFlight(long startedNanos, CompletableFuture<Answer> answer) {}

  private final StripeClient client;
  private final Clock clock;
  private final int maxRetries;
  private final Duration maxWait;
  private final Sleeper sleeper;
  private final ConcurrentHashMap<String, InFlight> inFlight = new ConcurrentHashMap<>();
  private final AtomicLong calls = new AtomicLong();

  public StripeGateway(BillingConfig config, Sleeper sleeper) {
    this.clock = config.clock();
    this.maxRetries = config.stripeMaxRetries();
    this.maxWait = config.stripeMaxRetryWait();
    this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
    this.client = StripeClient.builder()
        .setApiKey(config.stripeApiKey())
        .setApiBase(config.stripeApiBase())
        .setMaxNetworkRetries(0)
        .setHttpClient(new HeaderRecordingClient())
        .build();
  }

  public StripeGateway(BillingConfig config) {
    this(config, d -> Thread.sleep(d.toMillis()));
  }

  /** stripe-java's client, for typed calls (its retries are off: wrap calls in {@link #withRetries}). */
  public StripeClient client() {
    return client;
  }

  /** How many HTTP requests were sent (tries included). */
  public long calls() {
    return calls.get();
  }

  /**
   * {@code GET path} (e.g. {@code /v1/subscriptions/sub_1}), shared with concurrent callers asking for the same
   * path: one request answers all of them.
   */
  public Answer fetch(String path) {
    return fetch(path, null);
  }

  /**
   * {@code GET path}, shared with concurrent callers asking for the same path, but only through a request started
   * at or after {@code notBeforeNanos} ({@link System#nanoTime()}; null: any): a caller that must see a change it
   * was told about (an event received at that time) never takes the answer of a request that Stripe may have
   * served before the change. When the request on the wire is older, the caller waits for it to end and then
   * shares (or sends) the next one.
   */
  public Answer fetch(String path, @Nullable Long notBeforeNanos) {
    while (true) {
      InFlight mine = new InFlight(System.nanoTime(), new CompletableFuture<>());
      InFlight running = inFlight.putIfAbsent(path, mine);
      if (running == null) {
        try {
          Answer answer = get(path, Map.of());
          mine.answer().complete(answer);
          return answer;
        } catch (RuntimeException e) {
          mine.answer().completeExceptionally(e);
          throw e;
        } finally {
          inFlight.remove(path, mine);
        }
      }
      boolean fresh = notBeforeNanos == null || running.startedNanos() - notBeforeNanos >= 0;
      try {
        Answer answer = running.answer().get();
        if (fresh) {
          return answer;
        }
      } catch (ExecutionException e) {
        if (fresh) {
          Throwable cause = e.getCause();
          throw cause instanceof BillingException ? (BillingException) cause
              : new BillingException("fetching " + path + " failed: " + cause, 0, null, cause);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BillingException("interrupted while fetching " + path, e);
      }
      // that request started before this caller needed it: share (or send) the next one; the finished one leaves
      // the map here already, in case its sender has not got to its own removal yet
      inFlight.remove(path, running);
    }
  }

  /** {@code GET path?params}. */
  public Answer get(String path, Map<String, ?> params) {
    String query = encode(params);
    String url = query.isEmpty() ? path : path + "?" + query;
    return send(ApiResource.RequestMethod.GET, url, null, null);
  }

  /**
   * {@code POST path} with form-encoded {@code params} and an idempotency key: {@code idempotencyKey} when given,
   * else one drawn for this call; every retry of the call carries the same key, so Stripe acts on it once.
   */
  public Answer post(String path, Map<String, ?> params, @Nullable String idempotencyKey) {
    return send(ApiResource.RequestMethod.POST, path, encode(params), idempotencyKey);
  }

  /** {@code DELETE path}. */
  public Answer delete(String path) {
    return send(ApiResource.RequestMethod.DELETE, path, null, null);
  }

  /** Every object of a list endpoint, page by page ({@code limit=100}, {@code starting_after}), lazily. */
  public Iterable<ObjectNode> list(String path, Map<String, ?> params) {
    return () -> new Iterator<>() {
      private final List<ObjectNode> page = new ArrayList<>();
      private int next;
      private boolean more = true;
      private @Nullable String after;

      @Override
      public boolean hasNext() {
        while (next >= page.size() && more) {
          Map<String, Object> p = new LinkedHashMap<>(params);
          p.put("limit", 100);
          if (after != null) {
            p.put("starting_after", after);
          }
          ObjectNode list = get(path, p).json();
          page.clear();
          next = 0;
          for (JsonNode item : StripeJson.listData(list)) {
            if (item instanceof ObjectNode) {
              page.add((ObjectNode) item);
            }
          }
          more = StripeJson.bool(list, "has_more", false) && !page.isEmpty();
          if (!page.isEmpty()) {
            after = StripeJson.text(page.get(page.size() - 1), "id");
          }
        }
        return next < page.size();
      }

      @Override
      public ObjectNode next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return page.get(next++);
      }
    };
  }

  /** A typed stripe-java call. */
  @FunctionalInterface
  public interface StripeCall<T> {
    T call() throws StripeException;
  }

  /** Runs a typed stripe-java call with this gateway's retries; failures become {@link BillingException}. */
  public <T> T withRetries(String what, StripeCall<T> call) {
    for (int attempt = 0; ; attempt++) {
      RETRY_AFTER.remove();
      try {
        calls.incrementAndGet();
        return call.call();
      } catch (StripeException e) {
        int status = e.getStatusCode() == null ? 0 : e.getStatusCode();
        boolean retryable = e instanceof ApiConnectionException || status == 409 || status == 429 || status >= 500;
        if (!retryable || attempt >= maxRetries) {
          throw failure(what, e, status);
        }
        pause(attempt, RETRY_AFTER.get(), what, e);
      }
    }
  }

  private Answer send(ApiResource.RequestMethod method, String url, @Nullable String content, @Nullable String key) {
    RawRequestOptions.RawRequestOptionsBuilder options = RawRequestOptions.builder();
    if (key != null) {
      options.setIdempotencyKey(key);
    } else if (method == ApiResource.RequestMethod.POST) {
      // one key for every try of this call: stripe-java draws a fresh one per request, so a retry after a lost
      // answer (a timeout, a 5xx after Stripe acted) would run the POST again: a second subscription, schedule...
      options.setIdempotencyKey("saaskit-" + UUID.randomUUID());
    }
    RawRequestOptions built = options.build();
    StripeResponse response = withRetries(method + " " + url, () -> client.rawRequest(method, url, content, built));
    Instant date;
    try {
      date = response.date();
    } catch (RuntimeException e) {
      date = null;
    }
    return new Answer(StripeJson.parseObject(response.body()), date == null ? clock.instant() : date);
  }

  private void pause(int attempt, @Nullable String retryAfter, String what, StripeException cause) {
    Duration wait = Duration.ofMillis(Math.min(250L << Math.min(attempt, 16), 8_000));
    if (retryAfter != null) {
      try {
        wait = Duration.ofSeconds(Long.parseLong(retryAfter.strip()));
      } catch (NumberFormatException ignored) {
        // an HTTP date or garbage: keep the backoff
      }
    }
    if (wait.compareTo(maxWait) > 0) {
      wait = maxWait;
    }
    try {
      sleeper.sleep(wait);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw failure(what + " (interrupted while waiting to retry)", cause,
          cause.getStatusCode() == null ? 0 : cause.getStatusCode());
    }
  }

  private static BillingException failure(String what, StripeException e, int status) {
    String code = e.getCode();
    String message = e.getStripeError() != null && e.getStripeError().getMessage() != null
        ? e.getStripeError().getMessage() : e.getClass().getSimpleName();
    return new BillingException("Stripe " + what + " failed" + (status == 0 ? "" : " with HTTP " + status)
        + (code == null ? "" : " (" + code + ")") + ": " + message, status, code, e);
  }

  /** Stripe's form encoding: nested maps as {@code a[b]}, lists as {@code a[0]}. */
  public static String encode(Map<String, ?> params) {
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, ?> e : params.entrySet()) {
      append(out, e.getKey(), e.getValue());
    }
    return out.toString();
  }

  private static void append(StringBuilder out, String key, @Nullable Object value) {
    if (value == null) {
      return;
    }
    if (value instanceof Map) {
      for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
        append(out, key + "[" + e.getKey() + "]", e.getValue());
      }
      return;
    }
    if (value instanceof List) {
      List<?> list = (List<?>) value;
      for (int i = 0; i < list.size(); i++) {
        append(out, key + "[" + i + "]", list.get(i));
      }
      return;
    }
    if (out.length() > 0) {
      out.append('&');
    }
    out.append(URLEncoder.encode(key, StandardCharsets.UTF_8)).append('=')
        .append(URLEncoder.encode(String.valueOf(value), StandardCharsets.UTF_8));
  }

  /** stripe-java's HTTP client, remembering the {@code Retry-After} of the last answer on this thread. */
  private static final class HeaderRecordingClient extends HttpClient {
    private final HttpURLConnectionClient delegate = new HttpURLConnectionClient();

    @Override
    public StripeResponse request(StripeRequest request) throws StripeException {
      StripeResponse response = delegate.request(request);
      RETRY_AFTER.set(response.headers().firstValue("Retry-After").orElse(null));
      return response;
    }
  }
}
