package dev.saaskit.auth.internal.sso;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.openid.connect.sdk.op.OIDCProviderMetadata;
import dev.saaskit.auth.sso.SsoException;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * What discovery found for one (issuer, client id): endpoints, whether the {@code iss} callback parameter is
 * promised, and the ID token validator with the issuer's JWKS. Not API.
 *
 * @param issuer the issuer (equal to the configured one)
 * @param authorizationEndpoint where browsers go
 * @param tokenEndpoint where codes are exchanged
 * @param issParameterSupported whether the IdP promises {@code iss} in callbacks (RFC 9207)
 * @param validator the ID token validator
 */
public record OidcProvider(String issuer, URI authorizationEndpoint, URI tokenEndpoint,
    boolean issParameterSupported, IdTokenValidator validator) {
  /**
   * Runs the refresh-ahead fetches of every provider's keys: daemon threads, created on demand, gone after a minute
   * idle. A provider is dropped from {@code OidcLogin}'s discovery cache (every discovery TTL) without being closed,
   * so it must own no thread: nimbus's default is a single-thread executor per key source, whose non-daemon thread
   * outlived the provider (one more per connection and discovery period, until a finalizer ran) and kept the JVM
   * from exiting. Each fetch is bounded by the retriever's deadline.
   */
  private static final ExecutorService REFRESHERS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60,
      TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "saaskit-oidc-jwks-refresh");
        t.setDaemon(true);
        return t;
      });

  /**
   * Fetches {@code <issuer>/.well-known/openid-configuration} and checks it.
   *
   * @throws SsoException {@code DISCOVERY_FAILED}
   */
  public static OidcProvider discover(String issuer, String clientId, Set<JWSAlgorithm> safeAlgorithms,
      Duration timeout, Clock clock, Duration skew, boolean allowPrivate) {
    String base = issuer.endsWith("/") ? issuer.substring(0, issuer.length() - 1) : issuer;
    URI configUri = URI.create(base + "/.well-known/openid-configuration");
    OIDCProviderMetadata metadata;
    try {
      HTTPRequest request = new HTTPRequest(HTTPRequest.Method.GET, configUri);
      request.setConnectTimeout((int) timeout.toMillis());
      request.setReadTimeout((int) timeout.toMillis());
      request.setFollowRedirects(false);
      HTTPResponse response = request.send(new BoundedHttp(BoundedHttp.MAX_RESPONSE_BYTES, allowPrivate));
      if (response.getStatusCode() != 200) {
        throw failed(issuer, "HTTP status " + response.getStatusCode(), null);
      }
      metadata = OIDCProviderMetadata.parse(response.getBody());
    } catch (IOException e) {
      throw failed(issuer, "cannot fetch " + configUri + ": " + e.getMessage(), e);
    } catch (com.nimbusds.oauth2.sdk.ParseException e) {
      throw failed(issuer, "invalid discovery document: " + e.getMessage(), e);
    }
    if (!issuer.equals(metadata.getIssuer().getValue())) {
      throw failed(issuer, "the discovery document names another issuer, " + metadata.getIssuer().getValue(), null);
    }
    URI authorization = endpoint(issuer, "authorization_endpoint", metadata.getAuthorizationEndpointURI());
    URI token = endpoint(issuer, "token_endpoint", metadata.getTokenEndpointURI());
    URI jwks = endpoint(issuer, "jwks_uri", metadata.getJWKSetURI());
    Set<JWSAlgorithm> algorithms = new LinkedHashSet<>(safeAlgorithms);
    List<JWSAlgorithm> advertised = metadata.getIDTokenJWSAlgs();
    algorithms.retainAll(advertised == null ? List.of() : advertised);
    if (algorithms.isEmpty()) {
      throw failed(issuer, "it signs ID tokens with " + advertised + ", none of the allowed " + safeAlgorithms, null);
    }
    JWKSource<SecurityContext> keys;
    try {
      int ms = (int) timeout.toMillis();
      keys = JWKSourceBuilder.<SecurityContext>create(jwks.toURL(), IdpAddresses.retriever(ms, 256 * 1024, allowPrivate))
          .refreshAheadCache(JWKSourceBuilder.DEFAULT_REFRESH_AHEAD_TIME, null, REFRESHERS, false, null, false)
          .outageTolerant(true)
          .build();
    } catch (MalformedURLException e) {
      throw failed(issuer, "bad jwks_uri", e);
    }
    return new OidcProvider(issuer, authorization, token, metadata.supportsAuthorizationResponseIssuerParam(),
        new IdTokenValidator(issuer, clientId, algorithms, keys, clock, skew));
  }

  private static URI endpoint(String issuer, String name, @Nullable URI uri) {
    if (uri == null) {
      throw failed(issuer, "the discovery document has no " + name, null);
    }
    try {
      return Urls.requireEndpoint(name, uri.toString());
    } catch (IllegalArgumentException e) {
      throw failed(issuer, e.getMessage(), e);
    }
  }

  private static SsoException failed(String issuer, @Nullable String why, @Nullable Throwable cause) {
    String message = "OIDC discovery of " + issuer + " failed: " + why;
    return cause == null ? new SsoException(SsoException.Reason.DISCOVERY_FAILED, message)
        : new SsoException(SsoException.Reason.DISCOVERY_FAILED, message, cause);
  }
}
