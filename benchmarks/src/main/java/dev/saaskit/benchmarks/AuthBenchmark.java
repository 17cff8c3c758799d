package dev.saaskit.benchmarks;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import com.sun.net.httpserver.HttpServer;
import dev.saaskit.auth.Authorizer;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.SigningAlgorithm;
import dev.saaskit.auth.TokenIssuer;
import dev.saaskit.auth.TokenVerifier;
import dev.saaskit.auth.RoleModel;
import dev.saaskit.core.TenantId;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A request's authorization through saas-auth against a bare nimbus {@code DefaultJWTProcessor} verification of
 * the same token, in the same run.
 *
 * <p>Both sides fetch the issuer's keys from the same local JWKS URL through nimbus's {@code JWKSourceBuilder}
 * (cache warm after the first call). The saas-auth side verifies the token ({@code TokenVerifier}: issuer
 * registry, pinned algorithm, key by kid, signature, {@code exp}/{@code iat}/{@code aud}), maps the claims into a
 * {@code Principal} and checks one permission with the {@code Authorizer}; the nimbus side verifies the signature
 * and the same claims ({@code exp}, {@code aud}) and returns the claims set. {@code pair_*} groups run both sides
 * at once (one thread each) so both meet the same machine.
 *
 * <p>Groups: {@code rs256} (no verified-token cache, RS256's default), {@code es256} (the cache off on our side),
 * {@code es256Cached} (our default for ES256: the same token again and again hits the verified-token cache).
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar AuthBenchmark}. Figures: docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
public class AuthBenchmark {
  static final String AUDIENCE = "api";
  static final TenantId TENANT = TenantId.of("acme");

  HttpServer jwks;
  String rsToken;
  String esToken;
  TokenVerifier rsVerifier;
  TokenVerifier esVerifier;
  TokenVerifier esCachedVerifier;
  DefaultJWTProcessor<SecurityContext> rsNimbus;
  DefaultJWTProcessor<SecurityContext> esNimbus;
  Authorizer authorizer;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    TokenIssuer rs = TokenIssuer.builder("https://rs.example.test").algorithm(SigningAlgorithm.RS256).build();
    TokenIssuer es = TokenIssuer.builder("https://es.example.test").build();
    jwks = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    serve("/rs", rs.jwksJson());
    serve("/es", es.jwksJson());
    jwks.start();
    URI rsUri = URI.create("http://127.0.0.1:" + jwks.getAddress().getPort() + "/rs");
    URI esUri = URI.create("http://127.0.0.1:" + jwks.getAddress().getPort() + "/es");
    rsToken = rs.token("user-1").tenant(TENANT).roles("member").permissionVersion(1).audience(AUDIENCE)
        .ttl(Duration.ofHours(2)).sign();
    esToken = es.token("user-1").tenant(TENANT).roles("member").permissionVersion(1).audience(AUDIENCE)
        .ttl(Duration.ofHours(2)).sign();
    rsVerifier = TokenVerifier.builder().issuer(dev.saaskit.auth.TrustedIssuer.builder(rs.issuer()).jwksUri(rsUri)
        .algorithms(SigningAlgorithm.RS256).audiences(AUDIENCE).build()).build();
    esVerifier = TokenVerifier.builder().issuer(dev.saaskit.auth.TrustedIssuer.builder(es.issuer()).jwksUri(esUri)
        .algorithms(SigningAlgorithm.ES256).audiences(AUDIENCE).cacheVerifiedTokens(false).build()).build();
    esCachedVerifier = TokenVerifier.builder().issuer(dev.saaskit.auth.TrustedIssuer.builder(es.issuer())
        .jwksUri(esUri).algorithms(SigningAlgorithm.ES256).audiences(AUDIENCE).build()).build();
    rsNimbus = nimbus(rsUri, JWSAlgorithm.RS256);
    esNimbus = nimbus(esUri, JWSAlgorithm.ES256);
    authorizer = Authorizer.builder(RoleModel.defaults()).build();
    // warm both key caches, and prove both sides accept the tokens
    if (!authorized(rsVerifier, rsToken) || !authorized(esVerifier, esToken) || !authorized(esCachedVerifier, esToken)
        || rsNimbus.process(rsToken, null).getSubject() == null || esNimbus.process(esToken, null).getSubject() == null) {
      throw new IllegalStateException("the tokens do not verify");
    }
  }

  private void serve(String path, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    jwks.createContext(path, exchange -> {
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, bytes.length);
      exchange.getResponseBody().write(bytes);
      exchange.close();
    });
  }

  private static DefaultJWTProcessor<SecurityContext> nimbus(URI jwksUri, JWSAlgorithm alg) throws Exception {
    JWKSource<SecurityContext> source = JWKSourceBuilder.<SecurityContext>create(jwksUri.toURL()).build();
    DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
    processor.setJWSKeySelector(new JWSVerificationKeySelector<>(alg, source));
    processor.setJWTClaimsSetVerifier(new DefaultJWTClaimsVerifier<>(AUDIENCE, null, Set.of("exp", "sub", "iss")));
    return processor;
  }

  private boolean authorized(TokenVerifier verifier, String token) {
    Principal principal = verifier.verify(token);
    return authorizer.check(principal, "invoice:read");
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    rsVerifier.close();
    esVerifier.close();
    esCachedVerifier.close();
    jwks.stop(0);
  }

  @Benchmark
  @Group("rs256")
  @GroupThreads(1)
  public boolean rs256_saaskit() {
    return authorized(rsVerifier, rsToken);
  }

  @Benchmark
  @Group("rs256")
  @GroupThreads(1)
  public JWTClaimsSet rs256_nimbus() throws Exception {
    return rsNimbus.process(rsToken, null);
  }

  @Benchmark
  @Group("es256")
  @GroupThreads(1)
  public boolean es256_saaskit() {
    return authorized(esVerifier, esToken);
  }

  @Benchmark
  @Group("es256")
  @GroupThreads(1)
  public JWTClaimsSet es256_nimbus() throws Exception {
    return esNimbus.process(esToken, null);
  }

  @Benchmark
  @Group("es256Cached")
  @GroupThreads(1)
  public boolean es256Cached_saaskit() {
    return authorized(esCachedVerifier, esToken);
  }

  @Benchmark
  @Group("es256Cached")
  @GroupThreads(1)
  public JWTClaimsSet es256Cached_nimbus() throws Exception {
    return esNimbus.process(esToken, null);
  }
}
