package dev.saaskit.examples.saasapp;

import dev.saaskit.cache.redis.RateLimit;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Everything the app reads from its environment, with the defaults of the offline demo. {@link #fromEnvironment}
 * documents each variable; tests build one with {@link #builder()}.
 *
 * @param port the HTTP port ({@code PORT}, default 8080; 0 picks a free one)
 * @param host the interface to listen on ({@code HOST}, default {@code 0.0.0.0})
 * @param publicUrl the URL browsers reach the app at ({@code PUBLIC_URL}, default {@code http://localhost:<port>}):
 *     Stripe's success and cancel URLs point there
 * @param adminDatabaseUrl a JDBC URL of a role that may create roles and databases ({@code DATABASE_URL}); null:
 *     an embedded PostgreSQL in {@code dataDir}
 * @param dataDir the embedded PostgreSQL's data folder ({@code SAAS_APP_DATA_DIR}, default
 *     {@code ~/.saaskit/saas-app/pgdata})
 * @param database the application's database ({@code SAAS_APP_DATABASE}, default {@code saas_app})
 * @param rolePrefix prefix of the four roles the app creates ({@code SAAS_APP_ROLE_PREFIX}, default
 *     {@code saas_app}): {@code _owner}, {@code _app}, {@code _worker}, {@code _analytics}
 * @param demo demo mode: {@code POST /dev/login} and the built-in demo issuer ({@code SAAS_APP_DEMO}, default on
 *     without {@code DATABASE_URL}, off with it)
 * @param stripeApiKey a real Stripe secret key ({@code STRIPE_API_KEY}); null: the in-process StripeEmulator
 * @param stripeApiBase Stripe's base URL ({@code STRIPE_API_BASE}, default Stripe's)
 * @param stripeWebhookSecret the webhook signing secret ({@code STRIPE_WEBHOOK_SECRET}), required with a real key
 * @param oidcIssuer an external IdP's issuer ({@code OIDC_ISSUER}); null: none
 * @param oidcJwksUri its JWKS URL ({@code OIDC_JWKS_URI})
 * @param oidcAudience the audience its tokens must carry ({@code OIDC_AUDIENCE})
 * @param reportSteps how many steps a report job takes (its progress moves once per step)
 * @param reportStepDelay how long each step takes ({@code SAAS_APP_REPORT_STEP_MS}, default 400 ms): long enough
 *     to watch the progress bar
 * @param analyticsCron when the analytics view is refreshed, Spring cron syntax with seconds
 *     ({@code SAAS_APP_ANALYTICS_CRON}, default every 30 seconds)
 * @param maxBodyBytes the largest JSON body {@code /api} and {@code /dev} accept (16 KiB): larger ones get 413 (a
 *     refused body of up to 8 MiB is read and dropped first, so the client gets the answer on a connection it can
 *     keep; a larger one is answered with {@code Connection: close})
 * @param cacheTtl how long a tenant's subscription status is cached (the webhook invalidates it before that)
 * @param invalidationPollInterval the invalidation bus's poll interval: the bound on a missed notification
 * @param redisUrl a Redis the nodes share their rate limits through ({@code SAAS_REDIS_URL}, e.g.
 *     {@code redis://127.0.0.1:6379}); null: each node counts in process (one node, the zero-setup demo)
 * @param apiRateLimit the requests a tenant may make to {@code /api} ({@code SAAS_APP_API_RATE_PER_SECOND}, default
 *     300 per second, also the burst): every user and API key of the tenant together
 * @param ipRateLimit the requests one client IP may make to each surface reachable without a valid credential
 *     ({@code SAAS_APP_IP_RATE_PER_MINUTE}, default 60 per minute): {@code /dev/login},
 *     {@code /api/invitations/accept}, and refused credentials on {@code /api}, each counted apart
 */
public record AppConfig(
    int port,
    String host,
    @Nullable String publicUrl,
    @Nullable String adminDatabaseUrl,
    Path dataDir,
    String database,
    String rolePrefix,
    boolean demo,
    @Nullable String stripeApiKey,
    @Nullable String stripeApiBase,
    @Nullable String stripeWebhookSecret,
    @Nullable String oidcIssuer,
    @Nullable String oidcJwksUri,
    @Nullable String oidcAudience,
    int reportSteps,
    Duration reportStepDelay,
    String analyticsCron,
    int maxBodyBytes,
    Duration cacheTtl,
    Duration invalidationPollInterval,
    @Nullable String redisUrl,
    RateLimit apiRateLimit,
    RateLimit ipRateLimit) {

  /** Checks the values. */
  public AppConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("PORT must be 0 to 65535 but was " + port);
    }
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(dataDir, "dataDir");
    if (!database.matches("[a-z_][a-z0-9_]{0,40}")) {
      throw new IllegalArgumentException("database must be lower-case letters, digits and _ but was " + database);
    }
    if (!rolePrefix.matches("[a-z_][a-z0-9_]{0,40}")) {
      throw new IllegalArgumentException("role prefix must be lower-case letters, digits and _ but was "
          + rolePrefix);
    }
    if (stripeApiKey != null && stripeWebhookSecret == null) {
      throw new IllegalArgumentException("STRIPE_API_KEY is set: set STRIPE_WEBHOOK_SECRET too (whsec_...)");
    }
    if (oidcIssuer != null && (oidcJwksUri == null || oidcAudience == null)) {
      throw new IllegalArgumentException("OIDC_ISSUER is set: set OIDC_JWKS_URI and OIDC_AUDIENCE too");
    }
    if (!demo && oidcIssuer == null) {
      throw new IllegalArgumentException("nobody could sign in: set OIDC_ISSUER, OIDC_JWKS_URI and OIDC_AUDIENCE"
          + " for a real IdP, or SAAS_APP_DEMO=true for the demo sign-in");
    }
    if (reportSteps < 1 || reportSteps > 100) {
      throw new IllegalArgumentException("report steps must be 1 to 100 but was " + reportSteps);
    }
    Objects.requireNonNull(apiRateLimit, "apiRateLimit");
    Objects.requireNonNull(ipRateLimit, "ipRateLimit");
  }

  /**
   * The settings with their secrets hidden: the Stripe key and webhook secret show only whether they are set, and
   * passwords in the database and Redis URLs are masked. A record's own {@code toString} would print them all,
   * and a configuration is the first thing someone logs while debugging a deployment.
   */
  @Override
  public String toString() {
    StringBuilder out = new StringBuilder("AppConfig[");
    java.lang.reflect.RecordComponent[] components = AppConfig.class.getRecordComponents();
    for (int i = 0; i < components.length; i++) {
      String name = components[i].getName();
      Object value;
      try {
        value = components[i].getAccessor().invoke(this);
      } catch (ReflectiveOperationException e) {
        value = "?";
      }
      if (value != null && (name.equals("stripeApiKey") || name.equals("stripeWebhookSecret"))) {
        value = "(set)";
      } else if (value instanceof String url && (name.equals("adminDatabaseUrl") || name.equals("redisUrl"))) {
        value = maskPasswords(url);
      }
      out.append(i == 0 ? "" : ", ").append(name).append('=').append(value);
    }
    return out.append(']').toString();
  }

  /** {@code url} with the password of its user info ({@code //user:secret@}) and of a {@code password=} masked. */
  static String maskPasswords(String url) {
    return url.replaceAll("(//[^/@:]*:)[^/@]*@", "$1***@").replaceAll("(?i)(password=)[^&;]*", "$1***");
  }

  /** Whether Stripe calls go to the in-process emulator. */
  public boolean offlineStripe() {
    return stripeApiKey == null;
  }

  /** The configuration of the process environment. */
  public static AppConfig fromEnvironment() {
    return fromEnvironment(System::getenv);
  }

  /** The configuration the variables of {@code env} describe (see the record's components). */
  public static AppConfig fromEnvironment(Function<String, @Nullable String> env) {
    Builder b = builder();
    String port = blankToNull(env.apply("PORT"));
    if (port != null) {
      try {
        b.port(Integer.parseInt(port));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("PORT must be a number but was '" + port + "'", e);
      }
    }
    String host = blankToNull(env.apply("HOST"));
    if (host != null) {
      b.host(host);
    }
    b.publicUrl(blankToNull(env.apply("PUBLIC_URL")));
    String databaseUrl = blankToNull(env.apply("DATABASE_URL"));
    b.adminDatabaseUrl(databaseUrl);
    String dataDir = blankToNull(env.apply("SAAS_APP_DATA_DIR"));
    if (dataDir != null) {
      b.dataDir(Path.of(dataDir));
    }
    String database = blankToNull(env.apply("SAAS_APP_DATABASE"));
    if (database != null) {
      b.database(database);
    }
    String prefix = blankToNull(env.apply("SAAS_APP_ROLE_PREFIX"));
    if (prefix != null) {
      b.rolePrefix(prefix);
    }
    String demo = blankToNull(env.apply("SAAS_APP_DEMO"));
    b.demo(demo != null ? Boolean.parseBoolean(demo) : databaseUrl == null);
    b.stripe(blankToNull(env.apply("STRIPE_API_KEY")), blankToNull(env.apply("STRIPE_API_BASE")),
        blankToNull(env.apply("STRIPE_WEBHOOK_SECRET")));
    b.oidc(blankToNull(env.apply("OIDC_ISSUER")), blankToNull(env.apply("OIDC_JWKS_URI")),
        blankToNull(env.apply("OIDC_AUDIENCE")));
    String stepMs = blankToNull(env.apply("SAAS_APP_REPORT_STEP_MS"));
    if (stepMs != null) {
      b.reportStepDelay(Duration.ofMillis(Long.parseLong(stepMs)));
    }
    String cron = blankToNull(env.apply("SAAS_APP_ANALYTICS_CRON"));
    if (cron != null) {
      b.analyticsCron(cron);
    }
    b.redisUrl(blankToNull(env.apply("SAAS_REDIS_URL")));
    String apiRate = blankToNull(env.apply("SAAS_APP_API_RATE_PER_SECOND"));
    if (apiRate != null) {
      b.apiRateLimit(RateLimit.perSecond(positive("SAAS_APP_API_RATE_PER_SECOND", apiRate)));
    }
    String ipRate = blankToNull(env.apply("SAAS_APP_IP_RATE_PER_MINUTE"));
    if (ipRate != null) {
      b.ipRateLimit(RateLimit.perMinute(positive("SAAS_APP_IP_RATE_PER_MINUTE", ipRate)));
    }
    return b.build();
  }

  private static long positive(String name, String value) {
    try {
      long n = Long.parseLong(value);
      if (n >= 1) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below, with the name of the variable
    }
    throw new IllegalArgumentException(name + " must be a whole number of at least 1 but was '" + value + "'");
  }

  private static @Nullable String blankToNull(@Nullable String value) {
    return value == null || value.isBlank() ? null : value.trim();
  }

  /** A builder with the defaults of the offline demo. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds an {@link AppConfig}. */
  public static final class Builder {
    private int port = 8080;
    private String host = "0.0.0.0";
    private @Nullable String publicUrl;
    private @Nullable String adminDatabaseUrl;
    private Path dataDir = Path.of(System.getProperty("user.home"), ".saaskit", "saas-app", "pgdata");
    private String database = "saas_app";
    private String rolePrefix = "saas_app";
    private boolean demo = true;
    private @Nullable String stripeApiKey;
    private @Nullable String stripeApiBase;
    private @Nullable String stripeWebhookSecret;
    private @Nullable String oidcIssuer;
    private @Nullable String oidcJwksUri;
    private @Nullable String oidcAudience;
    private int reportSteps = 10;
    private Duration reportStepDelay = Duration.ofMillis(400);
    private String analyticsCron = "*/30 * * * * *";
    private int maxBodyBytes = 16 * 1024;
    private Duration cacheTtl = Duration.ofMinutes(5);
    private Duration invalidationPollInterval = Duration.ofSeconds(1);
    private @Nullable String redisUrl;
    private RateLimit apiRateLimit = RateLimit.perSecond(300);
    private RateLimit ipRateLimit = RateLimit.perMinute(60);

    private Builder() {}

    /** The HTTP port; 0 picks a free one. */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /** The interface to listen on. */
    public Builder host(String host) {
      this.host = host;
      return this;
    }

    /** The URL browsers reach the app at. */
    public Builder publicUrl(@Nullable String publicUrl) {
      this.publicUrl = publicUrl;
      return this;
    }

    /** A JDBC URL of a role that may create roles and databases; null: embedded PostgreSQL. */
    public Builder adminDatabaseUrl(@Nullable String url) {
      this.adminDatabaseUrl = url;
      return this;
    }

    /** The embedded PostgreSQL's data folder. */
    public Builder dataDir(Path dataDir) {
      this.dataDir = dataDir;
      return this;
    }

    /** The application's database name. */
    public Builder database(String database) {
      this.database = database.toLowerCase(Locale.ROOT);
      return this;
    }

    /** The prefix of the roles the app creates. */
    public Builder rolePrefix(String rolePrefix) {
      this.rolePrefix = rolePrefix.toLowerCase(Locale.ROOT);
      return this;
    }

    /** Demo sign-in on or off. */
    public Builder demo(boolean demo) {
      this.demo = demo;
      return this;
    }

    /** Real Stripe (key, base URL, webhook secret); a null key means the emulator. */
    public Builder stripe(@Nullable String apiKey, @Nullable String apiBase, @Nullable String webhookSecret) {
      this.stripeApiKey = apiKey;
      this.stripeApiBase = apiBase;
      this.stripeWebhookSecret = webhookSecret;
      return this;
    }

    /** An external OIDC issuer whose tokens are accepted besides (or instead of) the demo issuer's. */
    public Builder oidc(@Nullable String issuer, @Nullable String jwksUri, @Nullable String audience) {
      this.oidcIssuer = issuer;
      this.oidcJwksUri = jwksUri;
      this.oidcAudience = audience;
      return this;
    }

    /** How many steps a report takes. */
    public Builder reportSteps(int steps) {
      this.reportSteps = steps;
      return this;
    }

    /** How long each report step takes. */
    public Builder reportStepDelay(Duration delay) {
      this.reportStepDelay = delay;
      return this;
    }

    /** The analytics refresh schedule (Spring cron syntax, with seconds). */
    public Builder analyticsCron(String cron) {
      this.analyticsCron = cron;
      return this;
    }

    /** The largest accepted JSON body. */
    public Builder maxBodyBytes(int bytes) {
      this.maxBodyBytes = bytes;
      return this;
    }

    /** How long a subscription status is cached. */
    public Builder cacheTtl(Duration ttl) {
      this.cacheTtl = ttl;
      return this;
    }

    /** The invalidation bus's poll interval. */
    public Builder invalidationPollInterval(Duration interval) {
      this.invalidationPollInterval = interval;
      return this;
    }

    /** A Redis for rate limits shared by every node; null: in-process limits. */
    public Builder redisUrl(@Nullable String url) {
      this.redisUrl = url;
      return this;
    }

    /** The limit of each tenant on {@code /api}. */
    public Builder apiRateLimit(RateLimit limit) {
      this.apiRateLimit = limit;
      return this;
    }

    /** The limit of each client IP on each surface reachable without a valid credential. */
    public Builder ipRateLimit(RateLimit limit) {
      this.ipRateLimit = limit;
      return this;
    }

    /** The configuration. */
    public AppConfig build() {
      return new AppConfig(port, host, publicUrl, adminDatabaseUrl, dataDir, database, rolePrefix, demo,
          stripeApiKey, stripeApiBase, stripeWebhookSecret, oidcIssuer, oidcJwksUri, oidcAudience, reportSteps,
          reportStepDelay, analyticsCron, maxBodyBytes, cacheTtl, invalidationPollInterval, redisUrl, apiRateLimit,
          ipRateLimit);
    }
  }
}
