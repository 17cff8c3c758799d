package dev.saaskit.auth.internal.sso;

import com.nimbusds.oauth2.sdk.http.HTTPRequestSender;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.oauth2.sdk.http.ReadOnlyHTTPRequest;
import com.nimbusds.oauth2.sdk.http.ReadOnlyHTTPResponse;
import dev.saaskit.auth.internal.DeadlineRetriever;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URLConnection;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Sends a request to an IdP (discovery, token endpoint) and reads at most {@code maxBytes} of its answer: the IdP
 * is whatever URL a tenant administrator configured, and nimbus's own sender reads a response body of any size
 * into memory. No redirects are followed; timeouts are the request's. Not API.
 */
public final class BoundedHttp implements HTTPRequestSender {
  /** The most an IdP answer (a discovery document, a token response) may weigh: 256 KiB, as a JWKS. */
  public static final int MAX_RESPONSE_BYTES = 256 * 1024;

  private final int maxBytes;
  private final boolean allowPrivate;

  /**
   * A sender refusing answers longer than {@code maxBytes}, and hosts that are not public unless {@code
   * allowPrivate} (see {@link IdpAddresses}).
   */
  public BoundedHttp(int maxBytes, boolean allowPrivate) {
    if (maxBytes < 1) {
      throw new IllegalArgumentException("maxBytes must be positive but was " + maxBytes);
    }
    this.maxBytes = maxBytes;
    this.allowPrivate = allowPrivate;
  }

  /**
   * Sends {@code request}; the whole exchange gets at most twice the request's longer timeout (the timeouts are the
   * socket's, per read: an IdP sending one byte before each would otherwise hold the calling thread for as long as
   * it likes).
   */
  @Override
  public ReadOnlyHTTPResponse send(ReadOnlyHTTPRequest request) throws IOException {
    if (!allowPrivate) {
      IdpAddresses.requirePublic(request.getURL().getHost());
    }
    long deadline = 2L * Math.max(request.getConnectTimeout(), request.getReadTimeout());
    if (deadline <= 0) {
      return exchange(request, new AtomicReference<>(), false, 0);   // no timeout was set: none is made up here
    }
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadline);
    return DeadlineRetriever.withDeadline(request.getMethod() + " " + request.getURL(), deadline,
        connection -> exchange(request, connection, true, until));
  }

  /** The exchange; if {@code limited}, the body is read until {@code until} ({@link System#nanoTime()}). */
  private ReadOnlyHTTPResponse exchange(ReadOnlyHTTPRequest request, AtomicReference<HttpURLConnection> connection,
      boolean limited, long until) throws IOException {
    URLConnection opened = request.getURL().openConnection();
    if (!(opened instanceof HttpURLConnection)) {
      throw new IOException("not an HTTP URL");
    }
    HttpURLConnection c = (HttpURLConnection) opened;
    connection.set(c);
    try {
      c.setInstanceFollowRedirects(false);
      c.setUseCaches(false);
      c.setConnectTimeout(request.getConnectTimeout());
      c.setReadTimeout(request.getReadTimeout());
      c.setRequestMethod(request.getMethod().name());
      for (Map.Entry<String, List<String>> header : request.getHeaderMap().entrySet()) {
        for (String value : header.getValue()) {
          c.addRequestProperty(header.getKey(), value);
        }
      }
      String body = request.getBody();
      if (body != null && !body.isEmpty()) {
        c.setDoOutput(true);
        try (OutputStream out = c.getOutputStream()) {
          out.write(body.getBytes(StandardCharsets.UTF_8));
        }
      }
      int status = c.getResponseCode();
      HTTPResponse response = new HTTPResponse(status);
      response.setStatusMessage(c.getResponseMessage());
      for (Map.Entry<String, List<String>> header : c.getHeaderFields().entrySet()) {
        if (header.getKey() != null && header.getValue() != null && !header.getValue().isEmpty()) {
          response.setHeader(header.getKey(), header.getValue().toArray(new String[0]));
        }
      }
      InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
      if (in != null) {
        try (InputStream stream = in) {
          response.setBody(new String(read(stream, limited, until), StandardCharsets.UTF_8));
        }
      }
      return response;
    } finally {
      c.disconnect();
    }
  }

  private byte[] read(InputStream in, boolean limited, long until) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    int n;
    while ((n = in.read(buffer)) >= 0) {
      if (out.size() + n > maxBytes) {
        throw new IOException("the response is larger than " + maxBytes + " bytes");
      }
      out.write(buffer, 0, n);
      if (limited && System.nanoTime() - until > 0) {
        // the caller has given up already; this stops the thread it left reading a trickled answer
        throw new IOException("the answer took longer than the deadline");
      }
    }
    return out.toByteArray();
  }
}
