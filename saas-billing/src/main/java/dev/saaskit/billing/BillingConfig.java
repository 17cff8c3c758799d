package dev.saaskit.billing;

import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The settings of {@link Billing}: immutable, built by {@link #builder()}, which checks every value and names the
 * bad one. {@code toString()} never shows the API key or the webhook secrets.
 *
 * <pre>{@code
 * BillingConfig config = BillingConfig.builder()
 *     .stripeApiKey(System.getenv("STRIPE_SECRET_KEY"))
 *     .webhookSecrets(System.getenv("STRIPE_WEBHOOK_SECRET"))
 *     .plans(plans)
 *     .build();
 * }</pre>
 */
public final class BillingConfig {
  /** Stripe's API. */
  public static final String STRIPE_API_BASE = "https://api.stripe.com";

  private final String stripeApiKey;
  private final String stripeApiBase;
  private final List<String> webhookSecrets;
  private final Duration signatureTolerance;
  private final BillingSchema schema;
  private final Clock clock;
  private final boolean refetch;
  private final int stripeMaxRetries;
  private final Duration stripeMaxRetryWait;
  private final Duration pastDueGrace;
  private final Plans plans;
  private final Duration seatCoalesceWindow;
  private final int eventMaxAttempts;
  private final Duration eventRetryBackoff;
  private final int usageBatchSize;
  private final int usageMaxAttempts;
  private final @Nullable ApplyScheduler applyScheduler;
  private final BillingChangeListener changeListener;
  private final Map<String, Registered> listeners;
  // a MeterRegistry, kept as Object so that BillingConfig loads without Micrometer on the class path
  private final @Nullable Object meterRegistry;

  /** A listener with the event types it wants ({@code *} for all). */
  record Registered(BillingEventListener listener, Set<String> types) {}

  private BillingConfig(Builder b) {
    this.stripeApiKey = b.stripeApiKey == null ? "" : b.stripeApiKey;
    this.stripeApiBase = b.stripeApiBase;
    this.webhookSecrets = List.copyOf(b.webhookSecrets);
    this.signatureTolerance = b.signatureTolerance;
    this.schema = b.schema;
    this.clock = b.clock;
    this.refetch = b.refetch;
    this.stripeMaxRetries = b.stripeMaxRetries;
    this.stripeMaxRetryWait = b.stripeMaxRetryWait;
    this.pastDueGrace = b.pastDueGrace;
    this.plans = b.plans;
    this.seatCoalesceWindow = b.seatCoalesceWindow;
    this.eventMaxAttempts = b.eventMaxAttempts;
    this.eventRetryBackoff = b.eventRetryBackoff;
    this.usageBatchSize = b.usageBatchSize;
    this.usageMaxAttempts = b.usageMaxAttempts;
    this.applyScheduler = b.applyScheduler;
    this.changeListener = b.changeListener;
    this.listeners = Map.copyOf(b.listeners);
    this.meterRegistry = b.meterRegistry;
  }

  /** A builder with the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding these settings, for a variant. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.stripeApiKey = stripeApiKey.isEmpty() ? null : stripeApiKey;
    b.stripeApiBase = stripeApiBase;
    b.webhookSecrets.addAll(webhookSecrets);
    b.signatureTolerance = signatureTolerance;
    b.schema = schema;
    b.clock = clock;
    b.refetch = refetch;
    b.stripeMaxRetries = stripeMaxRetries;
    b.stripeMaxRetryWait = stripeMaxRetryWait;
    b.pastDueGrace = pastDueGrace;
    b.plans = plans;
    b.seatCoalesceWindow = seatCoalesceWindow;
    b.eventMaxAttempts = eventMaxAttempts;
    b.eventRetryBackoff = eventRetryBackoff;
    b.usageBatchSize = usageBatchSize;
    b.usageMaxAttempts = usageMaxAttempts;
    b.applyScheduler = applyScheduler;
    b.changeListener = changeListener;
    b.listeners.putAll(listeners);
    b.meterRegistry = meterRegistry;
    return b;
  }

  /** The Stripe secret (or restricted) key; never logged. */
  public String stripeApiKey() {
    return stripeApiKey;
  }

  /** Where Stripe's API is: {@value #STRIPE_API_BASE}, or a {@code StripeEmulator} in tests. */
  public String stripeApiBase() {
    return stripeApiBase;
  }

  /** The webhook signing secrets accepted (more than one while rotating); never logged. */
  public List<String> webhookSecrets() {
    return webhookSecrets;
  }

  /** How far a webhook's signed timestamp may be from now. */
  public Duration signatureTolerance() {
    return signatureTolerance;
  }

  /** The database schema. */
  public BillingSchema schema() {
    return schema;
  }

  /** The clock. */
  public Clock clock() {
    return clock;
  }

  /** Whether stale or other-version payloads of the objects that matter are refetched from Stripe. */
  public boolean refetch() {
    return refetch;
  }

  /** How many times a Stripe call is retried on 429, 409 and 5xx (and network errors). */
  public int stripeMaxRetries() {
    return stripeMaxRetries;
  }

  /** The longest wait between two tries of a Stripe call, whatever {@code Retry-After} says. */
  public Duration stripeMaxRetryWait() {
    return stripeMaxRetryWait;
  }

  /** How long a past-due tenant keeps access after its first failed renewal payment. */
  public Duration pastDueGrace() {
    return pastDueGrace;
  }

  /** The plan catalog. */
  public Plans plans() {
    return plans;
  }

  /** How long seat changes of one subscription are gathered into one Stripe update. */
  public Duration seatCoalesceWindow() {
    return seatCoalesceWindow;
  }

  /** How many times a failed event is tried before it stays failed for an operator. */
  public int eventMaxAttempts() {
    return eventMaxAttempts;
  }

  /** The first wait before a failed event is tried again (doubling, capped at an hour). */
  public Duration eventRetryBackoff() {
    return eventRetryBackoff;
  }

  /** How many usage records one call of the sender sends at most, per tenant. */
  public int usageBatchSize() {
    return usageBatchSize;
  }

  /** How many times a usage record is tried before it is marked failed. */
  public int usageMaxAttempts() {
    return usageMaxAttempts;
  }

  /** The scheduler that moves the apply step onto a job queue, or {@code null}: events are applied inline. */
  public @Nullable ApplyScheduler applyScheduler() {
    return applyScheduler;
  }

  /** Told when a tenant's billing state changed. */
  public BillingChangeListener changeListener() {
    return changeListener;
  }

  Map<String, Registered> listeners() {
    return listeners;
  }

  /** The registry {@link Billing#create} binds {@link BillingMetrics} to, {@code null} if none was given. */
  @Nullable Object meterRegistryObject() {
    return meterRegistry;
  }

  /** The names of the registered event listeners. */
  public Set<String> listenerNames() {
    return listeners.keySet();
  }

  @Override
  public String toString() {
    return "BillingConfig[stripeApiBase=" + stripeApiBase + ", webhookSecrets=" + webhookSecrets.size()
        + ", schema=" + schema.name() + ", refetch=" + refetch + ", pastDueGrace=" + pastDueGrace + ", plans="
        + plans.plans().size() + ", listeners=" + listeners.keySet() + "]";
  }

  /** Builds a {@link BillingConfig}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private @Nullable String stripeApiKey;
    private String stripeApiBase = STRIPE_API_BASE;
    private final List<String> webhookSecrets = new ArrayList<>();
    private Duration signatureTolerance = Duration.ofMinutes(5);
    private BillingSchema schema = BillingSchema.defaults();
    private Clock clock = Clock.systemUTC();
    private boolean refetch = true;
    private int stripeMaxRetries = 3;
    private Duration stripeMaxRetryWait = Duration.ofSeconds(30);
    private Duration pastDueGrace = Duration.ofDays(7);
    private Plans plans = Plans.none();
    private Duration seatCoalesceWindow = Duration.ofSeconds(2);
    private int eventMaxAttempts = 25;
    private Duration eventRetryBackoff = Duration.ofSeconds(10);
    private int usageBatchSize = 100;
    private int usageMaxAttempts = 20;
    private @Nullable ApplyScheduler applyScheduler;
    private BillingChangeListener changeListener = BillingChangeListener.NONE;
    private final Map<String, Registered> listeners = new LinkedHashMap<>();
    private @Nullable Object meterRegistry;

    private Builder() {}

    /** Required: the Stripe secret key ({@code sk_...}) or restricted key ({@code rk_...}). */
    public Builder stripeApiKey(String key) {
      Objects.requireNonNull(key, "stripeApiKey");
      if (!key.matches("(sk|rk)_(test|live)_[0-9A-Za-z_]+")) {
        throw new IllegalArgumentException("stripeApiKey must look like sk_test_..., sk_live_... or rk_...");
      }
      this.stripeApiKey = key;
      return this;
    }

    /** Where Stripe's API is; default {@value #STRIPE_API_BASE}. An absolute http(s) URL without a path. */
    public Builder stripeApiBase(String base) {
      Objects.requireNonNull(base, "stripeApiBase");
      URI uri;
      try {
        uri = URI.create(base);
      } catch (IllegalArgumentException e) {
        // not e as the cause, nor the text: a URL that does not parse may still hold a password or a key
        throw new IllegalArgumentException("stripeApiBase must be an http(s) URL without a path, but does not parse"
            + " as a URL");
      }
      if (uri.getRawUserInfo() != null || uri.getRawQuery() != null || uri.getRawFragment() != null) {
        // never echoed: credentials or a key in the URL would end up in this message, in toString() and in logs
        throw new IllegalArgumentException("stripeApiBase must be an http(s) URL without credentials (user@),"
            + " query or fragment: the API key is set with stripeApiKey");
      }
      if (!("https".equals(uri.getScheme()) || "http".equals(uri.getScheme())) || uri.getHost() == null
          || !(uri.getPath() == null || uri.getPath().isEmpty() || "/".equals(uri.getPath()))) {
        // not echoed either: a path may hold what the user meant as a key
        throw new IllegalArgumentException("stripeApiBase must be an http(s) URL without a path, such as "
            + STRIPE_API_BASE);
      }
      this.stripeApiBase = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
      return this;
    }

    /** The webhook signing secrets ({@code whsec_...}); several while rotating. Replaces earlier ones. */
    public Builder webhookSecrets(String... secrets) {
      List<String> checked = new ArrayList<>();
      for (String secret : secrets) {
        Objects.requireNonNull(secret, "webhook secret");
        if (!secret.startsWith("whsec_") || secret.length() < 12) {
          throw new IllegalArgumentException("a webhook secret must start with whsec_ (the endpoint's signing secret)");
        }
        checked.add(secret);
      }
      webhookSecrets.clear();
      webhookSecrets.addAll(checked);
      return this;
    }

    /** How far a signed timestamp may be from now; default 300 s (Stripe's), between 1 s and 1 hour. */
    public Builder signatureTolerance(Duration tolerance) {
      this.signatureTolerance = between("signatureTolerance", tolerance, Duration.ofSeconds(1), Duration.ofHours(1));
      return this;
    }

    /** The schema; default {@link BillingSchema#defaults()}. */
    public Builder schema(BillingSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The clock; default UTC system clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Refetch stale or other-version payloads of subscriptions, invoices, checkout sessions and customers; default on. */
    public Builder refetch(boolean refetch) {
      this.refetch = refetch;
      return this;
    }

    /** Retries of a Stripe call on 429, 409, 5xx and network errors; default 3, between 0 and 10. */
    public Builder stripeMaxRetries(int retries) {
      if (retries < 0 || retries > 10) {
        throw new IllegalArgumentException("stripeMaxRetries must be between 0 and 10 but was " + retries);
      }
      this.stripeMaxRetries = retries;
      return this;
    }

    /** The longest wait between tries of a Stripe call; default 30 s, between 0 and 5 minutes. */
    public Builder stripeMaxRetryWait(Duration wait) {
      this.stripeMaxRetryWait = between("stripeMaxRetryWait", wait, Duration.ZERO, Duration.ofMinutes(5));
      return this;
    }

    /** Access kept while past due; default 7 days, between 0 and 90 days. */
    public Builder pastDueGrace(Duration grace) {
      this.pastDueGrace = between("pastDueGrace", grace, Duration.ZERO, Duration.ofDays(90));
      return this;
    }

    /** The plan catalog; default {@link Plans#none()}. */
    public Builder plans(Plans plans) {
      this.plans = Objects.requireNonNull(plans, "plans");
      return this;
    }

    /** How long seat changes are gathered into one Stripe update; default 2 s, between 0 and 1 minute. */
    public Builder seatCoalesceWindow(Duration window) {
      this.seatCoalesceWindow = between("seatCoalesceWindow", window, Duration.ZERO, Duration.ofMinutes(1));
      return this;
    }

    /** Tries of a failed event before it waits for an operator; default 25, between 1 and 1000. */
    public Builder eventMaxAttempts(int attempts) {
      if (attempts < 1 || attempts > 1000) {
        throw new IllegalArgumentException("eventMaxAttempts must be between 1 and 1000 but was " + attempts);
      }
      this.eventMaxAttempts = attempts;
      return this;
    }

    /** The first wait before a failed event is retried (then doubling, at most an hour); default 10 s. */
    public Builder eventRetryBackoff(Duration backoff) {
      this.eventRetryBackoff = between("eventRetryBackoff", backoff, Duration.ZERO, Duration.ofHours(1));
      return this;
    }

    /** Usage records sent per tenant per sender call; default 100, between 1 and 1000. */
    public Builder usageBatchSize(int size) {
      if (size < 1 || size > 1000) {
        throw new IllegalArgumentException("usageBatchSize must be between 1 and 1000 but was " + size);
      }
      this.usageBatchSize = size;
      return this;
    }

    /** Tries of a usage record before it is marked failed; default 20, between 1 and 1000. */
    public Builder usageMaxAttempts(int attempts) {
      if (attempts < 1 || attempts > 1000) {
        throw new IllegalArgumentException("usageMaxAttempts must be between 1 and 1000 but was " + attempts);
      }
      this.usageMaxAttempts = attempts;
      return this;
    }

    /** Apply events on a job queue instead of inline; default none (inline). */
    public Builder applyScheduler(ApplyScheduler scheduler) {
      this.applyScheduler = Objects.requireNonNull(scheduler, "applyScheduler");
      return this;
    }

    /** Told when a tenant's billing state changed; default {@link BillingChangeListener#NONE}. */
    public Builder changeListener(BillingChangeListener listener) {
      this.changeListener = Objects.requireNonNull(listener, "changeListener");
      return this;
    }

    /**
     * The Micrometer registry of the business metrics: {@link Billing#create} binds {@link BillingMetrics} to it
     * (the {@linkplain BillingMetrics#DEFAULT_WINDOW 30-day} window; {@link Billing#metrics()} returns the binding).
     * Default none: no meters, and Micrometer need not be on the class path. For another window, leave this unset
     * and call {@link BillingMetrics#bind(Billing, MeterRegistry, Duration)}.
     */
    public Builder meterRegistry(MeterRegistry meterRegistry) {
      this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
      return this;
    }

    /**
     * Registers {@code listener} under {@code name} (its deliveries are recorded by name: keep it stable) for the
     * event types given, or every type when none is given.
     */
    public Builder listener(String name, BillingEventListener listener, String... types) {
      Objects.requireNonNull(name, "name");
      if (!name.matches("[A-Za-z0-9_.:-]{1,100}")) {
        throw new IllegalArgumentException("listener name must be 1-100 of [A-Za-z0-9_.:-] but was '" + name + "'");
      }
      if (listeners.containsKey(name)) {
        throw new IllegalArgumentException("a listener is already registered as " + name);
      }
      listeners.put(name, new Registered(Objects.requireNonNull(listener, "listener"),
          types.length == 0 ? Set.of("*") : Set.of(types)));
      return this;
    }

    /**
     * Reads settings by key: {@code stripe.api-key}, {@code stripe.api-base}, {@code stripe.webhook-secrets}
     * (comma-separated), {@code billing.past-due-grace} (ISO-8601 duration, e.g. {@code P7D}), {@code
     * billing.refetch}; unset keys keep their value. Spring passes {@code env::getProperty}.
     */
    public Builder from(Function<String, @Nullable String> lookup) {
      String key = lookup.apply("stripe.api-key");
      if (key != null) {
        stripeApiKey(key.strip());
      }
      String base = lookup.apply("stripe.api-base");
      if (base != null) {
        stripeApiBase(base.strip());
      }
      String secrets = lookup.apply("stripe.webhook-secrets");
      if (secrets != null) {
        webhookSecrets(secrets.strip().split("\\s*,\\s*"));
      }
      String grace = lookup.apply("billing.past-due-grace");
      if (grace != null) {
        pastDueGrace(Duration.parse(grace.strip()));
      }
      String refetchValue = lookup.apply("billing.refetch");
      if (refetchValue != null) {
        refetch(Boolean.parseBoolean(refetchValue.strip()));
      }
      return this;
    }

    private static Duration between(String name, Duration value, Duration min, Duration max) {
      Objects.requireNonNull(value, name);
      if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
        throw new IllegalArgumentException(name + " must be between " + min + " and " + max + " but was " + value);
      }
      return value;
    }

    /**
     * The settings.
     *
     * @throws IllegalStateException if no Stripe API key was given
     */
    public BillingConfig build() {
      if (stripeApiKey == null) {
        throw new IllegalStateException("stripeApiKey is required (sk_test_... or sk_live_...)");
      }
      return new BillingConfig(this);
    }
  }
}
