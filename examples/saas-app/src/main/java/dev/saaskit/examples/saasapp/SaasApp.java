package dev.saaskit.examples.saasapp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.stripe.StripeClient;
import dev.saaskit.auth.ApiKeys;
import dev.saaskit.auth.Authorizer;
import dev.saaskit.auth.ClaimMappings;
import dev.saaskit.auth.Invitations;
import dev.saaskit.auth.MembershipChangeListener;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.PermissionVersions;
import dev.saaskit.auth.SigningAlgorithm;
import dev.saaskit.auth.TokenIssuer;
import dev.saaskit.auth.TokenVerifier;
import dev.saaskit.auth.TrustedIssuer;
import dev.saaskit.billing.Billing;
import dev.saaskit.billing.BillingChangeListener;
import dev.saaskit.billing.BillingConfig;
import dev.saaskit.billing.BillingMetrics;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationListener;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.postgres.PostgresInvalidationBus;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobWorker;
import dev.saaskit.jobs.RecurringJob;
import dev.saaskit.jobs.RecurringJobs;
import dev.saaskit.jobs.SaasJobs;
import dev.saaskit.jobs.CronSyntax;
import dev.saaskit.tenancy.StartupGuard;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.StripeEmulator;
import io.javalin.Javalin;
import io.javalin.http.staticfiles.Location;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reference SaaS app: {@link #main} reads the environment, {@link #start} wires every saaskit module together
 * in the order a reader can follow, top to bottom, and returns the running app.
 */
public final class SaasApp implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SaasApp.class);

  private final Deque<AutoCloseable> closeables;
  private final int port;
  private final String publicUrl;
  private final @Nullable StripeEmulator emulator;
  private final Billing billing;
  private final DataSource appPool;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final AtomicBoolean closed = new AtomicBoolean();

  private SaasApp(Deque<AutoCloseable> closeables, int port, String publicUrl, @Nullable StripeEmulator emulator,
      Billing billing, DataSource appPool) {
    this.closeables = closeables;
    this.port = port;
    this.publicUrl = publicUrl;
    this.emulator = emulator;
    this.billing = billing;
    this.appPool = appPool;
  }

  /** Runs the app until the process is stopped (Ctrl+C). */
  public static void main(String[] args) throws Exception {
    AppConfig config = AppConfig.fromEnvironment();
    SaasApp app = start(config);
    Runtime.getRuntime().addShutdownHook(new Thread(app::close, "saas-app-shutdown"));
    System.out.println();
    System.out.println("saas-app is running at " + app.publicUrl());
    if (config.demo()) {
      System.out.println("  Sign in on that page with any tenant name and email (demo mode: no password), or:");
      System.out.println("  curl -s -X POST " + app.publicUrl() + "/dev/login -H 'Content-Type: application/json'"
          + " -d '{\"tenant\":\"acme\",\"email\":\"ada@acme.test\",\"role\":\"owner\"}'");
    }
    if (config.offlineStripe()) {
      System.out.println("  Stripe: offline (StripeEmulator); the checkout page is served by the emulator");
    }
    if (config.adminDatabaseUrl() == null) {
      System.out.println("  Data: embedded PostgreSQL in " + config.dataDir() + " (kept across restarts)");
    }
    System.out.println("  Health: /health /ready /metrics. Stop with Ctrl+C.");
    app.stopped.await();
  }

  /** Starts the app as {@code config} says and returns it running; {@link #close()} stops everything. */
  public static SaasApp start(AppConfig config) throws Exception {
    Deque<AutoCloseable> closeables = new ArrayDeque<>();
    try {
      return start(config, closeables);
    } catch (Exception | Error e) {
      closeAll(closeables);
      throw e;
    }
  }

  private static SaasApp start(AppConfig config, Deque<AutoCloseable> closeables) throws Exception {
    ObjectMapper json = new ObjectMapper().findAndRegisterModules();
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    int port = config.port() == 0 ? freePort() : config.port();
    String publicUrl = config.publicUrl() != null ? stripSlash(config.publicUrl()) : "http://localhost:" + port;
    String loopbackUrl = "http://127.0.0.1:" + port;

    // 1. PostgreSQL: the server of DATABASE_URL, or an embedded one whose data survives restarts.
    String adminUrl = config.adminDatabaseUrl();
    if (adminUrl == null) {
      Files.createDirectories(config.dataDir());
      EmbeddedPostgres postgres = EmbeddedPostgres.builder()
          .setDataDirectory(config.dataDir())
          .setCleanDataDirectory(false)
          // not its own shutdown hook, which would stop the server while the workers and pools still use it
          // (Ctrl+C): close() stops it last, and main's hook calls close()
          .setRegisterShutdownHook(false)
          .start();
      closeables.push(postgres);
      adminUrl = postgres.getJdbcUrl("postgres", "postgres");
    }

    // 2. Roles, migrations of every module and of the app's tables, pools; then the start-up guard.
    Database db = Database.bootstrap(adminUrl, config.database(), config.rolePrefix(), config.offlineStripe(),
        registry);
    closeables.push(db);
    StartupGuard.defaults().verify(db.appPool);       // refuses to start if the app role could bypass RLS
    DataSource tenantDb = TenantDataSource.wrap(db.appPool);   // every statement runs as the request's tenant

    // 3. The invalidation bus: one per node; caches and permission versions hear each other's changes through it.
    PostgresInvalidationBus bus = PostgresInvalidationBus.builder(db.appPool)
        .pollInterval(config.invalidationPollInterval())
        .meterRegistry(registry)
        .build()
        .start();
    closeables.push(bus);

    // 4. Auth: roles in memory, memberships in the database, revocation by permission version through the bus.
    PermissionVersions[] versionsHolder = new PermissionVersions[1];
    MembershipChangeListener revoke = new MembershipChangeListener() {
      @Override
      public void inTransaction(Connection c, TenantId tenant, String userKey) {
        bus.publish(c, Invalidation.key("permission-versions", tenant,
            MembershipChangeListener.encodeUserKey(userKey)));   // other nodes, committed with the change
      }

      @Override
      public void membershipChanged(TenantId tenant, String userKey) {
        versionsHolder[0].invalidate(tenant, userKey);            // this node, before the call returns
      }
    };
    Memberships memberships = Memberships.builder(db.appPool).roleHierarchy(Api.ROLE_MODEL)
        .changeListener(revoke).build();
    PermissionVersions versions = PermissionVersions.loadingFrom(memberships.versionLoader());
    versionsHolder[0] = versions;
    Invitations invitations = Invitations.builder(db.appPool).sameSettingsAs(memberships).build();
    Authorizer authorizer = Authorizer.builder(Api.ROLE_MODEL).permissionVersions(versions).build();
    ApiKeys apiKeys = ApiKeys.builder(db.appPool, authorizer).build().start();
    closeables.push(apiKeys);
    TokenIssuer demoIssuer = config.demo() ? TokenIssuer.builder(publicUrl).build() : null;
    TokenVerifier.Builder verifierBuilder = TokenVerifier.builder();
    if (demoIssuer != null) {
      // verified like any external issuer: keys fetched from the app's own JWKS URL, cached and refreshed
      verifierBuilder.issuer(TrustedIssuer.builder(demoIssuer.issuer())
          .jwksUri(URI.create(loopbackUrl + "/.well-known/jwks.json"))
          .algorithms(SigningAlgorithm.ES256)
          .audiences(Api.AUDIENCE)
          .claimMapping(ClaimMappings.standard())
          .tenantRequired(true)
          .build());
    }
    if (config.oidcIssuer() != null) {
      verifierBuilder.issuer(TrustedIssuer.builder(config.oidcIssuer())
          .jwksUri(URI.create(java.util.Objects.requireNonNull(config.oidcJwksUri())))
          .algorithms(SigningAlgorithm.RS256, SigningAlgorithm.ES256)
          .audiences(java.util.Objects.requireNonNull(config.oidcAudience()))
          .claimMapping(ClaimMappings.standard())
          .tenantRequired(true)
          .build());
    }
    TokenVerifier verifier = verifierBuilder.build();
    closeables.push(verifier);

    // 5. Billing: offline against the StripeEmulator unless STRIPE_API_KEY is set.
    StripeEmulator emulator = null;
    String stripeKey = config.stripeApiKey();
    String stripeBase = config.stripeApiBase();
    String webhookSecret = config.stripeWebhookSecret();
    if (config.offlineStripe()) {
      emulator = StripeEmulator.builder().start();
      closeables.push(emulator);
      stripeKey = emulator.apiKey();
      stripeBase = emulator.apiBase();
      webhookSecret = emulator.webhookSecret();
    }
    StripeClient.StripeClientBuilder stripeClient = StripeClient.builder().setApiKey(stripeKey);
    if (stripeBase != null) {
      stripeClient.setApiBase(stripeBase);
    }
    Map<String, String> priceIds = emulator != null ? Catalog.seedEmulator(stripeClient.build(), json)
        : Catalog.lookUp(stripeClient.build(), json);
    SaasCache<String, Api.SubscriptionView> subscriptions = SaasCache.<String, Api.SubscriptionView>named(
            Api.SUBSCRIPTION_CACHE)
        .ttl(config.cacheTtl())
        .invalidationBus(bus)
        .meterRegistry(registry)
        .build();
    closeables.push(subscriptions);
    BillingChangeListener dropCachedStatus = new BillingChangeListener() {
      @Override
      public void inTransaction(Connection c, TenantId tenant) {
        bus.publish(c, subscriptions.keyInvalidation(tenant, Api.CURRENT));   // every node, with the change
      }

      @Override
      public void billingChanged(TenantId tenant) {}
    };
    BillingConfig.Builder billingConfig = BillingConfig.builder()
        .stripeApiKey(java.util.Objects.requireNonNull(stripeKey))
        .webhookSecrets(java.util.Objects.requireNonNull(webhookSecret))
        .plans(Catalog.plans(priceIds))
        .changeListener(dropCachedStatus);
    if (stripeBase != null) {
      billingConfig.stripeApiBase(stripeBase);
    }
    Billing billing = Billing.create(billingConfig.build(), db.appPool);
    BillingMetrics.bind(billing, registry);   // subscriptions, MRR, trials started and converted, churn, lag
    bus.subscribe(new InvalidationListener() {
      @Override
      public void onInvalidation(Invalidation i) {
        if (i.tenant() != null && i.appliesTo(Api.SUBSCRIPTION_CACHE)) {
          billing.invalidate(i.tenant());   // Billing's own per-node entitlements, on the other nodes
        }
        if (i.scope() == Invalidation.Scope.KEY && "permission-versions".equals(i.cacheName())
            && i.tenant() != null && i.value() != null) {
          versions.invalidate(i.tenant(), MembershipChangeListener.decodeUserKey(i.value()));
        }
      }

      @Override
      public void onLostInvalidations() {
        versions.invalidateAll();
      }
    });

    // 6. Jobs: the report job and the analytics refresh run on workers of their own role.
    Projects projects = new Projects(tenantDb);
    Reports reports = new Reports(tenantDb, db.analyticsPool, db.analytics, config.reportSteps(),
        config.reportStepDelay());
    SaasJobs jobs = SaasJobs.builder(tenantDb).workerDataSource(db.workerPool).meterRegistry(registry).build();
    JobWorker worker = jobs.worker()
        .handler(Reports.REPORT, reports::run)
        .handler(Reports.REFRESH_ANALYTICS, (request, context) -> {
          reports.refreshAnalytics();
          return Map.of("refreshed", true);
        })
        .build()
        .start();
    AtomicBoolean workerRunning = new AtomicBoolean(true);
    closeables.push(() -> {
      workerRunning.set(false);
      worker.close();
    });
    RecurringJobs recurring = jobs.recurring()
        .add(RecurringJob.builder("analytics.refresh", config.analyticsCron(),
                JobRequest.builder(Reports.REFRESH_ANALYTICS, new Reports.RefreshRequest()).noTenant().build())
            .syntax(CronSyntax.SPRING)
            .build())
        .build()
        .start();
    closeables.push(recurring);
    reports.refreshAnalytics();   // once now, so the dashboard has numbers before the first tick

    // 7. Rate limits: per tenant on /api, per client IP on what anyone can reach; on Redis if SAAS_REDIS_URL is set.
    RateLimits rateLimits = new RateLimits(config);
    closeables.push(rateLimits);

    // 8. The web server: the API, the webhook, the dashboard's static files.
    Api api = new Api(new Api.Deps(config, publicUrl, json, registry, projects, reports, jobs.queue(),
        memberships, invitations, versions, authorizer, apiKeys, demoIssuer, verifier, billing, subscriptions,
        priceIds, () -> readiness(db, workerRunning.get() && bus.isRunning()), rateLimits));
    Javalin web = Javalin.create(javalin -> {
      javalin.startup.showJavalinBanner = false;
      if (SaasApp.class.getResource("/public/index.html") != null) {
        javalin.staticFiles.add("/public", Location.CLASSPATH);
      }
      api.routes(javalin);
    });
    web.start(config.host(), port);
    closeables.push(web::stop);
    if (emulator != null) {
      emulator.webhooks().deliverTo(URI.create(loopbackUrl + "/webhooks/stripe"));   // signed, over HTTP
    }
    log.info("saas-app started on port {}", port);
    return new SaasApp(closeables, port, publicUrl, emulator, billing, db.appPool);
  }

  /** The port the app listens on. */
  public int port() {
    return port;
  }

  /** The URL browsers reach the app at. */
  public String publicUrl() {
    return publicUrl;
  }

  /** The in-process Stripe of offline mode; null when the app talks to real Stripe. */
  public @Nullable StripeEmulator stripeEmulator() {
    return emulator;
  }

  /** The app's billing entry (for tests and operators). */
  public Billing billing() {
    return billing;
  }

  /** The application role's pool (held to row-level security), for checks such as the RLS audit. */
  public DataSource appDataSource() {
    return appPool;
  }

  /** Stops the server, the jobs, the pools and the embedded database, newest first. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      closeAll(closeables);
      stopped.countDown();
    }
  }

  private static void closeAll(Deque<AutoCloseable> closeables) {
    while (!closeables.isEmpty()) {
      try {
        closeables.pop().close();
      } catch (Exception e) {
        log.warn("stopping a component failed: {}", LogText.of(e));
      }
    }
  }

  /** {@code /ready}: the database answers as the app role, the migrations are there, the workers run. */
  private static Map<String, Boolean> readiness(Database db, boolean workersRunning) {
    boolean database = false;
    boolean migrations = false;
    try (Connection c = db.appPool.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT to_regclass('public.projects') IS NOT NULL"
            + " AND to_regclass('public." + db.analytics.viewName() + "') IS NOT NULL"
            + " AND to_regnamespace('saaskit_billing') IS NOT NULL"
            + " AND to_regnamespace('saaskit_auth') IS NOT NULL")) {
      database = true;
      migrations = rs.next() && rs.getBoolean(1);
    } catch (SQLException e) {
      log.warn("readiness check failed: {}", LogText.of(e.getMessage()));
    }
    return Map.of("database", database, "migrations", migrations, "workers", workersRunning);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static String stripSlash(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }
}
